"""Rate limit (with a fake clock), injected faults and the call log, as a client sees them over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime

import pytest
import requests

from datev_cin7_pipeline.sandbox.cin7 import Cin7Dataset, Cin7SimConfig, Faults
from datev_cin7_pipeline.sandbox.cin7.config import RetryAfter
from datev_cin7_pipeline.sandbox.cin7.traffic import key_fingerprint, max_in_window
from datev_cin7_pipeline_tests.sandbox.helpers import HEADERS, TODAY, FakeClock, Sim


@pytest.mark.parametrize(
    ("status", "retry_after"),
    [(503, None), (429, "seconds"), (503, "http-date")],
    ids=["documented 503", "429 with seconds", "503 with an HTTP date"],
)
def test_exactly_n_calls_pass_in_a_rolling_minute(
    serve: Callable[..., Sim], demo: Cin7Dataset, clock: FakeClock, status: int, retry_after: RetryAfter
) -> None:
    config = Cin7SimConfig(
        today=TODAY,
        clock=clock,
        calls_per_minute=5,
        throttle_status=status,  # type: ignore[arg-type]
        retry_after=retry_after,
    )
    sim = serve(config, demo)
    for second in range(5):
        assert sim.get("me").status_code == 200
        clock.advance(10 if second < 4 else 5)  # calls at t = 0, 10, 20, 30, 40; now t = 45
    refused = sim.get("me")
    assert refused.status_code == status
    assert refused.json()["Exception"] == "You reached 5 calls per minute API limit"
    if retry_after is None:
        assert "Retry-After" not in refused.headers
    elif retry_after == "seconds":
        assert refused.headers["Retry-After"] == "15"  # the call at t = 0 leaves the window at t = 60
    else:
        assert parsedate_to_datetime(refused.headers["Retry-After"]).timestamp() == clock.now + 15
    clock.advance(14.9)
    assert sim.get("me").status_code == status  # still inside the minute of the first call
    clock.advance(0.1)
    assert sim.get("me").status_code == 200  # t = 60: the first call has left the window
    assert sim.get("me").status_code == status  # the call at t = 10 still holds its slot


def test_the_limit_is_per_application_key(serve: Callable[..., Sim], demo: Cin7Dataset, clock: FakeClock) -> None:
    from datev_cin7_pipeline.sandbox.cin7 import Cin7Account

    accounts = (
        Cin7Account(HEADERS["api-auth-accountid"], HEADERS["api-auth-applicationkey"]),
        Cin7Account(HEADERS["api-auth-accountid"], "other-key"),
    )
    sim = serve(Cin7SimConfig(today=TODAY, clock=clock, calls_per_minute=2, accounts=accounts), demo)
    assert [sim.get("me").status_code for _ in range(3)] == [200, 200, 503]
    other = {**HEADERS, "api-auth-applicationkey": "other-key"}
    assert requests.get(sim.api + "me", headers=other, timeout=10).status_code == 200


def test_latency_is_added(sim: Sim) -> None:
    assert sim.admin("faults", {"latency_seconds": 0.3}).json()["latency_seconds"] == 0.3
    started = time.monotonic()
    assert sim.get("me").status_code == 200
    assert time.monotonic() - started >= 0.3
    sim.admin("faults", {"latency_seconds": 0})
    started = time.monotonic()
    sim.get("me")
    assert time.monotonic() - started < 0.3


def test_a_throttle_burst_refuses_the_next_calls(serve: Callable[..., Sim], demo: Cin7Dataset) -> None:
    config = Cin7SimConfig(today=TODAY, throttle_status=429, retry_after="seconds", faults=Faults(throttle_burst=2))
    sim = serve(config, demo)
    first, second, third = (sim.get("me") for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (429, 429, 200)
    assert first.headers["Retry-After"] == "1"


@pytest.mark.parametrize("status", [500, 502])
def test_a_5xx_burst(sim: Sim, status: int) -> None:
    sim.admin("faults", {"error_burst": 2, "error_status": status})
    assert [sim.get("saleList").status_code for _ in range(3)] == [status, status, 200]


def test_dropped_connections_look_like_network_failures(sim: Sim) -> None:
    sim.admin("faults", {"drop_burst": 2})
    for _ in range(2):
        with pytest.raises(requests.ConnectionError):
            sim.get("me")
    assert sim.get("me").status_code == 200
    assert sim.session.get(sim.root + "/_sim/faults", timeout=10).json()["drop_burst"] == 0


def test_bad_fault_settings_are_refused(sim: Sim) -> None:
    assert sim.admin("faults", {"error_status": 503}).status_code == 400
    assert sim.admin("faults", {"drop_burst": -1}).status_code == 400
    assert sim.admin("faults", {"explode": True}).status_code == 400


def test_the_call_log(serve: Callable[..., Sim], demo: Cin7Dataset, clock: FakeClock) -> None:
    sim = serve(Cin7SimConfig(today=TODAY, clock=clock, calls_per_minute=3, faults=Faults(drop_burst=1)), demo)
    with pytest.raises(requests.ConnectionError):
        sim.get("me")
    for _ in range(4):  # the fourth exceeds the limit
        sim.get("saleList", Page=1)
        clock.advance(1)
    clock.advance(120)
    sim.get("sale", ID="00000000-0000-0000-0000-000000000001")
    requests.get(sim.api + "me", timeout=10)  # no keys
    log = sim.app.state.cin7.call_log
    summary = log.summary()
    assert summary["total_calls"] == 7
    assert summary["calls_per_endpoint"] == {"GET me": 2, "GET saleList": 4, "GET sale": 1}
    assert summary["calls_per_outcome"] == {"dropped": 1, "ok": 3, "throttled": 1, "error": 1, "forbidden": 1}
    assert summary["max_calls_in_any_60s"] == 5
    fingerprint = key_fingerprint(HEADERS["api-auth-applicationkey"])
    assert summary["max_calls_in_any_60s_per_key"] == {fingerprint: 5, "-": 1}
    assert all(HEADERS["api-auth-applicationkey"] not in repr(record) for record in log.records())
    served = sim.session.get(sim.root + "/_sim/calls", timeout=10).json()
    assert served["Summary"] == summary
    assert [call["status"] for call in served["Calls"]] == [None, 200, 200, 200, 503, 400, 403]


def test_max_in_window_counts_half_open_minutes() -> None:
    assert max_in_window([]) == 0
    assert max_in_window([0, 59.9, 60, 119.9]) == 2
    assert max_in_window([0, 1, 2, 61, 62]) == 3
    assert max_in_window([5, 5, 5]) == 3
