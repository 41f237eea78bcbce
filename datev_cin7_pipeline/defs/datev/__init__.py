"""DATEV upload assets and their checks."""
