"""The asynchronous side of DATEV: EXTF import jobs and DXSO jobs, advanced by the (injectable) clock.

DATEV never calls back; a client polls. So nothing here runs in the background: every request first lets
`JobBoard.tick(now)` finish the jobs whose processing time has passed, and a test that moves its fake clock
sees the next read return the final state. An EXTF job is checked when it is accepted (so the manifest
knows its row count) but shows `pending` until `extf_processing_seconds` have passed; a DXSO job is
checked when its processing time after finalization has passed. Each final state is written to the
capture manifest exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from datev_cin7_pipeline.sandbox.datev.capture import Capture, iso_utc
from datev_cin7_pipeline.sandbox.datev.dxso_package import JobFrame, check_package
from datev_cin7_pipeline.sandbox.datev.extf_format import ExtfCheck, validation_details
from datev_cin7_pipeline.sandbox.datev.urls import DXSO_API, EXTF_API

BERLIN = ZoneInfo("Europe/Berlin")
MISSING_PERMISSION: dict[str, Any] = validation_details(
    1008838,
    "Missing permission",
    [],
    "Permission to transfer data for this client-id is missing or has expired. Please contact your tax consultant.",
)
MAX_LABEL = 250


def iso_berlin(moment: float) -> str:
    """`2023-03-14T09:24:12+01:00`, the form accounting-documents and dxso-jobs use."""
    return datetime.fromtimestamp(moment, BERLIN).isoformat(timespec="seconds")


def iso_seconds_utc(moment: float) -> str:
    """`2020-04-13T17:55:42Z`, the form of an EXTF job's `timestamp`."""
    return iso_utc(moment).split(".")[0] + "Z"


@dataclass
class ExtfJob:
    """One EXTF upload: what was received, its check, and the result once processed."""

    id: str
    client_id: str
    filename: str
    reference_id: str | None
    application_version: str | None
    display_name: str
    vendor: str
    received_at: float
    due_at: float
    check: ExtfCheck
    final_details: dict[str, Any] | None
    size: int
    sha256: str
    result: str = "pending"
    finished_at: float | None = None

    def as_json(self) -> dict[str, Any]:
        """The job as `GET .../extf-files/jobs/{job-id}` shows it (null values left out, as DATEV does)."""
        body: dict[str, Any] = {
            "id": self.id,
            "filename": self.filename,
            "result": self.result,
            "timestamp": iso_seconds_utc(self.received_at),
            "client_application_display_name": self.display_name,
            "client_application_vendor": self.vendor,
        }
        if self.reference_id is not None:
            body["reference_id"] = self.reference_id
        if self.application_version is not None:
            body["client_application_version"] = self.application_version
        if self.result != "pending":
            body.update(self._header_fields())
        if self.result == "failed" and self.final_details is not None:
            body["validation_details"] = self.final_details
        return body

    def _header_fields(self) -> dict[str, Any]:
        header = self.check.header
        values: dict[str, Any] = {}
        if self.check.postings is not None:
            values["number_of_accounting_records"] = self.check.postings
        if header is None:
            return values
        if header.category is not None:
            values["data_category_id"] = header.category
        if header.label:
            values["label"] = header.label if len(header.label) <= MAX_LABEL else header.label[:MAX_LABEL] + "..."
        for name, day in (
            ("date_from", header.date_from),
            ("date_to", header.date_to),
            ("fiscal_year_begin", header.fiscal_year_begin),
        ):
            if day is not None:
                values[name] = day.isoformat()
        return values

    def admin_json(self) -> dict[str, Any]:
        """The job plus what only the simulator knows (due time, encoding, hash), for `GET /_sim/jobs`."""
        return {
            **self.as_json(),
            "client_id": self.client_id,
            "due_at": self.due_at,
            "encoding": self.check.encoding,
            "postings": self.check.postings,
            "header_label": self.check.header.label if self.check.header else None,
            "size": self.size,
            "sha256": self.sha256,
        }


@dataclass
class DxsoFile:
    name: str
    sent_name: str
    media_type: str
    size: int
    sha256: str
    data: bytes = field(repr=False)


@dataclass
class DxsoJob:
    """One DXSO data transfer: open (0) until finalized, processing (1), then 2, 3 or 4."""

    id: str
    client_id: str
    consultant_number: int
    client_number: int
    import_type: str | None
    accounting_month: str | None
    created_at: float
    account_length: int | None = None
    ledger_folder_names: tuple[str, ...] = ()
    cash_ledger_names: tuple[str, ...] = ()
    status: int = 0
    files: dict[str, DxsoFile] = field(default_factory=dict)
    protocol: list[dict[str, Any]] = field(default_factory=list)
    finalized_at: float | None = None
    due_at: float | None = None
    forced: tuple[int, str] | None = None
    finished_at: float | None = None

    def creation_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id}
        if self.account_length is not None:
            body["account_length"] = self.account_length
        if self.ledger_folder_names:
            body["ledger_folder_names"] = list(self.ledger_folder_names)
        if self.cash_ledger_names:
            body["cash_ledger_names"] = list(self.cash_ledger_names)
        return body

    def status_json(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status}

    def add_protocol(self, moment: float, kind: str, text: str, filename: str | None, context: str | None) -> None:
        entry = {"time": iso_berlin(moment), "text": text, "type": kind}
        if context:
            entry["context"] = context
        if filename:
            entry["filename"] = filename
        self.protocol.append(entry)

    def admin_json(self) -> dict[str, Any]:
        return {
            **self.creation_json(),
            "status": self.status,
            "client_id": self.client_id,
            "import_type": self.import_type,
            "accounting_month": self.accounting_month,
            "files": [
                {
                    "name": f.name,
                    "sent_name": f.sent_name,
                    "size": f.size,
                    "sha256": f.sha256,
                    "media_type": f.media_type,
                }
                for f in self.files.values()
            ],
            "due_at": self.due_at,
            "protocol_entries": self.protocol,
        }


class JobBoard:
    """All jobs of both APIs, and the processing that the clock triggers."""

    def __init__(self, capture: Capture, xsd_folder: Path | None) -> None:
        self.capture = capture
        self.xsd_folder = xsd_folder
        self.extf: dict[str, ExtfJob] = {}
        self.dxso: dict[str, DxsoJob] = {}

    def tick(self, now: float) -> None:
        """Finish every job whose processing time has come."""
        for job in self.extf.values():
            if job.result == "pending" and now >= job.due_at:
                self._finish_extf(job)
        for dxso in self.dxso.values():
            if dxso.status == 1 and dxso.due_at is not None and now >= dxso.due_at:
                self._finish_dxso(dxso)

    def _finish_extf(self, job: ExtfJob) -> None:
        job.result = "failed" if job.final_details is not None else "succeeded"
        job.finished_at = job.due_at
        self.capture.final(
            job.due_at,
            EXTF_API.name,
            client_id=job.client_id,
            filename=job.filename,
            reference_id=job.reference_id,
            job_id=job.id,
            status=job.result,
            rows=job.check.postings,
            details=job.final_details,
        )

    def _finish_dxso(self, job: DxsoJob) -> None:
        moment = job.due_at or 0.0
        if job.forced is not None:
            job.status, text = job.forced
            job.add_protocol(moment, "error", text, None, None)
        else:
            frame = JobFrame(job.import_type, job.accounting_month, job.consultant_number, job.client_number)
            result = check_package({name: f.data for name, f in job.files.items()}, frame, self.xsd_folder)
            for entry in result.entries:
                job.add_protocol(moment, entry.type, entry.text, entry.filename, entry.context)
            job.status = result.status
        job.finished_at = moment
        errors = [entry for entry in job.protocol if entry["type"] == "error"]
        self.capture.final(
            moment, DXSO_API.name, client_id=job.client_id, job_id=job.id, status=job.status, details=errors or None
        )
