"""The two Dagster instance files: the repository's laptop-safe one (SQLite, our pools limited) and the
production example, which must really run on PostgreSQL through dagster-postgres."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json
from dagster import DagsterInstance
instance = DagsterInstance.get()
print(json.dumps({
    "run_storage": type(instance.run_storage).__name__,
    "event_storage": type(instance.event_log_storage).__name__,
    "runs": len(instance.get_runs()),
    "pool_limit": instance.get_concurrency_config().pool_config.default_pool_limit,
    "telemetry": instance.telemetry_enabled,
}))
instance.dispose()
"""


def _probe(dagster_home: Path, extra_env: dict[str, str] | None = None) -> dict[str, object]:
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), **(extra_env or {})}
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=180)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_the_repository_dagster_yaml_is_laptop_safe(tmp_path: Path) -> None:
    shutil.copy(REPO_ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    settings = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    assert not {"storage", "run_storage", "event_log_storage", "schedule_storage"} & set(settings)
    found = _probe(tmp_path)
    assert found["run_storage"] == "SqliteRunStorage"
    assert found["pool_limit"] == 1
    assert found["telemetry"] is False


@pytest.fixture
def fresh_postgres_database(postgres_server: str) -> Iterator[sa.engine.URL]:
    name = f"dc7_dagster_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(sa.engine.make_url(postgres_server).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(postgres_server).set(database=name)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.postgres
def test_the_production_dagster_yaml_runs_on_postgresql(tmp_path: Path, fresh_postgres_database: sa.engine.URL) -> None:
    shutil.copy(REPO_ROOT / "deploy" / "dagster.yaml", tmp_path / "dagster.yaml")
    url = fresh_postgres_database
    found = _probe(
        tmp_path,
        {
            "DAGSTER_PG_USERNAME": url.username or "postgres",
            "DAGSTER_PG_PASSWORD": url.password or "",
            "DAGSTER_PG_HOST": url.host or "127.0.0.1",
            "DAGSTER_PG_DB": url.database or "",
            "DAGSTER_PG_PORT": str(url.port or 5432),
        },
    )
    assert found == {
        "run_storage": "PostgresRunStorage",
        "event_storage": "PostgresEventLogStorage",
        "runs": 0,
        "pool_limit": 1,
        "telemetry": False,
    }
    engine = sa.create_engine(url)
    try:
        assert {"runs", "event_logs", "concurrency_limits"} <= set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
