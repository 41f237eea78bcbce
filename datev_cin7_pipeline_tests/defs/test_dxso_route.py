"""The DXSO route end to end against the DATEV simulator (which validates the files with DATEV's XSDs):
every booked invoice and credit note goes once, as a document of a DXSO job with its PDF; payments still
go as EXTF; no PDF is uploaded twice (not also through accounting-documents); a second run sends nothing;
a DXSO job DATEV fails is reported by the check and its documents go again in a new job on the next run."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import requests

from datev_cin7_pipeline.datev.extf import read_extf
from datev_cin7_pipeline.defs.bookings.assets import datev_booking_lines
from datev_cin7_pipeline.defs.cin7.assets import cin7_documents
from datev_cin7_pipeline.defs.connector import ConnectorResource
from datev_cin7_pipeline.defs.datev.assets import datev_booking_jobs, datev_documents, datev_extf_batches
from datev_cin7_pipeline.defs.datev.dxso import DXSO_JOBS_SUCCEEDED, datev_dxso_jobs
from datev_cin7_pipeline.sandbox.environment import SandboxEnvironment, SandboxOptions, sandbox_environment
from datev_cin7_pipeline.store import StateStore
from datev_cin7_pipeline.store.models import BookingRecord
from datev_cin7_pipeline_tests.mapping.support import TODAY, demo
from datev_cin7_pipeline_tests.verification.hostile_support import HostileData, guid

XSD = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "datev" / "xsd" / "v060"
PERIOD = "2026-05-01"
HTML = b"<html><body>Rechnung</body></html>"
ASSETS = [
    cin7_documents,
    datev_booking_lines,
    datev_extf_batches,
    datev_documents,
    datev_booking_jobs,
    datev_dxso_jobs,
]


@pytest.fixture
def environment(isolated_home: Path, tmp_path: Path) -> Iterator[SandboxEnvironment]:
    assert XSD.is_dir(), f"DATEV's XSDs are expected at {XSD}"
    options = SandboxOptions(today=TODAY, capture=tmp_path / "capture", route="dxso", xsd_folder=XSD)
    with sandbox_environment(demo(), options) as env:
        yield env


def _run() -> dg.ExecuteInProcessResult:
    return dg.materialize(
        ASSETS,
        partition_key=PERIOD,
        resources={"connector": ConnectorResource(poll_first_delay_seconds=0.05)},
        raise_on_error=False,
    )


def _sim(env: SandboxEnvironment, what: str) -> Any:
    return requests.get(f"{env.datev_url}/_sim/{what}", timeout=10).json()


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    (event,) = [
        e.materialization
        for e in result.get_asset_materialization_events()
        if e.materialization.asset_key.path == [asset]
    ]
    return {key: value.value for key, value in event.metadata.items()}


def _booked_documents() -> tuple[set[str], int]:
    """Cin7 ids of booked invoices and credit notes, and the number of payment booking lines."""
    store = StateStore.open()
    try:
        with store.session() as session:
            rows = session.query(BookingRecord).filter(BookingRecord.status == "booked").all()
            documents = {r.cin7_document_id for r in rows if "payment" not in r.cin7_document_kind}
            payment_lines = sum(r.line_count for r in rows if "payment" in r.cin7_document_kind)
            return documents, payment_lines
    finally:
        store.dispose()


def test_invoices_go_as_dxso_jobs_with_their_pdfs_and_payments_as_extf(environment: SandboxEnvironment) -> None:
    first = _run()

    assert first.success
    dxso_check = [e for e in first.get_asset_check_evaluations() if e.check_name == DXSO_JOBS_SUCCEEDED]
    assert [e.passed for e in dxso_check] == [True]
    jobs = _sim(environment, "jobs")
    import_types = sorted(job["import_type"] for job in jobs["dxso"])
    assert import_types == ["accountsPayableLedgerImport", "accountsReceivableLedgerImport"]
    assert all(job["status"] == 2 for job in jobs["dxso"]), jobs["dxso"]  # 2: processed successfully
    pdfs = [f["sha256"] for job in jobs["dxso"] for f in job["files"] if f["media_type"] == "application/pdf"]
    documents, payment_lines = _booked_documents()
    assert len(pdfs) == len(set(pdfs)) == len(documents) > 5  # every booked invoice and credit note once
    assert _sim(environment, "documents")["documents"] == []  # no PDF also through accounting-documents
    (extf_job,) = jobs["extf"]
    assert environment.capture is not None
    (extf_file,) = [
        e for e in _sim(environment, "manifest")["events"] if e["event"] == "upload" and e.get("reference_id")
    ]
    assert len(read_extf((environment.capture / extf_file["path"]).read_bytes()).lines) == payment_lines > 0
    assert extf_job["result"] == "succeeded"
    assert _metadata(first, "datev_dxso_jobs")["succeeded"] == 2
    assert _metadata(first, "datev_documents")["sent_in_dxso_jobs"] == len(documents)

    second = _run()

    assert second.success
    again = _sim(environment, "jobs")
    assert len(again["dxso"]) == 2
    assert len(again["extf"]) == 1
    assert _metadata(second, "datev_dxso_jobs")["succeeded"] == 2


def test_a_failed_dxso_job_is_reported_and_its_documents_go_again(environment: SandboxEnvironment) -> None:
    requests.post(f"{environment.datev_url}/_sim/faults", json={"dxso_job_failures": 1}, timeout=10)

    first = _run()

    (check,) = [e for e in first.get_asset_check_evaluations() if e.check_name == DXSO_JOBS_SUCCEEDED]
    assert not check.passed
    statuses = sorted(job["status"] for job in _sim(environment, "jobs")["dxso"])
    assert statuses == [2, 3]  # one processed, one failed at DATEV

    second = _run()

    (check,) = [e for e in second.get_asset_check_evaluations() if e.check_name == DXSO_JOBS_SUCCEEDED]
    assert check.passed
    jobs = _sim(environment, "jobs")["dxso"]
    assert sorted(job["status"] for job in jobs) == [2, 2, 3]
    succeeded_pdfs = [
        f["sha256"] for job in jobs if job["status"] == 2 for f in job["files"] if f["media_type"] == "application/pdf"
    ]
    documents, _ = _booked_documents()
    assert len(succeeded_pdfs) == len(set(succeeded_pdfs)) == len(documents)  # each once among the accepted jobs


def test_one_bad_pdf_holds_only_its_document_and_the_rest_goes(isolated_home: Path, tmp_path: Path) -> None:
    """An attachment that is not a PDF stops neither the step nor the other documents: its own document is
    held with the reason (the check fails and names it), everything else goes in the jobs."""
    data = HostileData()
    attachment = {"ID": guid("attachment", "html"), "ContentType": "application/pdf", "FileName": "Beleg.pdf"}
    data.sale("html", "HX-HTML", attachments=[{**attachment, "DownloadUrl": "-"}], files={"Beleg.pdf": HTML})
    options = SandboxOptions(today=TODAY, capture=tmp_path / "capture", route="dxso", xsd_folder=XSD)
    with sandbox_environment(data.data, options) as environment:
        result = _run()
        jobs = _sim(environment, "jobs")["dxso"]

    assert result.success
    (check,) = [e for e in result.get_asset_check_evaluations() if e.check_name == DXSO_JOBS_SUCCEEDED]
    assert not check.passed
    held = str(check.metadata["held_back"].value)
    assert guid("task", "html") in held
    assert "The attachment 'Beleg.pdf' is not a PDF." in held
    assert all(job["status"] == 2 for job in jobs)
    sent = [f["sha256"] for job in jobs for f in job["files"] if f["media_type"] == "application/pdf"]
    documents, _ = _booked_documents()
    assert hashlib.sha256(HTML).hexdigest() not in sent
    assert len(sent) == len(set(sent)) == len(documents) > 5  # every other document, once
    assert guid("task", "html") not in documents
    store = StateStore.open()
    try:
        with store.session() as session:
            (held_row,) = session.query(BookingRecord).filter(BookingRecord.cin7_document_id == guid("task", "html"))
            assert (held_row.status, held_row.job_id) == ("pending", None)  # waits for a fixed PDF, not lost
    finally:
        store.dispose()
