"""The snapshot of Cin7 documents and master data the periods are built from.

Revision ID: 0002_cin7_documents
Revises: 0001_initial
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from datev_cin7_pipeline.store.models import BigId, UtcDateTime

revision = "0002_cin7_documents"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cin7_documents",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("cin7_id", sa.String(64), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("list_version", sa.String(64), nullable=True),
        sa.Column("first_date", sa.Date(), nullable=True),
        sa.Column("last_date", sa.Date(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("fetched_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"], ["connections.id"], name=op.f("fk_cin7_documents_connection_id_connections")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cin7_documents")),
        sa.UniqueConstraint(
            "connection_id", "kind", "cin7_id", name=op.f("uq_cin7_documents_connection_id_kind_cin7_id")
        ),
    )
    op.create_index(
        "ix_cin7_documents_connection_id_kind_first_date", "cin7_documents", ["connection_id", "kind", "first_date"]
    )


def downgrade() -> None:
    op.drop_index("ix_cin7_documents_connection_id_kind_first_date", table_name="cin7_documents")
    op.drop_table("cin7_documents")
