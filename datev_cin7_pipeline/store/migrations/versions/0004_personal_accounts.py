"""Debtor and creditor numbers, assigned once per Cin7 party and never reused.

Revision ID: 0004_personal_accounts
Revises: 0003_datev_login_state
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from datev_cin7_pipeline.store.models import UtcDateTime

revision = "0004_personal_accounts"
down_revision = "0003_datev_login_state"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "personal_accounts",
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("party_kind", sa.String(8), nullable=False),
        sa.Column("cin7_party_id", sa.String(64), nullable=False),
        sa.Column("account_number", sa.BigInteger(), nullable=False),
        sa.Column("assigned_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"], ["connections.id"], name=op.f("fk_personal_accounts_connection_id_connections")
        ),
        sa.PrimaryKeyConstraint("connection_id", "party_kind", "cin7_party_id", name=op.f("pk_personal_accounts")),
        sa.UniqueConstraint(
            "connection_id", "account_number", name=op.f("uq_personal_accounts_connection_id_account_number")
        ),
    )


def downgrade() -> None:
    op.drop_table("personal_accounts")
