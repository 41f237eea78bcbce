"""DATEV side: OAuth session, API clients, EXTF and DXSO files (no Dagster)."""
