"""Dagster definitions only: thin glue that calls the plain code in the sibling packages."""
