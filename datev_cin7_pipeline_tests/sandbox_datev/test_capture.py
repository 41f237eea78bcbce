"""The capture folder and its manifest: what later tests use to prove "every document once, every row once"."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import requests

from datev_cin7_pipeline.sandbox.datev import MANIFEST, DatevSimConfig, read_manifest
from datev_cin7_pipeline.sandbox.datev.capture import MANIFEST_KEYS
from datev_cin7_pipeline_tests.sandbox_datev.conftest import ServeDatev
from datev_cin7_pipeline_tests.sandbox_datev.helpers import (
    CLIENT,
    GUID,
    PDF,
    XSD_FOLDER,
    DatevSim,
    FakeClock,
    booking_row,
    document_xml,
    extf_file,
    ledger_xml,
)


def _captured(serve: ServeDatev, clock: FakeClock, folder: Path) -> DatevSim:
    sim = serve(DatevSimConfig(clock=clock, xsd_folder=XSD_FOLDER, capture_folder=folder))
    sim.login()
    return sim


def test_documents_are_saved_with_their_metadata_once(serve: ServeDatev, clock: FakeClock, tmp_path: Path) -> None:
    sim = _captured(serve, clock, tmp_path)
    metadata = {"document_type": "Rechnungsausgang", "note": "INV-0001"}
    assert sim.put_document(metadata=metadata).status_code == 201
    assert sim.put_document(metadata=metadata).status_code == 409  # not captured again
    folder = tmp_path / "documents" / CLIENT / GUID
    assert (folder / "RE-2025-001.pdf").read_bytes() == PDF
    assert json.loads((folder / "metadata.json").read_text("utf-8")) == {"metadata": metadata, "custom_metadata": None}
    (event,) = read_manifest(tmp_path)
    assert set(MANIFEST_KEYS) <= set(event)
    assert event["event"] == "upload"
    assert event["api"] == "accounting-documents"
    assert (event["client_id"], event["guid"], event["filename"]) == (CLIENT, GUID, "RE-2025-001.pdf")
    assert (event["job_id"], event["reference_id"], event["status"], event["rows"]) == (None, None, None, None)
    assert event["path"] == f"documents/{CLIENT}/{GUID}/RE-2025-001.pdf"
    assert event["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert event["document_type"] == "Rechnungsausgang"
    assert event["time"] == "2025-06-15T12:00:00.000Z"


def test_extf_uploads_and_final_states_are_recorded_with_row_counts(
    serve: ServeDatev, clock: FakeClock, tmp_path: Path
) -> None:
    sim = _captured(serve, clock, tmp_path)
    good = extf_file([booking_row(), booking_row({11: '"RE-2025-002"'}), booking_row({11: '"RE-2025-003"'})])
    bad = extf_file([booking_row({1: "1"})])
    first = sim.upload_extf(good, filename="EXTF_2025_06_1.csv", **{"Reference-Id": "t_2025-06_1"})
    second = sim.upload_extf(bad, filename="EXTF_2025_06_2.csv", **{"Reference-Id": "t_2025-06_2"})
    job_ids = [answer.headers["Location"].rsplit("/", 1)[1] for answer in (first, second)]
    uploads = read_manifest(tmp_path)
    assert [(e["event"], e["filename"], e["rows"], e["job_id"]) for e in uploads] == [
        ("upload", "EXTF_2025_06_1.csv", 3, job_ids[0]),
        ("upload", "EXTF_2025_06_2.csv", 1, job_ids[1]),
    ]
    assert (tmp_path / "extf" / CLIENT / job_ids[0] / "EXTF_2025_06_1.csv").read_bytes() == good
    clock.advance(10)
    sim.job(first.headers["Location"])  # any request lets due jobs finish
    finals = [e for e in read_manifest(tmp_path) if e["event"] == "job_final"]
    assert [(e["job_id"], e["status"], e["rows"], e["reference_id"]) for e in finals] == [
        (job_ids[0], "succeeded", 3, "t_2025-06_1"),
        (job_ids[1], "failed", 1, "t_2025-06_2"),
    ]
    assert finals[0]["details"] is None
    assert finals[1]["details"]["affected_elements"][0]["name"].startswith("line 3, field 1")
    assert finals[0]["time"] == "2025-06-15T12:00:10.000Z"
    sim.job(first.headers["Location"])
    assert len(read_manifest(tmp_path)) == 4  # each final state once


def test_dxso_files_and_final_status(serve: ServeDatev, clock: FakeClock, tmp_path: Path) -> None:
    sim = _captured(serve, clock, tmp_path)
    jobs_url = sim.url("accounting-dxso-jobs", f"/clients/{CLIENT}/dxso-jobs")
    body = {"import_type": "accountsReceivableLedgerImport", "accounting_month": "2025-06"}
    job = sim.session.post(jobs_url, json=body, timeout=10).json()["id"]
    for name, data in (("document.xml", document_xml()), ("RA-2025-001.xml", ledger_xml()), ("RA-2025-001.pdf", PDF)):
        assert sim.session.post(f"{jobs_url}/{job}/files", files={"files": (name, data)}, timeout=10).status_code == 201
    finalize = {"Content-Type": "application/merge-patch+json"}
    assert (
        sim.session.put(f"{jobs_url}/{job}", data=b'{"ready": "true"}', headers=finalize, timeout=10).status_code == 204
    )
    clock.advance(10)
    events = sim.admin_get("manifest")["events"]  # the same events, kept in memory
    assert events == read_manifest(tmp_path)
    assert [(e["event"], e["filename"], e["status"]) for e in events] == [
        ("upload", "document.xml", None),
        ("upload", "RA-2025-001.xml", None),
        ("upload", "RA-2025-001.pdf", None),
        ("job_final", None, 2),
    ]
    assert (tmp_path / "dxso" / CLIENT / job / "RA-2025-001.xml").read_bytes() == ledger_xml()


def test_a_cancelled_job_is_a_final_state(serve: ServeDatev, clock: FakeClock, tmp_path: Path) -> None:
    sim = _captured(serve, clock, tmp_path)
    jobs_url = sim.url("accounting-dxso-jobs", f"/clients/{CLIENT}/dxso-jobs")
    job = sim.session.post(jobs_url, json={}, timeout=10).json()["id"]
    assert sim.session.delete(f"{jobs_url}/{job}", timeout=10).status_code == 204
    (event,) = read_manifest(tmp_path)
    assert (event["event"], event["job_id"], event["status"]) == ("job_final", job, "cancelled")


def test_refused_and_dropped_uploads(serve: ServeDatev, clock: FakeClock, tmp_path: Path) -> None:
    sim = _captured(serve, clock, tmp_path)
    assert sim.put_document(name="a.zip", data=b"PK", content_type="application/zip").status_code == 400
    assert not (tmp_path / MANIFEST).exists()
    sim.admin("faults", {"drop_after_accept_burst": 1})
    try:
        sim.put_document()
    except requests.ConnectionError:
        pass
    else:  # pragma: no cover - the fault must drop the answer
        raise AssertionError("the answer was not dropped")
    (event,) = read_manifest(tmp_path)  # DATEV accepted it: captured although the client never heard
    assert event["guid"] == GUID


def test_without_a_folder_events_are_kept_in_memory(sim: DatevSim) -> None:
    assert sim.put_document().status_code == 201
    (event,) = sim.admin_get("manifest")["events"]
    assert event["guid"] == GUID
    assert sim.state.capture.folder is None
