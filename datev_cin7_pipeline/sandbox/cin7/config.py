"""How a simulated Cin7 Core behaves: accounts, limits, the undocumented choices, faults and webhook timing.

Several behaviours of the real API are unconfirmed (FACTS.md §2, §11): whether throttling answers 429
or 503, whether a `Retry-After` header comes and in which form, whether errors arrive as one object or a
list. Each is a setting here, with the documented behaviour as the default, so the pipeline's tests can
run against every variant.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

Clock = Callable[[], float]
"""Seconds since the epoch; the simulator never reads the time any other way (tests inject a fake)."""

RetryAfter = Literal["seconds", "http-date"] | None

DEMO_ACCOUNT_ID = "3f1c2b7e-5d4a-4c8e-9b6f-0a1d2e3f4a5b"
DEMO_APPLICATION_KEY = "c7d0e5a1-9f3b-4e62-8a47-5b1c0d9e8f72"

WEBHOOK_FIRST_DELAY_REAL = 60.0
WEBHOOK_RETRY_DELAYS_REAL = (300.0, 600.0, 900.0, 1200.0, 1500.0)


@dataclass(frozen=True)
class Cin7Account:
    """One API Application: the `api-auth-accountid` / `api-auth-applicationkey` pair it sends."""

    account_id: str
    application_key: str = field(repr=False)


@dataclass
class Faults:
    """Faults on demand. The bursts count down: each affected call uses up one."""

    latency_seconds: float = 0.0
    throttle_burst: int = 0
    error_burst: int = 0
    error_status: Literal[500, 502] = 500
    drop_burst: int = 0


@dataclass(frozen=True)
class Cin7SimConfig:
    """Everything that decides how the simulator answers; the defaults are the documented behaviour."""

    accounts: tuple[Cin7Account, ...] = (Cin7Account(DEMO_ACCOUNT_ID, DEMO_APPLICATION_KEY),)
    calls_per_minute: int = 60
    throttle_status: Literal[429, 503] = 503
    retry_after: RetryAfter = None
    error_body_as_list: bool = False
    attachment_download_requires_auth: bool = False
    faults: Faults = field(default_factory=Faults)
    webhook_first_delay: float = WEBHOOK_FIRST_DELAY_REAL
    webhook_retry_delays: tuple[float, ...] = WEBHOOK_RETRY_DELAYS_REAL
    webhook_timeout: float = 10.0
    clock: Clock = field(default=time.time, repr=False)
    seed: int = 0
    today: date | None = None
