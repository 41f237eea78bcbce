"""Helpers for the simulator tests: the fixed day, the demo keys, a fake clock, a served simulator."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests

from datev_cin7_pipeline.sandbox.cin7 import DEMO_ACCOUNT_ID, DEMO_APPLICATION_KEY

TODAY = date(2025, 6, 15)
HEADERS = {"api-auth-accountid": DEMO_ACCOUNT_ID, "api-auth-applicationkey": DEMO_APPLICATION_KEY}
REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference"
SAMPLES = REFERENCE / "cin7" / "samples"


@dataclass
class FakeClock:
    """A clock tests move by hand; starts at 2025-06-15 12:00 UTC."""

    now: float = 1_749_988_800.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Sim:
    """A served simulator: `api` is the base URL of the API, `root` the server root."""

    root: str
    app: Any
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def api(self) -> str:
        return self.root + "/ExternalApi/v2/"

    def get(self, endpoint: str, **params: Any) -> requests.Response:
        return self.session.get(self.api + endpoint, params=params, headers=HEADERS, timeout=10)

    def admin(self, path: str, body: Any = None) -> requests.Response:
        return self.session.post(f"{self.root}/_sim/{path}", json=body, timeout=10)


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll until `condition()` holds (background deliveries), failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s")
        time.sleep(0.01)
