"""The append-only audit trail: every step of every record, oldest first.

This module can only add events and read them; the database refuses UPDATE and DELETE on the audit
tables (triggers created by the first migration).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from datev_cin7_pipeline.store.models import AuditEvent, AuditEventRef, Connection, utcnow


@dataclass(frozen=True)
class AuditEntry:
    id: int
    occurred_at: dt.datetime
    connection: str | None
    action: str
    subject_type: str
    subject_id: str
    actor: str
    detail: Mapping[str, Any]


def record_event(
    session: Session,
    *,
    action: str,
    subject_type: str,
    subject_id: str,
    actor: str,
    connection_id: int | None = None,
    detail: Mapping[str, Any] | None = None,
    refs: Iterable[str] = (),
) -> int:
    """Append one event inside the caller's transaction, so it commits with the change it describes.

    `refs` are further identifiers the event concerns (a document GUID, a job id…); the subject is
    always one of them. `detail` must never hold a secret.
    """
    # Core inserts, not ORM objects: the webhook receiver writes one of these per delivery.
    event_id = session.execute(
        insert(AuditEvent).returning(AuditEvent.id),
        {
            "occurred_at": utcnow(),
            "connection_id": connection_id,
            "action": action,
            "subject_type": subject_type,
            "subject_id": subject_id,
            "actor": actor,
            "detail": dict(detail or {}),
        },
    ).scalar_one()
    unique_refs = [ref for ref in dict.fromkeys([subject_id, *refs]) if ref]
    session.execute(insert(AuditEventRef), [{"event_id": event_id, "ref": ref} for ref in unique_refs])
    return int(event_id)


def history(session: Session, ref: str) -> list[AuditEntry]:
    """Every event that concerns `ref`, oldest first."""
    rows = session.execute(
        select(AuditEvent, Connection.name)
        .join(AuditEventRef, AuditEventRef.event_id == AuditEvent.id)
        .outerjoin(Connection, Connection.id == AuditEvent.connection_id)
        .where(AuditEventRef.ref == ref)
        .order_by(AuditEvent.occurred_at, AuditEvent.id)
    ).all()
    return [
        AuditEntry(
            id=event.id,
            occurred_at=event.occurred_at,
            connection=connection_name,
            action=event.action,
            subject_type=event.subject_type,
            subject_id=event.subject_id,
            actor=event.actor,
            detail=event.detail or {},
        )
        for event, connection_name in rows
    ]
