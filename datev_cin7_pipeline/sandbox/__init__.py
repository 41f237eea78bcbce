"""Faithful simulators of the two services the pipeline talks to, so everything runs without accounts.

`serving` runs any of them on loopback in a thread; `cin7` is the Cin7 Core API v2 simulator with its
demo company; `datev` simulates DATEV's sign-in and the four accounting APIs, and can capture every upload
it accepts for inspection.
"""
