"""The schema migrates itself: from nothing, again without harm, from two processes at once, and the
migrations create exactly the tables the models describe. Each test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from datev_cin7_pipeline.errors import StateStoreError
from datev_cin7_pipeline.store import StateStore
from datev_cin7_pipeline.store.migrate import head_revision
from datev_cin7_pipeline.store.models import Base

EXPECTED_TABLES = {
    "alembic_version",
    "connections",
    "credentials",
    "sync_cursors",
    "webhook_inbox",
    "document_ledger",
    "datev_jobs",
    "datev_job_protocol",
    "booking_ledger",
    "audit_events",
    "audit_event_refs",
    "cin7_documents",
    "personal_accounts",
    "api_calls",
    "api_pauses",
}


def _revision(store: StateStore) -> str | None:
    with store.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_migrates_an_empty_database_to_head(database_url: str) -> None:
    store = StateStore(database_url)
    try:
        assert set(sa.inspect(store.engine).get_table_names()) == EXPECTED_TABLES
        assert _revision(store) == head_revision() == "0005_api_calls"
    finally:
        store.dispose()


def test_running_migrations_twice_changes_nothing_and_keeps_data(database_url: str) -> None:
    first = StateStore(database_url)
    with first.engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO connections (name, created_at) VALUES ('kept', CURRENT_TIMESTAMP)"))
    first.dispose()

    second = StateStore(database_url)
    try:
        assert second.migrate() == head_revision()
        with second.engine.connect() as connection:
            names = connection.execute(sa.text("SELECT name FROM connections")).scalars().all()
        assert names == ["kept"]
        assert _revision(second) == head_revision()
    finally:
        second.dispose()


def test_migrations_match_the_models(store: StateStore) -> None:
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def _open_store(url: str, barrier: multiprocessing.synchronize.Barrier, results: multiprocessing.Queue) -> None:
    barrier.wait()
    try:
        store = StateStore(url)
        with store.engine.connect() as connection:
            results.put(MigrationContext.configure(connection).get_current_revision())
        store.dispose()
    except Exception as exc:  # reported to the test, which fails with it
        results.put(f"error: {exc!r}")


def test_two_processes_migrating_at_once_both_succeed(database_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(3)
    results: multiprocessing.Queue = context.Queue()
    workers = [context.Process(target=_open_store, args=(database_url, barrier, results)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    assert sorted(results.get(timeout=5) for _ in workers) == [head_revision()] * 3


def test_a_database_from_a_newer_version_is_refused_clearly(database_url: str) -> None:
    store = StateStore(database_url)
    with store.engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999_future'"))
    store.dispose()
    with pytest.raises(StateStoreError, match="schema revision 9999_future, which this version of datev-cin7"):
        StateStore(database_url)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "not a valid SQLAlchemy URL"),
        ("mysql://root@127.0.0.1/test", "must be SQLite or PostgreSQL, not 'mysql'"),
        ("sqlite://", "must be a file"),
        ("sqlite:///:memory:", "must be a file"),
    ],
)
def test_unusable_database_urls_are_refused_in_one_sentence(url: str, message: str) -> None:
    with pytest.raises(StateStoreError, match=message):
        StateStore(url)


def test_an_unreachable_postgresql_names_the_server_but_not_the_password() -> None:
    url = "postgresql://alice:hunter2-secret@127.0.0.1:1/nowhere"
    with pytest.raises(StateStoreError) as caught:
        StateStore(url)
    message = str(caught.value)
    assert message.startswith("The state database postgresql+psycopg2://alice:***@127.0.0.1:1/nowhere could not")
    assert "hunter2-secret" not in message


def test_plain_postgresql_urls_use_the_installed_driver() -> None:
    from datev_cin7_pipeline.store.database import normalise_url

    assert normalise_url("postgresql://u@h/db").drivername == "postgresql+psycopg2"
    assert normalise_url("postgres://u@h/db").drivername == "postgresql+psycopg2"
    assert normalise_url("postgresql+psycopg2://u@h/db").drivername == "postgresql+psycopg2"


def test_upgrading_an_older_database_keeps_its_rows(database_url: str) -> None:
    """A deployment on the first schema moves to the newest without losing a credential or audit row."""
    from alembic import command

    from datev_cin7_pipeline.store.migrate import alembic_config

    store = StateStore(database_url, migrate=False)
    with store.engine.connect() as connection:
        command.upgrade(alembic_config(connection), "0001_initial")
        connection.commit()
        connection.execute(sa.text("INSERT INTO connections (name, created_at) VALUES ('old', CURRENT_TIMESTAMP)"))
        connection.execute(
            sa.text(
                "INSERT INTO audit_events (occurred_at, action, subject_type, subject_id, actor) "
                "VALUES (CURRENT_TIMESTAMP, 'connection.created', 'connection', 'old', 'test')"
            )
        )
        connection.commit()
    assert store.migrate() == head_revision()
    with store.engine.connect() as connection:
        row = connection.execute(sa.text("SELECT name, datev_login_state FROM connections")).one()
        audit_rows = connection.execute(sa.text("SELECT count(*) FROM audit_events")).scalar()
    assert tuple(row) == ("old", None)
    assert audit_rows == 1
    store.dispose()
