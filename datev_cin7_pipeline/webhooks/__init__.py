"""The Cin7 webhook receiver: authenticated, size-limited intake into the inbox."""
