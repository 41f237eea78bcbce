"""What happens to a call before it reaches an endpoint: the rate limit, injected faults, and the call log.

Cin7 allows 60 calls per minute per API Application (FACTS.md §2). The limiter keeps each key's call
times and admits a call only if fewer than the limit fall in the last 60 seconds, so exactly N calls
pass in any rolling minute. Refused calls are not counted, or a client that keeps retrying would never
get through. The call log records every call, refused or not, so tests can assert how a client behaved
(calls per endpoint, the most calls in any minute) without ever seeing the key itself.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter, defaultdict, deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from enum import Enum
from typing import Any

from datev_cin7_pipeline.sandbox.cin7.config import Faults

WINDOW_SECONDS = 60.0


def key_fingerprint(application_key: str) -> str:
    """A short, stable hash of an application key, so logs can tell keys apart without holding them."""
    return hashlib.sha256(application_key.encode("utf-8")).hexdigest()[:12]


class RateLimiter:
    """At most `limit` admitted calls per key in any rolling 60 seconds."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._calls: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def admit(self, key: str, now: float) -> float | None:
        """Record and admit the call (None), or refuse it and say in how many seconds a slot frees up."""
        with self._lock:
            calls = self._calls[key]
            while calls and calls[0] <= now - WINDOW_SECONDS:
                calls.popleft()
            if len(calls) < self._limit:
                calls.append(now)
                return None
            return calls[0] + WINDOW_SECONDS - now


class Fault(Enum):
    """The fault a call was picked for, if any."""

    DROP = "dropped"
    ERROR = "error"
    THROTTLE = "throttled"


class FaultInjector:
    """The current fault settings; each call consumes one unit of the first non-empty burst."""

    def __init__(self, initial: Faults) -> None:
        self._faults = replace(initial)
        self._lock = threading.Lock()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return asdict(self._faults)

    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply the given settings (validated, unknown names refused) and return all of them."""
        with self._lock:
            current = asdict(self._faults)
            unknown = set(changes) - set(current)
            if unknown:
                raise ValueError(f"unknown fault settings {sorted(unknown)}; known: {sorted(current)}")
            merged = {**current, **changes}
            _validate_faults(merged)
            self._faults = Faults(**merged)
            return asdict(self._faults)

    def latency(self) -> float:
        with self._lock:
            return self._faults.latency_seconds

    def take(self) -> tuple[Fault | None, int]:
        """The fault for the next call (drop, then 5xx, then throttle) and, for 5xx, its status."""
        with self._lock:
            faults = self._faults
            if faults.drop_burst > 0:
                faults.drop_burst -= 1
                return Fault.DROP, 0
            if faults.error_burst > 0:
                faults.error_burst -= 1
                return Fault.ERROR, faults.error_status
            if faults.throttle_burst > 0:
                faults.throttle_burst -= 1
                return Fault.THROTTLE, 0
            return None, 0


def _validate_faults(values: dict[str, Any]) -> None:
    latency = values["latency_seconds"]
    if isinstance(latency, bool) or not isinstance(latency, int | float) or latency < 0:
        raise ValueError("latency_seconds must be a number >= 0")
    for name in ("throttle_burst", "error_burst", "drop_burst"):
        if isinstance(values[name], bool) or not isinstance(values[name], int) or values[name] < 0:
            raise ValueError(f"{name} must be an integer >= 0")
    if values["error_status"] not in (500, 502):
        raise ValueError("error_status must be 500 or 502")
    values["latency_seconds"] = float(latency)


@dataclass(frozen=True)
class CallRecord:
    """One call as the log keeps it; `status` is None when the connection was dropped."""

    time: float
    method: str
    endpoint: str
    status: int | None
    key: str | None
    outcome: str


class CallLog:
    """Every call the simulator saw, in memory, with the summaries tests and benchmarks ask for."""

    def __init__(self) -> None:
        self._records: list[CallRecord] = []
        self._lock = threading.Lock()

    def record(self, entry: CallRecord) -> None:
        with self._lock:
            self._records.append(entry)

    def records(self) -> list[CallRecord]:
        with self._lock:
            return list(self._records)

    def summary(self) -> dict[str, Any]:
        """Calls per endpoint and per outcome, and the most calls seen in any 60-second window."""
        records = self.records()
        per_key: dict[str, list[float]] = defaultdict(list)
        for entry in records:
            per_key[entry.key or "-"].append(entry.time)
        return {
            "total_calls": len(records),
            "calls_per_endpoint": dict(Counter(f"{r.method} {r.endpoint}" for r in records)),
            "calls_per_outcome": dict(Counter(r.outcome for r in records)),
            "max_calls_in_any_60s": max_in_window(r.time for r in records),
            "max_calls_in_any_60s_per_key": {key: max_in_window(times) for key, times in per_key.items()},
        }


def max_in_window(times: Iterable[float], window: float = WINDOW_SECONDS) -> int:
    """The largest number of the given moments inside any half-open interval [t, t + window)."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(ordered):
        while ordered[start] <= moment - window:
            start += 1
        best = max(best, end - start + 1)
    return best
