"""Where each Cin7 extraction stopped, per connection and resource (`UpdatedSince` / `ModifiedSince`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from datev_cin7_pipeline.store.models import SyncCursor, utcnow
from datev_cin7_pipeline.store.upsert import insert_for


def read_cursor(session: Session, connection_id: int, resource: str) -> str | None:
    return session.scalar(
        select(SyncCursor.cursor).where(SyncCursor.connection_id == connection_id, SyncCursor.resource == resource)
    )


def write_cursor(session: Session, connection_id: int, resource: str, cursor: str) -> None:
    statement = insert_for(session, SyncCursor).values(
        connection_id=connection_id, resource=resource, cursor=cursor, updated_at=utcnow()
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["connection_id", "resource"],
            set_={"cursor": statement.excluded.cursor, "updated_at": statement.excluded.updated_at},
        )
    )
