"""Fixtures for the Cin7 contract tests: the contract, parsed and normalised once per session."""

from __future__ import annotations

import pytest

from datev_cin7_pipeline_tests.contracts.cin7_openapi import Cin7Contract, load_cin7_spec


@pytest.fixture(scope="session")
def contract() -> Cin7Contract:
    return load_cin7_spec()
