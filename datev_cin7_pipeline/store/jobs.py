"""The DATEV job ledger: every upload from intent to final status, and DATEV's protocol entries.

The intent row (with its `Reference-Id`) is committed before anything is sent, the job id right after
DATEV names it. A run that finds an intent without a job id after a crash asks DATEV by `Reference-Id`
before it sends again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from datev_cin7_pipeline.store.audit import record_event
from datev_cin7_pipeline.store.models import BookingRecord, DatevJob, DatevJobProtocolEntry, DocumentRecord, utcnow
from datev_cin7_pipeline.store.upsert import insert_for

INTENDED = "intended"
SENDING = "sending"  # the file may have left; a retry asks DATEV by Reference-Id first
SUBMITTED = "submitted"
PENDING = "pending"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"
FINAL = frozenset({SUCCEEDED, FAILED, CANCELLED})


def record_job_intent(
    session: Session,
    *,
    connection_id: int,
    api: str,
    period: dt.date,
    sequence: int,
    reference_id: str,
    file_name: str | None,
    file_sha256: str | None,
    row_count: int | None,
    actor: str,
) -> DatevJob:
    """The job row for `reference_id`, created as "intended" if it does not exist (never twice)."""
    now = utcnow()
    created = session.scalar(
        insert_for(session, DatevJob)
        .values(
            connection_id=connection_id,
            api=api,
            period=period,
            sequence=sequence,
            reference_id=reference_id,
            file_name=file_name,
            file_sha256=file_sha256,
            row_count=row_count,
            status=INTENDED,
            status_reads=0,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["connection_id", "reference_id"])
        .returning(DatevJob.id)
    )
    job = job_by_reference(session, connection_id, reference_id)
    assert job is not None
    if created is not None:
        _audit(session, job, "datev.job_intended", actor, {"file": file_name, "rows": row_count})
    return job


def job_by_reference(session: Session, connection_id: int, reference_id: str) -> DatevJob | None:
    return session.scalars(
        select(DatevJob).where(DatevJob.connection_id == connection_id, DatevJob.reference_id == reference_id)
    ).one_or_none()


def mark_submitted(session: Session, job: DatevJob, datev_job_id: str, *, actor: str, recovered: bool = False) -> None:
    job.datev_job_id = datev_job_id
    job.status = SUBMITTED
    job.submitted_at = job.submitted_at or utcnow()
    _audit(session, job, "datev.job_found_by_reference" if recovered else "datev.job_submitted", actor, {})


def record_status(
    session: Session,
    job: DatevJob,
    status: str,
    *,
    actor: str,
    reads: int = 0,
    result: Any = None,
    validation_details: Any = None,
    error: str | None = None,
    next_poll_at: dt.datetime | None = None,
) -> None:
    changed = status != job.status
    job.status = status
    job.status_reads += reads
    job.next_poll_at = next_poll_at
    if result is not None:
        job.result = result
    if validation_details is not None:
        job.validation_details = validation_details
    if error is not None:
        job.error = error
    if status in FINAL and job.finished_at is None:
        job.finished_at = utcnow()
    if changed:
        detail: dict[str, Any] = {"status": status, "reads": job.status_reads}
        if error:
            detail["error"] = error[:500]
        _audit(session, job, f"datev.job_{status}", actor, detail)


def store_protocol(session: Session, job: DatevJob, entries: Sequence[dict[str, Any]]) -> int:
    """Keep DATEV's protocol entries (DATEV deletes them after about two months); returns new ones."""
    added = 0
    for position, entry in enumerate(entries):
        created = session.scalar(
            insert_for(session, DatevJobProtocolEntry)
            .values(
                job_id=job.id,
                position=position,
                severity=str(entry.get("type") or entry.get("severity") or "") or None,
                code=str(entry.get("code") or "") or None,
                text=str(entry.get("text") or "") or None,
                raw=dict(entry),
                fetched_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["job_id", "position"])
            .returning(DatevJobProtocolEntry.id)
        )
        added += created is not None
    return added


def open_jobs(session: Session, connection_id: int | None = None) -> list[DatevJob]:
    """Jobs that were submitted but have no final status yet (for the job sensor)."""
    query = select(DatevJob).where(DatevJob.status.in_([SUBMITTED, PENDING]))
    if connection_id is not None:
        query = query.where(DatevJob.connection_id == connection_id)
    return list(session.scalars(query.order_by(DatevJob.id)))


def mark_document(
    session: Session,
    record: DocumentRecord,
    status: str,
    *,
    actor: str,
    error: str | None = None,
    content_sha256: str | None = None,
    size_bytes: int | None = None,
) -> None:
    record.status = status
    record.error = error
    if content_sha256:
        record.content_sha256 = content_sha256
    if size_bytes is not None:
        record.size_bytes = size_bytes
    record_event(
        session,
        action=f"document.{status}",
        subject_type="document",
        subject_id=record.guid,
        actor=actor,
        connection_id=record.connection_id,
        detail={"file_name": record.file_name, **({"error": error[:500]} if error else {})},
        refs=[record.cin7_document_id, record.attachment_id],
    )


def _audit(session: Session, job: DatevJob, action: str, actor: str, detail: dict[str, Any]) -> None:
    # The job's events also name every Cin7 document (and PDF GUID) booked in it, so `audit show <document>`
    # follows a document through its batch and job to DATEV's answer.
    documents = session.execute(
        select(BookingRecord.cin7_document_id, BookingRecord.document_guid).where(BookingRecord.job_id == job.id)
    ).all()
    named = sorted({ref for pair in documents for ref in pair if ref})
    record_event(
        session,
        action=action,
        subject_type="datev_job",
        subject_id=job.reference_id,
        actor=actor,
        connection_id=job.connection_id,
        detail={"api": job.api, "period": job.period.isoformat(), **detail},
        refs=[ref for ref in (job.datev_job_id, job.file_name) if ref] + named,
    )
