"""Opening the state database: engine settings per backend, sessions, and the schema migration.

SQLite (the default) is shared by several processes (Dagster runs, the webhook receiver, the CLI), so it
runs in WAL mode, waits for locks instead of failing, and takes the write lock when a transaction
starts (`BEGIN IMMEDIATE`): a deferred transaction that later tries to write can fail with "database is
locked" no matter how long it waits. PostgreSQL needs none of this.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from datev_cin7_pipeline import settings
from datev_cin7_pipeline.errors import StateStoreError

SQLITE_BUSY_TIMEOUT_SECONDS = 60
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Any 64-bit number; it only has to be the same in every process migrating one PostgreSQL database.
_PG_MIGRATION_LOCK = 0x0DA7E0C1707


def normalise_url(raw: str) -> URL:
    """Parse a database URL; plain `postgresql://` means psycopg2, the driver we install."""
    try:
        url = make_url(raw)
    except ArgumentError:
        raise StateStoreError(
            f"The database URL in {settings.DATABASE_URL_ENV} is not a valid SQLAlchemy URL."
        ) from None
    if url.drivername in ("postgresql", "postgres"):
        # SQLAlchemy 2.1 defaults to psycopg 3, which we do not install.
        url = url.set(drivername="postgresql+psycopg2")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise StateStoreError(f"The state database must be SQLite or PostgreSQL, not {url.get_backend_name()!r}.")
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        raise StateStoreError("The SQLite state database must be a file, because several processes share it.")
    return url


def describe_url(url: URL) -> str:
    """The URL without its password, for messages."""
    return url.render_as_string(hide_password=True)


def create_store_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        _create_private_file(Path(url.database))
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def _create_private_file(path: Path) -> None:
    """Create the SQLite file (and its folder) readable by the owner only; SQLite's -wal/-shm follow."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below issue BEGIN itself (pysqlite would defer it).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before we answer a webhook or upload a file.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class StateStore:
    """The connector's database. Open it with `StateStore.open()`; it migrates itself on first use."""

    def __init__(self, url: str | URL, *, migrate: bool = True) -> None:
        self.url = url if isinstance(url, URL) else normalise_url(url)
        self.engine = create_store_engine(self.url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time; threads of this process queue here instead of in SQLite's busy
        # handler, which sleeps in growing steps and turns contention into long tail latencies.
        self._writer = threading.RLock() if self.backend == "sqlite" else contextlib.nullcontext()
        if migrate:
            self.migrate()

    @classmethod
    def open(cls, url: str | None = None) -> StateStore:
        return cls(url or settings.database_url())

    @property
    def backend(self) -> str:
        return self.url.get_backend_name()

    def describe(self) -> str:
        return describe_url(self.url)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back if it raises."""
        with self._sessions() as session, self._translate_errors(), session.begin():
            yield session

    @contextlib.contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            raise StateStoreError(
                f"The state database {self.describe()} could not be used: {_first_line(exc.orig)}."
            ) from exc

    def migrate(self) -> str:
        """Bring the schema to the newest revision. Safe to run twice and from several processes."""
        from datev_cin7_pipeline.store.migrate import upgrade_to_head

        with self._translate_errors(), self._migration_lock() as connection:
            return upgrade_to_head(connection)

    @contextlib.contextmanager
    def _migration_lock(self) -> Iterator[Any]:
        """One migrating process at a time; the others wait, then find nothing left to do."""
        if self.backend == "postgresql":
            with self.engine.connect() as connection:
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
                connection.commit()
                try:
                    yield connection
                finally:
                    connection.rollback()
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_MIGRATION_LOCK})
                    connection.commit()
            return
        assert self.url.database is not None
        lock_path = Path(self.url.database + ".migrate-lock")
        with open(lock_path, "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                with self.engine.connect() as connection:
                    yield connection
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def dispose(self) -> None:
        self.engine.dispose()


def _first_line(error: BaseException | None) -> str:
    message = str(error or "unknown error").strip().splitlines()
    return (message[0] if message else "unknown error").rstrip(".")
