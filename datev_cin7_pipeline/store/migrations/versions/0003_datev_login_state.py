"""Whether a connection's DATEV login is usable, and why not.

Revision ID: 0003_datev_login_state
Revises: 0002_cin7_documents
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from datev_cin7_pipeline.store.models import UtcDateTime

revision = "0003_datev_login_state"
down_revision = "0002_cin7_documents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.add_column(sa.Column("datev_login_state", sa.String(32), nullable=True))
        batch.add_column(sa.Column("datev_login_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("datev_login_changed_at", UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("datev_login_changed_at")
        batch.drop_column("datev_login_reason")
        batch.drop_column("datev_login_state")
