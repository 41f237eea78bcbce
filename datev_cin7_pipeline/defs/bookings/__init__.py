"""Booking assets and their checks."""
