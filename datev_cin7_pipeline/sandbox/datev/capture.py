"""What DATEV accepted, saved where a person or a test can check it: "every document once, every row once".

With a capture folder, every accepted upload is written below it and `manifest.jsonl` gets one JSON object
per accepted upload and per final job status:

    documents/<client-id>/<guid>/<file name>        the document's file(s) as stored (cleaned names)
    documents/<client-id>/<guid>/metadata.json      metadata and custom_metadata as received
    extf/<client-id>/<job-id>/<Filename header>     the EXTF file, byte for byte
    dxso/<client-id>/<job-id>/<file name>           each file uploaded to a DXSO job

Every manifest line has the same keys (null where they do not apply): `time` (ISO 8601, UTC), `event`
(`upload` | `job_final`), `api`, `client_id`, `filename`, `reference_id`, `guid`, `job_id`, `status`
(`succeeded`/`failed` for EXTF; 0-6 for DXSO; `cancelled` when a DXSO job was deleted), `rows` (EXTF
postings) - plus `path` (relative to the folder), `size` and `sha256` for uploads, and `details` for final
statuses (EXTF validation_details, DXSO protocol errors). The events are also kept in memory
(`GET /_sim/manifest`), with or without a folder.
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MANIFEST = "manifest.jsonl"
MANIFEST_KEYS = ("time", "event", "api", "client_id", "filename", "reference_id", "guid", "job_id", "status", "rows")


def iso_utc(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_manifest(folder: Path) -> list[dict[str, Any]]:
    """The manifest of a capture folder, one dict per line (empty if nothing was captured yet)."""
    path = folder / MANIFEST
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


class Capture:
    """Writes accepted uploads and final job states into the folder (if any) and keeps the events."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)

    def upload(self, moment: float, api: str, relative: tuple[str, ...], data: bytes, **values: Any) -> None:
        """Record an accepted file; `relative` is its path below the folder, part by part."""
        path = "/".join(relative)
        if self.folder is not None:
            target = self.folder.joinpath(*relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        self._append(moment, "upload", api, {"path": path, "size": len(data), "sha256": sha256_hex(data), **values})

    def side_file(self, relative: tuple[str, ...], content: Any) -> None:
        """A JSON file beside an upload (document metadata), not a manifest event."""
        if self.folder is not None:
            target = self.folder.joinpath(*relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(content, ensure_ascii=False, indent=2), "utf-8")

    def final(self, moment: float, api: str, **values: Any) -> None:
        self._append(moment, "job_final", api, values)

    def _append(self, moment: float, event: str, api: str, values: dict[str, Any]) -> None:
        entry: dict[str, Any] = dict.fromkeys(MANIFEST_KEYS)
        entry.update(time=iso_utc(moment), event=event, api=api)
        entry.update(values)
        with self._lock:
            self.events.append(entry)
            if self.folder is not None:
                with (self.folder / MANIFEST).open("a", encoding="utf-8") as manifest:
                    manifest.write(json.dumps(entry, ensure_ascii=False) + "\n")


def safe_part(name: str) -> str:
    """A path component that cannot leave its folder (file names come from clients)."""
    cleaned = name.replace("/", "_").replace("\\", "_").replace("\x00", "_")
    return "_" if cleaned in ("", ".", "..") else cleaned
