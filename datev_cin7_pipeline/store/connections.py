"""Connection rows: a name the user chose, and the id every other row refers to."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from datev_cin7_pipeline.store.audit import record_event
from datev_cin7_pipeline.store.models import Connection, utcnow
from datev_cin7_pipeline.store.upsert import insert_for


def ensure_connection(session: Session, name: str, *, actor: str) -> int:
    """The id of connection `name`, created (and audited) if it does not exist yet; race-free."""
    existing = session.scalar(select(Connection.id).where(Connection.name == name))
    if existing is not None:
        return existing
    statement = (
        insert_for(session, Connection)
        .values(name=name, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(Connection.id)
    )
    created = session.scalar(statement)
    if created is None:  # another process created it between our SELECT and INSERT
        found = session.scalar(select(Connection.id).where(Connection.name == name))
        assert found is not None
        return found
    record_event(
        session,
        action="connection.created",
        subject_type="connection",
        subject_id=name,
        actor=actor,
        connection_id=created,
    )
    return created


def connection_id(session: Session, name: str) -> int | None:
    return session.scalar(select(Connection.id).where(Connection.name == name))


def connection_names(session: Session) -> list[str]:
    return list(session.scalars(select(Connection.name).order_by(Connection.name)))
