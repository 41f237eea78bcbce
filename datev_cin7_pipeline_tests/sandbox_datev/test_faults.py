"""Faults on demand, the call log, and a simulator that restarts with its data."""

from __future__ import annotations

import time

import pytest
import requests

from datev_cin7_pipeline.sandbox.datev import DatevSimConfig, Faults
from datev_cin7_pipeline_tests.sandbox_datev.conftest import ServeDatev
from datev_cin7_pipeline_tests.sandbox_datev.datev_contract import validate_response
from datev_cin7_pipeline_tests.sandbox_datev.helpers import CLIENT, XSD_FOLDER, DatevSim, FakeClock, extf_file

CLIENTS = "/clients"


def _clients(sim: DatevSim) -> requests.Response:
    return sim.session.get(sim.url("accounting-clients", CLIENTS), timeout=10)


def _types(sim: DatevSim) -> requests.Response:
    return sim.session.get(sim.url("accounting-documents", f"/clients/{CLIENT}/document-types"), timeout=10)


def test_a_5xx_burst_then_normal_service(sim: DatevSim) -> None:
    sim.admin("faults", {"error_burst": 2, "error_status": 502})
    for _ in range(2):
        answer = _clients(sim)
        assert answer.status_code == 502
        assert answer.headers["Content-Type"].startswith("text/html")
    assert _clients(sim).status_code == 200
    sim.admin("faults", {"error_burst": 1, "error_status": 500})
    failed = _clients(sim)
    validate_response(failed)
    assert (failed.status_code, failed.json()["title"]) == (500, "Internal Server Error")


def test_maintenance_answers_503_with_retry_after_in_each_apis_style(sim: DatevSim) -> None:
    sim.admin("faults", {"maintenance_burst": 2, "maintenance_retry_after": 120})
    clients = _clients(sim)
    validate_response(clients)
    assert (clients.status_code, clients.headers["Retry-After"], clients.json()["title"]) == (
        503,
        "120",
        "Service Unavailable",
    )
    documents = _types(sim)
    assert (documents.status_code, documents.headers["Retry-After"]) == (503, "120")
    assert documents.json()["error"] == "#DCO01020"
    sim.admin("faults", {"maintenance_burst": 1, "maintenance_retry_after": None})
    assert "Retry-After" not in _clients(sim).headers
    sim.admin("faults", {"error_burst": 1, "error_status": 503})
    plain = _clients(sim)
    assert (plain.status_code, "Retry-After" in plain.headers) == (503, False)


def test_throttling(sim: DatevSim) -> None:
    sim.admin("faults", {"throttle_burst": 1, "throttle_retry_after": 3})
    answer = _clients(sim)
    assert (answer.status_code, answer.headers["Retry-After"]) == (429, "3")


def test_a_dropped_connection_is_a_connection_error_and_logged(sim: DatevSim) -> None:
    sim.admin("faults", {"drop_burst": 1})
    with pytest.raises(requests.ConnectionError):
        _clients(sim)
    assert _clients(sim).status_code == 200
    calls = sim.admin_get("calls")["calls"]
    assert [(call["status"], call["outcome"]) for call in calls[-2:]] == [(None, "dropped"), (200, "ok")]


def test_faults_can_target_one_operation(sim: DatevSim) -> None:
    sim.admin("faults", {"error_burst": 1, "target": "extf-files/import"})
    assert _clients(sim).status_code == 200
    assert sim.upload_extf(extf_file()).status_code == 500
    assert sim.upload_extf(extf_file()).status_code == 202


def test_the_token_endpoint_can_fail_too(sim: DatevSim) -> None:
    sim.admin("faults", {"error_burst": 1, "target": "POST /token"})
    data = {"grant_type": "refresh_token", "refresh_token": sim.tokens["refresh_token"]}
    assert sim.token(data).status_code == 500
    assert sim.token(data).status_code == 200  # the failed call did not use the token up


def test_latency_is_added(sim: DatevSim) -> None:
    sim.admin("faults", {"latency_seconds": 0.2})
    started = time.monotonic()
    assert _clients(sim).status_code == 200
    assert time.monotonic() - started >= 0.2
    sim.admin("faults", {"latency_seconds": 0})


def test_faults_from_the_config_and_bad_settings(serve: ServeDatev, clock: FakeClock) -> None:
    sim = serve(DatevSimConfig(clock=clock, faults=Faults(error_burst=1)))
    assert sim.authorize().status_code == 500  # even the login is affected
    for bad in ({"drop_burst": -1}, {"error_status": 418}, {"nonsense": 1}, {"latency_seconds": "slow"}, [1]):
        answer = sim.admin("faults", bad)
        assert answer.status_code == 400
        assert answer.json()["error"]
    assert sim.admin_get("faults")["error_burst"] == 0


def test_the_call_log_summary(sim: DatevSim) -> None:
    requests.delete(sim.root + "/_sim/calls", timeout=10)
    _clients(sim)
    _clients(sim)
    _types(sim)
    sim.session.get(sim.url("accounting-clients", "/clients/29098-1"), timeout=10)
    summary = sim.admin_get("calls")["summary"]
    assert summary["total_calls"] == 4
    assert summary["calls_per_endpoint"] == {
        "GET accounting-clients /clients": 2,
        "GET accounting-documents /clients/{client-id}/document-types": 1,
        "GET accounting-clients /clients/{client-id}": 1,
    }
    assert summary["calls_per_status"] == {"200": 3, "404": 1}
    (last,) = sim.admin_get("calls")["calls"][-1:]
    assert (last["client_id"], last["api"], last["path"]) == (
        "29098-1",
        "accounting-clients",
        "/accounting-clients/platform/v2/clients/29098-1",
    )


def test_state_survives_a_restart(serve: ServeDatev, clock: FakeClock) -> None:
    first = serve()
    first.login()
    location = first.upload_extf(extf_file(), **{"Reference-Id": "before-restart"}).headers["Location"]
    state = first.state
    second = serve(DatevSimConfig(clock=clock, xsd_folder=XSD_FOLDER), state)  # the same data, a new app
    second.session.headers.update(first.session.headers)
    clock.advance(10)
    job = second.job(location)
    assert (job["reference_id"], job["result"]) == ("before-restart", "succeeded")
