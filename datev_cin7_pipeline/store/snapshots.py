"""The Cin7 snapshot: the newest version of each document and master-data record we have read."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from datev_cin7_pipeline.store.models import Cin7Document, utcnow
from datev_cin7_pipeline.store.upsert import insert_for


@dataclass(frozen=True)
class SnapshotEntry:
    cin7_id: str
    version: str
    list_version: str | None
    first_date: dt.date | None
    last_date: dt.date | None
    payload: str


def save_snapshot(
    session: Session,
    *,
    connection_id: int,
    kind: str,
    cin7_id: str,
    version: str,
    payload: str,
    list_version: str | None = None,
    first_date: dt.date | None = None,
    last_date: dt.date | None = None,
) -> None:
    """Insert or replace the stored version of one record."""
    statement = insert_for(session, Cin7Document).values(
        connection_id=connection_id,
        kind=kind,
        cin7_id=cin7_id,
        version=version,
        list_version=list_version,
        first_date=first_date,
        last_date=last_date,
        payload=payload,
        fetched_at=utcnow(),
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["connection_id", "kind", "cin7_id"],
            set_={
                "version": statement.excluded.version,
                "list_version": statement.excluded.list_version,
                "first_date": statement.excluded.first_date,
                "last_date": statement.excluded.last_date,
                "payload": statement.excluded.payload,
                "fetched_at": statement.excluded.fetched_at,
            },
        )
    )


def list_versions(session: Session, connection_id: int, kind: str) -> dict[str, str | None]:
    """cin7 id → the list row version it was read at (to skip what has not changed)."""
    rows = session.execute(
        select(Cin7Document.cin7_id, Cin7Document.list_version).where(
            Cin7Document.connection_id == connection_id, Cin7Document.kind == kind
        )
    )
    return {str(cin7_id): list_version for cin7_id, list_version in rows}


def load_snapshots(
    session: Session,
    connection_id: int,
    kind: str,
    *,
    ids: list[str] | None = None,
    active_between: tuple[dt.date, dt.date] | None = None,
) -> list[SnapshotEntry]:
    """Stored records of one kind; `active_between=(start, end)` keeps those with a date in [start, end)."""
    query = select(Cin7Document).where(Cin7Document.connection_id == connection_id, Cin7Document.kind == kind)
    if ids is not None:
        query = query.where(Cin7Document.cin7_id.in_(ids))
    if active_between is not None:
        start, end = active_between
        query = query.where(Cin7Document.first_date < end, Cin7Document.last_date >= start)
    return [
        SnapshotEntry(row.cin7_id, row.version, row.list_version, row.first_date, row.last_date, row.payload)
        for row in session.scalars(query.order_by(Cin7Document.cin7_id))
    ]
