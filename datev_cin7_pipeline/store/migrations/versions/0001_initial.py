"""The connector's state: connections, credentials, cursors, inbox, ledgers, DATEV jobs, audit trail.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from datev_cin7_pipeline.store.models import BigId, UtcDateTime

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connections",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connections")),
        sa.UniqueConstraint("name", name=op.f("uq_connections_name")),
    )
    op.create_table(
        "credentials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(32), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("set_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"], ["connections.id"], name=op.f("fk_credentials_connection_id_connections")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credentials")),
        sa.UniqueConstraint("connection_id", "service", "name", name=op.f("uq_credentials_connection_id_service_name")),
    )
    op.create_table(
        "sync_cursors",
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("resource", sa.String(64), nullable=False),
        sa.Column("cursor", sa.String(64), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"], ["connections.id"], name=op.f("fk_sync_cursors_connection_id_connections")
        ),
        sa.PrimaryKeyConstraint("connection_id", "resource", name=op.f("pk_sync_cursors")),
    )
    op.create_table(
        "webhook_inbox",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("business_key", sa.String(255), nullable=False),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("document_kind", sa.String(64), nullable=True),
        sa.Column("document_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("delivery_count", sa.Integer(), nullable=False),
        sa.Column("first_received_at", UtcDateTime(), nullable=False),
        sa.Column("last_received_at", UtcDateTime(), nullable=False),
        sa.Column("processed_at", UtcDateTime(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["connection_id"], ["connections.id"], name=op.f("fk_webhook_inbox_connection_id_connections")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_inbox")),
        sa.UniqueConstraint("connection_id", "business_key", name=op.f("uq_webhook_inbox_connection_id_business_key")),
    )
    op.create_index("ix_webhook_inbox_connection_id_status_id", "webhook_inbox", ["connection_id", "status", "id"])
    op.create_table(
        "document_ledger",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("guid", sa.String(36), nullable=False),
        sa.Column("cin7_document_kind", sa.String(32), nullable=False),
        sa.Column("cin7_document_id", sa.String(64), nullable=False),
        sa.Column("attachment_id", sa.String(64), nullable=False),
        sa.Column("document_version", sa.String(64), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"], ["connections.id"], name=op.f("fk_document_ledger_connection_id_connections")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_ledger")),
        sa.UniqueConstraint("connection_id", "guid", name=op.f("uq_document_ledger_connection_id_guid")),
    )
    op.create_index(
        "ix_document_ledger_connection_id_cin7_document_id", "document_ledger", ["connection_id", "cin7_document_id"]
    )
    op.create_table(
        "datev_jobs",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("api", sa.String(16), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("reference_id", sa.String(64), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=True),
        sa.Column("file_sha256", sa.String(64), nullable=True),
        sa.Column("row_count", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("datev_job_id", sa.String(64), nullable=True),
        sa.Column("status_reads", sa.Integer(), nullable=False),
        sa.Column("next_poll_at", UtcDateTime(), nullable=True),
        sa.Column("submitted_at", UtcDateTime(), nullable=True),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("validation_details", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"], ["connections.id"], name=op.f("fk_datev_jobs_connection_id_connections")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datev_jobs")),
        sa.UniqueConstraint("connection_id", "reference_id", name=op.f("uq_datev_jobs_connection_id_reference_id")),
    )
    op.create_index("ix_datev_jobs_connection_id_status", "datev_jobs", ["connection_id", "status"])
    op.create_table(
        "datev_job_protocol",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("job_id", BigId, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("severity", sa.String(32), nullable=True),
        sa.Column("code", sa.String(64), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("raw", sa.JSON(), nullable=True),
        sa.Column("fetched_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["datev_jobs.id"], name=op.f("fk_datev_job_protocol_job_id_datev_jobs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datev_job_protocol")),
        sa.UniqueConstraint("job_id", "position", name=op.f("uq_datev_job_protocol_job_id_position")),
    )
    op.create_table(
        "booking_ledger",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("cin7_document_kind", sa.String(32), nullable=False),
        sa.Column("cin7_document_id", sa.String(64), nullable=False),
        sa.Column("document_version", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reverses_id", BigId, nullable=True),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("document_guid", sa.String(36), nullable=True),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("total_amount", sa.Numeric(18, 2), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("job_id", BigId, nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"], ["connections.id"], name=op.f("fk_booking_ledger_connection_id_connections")
        ),
        sa.ForeignKeyConstraint(
            ["reverses_id"], ["booking_ledger.id"], name=op.f("fk_booking_ledger_reverses_id_booking_ledger")
        ),
        sa.ForeignKeyConstraint(["job_id"], ["datev_jobs.id"], name=op.f("fk_booking_ledger_job_id_datev_jobs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_ledger")),
        sa.UniqueConstraint(
            "connection_id",
            "cin7_document_kind",
            "cin7_document_id",
            "document_version",
            "kind",
            name=op.f("uq_booking_ledger_connection_id_cin7_document_kind_cin7_document_id_document_version_kind"),
        ),
    )
    op.create_index(
        "ix_booking_ledger_connection_id_period_status", "booking_ledger", ["connection_id", "period", "status"]
    )
    op.create_table(
        "audit_events",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject_type", sa.String(32), nullable=False),
        sa.Column("subject_id", sa.String(255), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["connection_id"], ["connections.id"], name=op.f("fk_audit_events_connection_id_connections")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index("ix_audit_events_subject_id", "audit_events", ["subject_id"])
    op.create_table(
        "audit_event_refs",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("event_id", BigId, nullable=False),
        sa.Column("ref", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["audit_events.id"], name=op.f("fk_audit_event_refs_event_id_audit_events")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event_refs")),
        sa.UniqueConstraint("event_id", "ref", name=op.f("uq_audit_event_refs_event_id_ref")),
    )
    op.create_index("ix_audit_event_refs_ref", "audit_event_refs", ["ref"])
    _refuse_audit_changes()


def _refuse_audit_changes() -> None:
    """The audit trail is append-only in the database itself, not only in our code."""
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            """
            CREATE FUNCTION refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'the audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME
                    USING ERRCODE = 'insufficient_privilege';
            END
            $$
            """
        )
    for table in ("audit_events", "audit_event_refs"):
        if dialect == "postgresql":
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION refuse_audit_change()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change()"
            )
        elif dialect == "sqlite":
            for operation in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: {operation} on {table} refused'); END"
                )


def downgrade() -> None:
    raise NotImplementedError("The first revision cannot be downgraded: it would drop the audit trail.")
