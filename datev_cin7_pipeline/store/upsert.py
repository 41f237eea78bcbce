"""INSERT … ON CONFLICT for both backends: the database, not a read-then-write, decides who was first."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_for(session: Session, table: Any) -> Any:
    """The dialect's own INSERT construct (it has `on_conflict_do_nothing/do_update`)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
