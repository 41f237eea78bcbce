"""The connector's own database: what it must remember to deliver every document exactly once.

Every row except a connection belongs to one connection (one Cin7 account paired with one DATEV client).
The Alembic migrations in `migrations/` create exactly these tables; a test compares the two.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC on the way in and out, whatever the backend keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware datetime")
        value = value.astimezone(dt.UTC)
        # SQLite has no time zones: keep naive UTC there.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Connection(Base):
    """One Cin7 Core account paired with one DATEV client."""

    __tablename__ = "connections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    # DATEV login: "logged_in", or "login_required" after DATEV refused the stored refresh token.
    datev_login_state: Mapped[str | None] = mapped_column(String(32))
    datev_login_reason: Mapped[str | None] = mapped_column(Text)
    datev_login_changed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class ApiCall(Base):
    """One call made to a rate-limited API (Cin7), so every process of a connection paces against one
    window: several Dagster runs and steps share a Cin7 account's 60 calls a minute."""

    __tablename__ = "api_calls"
    __table_args__ = (Index("ix_api_calls_connection_id_api_at", "connection_id", "api", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id"))
    api: Mapped[str] = mapped_column(String(16))
    at: Mapped[float] = mapped_column(Float)  # seconds since the epoch: one clock for every process


class ApiPause(Base):
    """Until when every process holds back its calls to an API, after the server said to slow down."""

    __tablename__ = "api_pauses"

    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id"), primary_key=True)
    api: Mapped[str] = mapped_column(String(16), primary_key=True)
    until: Mapped[float] = mapped_column(Float)


class Credential(Base):
    """One secret (Cin7 key, DATEV client secret, tokens), Fernet-encrypted.

    `version` grows with every write so a writer can compare-and-swap (DATEV rotates the refresh token on
    every use; two refreshers must not lose the newer one).
    """

    __tablename__ = "credentials"
    __table_args__ = (UniqueConstraint("connection_id", "service", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id"))
    service: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    version: Mapped[int] = mapped_column(Integer, default=1)
    set_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class SyncCursor(Base):
    """Where the last extraction of one Cin7 resource stopped (`UpdatedSince` / `ModifiedSince`)."""

    __tablename__ = "sync_cursors"

    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id"), primary_key=True)
    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    cursor: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Cin7Document(Base):
    """The last version read from Cin7 of one document or master-data record, as Cin7 sent it.

    Periods are built from this snapshot, so a re-run of a period costs no Cin7 calls, and a document is
    read again only when its list row says it changed (`list_version`).
    """

    __tablename__ = "cin7_documents"
    __table_args__ = (
        UniqueConstraint("connection_id", "kind", "cin7_id"),
        Index("ix_cin7_documents_connection_id_kind_first_date", "connection_id", "kind", "first_date"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id"))
    kind: Mapped[str] = mapped_column(String(32))  # sale | purchase | purchase_payments | customer | …
    cin7_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(64))  # the document's own LastModifiedOn / LastUpdatedDate
    list_version: Mapped[str | None] = mapped_column(String(64))  # the list row's Updated, to skip re-reads
    # The span of the record's booking-relevant dates (invoices, credit notes, payments), to pick periods.
    first_date: Mapped[dt.date | None] = mapped_column(Date)
    last_date: Mapped[dt.date | None] = mapped_column(Date)
    payload: Mapped[str] = mapped_column(Text)  # the JSON exactly as parsed, numbers exact
    fetched_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class PersonalAccount(Base):
    """The DATEV debtor or creditor number of one Cin7 customer or supplier: assigned once, never reused."""

    __tablename__ = "personal_accounts"
    __table_args__ = (UniqueConstraint("connection_id", "account_number"),)

    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id"), primary_key=True)
    party_kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # debtor | creditor
    cin7_party_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_number: Mapped[int] = mapped_column(BigInteger)
    assigned_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class InboxEvent(Base):
    """A Cin7 webhook, stored before it is answered. It marks a document to re-read, nothing more.

    Retried deliveries of one event share `business_key` and only raise `delivery_count`.
    """

    __tablename__ = "webhook_inbox"
    __table_args__ = (
        UniqueConstraint("connection_id", "business_key"),
        Index("ix_webhook_inbox_connection_id_status_id", "connection_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id"))
    business_key: Mapped[str] = mapped_column(String(255))
    event_type: Mapped[str] = mapped_column(String(128))
    document_kind: Mapped[str | None] = mapped_column(String(64))
    document_id: Mapped[str | None] = mapped_column(String(64))
    # pending → processed, or ignored (unknown event type), or failed (with note)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    payload: Mapped[Any] = mapped_column(JSON)
    delivery_count: Mapped[int] = mapped_column(Integer, default=1)
    first_received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    processed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    note: Mapped[str | None] = mapped_column(Text)


class DocumentRecord(Base):
    """Which Cin7 document (and version) went into which DATEV document GUID, with what result."""

    __tablename__ = "document_ledger"
    __table_args__ = (
        UniqueConstraint("connection_id", "guid"),
        Index("ix_document_ledger_connection_id_cin7_document_id", "connection_id", "cin7_document_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id"))
    guid: Mapped[str] = mapped_column(String(36))
    cin7_document_kind: Mapped[str] = mapped_column(String(32))
    cin7_document_id: Mapped[str] = mapped_column(String(64))
    attachment_id: Mapped[str] = mapped_column(String(64))
    document_version: Mapped[str] = mapped_column(String(64))
    period: Mapped[dt.date] = mapped_column(Date)
    file_name: Mapped[str] = mapped_column(String(255))
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    # intended (written before the upload) → uploaded | already_present | failed
    status: Mapped[str] = mapped_column(String(16), default="intended")
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class DatevJob(Base):
    """One upload to DATEV (an EXTF batch file, or a DXSO job) from intent to final status.

    The row is written with `reference_id` before the upload and gets `datev_job_id` after it, so an
    unclear failure can be resolved by looking the job up at DATEV instead of sending again.
    """

    __tablename__ = "datev_jobs"
    __table_args__ = (
        UniqueConstraint("connection_id", "reference_id"),
        Index("ix_datev_jobs_connection_id_status", "connection_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id"))
    api: Mapped[str] = mapped_column(String(16))  # extf | dxso
    period: Mapped[dt.date] = mapped_column(Date)
    sequence: Mapped[int] = mapped_column(Integer)
    reference_id: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str | None] = mapped_column(String(255))
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    row_count: Mapped[int | None] = mapped_column(Integer)
    # intended → submitted → pending → succeeded | failed | cancelled; unknown after an unclear failure
    status: Mapped[str] = mapped_column(String(16), default="intended")
    datev_job_id: Mapped[str | None] = mapped_column(String(64))
    status_reads: Mapped[int] = mapped_column(Integer, default=0)
    next_poll_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    result: Mapped[Any | None] = mapped_column(JSON)
    validation_details: Mapped[Any | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class DatevJobProtocolEntry(Base):
    """A protocol entry DATEV reported for a job (kept here: DATEV deletes them after about two months)."""

    __tablename__ = "datev_job_protocol"
    __table_args__ = (UniqueConstraint("job_id", "position"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("datev_jobs.id"))
    position: Mapped[int] = mapped_column(Integer)
    severity: Mapped[str | None] = mapped_column(String(32))
    code: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[Any | None] = mapped_column(JSON)
    fetched_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class BookingRecord(Base):
    """The bookings made from one version of one Cin7 document (or the reversal of earlier ones).

    One row per (document, version, kind): the same version is never booked twice, and a changed or
    voided document gets a `reversal` row pointing at what it reverses.
    """

    __tablename__ = "booking_ledger"
    __table_args__ = (
        UniqueConstraint("connection_id", "cin7_document_kind", "cin7_document_id", "document_version", "kind"),
        Index("ix_booking_ledger_connection_id_period_status", "connection_id", "period", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id"))
    cin7_document_kind: Mapped[str] = mapped_column(String(32))
    cin7_document_id: Mapped[str] = mapped_column(String(64))
    document_version: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16), default="booking")  # booking | reversal
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("booking_ledger.id"))
    period: Mapped[dt.date] = mapped_column(Date)
    document_guid: Mapped[str | None] = mapped_column(String(36))
    lines: Mapped[Any] = mapped_column(JSON)
    line_count: Mapped[int] = mapped_column(Integer)
    total_amount: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    content_sha256: Mapped[str] = mapped_column(String(64))
    # pending → submitted → booked | failed
    status: Mapped[str] = mapped_column(String(16), default="pending")
    job_id: Mapped[int | None] = mapped_column(ForeignKey("datev_jobs.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class AuditEvent(Base):
    """One step of one record, appended and never changed (the database refuses UPDATE and DELETE)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_subject_id", "subject_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    connection_id: Mapped[int | None] = mapped_column(ForeignKey("connections.id"))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(255))
    actor: Mapped[str] = mapped_column(String(64))
    detail: Mapped[Any | None] = mapped_column(JSON)


class AuditEventRef(Base):
    """Every identifier an audit event concerns (Cin7 id, document GUID, job id, reference id…).

    `audit show ID` follows these, so one query shows the whole path of a document.
    """

    __tablename__ = "audit_event_refs"
    __table_args__ = (
        UniqueConstraint("event_id", "ref"),
        Index("ix_audit_event_refs_ref", "ref"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("audit_events.id"))
    ref: Mapped[str] = mapped_column(String(255))


APPEND_ONLY_TABLES = ("audit_events", "audit_event_refs")
