"""Everything the simulator remembers, in one object that can outlive an app (a restarted DATEV keeps data).

Pass the same `DatevSimState` to a second `build_datev_app` to simulate a client that crashed and came
back, or a DATEV that restarted: tokens, documents, jobs, call log, faults and captured events all carry
over. Requests run on the server thread, tests read from theirs; `lock` guards every read and write.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from datev_cin7_pipeline.sandbox.datev.capture import Capture
from datev_cin7_pipeline.sandbox.datev.config import DatevSimConfig
from datev_cin7_pipeline.sandbox.datev.jobs import JobBoard
from datev_cin7_pipeline.sandbox.datev.oauth import TokenStore
from datev_cin7_pipeline.sandbox.datev.traffic import CallLog, FaultInjector


@dataclass
class StoredFile:
    id: str
    name: str
    sent_name: str
    size: int
    sha256: str
    media_type: str
    upload_date: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "size": self.size,
            "upload_date": self.upload_date,
            "media_type": self.media_type,
        }


@dataclass
class StoredDocument:
    """A document in Belege online: its id (our GUID or DATEV's), files and metadata."""

    id: str
    client_id: str
    files: list[StoredFile]
    document_type: str | None
    note: str | None
    metadata: dict[str, Any]
    custom_metadata: dict[str, Any] | None
    created_at: float
    route: str

    def as_json(self) -> dict[str, Any]:
        """The `Document` of a 201 answer: empty document_type and note are left out (spec)."""
        body: dict[str, Any] = {"id": self.id, "files": [f.as_json() for f in self.files]}
        if self.document_type:
            body["document_type"] = self.document_type
        if self.note:
            body["note"] = self.note
        return body

    def admin_json(self) -> dict[str, Any]:
        return {
            **self.as_json(),
            "client_id": self.client_id,
            "metadata": self.metadata,
            "custom_metadata": self.custom_metadata,
            "created_at": self.created_at,
            "route": self.route,
            "sent_names": [f.sent_name for f in self.files],
            "sha256": [f.sha256 for f in self.files],
        }


@dataclass
class DatevSimState:
    """The simulator's memory; build it from the config the app runs with."""

    config: DatevSimConfig
    lock: threading.RLock = field(default_factory=threading.RLock)
    tokens: TokenStore = field(default_factory=TokenStore)
    documents: dict[tuple[str, str], StoredDocument] = field(default_factory=dict)
    calls: CallLog = field(default_factory=CallLog)
    faults: FaultInjector = field(init=False)
    capture: Capture = field(init=False)
    jobs: JobBoard = field(init=False)

    def __post_init__(self) -> None:
        self.faults = FaultInjector(self.config.faults)
        self.capture = Capture(self.config.capture_folder)
        self.jobs = JobBoard(self.capture, self.config.xsd_folder)

    def tick(self) -> None:
        """Finish the jobs that are due by the config's clock (tests call this after moving the clock)."""
        with self.lock:
            self.jobs.tick(self.config.clock())

    def document(self, client_id: str, document_id: str) -> StoredDocument | None:
        return self.documents.get((client_id, document_id.lower()))
