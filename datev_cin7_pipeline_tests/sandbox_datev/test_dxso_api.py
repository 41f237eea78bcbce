"""accounting-dxso-jobs over HTTP: the job lifecycle (status 0-4), XSD checks, protocol entries, cancel."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import requests

from datev_cin7_pipeline.sandbox.datev import SERVICE_DOCUMENTS, DatevSimConfig, FiscalYear, SimClient
from datev_cin7_pipeline_tests.sandbox_datev.conftest import ServeDatev
from datev_cin7_pipeline_tests.sandbox_datev.datev_contract import validate_response
from datev_cin7_pipeline_tests.sandbox_datev.helpers import (
    CLIENT,
    PDF,
    SAMPLES,
    DatevSim,
    FakeClock,
    document_xml,
    ledger_xml,
)

IMPORT_TYPES = ("accountsPayableLedgerImport", "accountsReceivableLedgerImport", "cashLedgerImport")
RECEIVABLES = {"import_type": "accountsReceivableLedgerImport", "accounting_month": "2025-06"}


def _jobs_url(sim: DatevSim, client: str = CLIENT) -> str:
    return sim.url("accounting-dxso-jobs", f"/clients/{client}/dxso-jobs")


def _create(sim: DatevSim, body: Any = RECEIVABLES, client: str = CLIENT) -> requests.Response:
    answer = sim.session.post(_jobs_url(sim, client), json=body, timeout=10)
    valid_request = not isinstance(body, dict) or body.get("import_type", "accountsPayableLedgerImport") in IMPORT_TYPES
    validate_response(answer, check_request=valid_request)
    return answer


def _upload(sim: DatevSim, job: str, name: str, data: bytes, content_type: str | None = None) -> requests.Response:
    part = (name, data, content_type) if content_type else (name, data)
    answer = sim.session.post(f"{_jobs_url(sim)}/{job}/files", files={"files": part}, timeout=10)
    validate_response(answer, check_request=True)
    return answer


def _finalize(
    sim: DatevSim, job: str, body: bytes = b'{"ready": "true"}', content_type: str = "application/merge-patch+json"
) -> requests.Response:
    answer = sim.session.put(f"{_jobs_url(sim)}/{job}", data=body, headers={"Content-Type": content_type}, timeout=10)
    validate_response(answer)
    return answer


def _status(sim: DatevSim, job: str) -> int:
    answer = sim.session.get(f"{_jobs_url(sim)}/{job}", timeout=10)
    validate_response(answer, check_request=True)
    assert answer.json()["id"] == job
    return int(answer.json()["status"])


def _protocol(sim: DatevSim, job: str) -> list[dict[str, Any]]:
    answer = sim.session.get(f"{_jobs_url(sim)}/{job}/protocol-entries", timeout=10)
    validate_response(answer, check_request=True)
    return list(answer.json())


def _error(answer: requests.Response) -> str:
    validate_response(answer)
    return str(answer.json()["error"])


def _package(sim: DatevSim, files: dict[str, bytes], body: Any = RECEIVABLES) -> str:
    """Create a job, upload the files one request each, finalize, and let the processing time pass."""
    job = str(_create(sim, body).json()["id"])
    for name, data in files.items():
        assert _upload(sim, job, name, data).status_code == 201
    assert _finalize(sim, job).status_code == 204
    assert _status(sim, job) == 1
    sim.clock.advance(10)
    return job


def _good_files() -> dict[str, bytes]:
    return {"document.xml": document_xml(), "RA-2025-001.xml": ledger_xml(), "RA-2025-001.pdf": PDF}


def test_the_whole_lifecycle_ends_processed(sim: DatevSim) -> None:
    created = _create(sim)
    assert created.status_code == 201
    body = created.json()
    assert (body["account_length"], body["ledger_folder_names"]) == (4, ["Ausgangsrechnungen"])
    job = body["id"]
    assert len(job) == 32
    assert _status(sim, job) == 0
    for name, data in _good_files().items():
        uploaded = _upload(sim, job, name, data)
        assert (uploaded.status_code, uploaded.json()) == (201, {})
    entries = _protocol(sim, job)
    assert [(e["filename"], e["text"], e["type"]) for e in entries] == [
        ("document.xml", "wurde empfangen!", "information"),
        ("RA-2025-001.xml", "wurde empfangen!", "information"),
        ("RA-2025-001.pdf", "wurde empfangen!", "information"),
    ]
    assert entries[0]["time"] == "2025-06-15T14:00:00+02:00"
    finalized = _finalize(sim, job)
    assert (finalized.status_code, finalized.text) == (204, "")
    assert _status(sim, job) == 1
    sim.clock.advance(9)
    assert _status(sim, job) == 1
    sim.clock.advance(1)
    assert _status(sim, job) == 2
    assert _protocol(sim, job)[-1] == {
        "time": "2025-06-15T14:00:10+02:00",
        "text": "Beleg wurde erfolgreich verarbeitet.",
        "type": "information",
        "context": "Beleg 1",
        "filename": "document.xml",
    }


def test_datevs_sample_package_passes(sim: DatevSim) -> None:
    files = {
        "document.xml": document_xml("R-2023-101.xml", "R-2023-101.pdf", month="2023-01"),
        "R-2023-101.xml": (SAMPLES / "ledger_v060_Rechnungsdaten_RA_R-2023-101.xml").read_bytes(),
        "R-2023-101.pdf": PDF,
    }
    job = _package(sim, files, {"import_type": "accountsReceivableLedgerImport", "accounting_month": "2023-01"})
    assert _status(sim, job) == 2


def test_an_xsd_invalid_ledger_file_fails_the_job_with_protocol_errors(sim: DatevSim) -> None:
    files = {**_good_files(), "RA-2025-001.xml": ledger_xml(amount="1.190,00")}
    job = _package(sim, files)
    assert _status(sim, job) == 3
    errors = [entry for entry in _protocol(sim, job) if entry["type"] == "error"]
    assert errors
    assert all(entry["filename"] == "RA-2025-001.xml" for entry in errors)
    assert [entry["text"][:30] for entry in errors] == [
        "XML-Schema-Fehler in Zeile 5: ",
        "XML-Schema-Fehler in Zeile 8: ",
    ]
    assert all("'1.190,00' is not a valid value" in entry["text"] for entry in errors)


@pytest.mark.parametrize(
    ("files", "text"),
    [
        ({"RA-2025-001.xml": ledger_xml()}, "Die Datei document.xml fehlt im Datenpaket."),
        ({"document.xml": b"<archive><unclosed></archive>"}, "Die Datei ist kein wohlgeformtes XML"),
        ({"document.xml": document_xml().replace(b"<header>", b"<header><bogus/>")}, "XML-Schema-Fehler in Zeile 4"),
        ({**_good_files(), "RA-2025-001.pdf": None}, "Die Datei RA-2025-001.pdf fehlt im Datenpaket."),
        ({**_good_files(), "document.xml": document_xml(month="2025-05")}, "Der Buchungsmonat 2025-05 passt nicht"),
        ({**_good_files(), "document.xml": document_xml(kind="accountsPayableLedger")}, "passen nicht zum Importtyp"),
        (
            {**_good_files(), "RA-2025-001.xml": ledger_xml(consolidated="1000.00")},
            "consolidatedAmount 1000.00 stimmt nicht",
        ),
        (
            {**_good_files(), "document.xml": document_xml(extra_header="<clientNumber>55004</clientNumber>")},
            "clientNumber 55004 in document.xml passt nicht zum Mandanten 55003.",
        ),
    ],
    ids=[
        "no index",
        "not well-formed",
        "index breaks the XSD",
        "missing pdf",
        "other month",
        "other type",
        "sum",
        "client",
    ],
)
def test_broken_packages_end_with_status_3(sim: DatevSim, files: dict[str, bytes | None], text: str) -> None:
    job = _package(sim, {name: data for name, data in files.items() if data is not None})
    assert _status(sim, job) == 3
    assert any(entry["type"] == "error" and text in entry["text"] for entry in _protocol(sim, job))


def test_one_bad_document_of_two_is_status_4(sim: DatevSim) -> None:
    index = document_xml().replace(
        b"</content>",
        b'<document><extension xsi:type="File" name="missing.pdf"/></document></content>',
    )
    job = _package(sim, {**_good_files(), "document.xml": index})
    assert _status(sim, job) == 4


def test_without_an_xsd_folder_only_well_formedness_is_checked(serve: ServeDatev, clock: FakeClock) -> None:
    sim = serve(DatevSimConfig(clock=clock))
    sim.login()
    job = _package(
        sim, {**_good_files(), "RA-2025-001.xml": ledger_xml(amount="1190.00").replace(b"<tax>", b"<unknown/><tax>")}
    )
    assert _status(sim, job) == 2


def test_unreferenced_files_are_a_warning(sim: DatevSim) -> None:
    job = _package(sim, {**_good_files(), "extra.pdf": PDF})
    assert _status(sim, job) == 2
    warnings = [entry for entry in _protocol(sim, job) if entry["type"] == "warning"]
    assert [(entry["filename"], entry["text"]) for entry in warnings] == [
        ("extra.pdf", "Die Datei wird in document.xml nicht verwendet.")
    ]


def test_cancel_an_open_job_deletes_it(sim: DatevSim) -> None:
    job = _create(sim).json()["id"]
    _upload(sim, job, "document.xml", document_xml())
    cancelled = sim.session.delete(f"{_jobs_url(sim)}/{job}", timeout=10)
    validate_response(cancelled)
    assert cancelled.status_code == 204
    gone = sim.session.get(f"{_jobs_url(sim)}/{job}", timeout=10)
    validate_response(gone)
    assert gone.status_code == 404
    assert sim.session.get(f"{_jobs_url(sim)}/{job}/protocol-entries", timeout=10).status_code == 404
    assert _error(_upload(sim, job, "a.pdf", PDF)) == "#DCO01003"


def test_a_finalized_job_cannot_be_changed(sim: DatevSim) -> None:
    job = _create(sim).json()["id"]
    _upload(sim, job, "document.xml", document_xml())
    assert _finalize(sim, job).status_code == 204
    assert _error(_finalize(sim, job)) == "#DCO01007"
    assert _error(_upload(sim, job, "b.pdf", PDF)) == "#DCO01007"
    refused = sim.session.delete(f"{_jobs_url(sim)}/{job}", timeout=10)
    assert (refused.status_code, _error(refused)) == (400, "#DCO01007")


@pytest.mark.parametrize(
    ("body", "content_type", "code"),
    [
        (b'{"ready": "false"}', "application/merge-patch+json", "#DCO01001"),
        (b'{"ready": true}', "application/merge-patch+json", "#DCO01001"),
        (b'{"ready": "true"}', "application/json", "#DCO01008"),
        (b"ready", "application/merge-patch+json", "#DCO01008"),
    ],
    ids=["false", "boolean", "plain json", "not json"],
)
def test_finalize_wants_ready_true_as_merge_patch(sim: DatevSim, body: bytes, content_type: str, code: str) -> None:
    job = _create(sim).json()["id"]
    assert _error(_finalize(sim, job, body, content_type)) == code
    assert _status(sim, job) == 0


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"import_type": "accountsReceivableLedgerImport"}, "#DCO01017"),
        ({"accounting_month": "2025-06"}, "#DCO01017"),
        ({"import_type": "invoices", "accounting_month": "2025-06"}, "#DCO01008"),
        ({"import_type": "cashLedgerImport", "accounting_month": "06/2025"}, "#DCO01008"),
        ({"import_type": "cashLedgerImport", "accounting_month": "2019-01"}, "#DCO01002"),
        ({"import_type": "cashLedgerImport", "accounting_month": "2026-01"}, "#DCO01002"),
    ],
    ids=["type only", "month only", "unknown type", "month format", "no fiscal year", "no next year for cash"],
)
def test_job_creation_errors(sim: DatevSim, body: dict[str, str], code: str) -> None:
    answer = _create(sim, body)
    assert answer.status_code == 400
    assert _error(answer) == code


def test_creation_variants(sim: DatevSim) -> None:
    empty = sim.session.post(_jobs_url(sim), timeout=10)
    assert (empty.status_code, set(empty.json())) == (201, {"id"})
    cash = _create(sim, {"import_type": "cashLedgerImport", "accounting_month": "2025-02"}).json()
    assert cash["cash_ledger_names"] == ["Kasse"]
    payables = _create(sim, {"import_type": "accountsPayableLedgerImport", "accounting_month": "2026-01"}).json()
    assert payables["ledger_folder_names"] == ["Eingangsrechnungen"]  # DATEV creates the next fiscal year


def test_client_prerequisites(serve: ServeDatev, clock: FakeClock) -> None:
    no_payables = FiscalYear(date(2025, 1, 1), date(2025, 12, 31), accounts_payable_ledger=False)
    clients = (
        SimClient(29098, 55003, "Ohne Rechnungsdatenservice", services=(SERVICE_DOCUMENTS,)),
        SimClient(29098, 55005, "Neues Belege online", duo_version="DuoNext"),
        SimClient(29098, 55007, "Ohne Eingangsbuch", fiscal_years=(no_payables,)),
    )
    sim = serve(DatevSimConfig(clock=clock, clients=clients))
    sim.login()
    assert _error(_create(sim, client="29098-55003")) == "#DCO01002"
    assert _error(_create(sim, client="29098-55005")) == "#DCO01301"
    payables = {"import_type": "accountsPayableLedgerImport", "accounting_month": "2025-06"}
    assert _error(_create(sim, payables, client="29098-55007")) == "#DCO01002"
    assert _create(sim, client="29098-55007").status_code == 201
    unknown = _create(sim, client="29098-55099")
    assert (unknown.status_code, set(unknown.json())) == (404, {"request_id"})


@pytest.mark.parametrize(
    ("name", "data", "content_type", "code"),
    [
        ("paket.zip", b"PK\x03\x04", None, "#DCO01015"),
        ("a.xml", b"<a/>", "application/pdf", "#DCO01219"),
        ("a.pdf", b"plain text", "application/pdf", "#DCO01245"),
    ],
    ids=["zip", "type mismatch", "not a pdf"],
)
def test_file_rules_on_upload(sim: DatevSim, name: str, data: bytes, content_type: str | None, code: str) -> None:
    job = _create(sim).json()["id"]
    assert _error(_upload(sim, job, name, data, content_type)) == code


def test_one_file_per_request_and_idempotent_resends(sim: DatevSim) -> None:
    job = _create(sim).json()["id"]
    two = [("files", ("a.pdf", PDF, "application/pdf")), ("files", ("b.pdf", PDF, "application/pdf"))]
    assert _error(sim.session.post(f"{_jobs_url(sim)}/{job}/files", files=two, timeout=10)) == "#DCO01004"
    assert _upload(sim, job, "a.pdf", PDF).status_code == 201
    assert _upload(sim, job, "a.pdf", PDF).status_code == 201  # the same file again: accepted, stored once
    assert _error(_upload(sim, job, "a.pdf", PDF.replace(b"Catalog", b"Katalog"))) == "#DCO01001"
    (admin,) = sim.admin_get("jobs")["dxso"]
    assert [file["name"] for file in admin["files"]] == ["a.pdf"]
    assert _error(_upload(sim, "F" * 32, "a.pdf", PDF)) == "#DCO01003"


def test_forced_failures(sim: DatevSim) -> None:
    sim.admin(
        "faults", {"dxso_job_failures": 1, "dxso_failure_status": 4, "dxso_failure_text": "Teilweise verarbeitet."}
    )
    job = _package(sim, _good_files())
    assert _status(sim, job) == 4
    assert _protocol(sim, job)[-1]["text"] == "Teilweise verarbeitet."
    assert _status(sim, _package(sim, _good_files())) == 2


def test_lists_and_basic_data(sim: DatevSim) -> None:
    clients = sim.session.get(sim.url("accounting-dxso-jobs", "/clients"), timeout=10)
    validate_response(clients, check_request=True)
    assert [client["id"] for client in clients.json()] == [CLIENT, "29098-55004"]
    basics = sim.session.get(sim.url("accounting-dxso-jobs", f"/clients/{CLIENT}"), timeout=10)
    validate_response(basics, check_request=True)
    assert basics.json()["basic_accounting_information"][0]["fiscal_year_start"] == "2023-01-01"
