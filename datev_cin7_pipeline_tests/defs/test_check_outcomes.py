"""The failing outcome of each blocking check, materialized against both simulators: an unbalanced
booking, Cin7 totals that do not reconcile, an EXTF file that breaks DATEV's rules. Each fails with the
document, treatment or finding named, and stops the upload: nothing reaches DATEV's booking import.

The faults are injected where they would arise (the booking result, the reconciliation input, the written
file), since the real rules never produce them from valid Cin7 data."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import requests

from datev_cin7_pipeline.defs.bookings import assets as booking_assets
from datev_cin7_pipeline.defs.bookings.assets import BOOKINGS_BALANCE, CIN7_TOTALS_RECONCILE, datev_booking_lines
from datev_cin7_pipeline.defs.cin7.assets import cin7_documents
from datev_cin7_pipeline.defs.connector import ConnectorResource
from datev_cin7_pipeline.defs.datev import assets as datev_assets
from datev_cin7_pipeline.defs.datev.assets import (
    EXTF_RULES_PASS,
    datev_booking_jobs,
    datev_documents,
    datev_extf_batches,
)
from datev_cin7_pipeline.sandbox.environment import SandboxEnvironment, SandboxOptions, sandbox_environment
from datev_cin7_pipeline_tests.mapping.support import TODAY, demo

PERIOD = "2026-05-01"
ASSETS = [cin7_documents, datev_booking_lines, datev_extf_batches, datev_documents, datev_booking_jobs]


@pytest.fixture
def environment(isolated_home: Path, tmp_path: Path) -> Iterator[SandboxEnvironment]:
    with sandbox_environment(demo(), SandboxOptions(today=TODAY, capture=tmp_path / "capture")) as env:
        yield env


def _run() -> dg.ExecuteInProcessResult:
    return dg.materialize(
        ASSETS,
        partition_key=PERIOD,
        resources={"connector": ConnectorResource(poll_first_delay_seconds=0.05)},
        raise_on_error=False,
    )


def _check(result: dg.ExecuteInProcessResult, name: str) -> dg.AssetCheckEvaluation:
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return evaluation


def _materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {e.materialization.asset_key.path[-1] for e in result.get_asset_materialization_events()}


def _extf_uploads(env: SandboxEnvironment) -> list[dict[str, Any]]:
    events = requests.get(f"{env.datev_url}/_sim/manifest", timeout=10).json()["events"]
    return [e for e in events if e["event"] == "upload" and e.get("reference_id")]


def test_a_booking_a_cent_off_its_document_fails_its_check_and_stops_the_upload(
    environment: SandboxEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = booking_assets.book_period
    dropped: list[Any] = []

    def a_cent_off(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        victim = next(i for i, line in enumerate(result.lines) if line.source_kind == "sale_invoice")
        dropped.append(result.lines[victim])
        changed = dataclasses.replace(result.lines[victim], amount=result.lines[victim].amount + Decimal("0.01"))
        return dataclasses.replace(result, lines=[*result.lines[:victim], changed, *result.lines[victim + 1 :]])

    monkeypatch.setattr(booking_assets, "book_period", a_cent_off)

    result = _run()

    check = _check(result, BOOKINGS_BALANCE)
    assert not check.passed
    assert check.severity == dg.AssetCheckSeverity.ERROR
    assert dropped[0].source_id in str(check.metadata["unbalanced_documents"].value)
    assert {"datev_extf_batches", "datev_booking_jobs"}.isdisjoint(_materialized(result))  # blocked
    assert _extf_uploads(environment) == []


def test_totals_that_do_not_reconcile_fail_their_check_and_stop_the_upload(
    environment: SandboxEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = booking_assets.cin7_totals_by_treatment
    changed: list[tuple[str, str]] = []

    def a_cent_more_in_cin7(*args: Any, **kwargs: Any) -> Any:
        totals = dict(real(*args, **kwargs))
        key = sorted(totals)[0]
        totals[key] += Decimal("0.01")
        changed.append(key)
        return totals

    monkeypatch.setattr(booking_assets, "cin7_totals_by_treatment", a_cent_more_in_cin7)

    result = _run()

    check = _check(result, CIN7_TOTALS_RECONCILE)
    assert not check.passed
    table = str(check.metadata["per_treatment"].value)
    treatment, currency = changed[0]
    (row,) = [line for line in table.splitlines() if line.startswith(f"| {treatment} | {currency} |")]
    assert row.rstrip(" |").endswith("-0.01")  # booked minus Cin7, per treatment
    assert {"datev_extf_batches", "datev_booking_jobs"}.isdisjoint(_materialized(result))
    assert _extf_uploads(environment) == []


def test_an_extf_file_breaking_datevs_rules_is_never_sent(
    environment: SandboxEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = datev_assets.write_extf

    def with_a_forbidden_character(*args: Any, **kwargs: Any) -> bytes:
        content: bytes = real(*args, **kwargs)
        text = content.decode("utf-8-sig")
        lines = text.split("\r\n")
        fields = lines[2].split(";")
        fields[10] = '"R#2026/1"'  # Belegfeld 1: '#' is not among DATEV's allowed characters
        lines[2] = ";".join(fields)
        return (
            "\ufeff".encode() + "\r\n".join(lines).encode()
            if content.startswith(b"\xef\xbb\xbf")
            else ("\r\n".join(lines).encode("utf-8"))
        )

    monkeypatch.setattr(datev_assets, "write_extf", with_a_forbidden_character)

    result = _run()

    check = _check(result, EXTF_RULES_PASS)
    assert not check.passed
    findings = str(check.metadata["findings"].value)
    assert "R#2026/1" in findings or "Belegfeld" in findings
    assert "datev_booking_jobs" not in _materialized(result)
    assert _extf_uploads(environment) == []
