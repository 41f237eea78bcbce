"""Cin7 Core extract assets."""
