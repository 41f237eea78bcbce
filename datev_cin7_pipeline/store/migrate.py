"""Alembic, driven from code: the store migrates itself, so nobody has to run `alembic` by hand."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from datev_cin7_pipeline.errors import StateStoreError
from datev_cin7_pipeline.store.database import MIGRATIONS_DIR


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade_to_head(connection: Connection) -> str:
    """Upgrade the database behind `connection` and commit; do nothing if it is up to date."""
    config = alembic_config(connection)
    script = ScriptDirectory.from_config(config)
    head = script.get_current_head()
    assert head is not None
    current = current_revision(connection)
    if current == head:
        connection.rollback()
        return head
    if current is not None and current not in {rev.revision for rev in script.walk_revisions()}:
        connection.rollback()
        raise StateStoreError(
            f"The state database is at schema revision {current}, which this version of datev-cin7 does "
            "not know; upgrade datev-cin7 before using this database."
        )
    command.upgrade(config, "head")
    connection.commit()
    return head
