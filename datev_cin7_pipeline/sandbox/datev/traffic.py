"""Faults on demand and the call log, as the DATEV simulator's gateway applies them.

Fault order for a call that matches the `target`: added latency; a dropped connection; a 5xx answer; a
503 maintenance answer (with `Retry-After`); a 429. After the endpoint has run, `drop_after_accept` drops
the connection of a *successful* POST/PUT/DELETE: DATEV has accepted the upload (the document exists, the
job runs) but the client never hears so - the case the pipeline recovers from by looking up its
`Reference-Id`. The log keeps every call with its outcome, and counts the status reads per job, so tests can
hold a client to a polling budget (FACTS §1.7: "thirty GETs for one document" is an inefficient client).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import asdict, dataclass, fields, replace
from enum import Enum
from typing import Any

from datev_cin7_pipeline.sandbox.datev.config import Faults

ERROR_STATUSES = (500, 502, 503, 504)
_COUNTERS = (
    "drop_burst",
    "drop_after_accept_burst",
    "error_burst",
    "maintenance_burst",
    "throttle_burst",
    "extf_job_failures",
    "dxso_job_failures",
)
ACTIONS = ("expire_access_tokens", "revoke_refresh_tokens")
"""One-off actions `POST /_sim/faults` also accepts (true to run them); they are not settings."""


class Fault(Enum):
    """The fault picked for a call before it reaches the endpoint."""

    DROP = "dropped"
    ERROR = "server error"
    MAINTENANCE = "maintenance"
    THROTTLE = "throttled"


class FaultInjector:
    """The current fault settings; each affected call consumes one unit of the first non-empty burst."""

    def __init__(self, initial: Faults) -> None:
        self._faults = replace(initial)
        _validate(asdict(self._faults))
        self._lock = threading.Lock()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return asdict(self._faults)

    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply settings (validated; unknown names refused) and return all of them."""
        with self._lock:
            current = asdict(self._faults)
            unknown = set(changes) - set(current)
            if unknown:
                raise ValueError(f"unknown fault settings {sorted(unknown)}; known: {sorted(current)} and {ACTIONS}")
            merged = {**current, **changes}
            _validate(merged)
            self._faults = Faults(**merged)
            return asdict(self._faults)

    def applies(self, label: str) -> bool:
        with self._lock:
            return self._faults.target in label

    def latency(self) -> float:
        with self._lock:
            return self._faults.latency_seconds

    def take(self) -> tuple[Fault | None, Faults]:
        """The fault for this call (consuming one unit of its burst) and the settings it was taken from."""
        with self._lock:
            faults = self._faults
            settings = replace(faults)
            for fault, name in (
                (Fault.DROP, "drop_burst"),
                (Fault.ERROR, "error_burst"),
                (Fault.MAINTENANCE, "maintenance_burst"),
                (Fault.THROTTLE, "throttle_burst"),
            ):
                if getattr(faults, name) > 0:
                    setattr(faults, name, getattr(faults, name) - 1)
                    return fault, settings
            return None, settings

    def take_drop_after_accept(self) -> bool:
        with self._lock:
            if self._faults.drop_after_accept_burst > 0:
                self._faults.drop_after_accept_burst -= 1
                return True
            return False

    def take_extf_failure(self) -> dict[str, Any] | None:
        """The validation details the next EXTF job must fail with, if one is due to fail."""
        with self._lock:
            if self._faults.extf_job_failures <= 0:
                return None
            self._faults.extf_job_failures -= 1
            return dict(self._faults.extf_failure_details or TRY_AGAIN)

    def take_dxso_failure(self) -> tuple[int, str] | None:
        with self._lock:
            if self._faults.dxso_job_failures <= 0:
                return None
            self._faults.dxso_job_failures -= 1
            return self._faults.dxso_failure_status, self._faults.dxso_failure_text


TRY_AGAIN: dict[str, Any] = {
    "type": "http://www.datev.de/hilfe/1008837",
    "title": "Try again",
    "detail": "An internal error occurred. Job failed. Try again.",
}


def _validate(values: dict[str, Any]) -> None:
    latency = values["latency_seconds"]
    if isinstance(latency, bool) or not isinstance(latency, int | float) or latency < 0:
        raise ValueError("latency_seconds must be a number >= 0")
    values["latency_seconds"] = float(latency)
    for name in _COUNTERS:
        if isinstance(values[name], bool) or not isinstance(values[name], int) or values[name] < 0:
            raise ValueError(f"{name} must be an integer >= 0")
    if values["error_status"] not in ERROR_STATUSES:
        raise ValueError(f"error_status must be one of {ERROR_STATUSES}")
    for name in ("maintenance_retry_after", "throttle_retry_after"):
        value = values[name]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ValueError(f"{name} must be null or an integer >= 0")
    if not isinstance(values["target"], str):
        raise ValueError("target must be a string")
    if values["dxso_failure_status"] not in (3, 4):
        raise ValueError("dxso_failure_status must be 3 (not processed) or 4 (partially processed)")
    details = values["extf_failure_details"]
    if details is not None and not isinstance(details, dict):
        raise ValueError("extf_failure_details must be a ValidationDetails object or null")


@dataclass(frozen=True)
class CallRecord:
    """One call as the log keeps it; `status` is None when the connection was dropped unanswered."""

    time: float
    method: str
    api: str | None
    endpoint: str
    path: str
    status: int | None
    outcome: str
    client_id: str | None = None
    job_id: str | None = None
    status_read: bool = False
    request_id: str | None = None


class CallLog:
    """Every call the simulator saw (admin calls excepted), with the summaries tests ask for."""

    def __init__(self) -> None:
        self._records: list[CallRecord] = []
        self._lock = threading.Lock()

    def record(self, entry: CallRecord) -> None:
        with self._lock:
            self._records.append(entry)

    def records(self) -> list[CallRecord]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def summary(self) -> dict[str, Any]:
        """Calls per endpoint, status and outcome, and the status reads per job id."""
        records = self.records()
        return {
            "total_calls": len(records),
            "calls_per_endpoint": dict(Counter(" ".join(filter(None, (r.method, r.api, r.endpoint))) for r in records)),
            "calls_per_status": dict(Counter(str(r.status) for r in records)),
            "calls_per_outcome": dict(Counter(r.outcome for r in records)),
            "status_reads_per_job": dict(Counter(r.job_id for r in records if r.status_read and r.job_id)),
        }


def record_as_json(record: CallRecord) -> dict[str, Any]:
    return {item.name: getattr(record, item.name) for item in fields(record)}
