"""Alembic environment: runs on the connection the store hands over (see `store/migrate.py`)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from datev_cin7_pipeline.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    # Invoked through the `alembic` command by a developer: use the configured URL.
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("Offline (SQL script) migrations are not supported; run `datev-cin7 init`.")
run_migrations_online()
