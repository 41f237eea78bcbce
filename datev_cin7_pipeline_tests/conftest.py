"""Shared fixtures: an isolated home folder per test, and the state database on both backends.

The PostgreSQL tests use `DATEV_CIN7_TEST_POSTGRES_URL` (default: the `test` database on
127.0.0.1:5432). Each test gets its own schema, dropped afterwards. Outside CI an unreachable server
skips those tests with the reason; in CI (`CI=true`) it fails them, so they can never silently not run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from datev_cin7_pipeline import settings
from datev_cin7_pipeline.store import StateStore

POSTGRES_URL = os.environ.get("DATEV_CIN7_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
REPO_ROOT = Path(__file__).resolve().parent.parent


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test has its own home folder and none of the developer's settings."""
    home = tmp_path / "home"
    monkeypatch.setenv(settings.HOME_ENV, str(home))
    monkeypatch.delenv(settings.DATABASE_URL_ENV, raising=False)
    monkeypatch.delenv(settings.SECRET_KEY_ENV, raising=False)
    return home


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The base URL of a reachable PostgreSQL server, or skip (fail in CI) with the reason."""
    engine = sa.create_engine(POSTGRES_URL)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        reason = f"PostgreSQL at {POSTGRES_URL} is not reachable: {str(exc.orig).strip().splitlines()[0]}"
        if in_ci():
            pytest.fail(reason + " (CI must run the PostgreSQL tests)")
        pytest.skip(reason)
    finally:
        engine.dispose()
    return POSTGRES_URL


@pytest.fixture
def postgres_schema_url(postgres_server: str) -> Iterator[str]:
    """A URL whose connections work in a fresh, private schema."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.engine.make_url(postgres_server).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The state database URL, once for SQLite and once for PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return str(request.getfixturevalue("postgres_schema_url"))


@pytest.fixture
def store(database_url: str) -> Iterator[StateStore]:
    state_store = StateStore(database_url)
    try:
        yield state_store
    finally:
        state_store.dispose()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many PostgreSQL tests really ran, so a skipped backend cannot pass unnoticed."""
    counts = {
        outcome: sum(1 for report in terminalreporter.stats.get(outcome, []) if "postgres" in report.keywords)
        for outcome in ("passed", "failed", "skipped", "error")
    }
    terminalreporter.write_line(
        "PostgreSQL tests: " + ", ".join(f"{count} {outcome}" for outcome, count in counts.items())
    )
