"""The audit trail is append-only: events come back oldest first under every id they concern, and the
database itself refuses to change or remove one, on SQLite and on PostgreSQL."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from datev_cin7_pipeline.store import StateStore, audit
from datev_cin7_pipeline.store.connections import ensure_connection


def _seed(store: StateStore) -> int:
    with store.session() as session:
        connection_id = ensure_connection(session, "acme", actor="test")
        audit.record_event(
            session,
            action="webhook.received",
            subject_type="inbox_event",
            subject_id="inbox:1",
            actor="webhook-receiver",
            connection_id=connection_id,
            refs=["SALE-1"],
        )
        audit.record_event(
            session,
            action="document.uploaded",
            subject_type="document",
            subject_id="0f0e-guid",
            actor="pipeline",
            connection_id=connection_id,
            detail={"file_name": "INV-1.pdf"},
            refs=["SALE-1", "ATT-9"],
        )
        audit.record_event(
            session,
            action="job.submitted",
            subject_type="job",
            subject_id="job-7",
            actor="pipeline",
            refs=["0f0e-guid"],
        )
    return connection_id


def test_history_follows_every_reference_oldest_first(store: StateStore) -> None:
    _seed(store)
    with store.session() as session:
        sale = audit.history(session, "SALE-1")
        guid = audit.history(session, "0f0e-guid")
        attachment = audit.history(session, "ATT-9")
        nothing = audit.history(session, "SALE-2")
    assert [entry.action for entry in sale] == ["webhook.received", "document.uploaded"]
    assert [entry.action for entry in guid] == ["document.uploaded", "job.submitted"]
    assert [entry.subject_id for entry in attachment] == ["0f0e-guid"]
    assert sale[1].detail == {"file_name": "INV-1.pdf"}
    assert sale[0].connection == "acme"
    assert guid[1].connection is None
    assert sale[0].occurred_at <= sale[1].occurred_at
    assert sale[0].occurred_at.tzinfo is not None
    assert nothing == []


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET action = 'forged'",
        "DELETE FROM audit_events",
        "UPDATE audit_event_refs SET ref = 'elsewhere'",
        "DELETE FROM audit_event_refs",
    ],
)
def test_the_database_refuses_to_change_the_audit_trail(store: StateStore, statement: str) -> None:
    _seed(store)
    with pytest.raises(sa.exc.DatabaseError, match="audit trail is append-only"), store.engine.begin() as connection:
        connection.execute(sa.text(statement))
    with store.session() as session:
        assert [entry.action for entry in audit.history(session, "SALE-1")] == ["webhook.received", "document.uploaded"]


@pytest.mark.postgres
def test_postgresql_refuses_truncate(postgres_schema_url: str) -> None:
    store = StateStore(postgres_schema_url)
    try:
        _seed(store)
        for table in ("audit_event_refs", "audit_events"):
            with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.engine.begin() as connection:
                connection.execute(sa.text(f"TRUNCATE {table} CASCADE"))
        with store.engine.connect() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM audit_events")).scalar() == 4
    finally:
        store.dispose()


def test_no_code_in_the_package_updates_or_deletes_audit_rows() -> None:
    """The triggers are the last line; the first is that nothing here even tries."""
    package = Path(audit.__file__).resolve().parent.parent
    offenders = []
    for path in package.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for pattern in (r"(update|delete)\(\s*AuditEvent", r"(UPDATE|DELETE FROM)\s+audit_event"):
            offenders += [f"{path.name}: {m.group(0)}" for m in re.finditer(pattern, text)]
    assert offenders == []
    assert {name for name, _ in inspect.getmembers(audit, inspect.isfunction) if name[0] != "_"} >= {
        "record_event",
        "history",
    }
