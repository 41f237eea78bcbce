"""The Dagster code location loads the way `dg dev`, `dg launch` and the daemon load it."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from datev_cin7_pipeline.defs.connector import ConnectorResource
from datev_cin7_pipeline.defs.partitions import monthly_vat_periods, quarterly_vat_periods
from datev_cin7_pipeline.defs.resources import StateStoreResource

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def definitions() -> dg.Definitions:
    # Loaded once per session: reloading the decorated entry point across instances is a known pitfall.
    return dg.load_from_defs_folder(path_within_project=REPO_ROOT / "datev_cin7_pipeline")


def test_dg_check_defs_succeeds() -> None:
    env = {**os.environ, "VIRTUAL_ENV": str(VENV_BIN.parent), "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        [str(VENV_BIN / "dg"), "check", "defs"], cwd=REPO_ROOT, capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully." in result.stdout + result.stderr


def test_the_state_store_resource_is_bound(definitions: dg.Definitions) -> None:
    assert definitions.resources is not None
    assert isinstance(definitions.resources["state_store"], StateStoreResource)
    assert isinstance(definitions.resources["connector"], ConnectorResource)


def test_the_state_store_resource_opens_the_configured_database(tmp_path: Path) -> None:
    store = StateStoreResource(database_url=f"sqlite:///{tmp_path / 'dagster-state.db'}").open()
    try:
        assert store.backend == "sqlite"
        assert (tmp_path / "dagster-state.db").exists()
    finally:
        store.dispose()


def test_monthly_vat_periods_are_german_months_including_the_open_one() -> None:
    now = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
    keys = monthly_vat_periods.get_partition_keys(current_time=now)
    assert keys[0] == "2024-01-01"
    assert keys[-2:] == ["2026-10-01", "2026-11-01"]
    window = monthly_vat_periods.time_window_for_partition_key("2026-03-01")
    assert window.start.isoformat() == "2026-03-01T00:00:00+01:00"
    assert window.end.isoformat() == "2026-04-01T00:00:00+02:00"  # daylight saving starts inside March


def test_quarterly_vat_periods_start_each_quarter() -> None:
    now = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
    assert quarterly_vat_periods.get_partition_keys(current_time=now)[-3:] == ["2026-04-01", "2026-07-01", "2026-10-01"]
