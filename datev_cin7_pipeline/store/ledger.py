"""The document and booking ledgers: what went to DATEV, from which Cin7 document version.

Rows are keyed so that writing the same thing twice finds the first row instead of adding a second:
that is what lets a crashed run start again without posting anything twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from datev_cin7_pipeline.datev.bookings import BookingLine, line_from_json, line_to_json
from datev_cin7_pipeline.store import jobs
from datev_cin7_pipeline.store.audit import record_event
from datev_cin7_pipeline.store.models import BookingRecord, DatevJob, DocumentRecord, utcnow
from datev_cin7_pipeline.store.upsert import insert_for


def record_document_intent(
    session: Session,
    *,
    connection_id: int,
    guid: str,
    cin7_document_kind: str,
    cin7_document_id: str,
    attachment_id: str,
    document_version: str,
    period: dt.date,
    file_name: str,
    actor: str,
) -> tuple[DocumentRecord, bool]:
    """Note that a PDF is about to go to DATEV under `guid`. Returns the row and whether it is new."""
    now = utcnow()
    statement = (
        insert_for(session, DocumentRecord)
        .values(
            connection_id=connection_id,
            guid=guid,
            cin7_document_kind=cin7_document_kind,
            cin7_document_id=cin7_document_id,
            attachment_id=attachment_id,
            document_version=document_version,
            period=period,
            file_name=file_name,
            status="intended",
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["connection_id", "guid"])
        .returning(DocumentRecord.id)
    )
    new_id = session.scalar(statement)
    record = session.scalars(
        select(DocumentRecord).where(DocumentRecord.connection_id == connection_id, DocumentRecord.guid == guid)
    ).one()
    if new_id is not None:
        record_event(
            session,
            action="document.intended",
            subject_type="document",
            subject_id=guid,
            actor=actor,
            connection_id=connection_id,
            detail={"file_name": file_name, "version": document_version, "period": period.isoformat()},
            refs=[cin7_document_id, attachment_id],
        )
    return record, new_id is not None


def booking_digest(lines: Sequence[Any]) -> str:
    """A stable fingerprint of booking lines (same lines → same digest)."""
    canonical = json.dumps(lines, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def record_booking(
    session: Session,
    *,
    connection_id: int,
    cin7_document_kind: str,
    cin7_document_id: str,
    document_version: str,
    period: dt.date,
    lines: Sequence[Any],
    total_amount: Decimal,
    actor: str,
    kind: str = "booking",
    reverses_id: int | None = None,
    document_guid: str | None = None,
) -> tuple[BookingRecord, bool]:
    """Record the bookings of one document version once. Returns the row and whether it is new."""
    now = utcnow()
    statement = (
        insert_for(session, BookingRecord)
        .values(
            connection_id=connection_id,
            cin7_document_kind=cin7_document_kind,
            cin7_document_id=cin7_document_id,
            document_version=document_version,
            kind=kind,
            reverses_id=reverses_id,
            period=period,
            document_guid=document_guid,
            lines=list(lines),
            line_count=len(lines),
            total_amount=total_amount,
            content_sha256=booking_digest(lines),
            status="pending",
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(
            index_elements=["connection_id", "cin7_document_kind", "cin7_document_id", "document_version", "kind"]
        )
        .returning(BookingRecord.id)
    )
    new_id = session.scalar(statement)
    record = session.scalars(
        select(BookingRecord).where(
            BookingRecord.connection_id == connection_id,
            BookingRecord.cin7_document_kind == cin7_document_kind,
            BookingRecord.cin7_document_id == cin7_document_id,
            BookingRecord.document_version == document_version,
            BookingRecord.kind == kind,
        )
    ).one()
    if new_id is not None:
        record_event(
            session,
            action=f"{kind}.recorded",
            subject_type="booking",
            subject_id=f"booking:{new_id}",
            actor=actor,
            connection_id=connection_id,
            detail={"version": document_version, "lines": len(lines), "total": str(total_amount)},
            refs=[cin7_document_id, document_guid or ""],
        )
    return record, new_id is not None


# --- booking rows through their life: pending → submitted → booked | failed (or superseded) -------------

LIVE_JOB = "live"  # a booking row whose lines are (being) posted: linked to a job that has not failed
PENDING = "pending"
SUPERSEDED = "superseded"
SUBMITTED = "submitted"
BOOKED = "booked"
FAILED = "failed"


def _sent(session: Session, record: BookingRecord) -> bool:
    if record.job_id is None:
        return False
    job = session.get(DatevJob, record.job_id)
    return job is not None and job.status not in (jobs.FAILED, jobs.CANCELLED)


def record_document_booking(
    session: Session,
    *,
    connection_id: int,
    period: dt.date,
    lines: Sequence[BookingLine],
    kind: str,
    total_amount: Decimal,
    reverses_id: int | None,
    document_guid: str | None,
    actor: str,
) -> BookingRecord:
    """Record what one document posts now (its reversal or its booking). The version is the Cin7 version
    plus a digest of the lines, so a mapping change of an unchanged document is a new row, and recording
    the same lines again finds the first row. A row that was not (successfully) sent becomes pending again."""
    payload = [line_to_json(line) for line in lines]
    first = lines[0]
    version = f"{first.source_version}:{booking_digest(payload)[:12]}"
    record, _ = record_booking(
        session,
        connection_id=connection_id,
        cin7_document_kind=first.source_kind,
        cin7_document_id=first.source_id,
        document_version=version,
        period=period,
        lines=payload,
        total_amount=total_amount,
        actor=actor,
        kind=kind,
        reverses_id=reverses_id,
        document_guid=document_guid,
    )
    if not _sent(session, record) and (record.status != PENDING or record.job_id is not None):
        record.status, record.job_id = PENDING, None
    return record


def effective_bookings(
    session: Session, connection_id: int, period: dt.date
) -> tuple[dict[tuple[str, str], list[BookingLine]], dict[tuple[str, str], int]]:
    """Per document (kind, id): the lines of its last booking that went (or is going) to DATEV and was not
    reversed since, and that booking row's id."""
    rows = session.scalars(
        select(BookingRecord)
        .where(BookingRecord.connection_id == connection_id, BookingRecord.period == period)
        .order_by(BookingRecord.id)
    )
    lines: dict[tuple[str, str], list[BookingLine]] = {}
    ids: dict[tuple[str, str], int] = {}
    for row in rows:
        if not _sent(session, row):
            continue
        key = (row.cin7_document_kind, row.cin7_document_id)
        if row.kind == "reversal":
            lines.pop(key, None)
            ids.pop(key, None)
        else:
            lines[key] = [line_from_json(item) for item in row.lines]
            ids[key] = row.id
    return lines, ids


def supersede_pending(session: Session, connection_id: int, period: dt.date, keep: set[int]) -> int:
    """Unsent rows of the period that the latest booking no longer contains are superseded."""
    count = 0
    for row in pending_bookings(session, connection_id, period):
        if row.id not in keep:
            row.status = SUPERSEDED
            count += 1
    return count


def pending_bookings(session: Session, connection_id: int, period: dt.date) -> list[BookingRecord]:
    return list(
        session.scalars(
            select(BookingRecord)
            .where(
                BookingRecord.connection_id == connection_id,
                BookingRecord.period == period,
                BookingRecord.status == PENDING,
                BookingRecord.job_id.is_(None),
            )
            .order_by(BookingRecord.id)
        )
    )


def link_bookings_to_job(
    session: Session, job: DatevJob, rows: Iterable[BookingRecord], *, actor: str = "pipeline"
) -> None:
    """Put booking rows into a job's file, each with an audit event naming its document and the job."""
    for row in rows:
        row.job_id = job.id
        row.status = SUBMITTED
        record_event(
            session,
            action="booking.batched",
            subject_type="booking",
            subject_id=f"booking:{row.id}",
            actor=actor,
            connection_id=row.connection_id,
            detail={"job": job.reference_id, "file": job.file_name, "lines": row.line_count, "kind": row.kind},
            refs=[ref for ref in (row.cin7_document_id, row.document_guid, job.reference_id) if ref],
        )


def settle_bookings_of_job(session: Session, job: DatevJob) -> None:
    """After DATEV's final answer: the job's rows are booked, or failed (and will be booked again)."""
    if job.status not in jobs.FINAL:
        return
    status = BOOKED if job.status == jobs.SUCCEEDED else FAILED
    for row in session.scalars(select(BookingRecord).where(BookingRecord.job_id == job.id)):
        row.status = status


def period_jobs(session: Session, connection_id: int, period: dt.date, api: str = "extf") -> list[DatevJob]:
    return list(
        session.scalars(
            select(DatevJob)
            .where(DatevJob.connection_id == connection_id, DatevJob.period == period, DatevJob.api == api)
            .order_by(DatevJob.id)
        )
    )


def revision_for(
    session: Session, connection_id: int, period: dt.date, sequence: int, sha256: str, api: str = "extf"
) -> int:
    """The revision of a batch file: that of an earlier job with the same content, else the next free one.

    A failed or cancelled job's revision is never reused: sending its rows again (a replay) is a new file
    for DATEV with a new Reference-Id, even when the bytes are the same."""
    same = [job for job in period_jobs(session, connection_id, period, api) if job.sequence == sequence]
    for job in same:
        if job.file_sha256 == sha256 and job.status not in (jobs.FAILED, jobs.CANCELLED):
            match = re.search(r"r(\d{2})$", job.reference_id)
            return int(match.group(1)) if match else 0
    return len(same)


def rows_still_on_job(session: Session, job: DatevJob) -> int:
    """Booking rows whose last attempt is this job; 0 for a failed job means they were sent again since."""
    return len(list(session.scalars(select(BookingRecord.id).where(BookingRecord.job_id == job.id))))
