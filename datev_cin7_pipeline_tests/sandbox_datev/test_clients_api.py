"""accounting-clients over HTTP: the list with services, filters and paging, one client, and the gateway's checks."""

from __future__ import annotations

import pytest
import requests

from datev_cin7_pipeline.sandbox.datev import DEMO_CLIENT_ID, DatevSimConfig, SimClient
from datev_cin7_pipeline_tests.sandbox_datev.conftest import ServeDatev
from datev_cin7_pipeline_tests.sandbox_datev.datev_contract import validate_response
from datev_cin7_pipeline_tests.sandbox_datev.helpers import CLIENT, DatevSim


def _get(sim: DatevSim, path: str, **params: str) -> requests.Response:
    answer = sim.session.get(sim.url("accounting-clients", path), params=params, timeout=10)
    validate_response(answer, check_request=True)
    return answer


def test_the_list_names_each_client_with_its_services_and_scopes(sim: DatevSim) -> None:
    answer = _get(sim, "/clients")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json;charset=utf-8"
    assert answer.headers["Total-Items"] == "2"
    assert "Link" not in answer.headers
    first, second = answer.json()
    assert (first["id"], first["consultant_number"], first["client_number"]) == (CLIENT, 29098, 55003)
    assert first["services"] == [
        {"name": "Belegbilderservice", "scopes": ["accounting:documents"]},
        {"name": "Buchungsdatenservice", "scopes": ["datev:accounting:extf-files-import"]},
        {"name": "Rechnungsdatenservice 1.0", "scopes": ["accounting:dxso-jobs"]},
    ]
    assert second["id"] == "29098-55004"
    assert "Buchungsdatenservice" not in {service["name"] for service in second["services"]}


def test_the_filter_finds_one_client(sim: DatevSim) -> None:
    answer = _get(sim, "/clients", filter="consultant_number eq 29098 and client_number eq 55004")
    assert [client["id"] for client in answer.json()] == ["29098-55004"]
    assert answer.headers["Total-Items"] == "1"
    assert _get(sim, "/clients", filter="client_number eq 1").json() == []


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"skip": "-1"}, "Paging parameters are invalid - skip - must be a positive integer"),
        ({"top": "0"}, "Paging parameters are invalid - top - must be a positive integer"),
        ({"top": "ten"}, "Paging parameters are invalid - top - must be a positive integer"),
        (
            {"filter": "client_number gt 5"},
            'Filter operators are invalid - client_number - only supports the operator "eq"',
        ),
        ({"filter": "name eq 5"}, "Filter parameters are invalid - name - is not supported"),
        (
            {"filter": "client_number eq 0"},
            "Filter parameters are invalid - client_number - must be a positive integer from 1 to 9999999999",
        ),
        (
            {"filter": "client_number eq 1 or client_number eq 2"},
            'The combination of filters is invalid. Supported logical operator "and"',
        ),
        ({"filter": "client_number"}, "Filter syntax is invalid"),
    ],
    ids=["skip", "top zero", "top text", "operator", "field", "value", "or", "syntax"],
)
def test_bad_paging_and_filters_get_1008828(sim: DatevSim, params: dict[str, str], detail: str) -> None:
    answer = sim.session.get(sim.url("accounting-clients", "/clients"), params=params, timeout=10)
    validate_response(answer)
    assert answer.status_code == 400
    body = answer.json()
    assert body["type"] == "http://www.datev.de/hilfe/1008828"
    assert body["title"] == "Invalid query parameters"
    assert body["detail"] == detail
    assert body["status"] == 400
    assert body["request_id"]


def test_paging_links_to_the_next_and_previous_page(serve: ServeDatev, clock: object) -> None:
    clients = tuple(SimClient(29098, number, f"Mandant {number}") for number in range(1, 6))
    sim = serve(DatevSimConfig(clock=clock, clients=clients))  # type: ignore[arg-type]
    sim.login()
    answer = _get(sim, "/clients", skip="2", top="2")
    assert [client["client_number"] for client in answer.json()] == [3, 4]
    assert answer.headers["Total-Items"] == "5"
    assert answer.headers["Link"] == '<?skip=0&top=2>;rel="prev", <?skip=4&top=2>;rel="next"'
    # The text says "more than 100 gives 100" although the schema caps `top` at 100: the request breaks the
    # schema, so only the response is checked here.
    many = sim.session.get(sim.url("accounting-clients", "/clients"), params={"top": "500"}, timeout=10)
    validate_response(many)
    assert len(many.json()) == 5


def test_one_client_and_an_unknown_one(sim: DatevSim) -> None:
    assert _get(sim, f"/clients/{CLIENT}").json()["name"] == "Musterholz GmbH"
    assert _get(sim, "/clients/29098-99999").status_code == 404
    assert _get(sim, "/clients/not-an-id").status_code == 404


def test_the_sandbox_stage_serves_the_same_data(sim: DatevSim) -> None:
    sandbox = sim.root + "/accounting-clients/platform-sandbox/v2/clients"
    assert sim.session.get(sandbox, timeout=10).json() == _get(sim, "/clients").json()


def test_calls_need_a_token_the_client_id_header_and_the_scope(serve: ServeDatev) -> None:
    sim = serve()
    url = sim.url("accounting-clients", "/clients")
    assert requests.get(url, timeout=10).status_code == 401
    tokens = sim.login(scope="openid accounting:documents")
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    no_client_id = requests.get(url, headers=bearer, timeout=10)
    assert no_client_id.status_code == 401
    assert no_client_id.json()["detail"] == "X-DATEV-Client-Id header missing"
    other_app = requests.get(url, headers={**bearer, "X-DATEV-Client-Id": "another-app"}, timeout=10)
    assert other_app.status_code == 403
    missing_scope = requests.get(url, headers={**bearer, "X-DATEV-Client-Id": DEMO_CLIENT_ID}, timeout=10)
    validate_response(missing_scope)
    assert missing_scope.status_code == 403
    assert missing_scope.json()["type"] == "http://www.datev.de/hilfe/1008829"
    assert missing_scope.json()["detail"] == "Missing scope(s) are: datev:accounting:clients"


def test_scopes_are_not_checked_when_disabled(serve: ServeDatev) -> None:
    sim = serve(enforce_scopes=False)
    sim.login(scope="openid")
    assert _get(sim, "/clients").status_code == 200


def test_wrong_method_and_unknown_path(sim: DatevSim) -> None:
    wrong_method = sim.session.delete(sim.url("accounting-clients", "/clients"), timeout=10)
    assert wrong_method.status_code == 405
    assert set(wrong_method.json()) == {"title", "request_id", "status"}  # the spec's 405 example
    assert wrong_method.json()["title"] == "Method Not Allowed"
    assert sim.session.get(sim.url("accounting-clients", "/nothing"), timeout=10).status_code == 404
    assert sim.session.get(sim.root + "/accounting-clients/platform/v9/clients", timeout=10).status_code == 404
