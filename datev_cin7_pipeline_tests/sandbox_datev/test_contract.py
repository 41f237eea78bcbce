"""The simulator against DATEV's OpenAPI documents: same operations and scopes, same servers, valid answers.

The per-API tests validate their exchanges with `datev_contract.validate_response`; this file checks the
tables themselves, that the helper really fails on a wrong answer, and runs one session through the happy
paths with the contract hook attached.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from datev_cin7_pipeline.sandbox.datev import HEADING_COLUMNS, all_operations, datev_url, datev_urls, simulator_url
from datev_cin7_pipeline_tests.sandbox_datev.datev_contract import (
    SPEC_FILES,
    ContractViolation,
    attach_contract_checks,
    spec_folder,
    validate_response,
)
from datev_cin7_pipeline_tests.sandbox_datev.helpers import (
    CLIENT,
    PDF,
    SAMPLES,
    DatevSim,
    document_xml,
    extf_file,
    ledger_xml,
)


def _document(api: str) -> dict[str, Any]:
    return dict(json.loads((spec_folder() / SPEC_FILES[api]).read_text("utf-8")))


def _spec_operations(api: str) -> dict[tuple[str, str], tuple[str, ...]]:
    """(method, path) → the scopes of the operation's `datev_openid` security requirement."""
    document = _document(api)
    found = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "delete", "patch"):
                security = operation.get("security", document.get("security"))
                scopes = next(entry["datev_openid"] for entry in security if "datev_openid" in entry)
                found[(method.upper(), path)] = tuple(scopes)
    return found


@pytest.mark.parametrize("api", sorted(SPEC_FILES))
def test_every_documented_operation_is_served_with_its_scopes(api: str) -> None:
    served = {(op.method, op.template): op.scopes for op in all_operations() if op.api.name == api}
    assert served == _spec_operations(api)


@pytest.mark.parametrize("api", sorted(SPEC_FILES))
def test_every_server_of_the_document_maps_onto_the_simulator_and_back(api: str) -> None:
    root = "http://127.0.0.1:8080"
    servers = [server["url"] for server in _document(api)["servers"]]
    assert len(servers) == 2
    for server in servers:
        mapped = simulator_url(server + "/clients?top=5", root)
        assert mapped.startswith(f"{root}/{api}/platform")
        assert datev_url(mapped) == server + "/clients?top=5"
    urls = datev_urls(root)
    assert simulator_url(servers[0], root) == urls[api]
    assert simulator_url(servers[1], root) == datev_urls(root, sandbox=True)[api]


def test_urls_of_other_hosts_are_refused() -> None:
    with pytest.raises(ValueError, match="not a URL of one of the simulated DATEV APIs"):
        simulator_url("https://accounting-data-exchange.api.datev.de/platform/v1", "http://x")
    with pytest.raises(ValueError, match="not below one of the simulated DATEV APIs"):
        datev_url("http://127.0.0.1/token")


def test_the_heading_line_is_datevs() -> None:
    sample = (SAMPLES / "EXTF_Buchungsstapel_fv13_sample.csv").read_text("utf-8").splitlines()
    assert tuple(sample[1].split(";")) == HEADING_COLUMNS
    assert len(HEADING_COLUMNS) == 125


def _fake_response(sim: DatevSim, url: str, status: int, body: Any, content_type: str) -> requests.Response:
    """A response as `requests` would build it, for checking that the helper fails."""
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    response.headers["Content-Type"] = content_type
    response.request = requests.Request("GET", url, headers=dict(sim.session.headers)).prepare()
    return response


@pytest.mark.parametrize(
    ("status", "body", "content_type", "problem"),
    [
        (200, [{"client_number": "55003"}], "application/json;charset=utf-8", "InvalidData"),
        (200, [], "text/plain", "MediaTypeNotFound"),
        (418, [], "application/json;charset=utf-8", "ResponseNotFound"),
    ],
    ids=["wrong type", "wrong media type", "undocumented status"],
)
def test_the_helper_fails_on_a_wrong_answer(
    sim: DatevSim, status: int, body: Any, content_type: str, problem: str
) -> None:
    response = _fake_response(sim, sim.url("accounting-clients", "/clients"), status, body, content_type)
    with pytest.raises(ContractViolation, match=problem):
        validate_response(response)


def test_the_helper_checks_requests_too(sim: DatevSim) -> None:
    answer = requests.get(sim.url("accounting-clients", "/clients"), timeout=10)  # no token, no client id
    with pytest.raises(ContractViolation, match="request: "):
        validate_response(answer, check_request=True)


def test_a_whole_session_keeps_to_the_documents(sim: DatevSim) -> None:
    violations = attach_contract_checks(sim.session, check_request=True)
    urls = sim.urls
    session = sim.session
    session.get(urls["accounting-clients"] + "/clients", timeout=10)
    session.get(urls["accounting-clients"] + f"/clients/{CLIENT}", timeout=10)
    for path in (
        "/clients",
        f"/clients/{CLIENT}",
        f"/clients/{CLIENT}/document-types",
        f"/clients/{CLIENT}/duo-version",
    ):
        assert session.get(urls["accounting-documents"] + path, timeout=10).status_code == 200
    assert sim.put_document(metadata={"document_type": "Rechnungsausgang"}).status_code == 201
    assert sim.put_document().status_code == 409
    location = sim.upload_extf(extf_file(), **{"Reference-Id": "r-1", "Client-Application-Version": "1.2.3"}).headers[
        "Location"
    ]
    sim.clock.advance(10)
    session.get(urls["accounting-extf-files"] + location, timeout=10)
    session.get(urls["accounting-extf-files"] + f"/clients/{CLIENT}/extf-files/jobs", params={"top": "10"}, timeout=10)
    jobs = urls["accounting-dxso-jobs"] + f"/clients/{CLIENT}/dxso-jobs"
    job = session.post(
        jobs, json={"import_type": "accountsReceivableLedgerImport", "accounting_month": "2025-06"}, timeout=10
    ).json()["id"]
    for name, data in (("document.xml", document_xml()), ("RA-2025-001.xml", ledger_xml()), ("RA-2025-001.pdf", PDF)):
        session.post(f"{jobs}/{job}/files", files={"files": (name, data)}, timeout=10)
    session.put(
        f"{jobs}/{job}", data=b'{"ready": "true"}', headers={"Content-Type": "application/merge-patch+json"}, timeout=10
    )
    sim.clock.advance(10)
    assert session.get(f"{jobs}/{job}", timeout=10).json()["status"] == 2
    session.get(f"{jobs}/{job}/protocol-entries", timeout=10)
    assert sim.admin_get("calls")["summary"]["total_calls"] >= 18
    assert violations == []
