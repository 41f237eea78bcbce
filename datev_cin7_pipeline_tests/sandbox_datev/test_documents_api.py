"""accounting-documents over HTTP: client data, document types, extensions, and every documented upload error."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from datev_cin7_pipeline.sandbox.datev import SERVICE_EXTF, DatevSimConfig, SimClient
from datev_cin7_pipeline_tests.sandbox_datev.conftest import ServeDatev
from datev_cin7_pipeline_tests.sandbox_datev.datev_contract import validate_response
from datev_cin7_pipeline_tests.sandbox_datev.helpers import CLIENT, GUID, PDF, DatevSim, FakeClock

TWENTY_MB = 20 * 1024 * 1024


def _get(sim: DatevSim, path: str) -> requests.Response:
    answer = sim.session.get(sim.url("accounting-documents", path), timeout=10)
    validate_response(answer, check_request=True)
    return answer


def _dco(answer: requests.Response) -> str:
    """The `#DCO01xxx` code of an error answer, after checking the body's documented shape."""
    validate_response(answer)
    body = answer.json()
    assert set(body) == {"error", "error_description", "error_uri", "request_id"}
    assert body["error_uri"] == "https://apps.datev.de/knowledge/help/search?q=" + body["error"][1:]
    assert body["error_description"].startswith("restapi.")
    return str(body["error"])


def _pdf_of_size(size: int) -> bytes:
    return PDF[:9] + b"0" * (size - len(PDF)) + PDF[9:]


def test_clients_and_basic_data(sim: DatevSim) -> None:
    clients = _get(sim, "/clients").json()
    assert clients[0] == {"client_number": 55003, "consultant_number": 29098, "id": CLIENT, "name": "Musterholz GmbH"}
    basics = _get(sim, f"/clients/{CLIENT}").json()
    assert basics["is_document_management_available"] is True
    years = basics["basic_accounting_information"]
    assert [year["fiscal_year_start"] for year in years] == ["2023-01-01", "2024-01-01", "2025-01-01"]  # clock: 2025
    assert years[-1]["account_length"] == 4
    assert years[-1]["ledgers"]["is_accounts_receivable_ledger_available"] is True
    assert _get(sim, "/clients/29098-1").status_code == 404


def test_document_types_and_permitted_extensions(serve: ServeDatev, clock: FakeClock) -> None:
    clients = (SimClient(29098, 55003, "Jetzt"), SimClient(29098, 55005, "Neu", duo_version="DuoNext"))
    sim = serve(DatevSimConfig(clock=clock, clients=clients))
    sim.login()
    types = _get(sim, f"/clients/{CLIENT}/document-types").json()
    assert types[:2] == [
        {"name": "Rechnungseingang", "category": "invoices_received", "debit_credit_identifier": "debit"},
        {"name": "Rechnungsausgang", "category": "outgoing_invoices", "debit_credit_identifier": "credit"},
    ]
    assert {"name": "Kasse", "category": "other_documents"} in types
    duo_now = _get(sim, f"/clients/{CLIENT}/duo-version").json()
    duo_next = _get(sim, "/clients/29098-55005/duo-version").json()
    assert {"pdf", "csv", "docx", "xml"} <= set(duo_now["allowed_file_extensions"])
    assert sorted(duo_next["allowed_file_extensions"]) == ["gif", "jpeg", "jpg", "pdf", "png", "tif", "tiff", "xml"]
    assert "zip" not in duo_now["allowed_file_extensions"]


def test_put_creates_the_document_under_our_guid(sim: DatevSim) -> None:
    metadata = {"document_type": "Rechnungsausgang", "note": "Cin7 INV-0001"}
    answer = sim.put_document(metadata=metadata)
    validate_response(answer, check_request=True)
    assert answer.status_code == 201
    body = answer.json()
    assert body["id"] == GUID
    assert body["document_type"] == "Rechnungsausgang"
    assert body["note"] == "Cin7 INV-0001"
    (file,) = body["files"]
    assert (file["name"], file["size"], file["media_type"]) == ("RE-2025-001.pdf", len(PDF), "application/pdf")
    assert file["upload_date"] == "2025-06-15T14:00:00+02:00"
    (stored,) = sim.admin_get("documents")["documents"]
    assert (stored["id"], stored["client_id"], stored["metadata"]) == (GUID, CLIENT, metadata)


def test_the_same_guid_again_is_409_even_with_other_content(sim: DatevSim) -> None:
    assert sim.put_document().status_code == 201
    again = sim.put_document(name="other.pdf", data=_pdf_of_size(500))
    assert again.status_code == 409
    assert _dco(again) == "#DCO01012"
    assert sim.put_document(GUID.upper()).status_code == 409  # GUIDs compare without case
    assert len(sim.admin_get("documents")["documents"]) == 1


@pytest.mark.parametrize(
    "guid",
    [
        "not-a-guid",
        "3f2a1c9e5b7d4e2f9a1b2c3d4e5f6a7b",
        "{3f2a1c9e-5b7d-4e2f-9a1b-2c3d4e5f6a7b}",
        "3f2a1c9e-5b7d-4e2f-ca1b-2c3d4e5f6a7b",
        "3f2a1c9e-5b7d-0e2f-9a1b-2c3d4e5f6a7b",
    ],
    ids=["text", "no dashes", "braces", "wrong variant", "version 0"],
)
def test_a_malformed_guid_is_400(sim: DatevSim, guid: str) -> None:
    answer = sim.put_document(guid)
    assert answer.status_code == 400
    assert _dco(answer) == "#DCO01234"


def test_version_4_and_5_guids_are_accepted(sim: DatevSim) -> None:
    assert sim.put_document("0b6e8a3c-1d2f-5a4b-8c7d-9e0f1a2b3c4d").status_code == 201
    assert sim.put_document("0b6e8a3c-1d2f-4a4b-bc7d-9e0f1a2b3c4d", data=_pdf_of_size(300)).status_code == 201


def test_files_up_to_20_mb_pass_and_larger_ones_get_the_documented_error(sim: DatevSim) -> None:
    assert sim.put_document(data=_pdf_of_size(TWENTY_MB)).status_code == 201
    too_big = sim.put_document("5e1d2c3b-4a59-4687-9a0b-1c2d3e4f5a6b", data=_pdf_of_size(TWENTY_MB + 1))
    assert too_big.status_code == 400
    assert _dco(too_big) == "#DCO01016"


@pytest.mark.parametrize(
    ("client", "name", "data", "content_type", "code"),
    [
        ("now", "Belege.zip", b"PK\x03\x04", "application/zip", "#DCO01015"),
        ("now", "setup.exe", b"MZ", "application/octet-stream", "#DCO01015"),
        ("now", "ohne-endung", PDF, None, "#DCO01015"),
        ("next", "Rechnung.docx", b"PK\x03\x04", None, "#DCO01215"),
        ("next", "RE-1.pdf", _pdf_of_size(TWENTY_MB + 1), "application/pdf", "#DCO01216"),
        ("now", "x" * 252 + ".pdf", PDF, "application/pdf", "#DCO01222"),
        ("now", "", PDF, "application/pdf", "#DCO01233"),
        ("now", "RE-1.pdf", PDF, "image/png", "#DCO01219"),
        ("now", "RE-1.pdf", b"not a pdf at all", "application/pdf", "#DCO01245"),
        ("now", "scan.png", PDF, "image/png", "#DCO01219"),
        ("now", "leer.pdf", b"", "application/pdf", "#DCO01004"),
    ],
    ids=[
        "zip",
        "exe",
        "no extension",
        "docx on DuoNext",
        "size on DuoNext",
        "name over 255",
        "empty name",
        "type mismatch",
        "unparseable pdf",
        "png that is a pdf",
        "empty file",
    ],
)
def test_file_rules(
    serve: ServeDatev, clock: FakeClock, client: str, name: str, data: bytes, content_type: str | None, code: str
) -> None:
    clients = (SimClient(29098, 55003, "Jetzt"), SimClient(29098, 55005, "Neu", duo_version="DuoNext"))
    sim = serve(DatevSimConfig(clock=clock, clients=clients))
    sim.login()
    answer = sim.put_document(
        name=name, data=data, content_type=content_type, client=CLIENT if client == "now" else "29098-55005"
    )
    assert answer.status_code == 400
    assert _dco(answer) == code


def test_names_are_cleaned_as_datev_documents(sim: DatevSim) -> None:
    decomposed = "Rechnung Mu\u0308ller #7.pdf"
    answer = sim.put_document(name=decomposed)
    assert answer.status_code == 201
    assert answer.json()["files"][0]["name"] == "Rechnung Mu_ller _7.pdf"
    (stored,) = sim.admin_get("documents")["documents"]
    assert stored["sent_names"] == [decomposed]
    precomposed = sim.put_document(
        "6e1d2c3b-4a59-4687-9a0b-1c2d3e4f5a6b", name="Müller & Söhne (2).pdf", data=_pdf_of_size(400)
    )
    assert precomposed.json()["files"][0]["name"] == "Müller & Söhne (2).pdf"


@pytest.mark.parametrize(
    ("metadata", "code"),
    [
        ("{not json", "#DCO01217"),
        ("[1, 2]", "#DCO01217"),
        ({"document_type": "Rechnungsausgang", "unknown": "x"}, "#DCO01217"),
        ({"category": "Cin7", "folder": "Rechnungen"}, "#DCO01217"),
        ({"document_type": "Gibt es nicht"}, "#DCO01010"),
        ({"document_type": "x" * 31}, "#DCO01227"),
        ({"note": "n" * 256}, "#DCO01223"),
        ({"category": "c" * 31, "folder": "f", "register": "r"}, "#DCO01224"),
        ({"category": "c", "folder": "f" * 31, "register": "r"}, "#DCO01225"),
        ({"category": "c", "folder": "f", "register": "r" * 31}, "#DCO01226"),
        ({"note": "Mu\u0308ller"}, "#DCO01008"),
    ],
    ids=[
        "not json",
        "not an object",
        "unknown key",
        "two of three levels",
        "unknown type",
        "type too long",
        "note too long",
        "category too long",
        "folder too long",
        "register too long",
        "decomposed text",
    ],
)
def test_metadata_rules(sim: DatevSim, metadata: Any, code: str) -> None:
    answer = sim.put_document(metadata=metadata)
    assert answer.status_code == 400
    assert _dco(answer) == code


def test_metadata_with_all_three_levels_and_custom_metadata(sim: DatevSim) -> None:
    files: dict[str, Any] = {
        "file": ("RE-1.pdf", PDF, "application/pdf"),
        "metadata": (None, json.dumps({"category": "Cin7", "folder": "Ausgang", "register": "2025-06"})),
        "custom_metadata": (None, json.dumps({"sequence_first_guid": GUID, "sequence_position": 2})),
    }
    url = sim.url("accounting-documents", f"/clients/{CLIENT}/documents/{GUID}")
    assert sim.session.put(url, files=files, timeout=10).status_code == 201
    files["custom_metadata"] = (None, json.dumps({"sequence_position": "zwei"}))
    other = sim.url("accounting-documents", f"/clients/{CLIENT}/documents/7e1d2c3b-4a59-4687-9a0b-1c2d3e4f5a6b")
    assert _dco(sim.session.put(other, files=files, timeout=10)) == "#DCO01218"


@pytest.mark.parametrize(
    ("files", "code"),
    [
        ({"metadata": (None, "{}")}, "#DCO01220"),
        ({"file": ("a.pdf", PDF, "application/pdf"), "files": ("b.pdf", PDF, "application/pdf")}, None),
    ],
    ids=["no file part", "a files part is ignored"],
)
def test_the_file_part(sim: DatevSim, files: dict[str, Any], code: str | None) -> None:
    answer = sim.session.put(
        sim.url("accounting-documents", f"/clients/{CLIENT}/documents/{GUID}"), files=files, timeout=10
    )
    assert answer.status_code == (400 if code else 201)
    if code:
        assert _dco(answer) == code


def test_bodies_that_are_not_one_file_are_refused(sim: DatevSim) -> None:
    url = sim.url("accounting-documents", f"/clients/{CLIENT}/documents/{GUID}")
    not_multipart = sim.session.put(url, data=PDF, headers={"Content-Type": "application/pdf"}, timeout=10)
    assert _dco(not_multipart) == "#DCO01004"
    two = [("file", ("a.pdf", PDF, "application/pdf")), ("file", ("b.pdf", PDF, "application/pdf"))]
    assert _dco(sim.session.put(url, files=two, timeout=10)) == "#DCO01004"


def test_a_duplicate_file_under_a_new_guid_is_refused_unless_the_type_differs(sim: DatevSim) -> None:
    assert sim.put_document(metadata={"document_type": "Rechnungsausgang"}).status_code == 201
    second_guid = "8e1d2c3b-4a59-4687-9a0b-1c2d3e4f5a6b"
    duplicate = sim.put_document(second_guid, metadata={"document_type": "Rechnungsausgang"})
    assert _dco(duplicate) == "#DCO01253"
    assert sim.put_document(second_guid, metadata={"document_type": "Sonstige"}).status_code == 201


def test_post_and_stapled_uploads(sim: DatevSim) -> None:
    posted = sim.session.post(
        sim.url("accounting-documents", f"/clients/{CLIENT}/documents"),
        files={"file": ("a.pdf", PDF, "application/pdf")},
        timeout=10,
    )
    validate_response(posted, check_request=True)
    assert posted.status_code == 201
    assert len(posted.json()["id"]) == 36
    stapled_url = sim.url("accounting-documents", f"/clients/{CLIENT}/documents/stapled")
    pages = [("files", (f"s{i}.pdf", _pdf_of_size(200 + i), "application/pdf")) for i in range(3)]
    stapled = sim.session.put(stapled_url, files=pages, timeout=10)
    validate_response(stapled)
    assert [file["name"] for file in stapled.json()["files"]] == ["s0.pdf", "s1.pdf", "s2.pdf"]
    eleven = [("files", (f"t{i}.pdf", _pdf_of_size(300 + i), "application/pdf")) for i in range(11)]
    assert _dco(sim.session.put(stapled_url, files=eleven, timeout=10)) == "#DCO01232"


def test_access_rules(serve: ServeDatev, clock: FakeClock) -> None:
    clients = (
        SimClient(29098, 55003, "Musterholz GmbH"),
        SimClient(29098, 55006, "Nur EXTF", services=(SERVICE_EXTF,)),
    )
    sim = serve(DatevSimConfig(clock=clock, clients=clients))
    sim.login(scope="openid accounting:clients:read")
    assert _get(sim, f"/clients/{CLIENT}").status_code == 200
    no_scope = sim.put_document()
    assert no_scope.status_code == 403
    assert _dco(no_scope) == "#DCO01005"
    sim.login()
    no_service = sim.put_document(client="29098-55006")
    assert (no_service.status_code, set(no_service.json())) == (403, {"request_id"})
    unknown = sim.put_document(client="29098-55099")
    assert (unknown.status_code, set(unknown.json())) == (404, {"request_id"})
    expired = requests.put(
        sim.url("accounting-documents", f"/clients/{CLIENT}/documents/{GUID}"),
        headers={"Authorization": "Bearer nope", "X-DATEV-Client-Id": "x"},
        timeout=10,
    )
    assert expired.status_code == 401
    assert expired.json()["error"] == "invalid_token"
