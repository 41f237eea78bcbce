"""The webhook inbox: deliveries stored before they are answered, deduplicated by business key."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from datev_cin7_pipeline.store.audit import record_event
from datev_cin7_pipeline.store.models import InboxEvent, utcnow
from datev_cin7_pipeline.store.upsert import insert_for

PENDING = "pending"
IGNORED = "ignored"
PROCESSED = "processed"
FAILED = "failed"


@dataclass(frozen=True)
class InboxReceipt:
    event_id: int
    delivery_count: int

    @property
    def duplicate(self) -> bool:
        return self.delivery_count > 1


def record_delivery(
    session: Session,
    *,
    connection_id: int,
    business_key: str,
    event_type: str,
    payload: Mapping[str, Any] | list[Any],
    document_kind: str | None = None,
    document_id: str | None = None,
    status: str = PENDING,
    actor: str = "webhook-receiver",
) -> InboxReceipt:
    """Store one delivery. A retried delivery of the same event only counts up; each one is audited."""
    now = utcnow()
    statement = insert_for(session, InboxEvent).values(
        connection_id=connection_id,
        business_key=business_key,
        event_type=event_type,
        document_kind=document_kind,
        document_id=document_id,
        status=status,
        payload=payload,
        delivery_count=1,
        first_received_at=now,
        last_received_at=now,
    )
    statement = statement.on_conflict_do_update(
        index_elements=["connection_id", "business_key"],
        set_={
            "delivery_count": InboxEvent.delivery_count + 1,
            "last_received_at": statement.excluded.last_received_at,
        },
    ).returning(InboxEvent.id, InboxEvent.delivery_count)
    event_id, delivery_count = session.execute(statement).one()
    receipt = InboxReceipt(event_id=event_id, delivery_count=delivery_count)
    record_event(
        session,
        action="webhook.duplicate" if receipt.duplicate else "webhook.received",
        subject_type="inbox_event",
        subject_id=f"inbox:{event_id}",
        actor=actor,
        connection_id=connection_id,
        detail={"event_type": event_type, "business_key": business_key, "delivery": delivery_count},
        refs=[r for r in (document_id, business_key) if r],
    )
    return receipt


def events_after(session: Session, connection_id: int, after_id: int, limit: int = 500) -> list[InboxEvent]:
    """Inbox rows with an id above `after_id` (a sensor's cursor), oldest first."""
    return list(
        session.scalars(
            select(InboxEvent)
            .where(InboxEvent.connection_id == connection_id, InboxEvent.id > after_id)
            .order_by(InboxEvent.id)
            .limit(limit)
        )
    )


def mark_processed(
    session: Session, connection_id: int, event_ids: Iterable[int], *, run_id: str, actor: str = "pipeline"
) -> int:
    """Pending events a run has re-read Cin7 for: processed, each with an audit event naming the run."""
    events = session.scalars(
        select(InboxEvent).where(
            InboxEvent.connection_id == connection_id,
            InboxEvent.id.in_(sorted(set(event_ids))),
            InboxEvent.status == PENDING,
        )
    )
    count = 0
    now = utcnow()
    for event in events:
        event.status = PROCESSED
        event.processed_at = now
        event.note = f"re-read from Cin7 in run {run_id}"
        record_event(
            session,
            action="webhook.processed",
            subject_type="inbox_event",
            subject_id=f"inbox:{event.id}",
            actor=actor,
            connection_id=connection_id,
            detail={"event_type": event.event_type, "run_id": run_id},
            refs=[r for r in (event.document_id, event.business_key) if r],
        )
        count += 1
    return count
