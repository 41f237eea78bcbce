"""Replay: a DATEV job that failed is sent again by `datev-cin7 replay` (through the Dagster `replay_job`)
and succeeds; DATEV ends up with every booking row once and every PDF once; replaying again, by job or
period, sends nothing; what cannot be replayed is refused with the reason."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import requests
from click.testing import CliRunner

from datev_cin7_pipeline.cli import main
from datev_cin7_pipeline.datev.extf import read_extf
from datev_cin7_pipeline.defs.bookings.assets import datev_booking_lines
from datev_cin7_pipeline.defs.cin7.assets import cin7_documents
from datev_cin7_pipeline.defs.connector import ConnectorResource
from datev_cin7_pipeline.defs.datev.assets import (
    JOBS_SUCCEEDED,
    datev_booking_jobs,
    datev_documents,
    datev_extf_batches,
)
from datev_cin7_pipeline.sandbox.datev import read_manifest
from datev_cin7_pipeline.sandbox.environment import SandboxEnvironment, SandboxOptions, sandbox_environment
from datev_cin7_pipeline.store import StateStore
from datev_cin7_pipeline.store import jobs as job_ledger
from datev_cin7_pipeline.store.audit import history
from datev_cin7_pipeline.store.models import BookingRecord, DatevJob
from datev_cin7_pipeline_tests.mapping.support import TODAY, demo

PERIOD = "2026-05-01"
ASSETS = [cin7_documents, datev_booking_lines, datev_extf_batches, datev_documents, datev_booking_jobs]


@pytest.fixture
def environment(isolated_home: Path, tmp_path: Path) -> Iterator[SandboxEnvironment]:
    with sandbox_environment(demo(), SandboxOptions(today=TODAY, capture=tmp_path / "capture")) as env:
        yield env


def _uploads(env: SandboxEnvironment, key: str) -> list[dict[str, Any]]:
    assert env.capture is not None
    return [e for e in read_manifest(env.capture) if e["event"] == "upload" and e.get(key)]


def _jobs() -> list[tuple[str, str, int]]:
    store = StateStore.open()
    try:
        with store.session() as session:
            return [(j.reference_id, j.status, j.row_count or 0) for j in session.query(DatevJob).order_by(DatevJob.id)]
    finally:
        store.dispose()


def _replay(*args: str) -> Any:
    return CliRunner().invoke(main, ["replay", *args])


def test_a_failed_job_is_replayed_once_and_nothing_is_doubled(environment: SandboxEnvironment) -> None:
    requests.post(f"{environment.datev_url}/_sim/faults", json={"extf_job_failures": 1}, timeout=10)
    first = dg.materialize(
        ASSETS,
        partition_key=PERIOD,
        resources={"connector": ConnectorResource(poll_first_delay_seconds=0.05)},
        raise_on_error=False,
    )
    (failed_check,) = [e for e in first.get_asset_check_evaluations() if e.check_name == JOBS_SUCCEEDED]
    assert not failed_check.passed
    ((failed_ref, status, rows),) = _jobs()
    assert status == job_ledger.FAILED
    documents_before = _uploads(environment, "guid")

    replayed = _replay("--job", failed_ref)

    assert replayed.exit_code == 0, replayed.output
    assert "Replaying 2026-05:" in replayed.output
    assert f"DATEV job {failed_ref} failed" in replayed.output
    jobs = _jobs()
    assert [status for _, status, _ in jobs] == [job_ledger.FAILED, job_ledger.SUCCEEDED]
    (new_ref, _, new_rows) = jobs[1]
    assert new_ref != failed_ref  # DATEV does not deduplicate EXTF: a new file is a new Reference-Id
    assert new_rows == rows
    extf = _uploads(environment, "reference_id")
    assert [e["reference_id"] for e in extf] == [failed_ref, new_ref]
    assert environment.capture is not None
    succeeded = read_extf((environment.capture / extf[1]["path"]).read_bytes())
    assert len(succeeded.lines) == rows
    assert _uploads(environment, "guid") == documents_before  # PDFs were in DATEV already: none again
    store = StateStore.open()
    with store.session() as session:
        statuses = {
            r.status
            for r in session.query(BookingRecord)
            if r.job_id == session.query(DatevJob.id).filter(DatevJob.reference_id == new_ref).scalar()
        }
        assert statuses == {"booked"}
        assert [e.action for e in history(session, failed_ref)][-1] == "replay.requested"
    store.dispose()

    again = _replay("--job", failed_ref)
    by_period = _replay("--period", "2026-05")

    assert again.exit_code == 0, again.output
    assert by_period.exit_code == 0, by_period.output
    assert [e["reference_id"] for e in _uploads(environment, "reference_id")] == [failed_ref, new_ref]
    assert _uploads(environment, "guid") == documents_before


def test_what_cannot_be_replayed_is_refused_with_the_reason(environment: SandboxEnvironment) -> None:
    dg.materialize(
        ASSETS, partition_key=PERIOD, resources={"connector": ConnectorResource(poll_first_delay_seconds=0.05)}
    )
    ((reference_id, status, _),) = _jobs()
    assert status == job_ledger.SUCCEEDED

    succeeded = _replay("--job", reference_id)
    unknown_job = _replay("--job", "no-such-job")
    unknown_document = _replay("--document", "no-such-document")
    two_targets = _replay("--job", reference_id, "--period", "2026-05")
    bad_period = _replay("--period", "May")

    assert succeeded.exit_code == 1
    assert f"DATEV job {reference_id} is succeeded; only failed or cancelled jobs are replayed." in succeeded.output
    assert "There is no DATEV job 'no-such-job' for this connection." in unknown_job.output
    assert "Cin7 document 'no-such-document' is not known here yet; run its period first." in unknown_document.output
    assert "Name exactly one of a DATEV job, a Cin7 document or a period to replay." in two_targets.output
    assert bad_period.exit_code == 2
    assert "use YYYY-MM" in bad_period.output
    assert "Traceback" not in "".join(r.output for r in (succeeded, unknown_job, unknown_document, two_targets))
    assert len(_uploads(environment, "reference_id")) == 1  # nothing was sent by any of them


def test_a_quarterly_filer_replays_the_quarter_a_month_names(environment: SandboxEnvironment, tmp_path: Path) -> None:
    """For a quarterly VAT filer the partitions are quarters: `--period 2026-05` runs 2026-Q2 (the
    definitions load the connection's vat_period, so this runs as its own process, like the CLI does)."""
    import os
    import subprocess
    import sys

    import yaml

    from datev_cin7_pipeline import settings
    from datev_cin7_pipeline_tests.conftest import REPO_ROOT

    connections = environment.home / settings.CONNECTIONS_FILE
    config = yaml.safe_load(connections.read_text("utf-8"))
    config["connections"]["default"]["vat_period"] = "quarterly"
    connections.write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_")}
    env |= {settings.HOME_ENV: str(environment.home), "DAGSTER_HOME": str(tmp_path / "dagster")}
    (tmp_path / "dagster").mkdir()

    done = subprocess.run(
        [sys.executable, "-m", "datev_cin7_pipeline.cli", "replay", "--period", "2026-05"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=300,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "Replaying 2026-04:" in done.stdout
    assert "period named for replay" in done.stdout
    assert "  done (run " in done.stdout
    ((reference_id, status, rows),) = _jobs()
    assert status == job_ledger.SUCCEEDED
    assert reference_id.endswith("_20260401_20260630_0001"), reference_id  # one batch for the whole quarter
    (upload,) = _uploads(environment, "reference_id")
    assert environment.capture is not None
    dates = {line.document_date for line in read_extf((environment.capture / upload["path"]).read_bytes()).lines}
    assert {d.month for d in dates} <= {4, 5, 6}
    assert 5 in {d.month for d in dates}
    assert rows == len(read_extf((environment.capture / upload["path"]).read_bytes()).lines)
