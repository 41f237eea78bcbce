"""`datev-cin7 mapping init` and `mapping check` against the Cin7 simulator: the starter names every code of
the connection and marks what needs a decision; check lists each gap and exits non-zero while one is left."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import yaml

from datev_cin7_pipeline import settings
from datev_cin7_pipeline.sandbox.cin7 import (
    DEMO_ACCOUNT_ID,
    DEMO_APPLICATION_KEY,
    Cin7SimConfig,
    build_cin7_app,
    demo_dataset,
)
from datev_cin7_pipeline.sandbox.serving import RunningServer, serve_in_thread
from datev_cin7_pipeline_tests.mapping.support import completion, merge
from datev_cin7_pipeline_tests.test_cli import run

TODAY = dt.date(2026, 6, 15)


@pytest.fixture(scope="module")
def cin7() -> Iterator[RunningServer]:
    app = build_cin7_app(Cin7SimConfig(today=TODAY, calls_per_minute=10_000), demo_dataset(0, TODAY))
    with serve_in_thread(app) as server:
        yield server


@pytest.fixture
def connected(cin7: RunningServer) -> RunningServer:
    assert run("init").code == 0
    path = settings.connections_file_path()
    path.write_text(
        path.read_text().replace("https://inventory.dearsystems.com/ExternalApi/v2/", cin7.url + "/ExternalApi/v2/")
    )
    assert (
        run(
            "credentials", "set", "cin7", "--account-id", DEMO_ACCOUNT_ID, "--application-key", DEMO_APPLICATION_KEY
        ).code
        == 0
    )
    return cin7


def test_init_writes_a_starter_and_check_lists_the_open_decisions(connected: RunningServer) -> None:
    result = run("mapping", "init", "--chart", "skr03")
    assert result.code == 0, result.err
    path = settings.home_dir() / "mapping-default.yaml"
    assert result.out.startswith(f"Wrote {path} for ")
    starter = yaml.safe_load(path.read_text())
    assert "USt 19%" in starter["tax_rules"]
    assert "Steuerfrei innergemeinschaftliche Lieferung" in starter["tax_rules"]
    assert set(starter["cost_centres"]["kost1"]["values"]) >= {"Hamburg", "München"}
    again = run("mapping", "init", "--chart", "skr03")
    assert again.code == 1
    assert "exists; edit it, or pass --force" in again.err

    check = run("mapping", "check")
    assert check.code == 1
    assert "[error] todo:" in check.out or "[error] default_client_numbers" in check.out
    assert check.err.strip().startswith("Error: ")
    assert "error(s)" in check.err


def test_a_completed_mapping_checks_clean_also_against_a_period(connected: RunningServer) -> None:
    assert run("mapping", "init", "--chart", "skr03").code == 0
    path = settings.home_dir() / "mapping-default.yaml"
    completed = merge(yaml.safe_load(path.read_text()), completion("skr03"))
    path.write_text(yaml.safe_dump(completed, allow_unicode=True))
    check = run("mapping", "check", "--period", "2026-05")
    assert check.code == 0, check.out + check.err
    assert check.out.strip().splitlines()[-1].startswith("0 error(s)")
    bad = run("mapping", "check", "--period", "2026-13")
    assert bad.code == 2
    assert "use YYYY-MM" in bad.err


def test_check_without_a_mapping_file(connected: RunningServer) -> None:
    result = run("mapping", "check")
    assert result.code == 1
    assert "There is no mapping file at" in result.err
    assert "mapping init --chart skr03|skr04" in result.err
