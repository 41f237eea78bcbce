"""Cin7 Core → DATEV: authorised invoices, credit notes and payments booked exactly once."""

__version__ = "0.1.0"
