"""Contract tests: our Cin7 client's traffic checked against the published Cin7 Core API v2 description."""
