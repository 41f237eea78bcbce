"""The shared call window for rate-limited APIs (Cin7): every process of a connection paces against it.

Revision ID: 0005_api_calls
Revises: 0004_personal_accounts
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_api_calls"
down_revision = "0004_personal_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_calls",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("api", sa.String(16), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"], ["connections.id"], name=op.f("fk_api_calls_connection_id_connections")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_calls")),
    )
    op.create_index("ix_api_calls_connection_id_api_at", "api_calls", ["connection_id", "api", "at"])
    op.create_table(
        "api_pauses",
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("api", sa.String(16), nullable=False),
        sa.Column("until", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"], ["connections.id"], name=op.f("fk_api_pauses_connection_id_connections")
        ),
        sa.PrimaryKeyConstraint("connection_id", "api", name=op.f("pk_api_pauses")),
    )


def downgrade() -> None:
    op.drop_table("api_pauses")
    op.drop_index("ix_api_calls_connection_id_api_at", table_name="api_calls")
    op.drop_table("api_calls")
