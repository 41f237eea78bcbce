"""Reading Cin7 Core into the local snapshot with as few calls as the API allows.

- Master data: `/me`, chart of accounts, tax rules and locations are listed whole (one call each per
  1,000 rows); customers and suppliers only since their `ModifiedSince` cursor.
- Documents: `saleList` / `purchaseList` since the `UpdatedSince` cursor with `Limit=1000`, then one
  detail call per sale whose list row changed (`/sale` carries its invoices, credit notes, payments and
  refunds) and per purchase (`/purchase` or `/advanced-purchase`), plus `/purchase/payment` only when the
  purchase does not embed its payments.
- Each record is committed as it arrives and the cursor only after the whole list is in, so a crash
  costs at most a repeated list call, never a gap. The cursor steps back one second: a document changed in
  the same second as the last one we saw is listed again rather than missed (and skipped, unchanged).

Nothing is booked here; `cin7.period` builds a VAT period from the snapshot.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from datev_cin7_pipeline.cin7.client import Cin7Client, dump_json
from datev_cin7_pipeline.cin7.models import (
    Customer,
    PaymentRecord,
    Purchase,
    PurchaseListRow,
    Sale,
    SaleListRow,
    Supplier,
    parse_timestamp,
)
from datev_cin7_pipeline.store import StateStore
from datev_cin7_pipeline.store.audit import record_event
from datev_cin7_pipeline.store.cursors import read_cursor, write_cursor
from datev_cin7_pipeline.store.snapshots import list_versions, save_snapshot

# Kinds of snapshot records.
SALE = "sale"
PURCHASE = "purchase"
PURCHASE_PAYMENTS = "purchase_payments"
CUSTOMER = "customer"
SUPPLIER = "supplier"
ACCOUNT = "account"
TAX_RULE = "tax_rule"
LOCATION = "location"
COMPANY = "company"

VOIDED = "VOIDED"
# On the first sync, look this far before the horizon: a document can be entered before its date.
FIRST_SYNC_LOOKBACK = dt.timedelta(days=31)
CURSOR_OVERLAP = dt.timedelta(seconds=1)


@dataclass(frozen=True)
class VoidedDocument:
    kind: str  # sale_invoice | sale | purchase_invoice | purchase
    cin7_id: str  # the task (invoice) id, or the order id when the whole order is voided
    parent_id: str
    number: str


@dataclass
class SyncReport:
    fetched: collections.Counter[str] = field(default_factory=collections.Counter)
    unchanged: int = 0
    skipped_before_horizon: int = 0
    voided: list[VoidedDocument] = field(default_factory=list)
    calls: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "fetched": dict(self.fetched),
            "unchanged": self.unchanged,
            "skipped_before_horizon": self.skipped_before_horizon,
            "voided": len(self.voided),
            "cin7_calls": self.calls,
        }


def cin7_timestamp(moment: dt.datetime) -> str:
    """Cin7's documented parameter format, `yyyy-MM-ddTHH:mm:ss.fff`, in UTC."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


class Cin7Sync:
    """Brings one connection's snapshot up to date."""

    def __init__(
        self,
        client: Cin7Client,
        store: StateStore,
        connection_id: int,
        *,
        horizon: dt.date,
        actor: str = "pipeline",
        full_period: bool = False,
    ) -> None:
        self.client = client
        self.store = store
        self.connection_id = connection_id
        self.horizon = horizon
        self.actor = actor
        # Re-list every document changed since the period began, whatever the cursors say: the month-end
        # reconciliation that catches what webhooks and `UpdatedSince` both missed. Unchanged rows are
        # still not re-read, so it costs list calls only.
        self.full_period = full_period

    def run(self) -> SyncReport:
        report = SyncReport()
        calls_before = self.client.stats.calls
        self.sync_reference_data(report)
        self.sync_sales(report)
        self.sync_purchases(report)
        report.calls = self.client.stats.calls - calls_before
        return report

    # --- master data -------------------------------------------------------------------------------

    def sync_reference_data(self, report: SyncReport) -> None:
        me = self.client.get("me") or {}
        self._save_all(COMPANY, [("me", me)], report)
        self._save_all(
            ACCOUNT, [(row["Code"], row) for row in self.client.paginate("ref/account", "AccountsList")], report
        )
        self._save_all(TAX_RULE, [(row["ID"], row) for row in self.client.paginate("ref/tax", "TaxRuleList")], report)
        self._save_all(
            LOCATION, [(row["ID"], row) for row in self.client.paginate("ref/location", "LocationList")], report
        )
        self._sync_parties(CUSTOMER, "customer", "CustomerList", Customer, report)
        self._sync_parties(SUPPLIER, "supplier", "SupplierList", Supplier, report)

    def _sync_parties(
        self, kind: str, endpoint: str, list_key: str, model: type[Customer] | type[Supplier], report: SyncReport
    ) -> None:
        cursor_name = f"{endpoint}.ModifiedSince"
        with self.store.session() as session:
            cursor = read_cursor(session, self.connection_id, cursor_name)
        params = {"ModifiedSince": cursor} if cursor else {}
        rows = list(self.client.paginate(endpoint, list_key, params))
        self._save_all(kind, [(row["ID"], row) for row in rows], report)
        newest = max((m for m in (model.model_validate(r).last_modified_on for r in rows) if m), default=None)
        if newest is not None:
            moved = cin7_timestamp(newest - CURSOR_OVERLAP)
            if cursor is None or moved > cursor:
                with self.store.session() as session:
                    write_cursor(session, self.connection_id, cursor_name, moved)

    def _save_all(self, kind: str, records: Iterable[tuple[str, Any]], report: SyncReport) -> None:
        with self.store.session() as session:
            for cin7_id, record in records:
                payload = dump_json(record)
                save_snapshot(
                    session,
                    connection_id=self.connection_id,
                    kind=kind,
                    cin7_id=str(cin7_id),
                    version=hashlib.sha256(payload.encode()).hexdigest()[:32],
                    payload=payload,
                )
                report.fetched[kind] += 1

    # --- documents ---------------------------------------------------------------------------------

    def sync_sales(self, report: SyncReport) -> None:
        for row, raw_row in self._changed_rows("saleList", "SaleList", SALE, SaleListRow, report):
            raw = self.client.get("sale", {"ID": row.sale_id})
            sale = Sale.model_validate(raw)
            first, last = _date_span(
                [i.invoice_date for i in sale.invoices]
                + [c.credit_note_date for c in sale.credit_notes]
                + [p.date_paid for i in sale.invoices for p in i.payments]
                + [r.date_paid for c in sale.credit_notes for r in c.refunds]
            )
            voided = _voided_documents(SALE, sale)
            with self.store.session() as session:
                save_snapshot(
                    session,
                    connection_id=self.connection_id,
                    kind=SALE,
                    cin7_id=sale.id,
                    version=sale.version,
                    list_version=_row_version(raw_row, "Updated"),
                    first_date=first,
                    last_date=last,
                    payload=dump_json(raw),
                )
                self._audit_fetch(session, SALE, sale.id, sale.version, _sale_refs(sale), voided)
            report.fetched[SALE] += 1
            report.voided.extend(voided)

    def sync_purchases(self, report: SyncReport) -> None:
        for row, raw_row in self._changed_rows("purchaseList", "PurchaseList", PURCHASE, PurchaseListRow, report):
            raw = self.client.get("advanced-purchase" if row.is_advanced else "purchase", {"ID": row.id})
            purchase = Purchase.model_validate(raw)
            payments_raw: Any = None
            if any(invoice.payments is None for invoice in purchase.invoices):
                payments_raw = (
                    self.client.get("advanced-purchase/payment", {"PurchaseID": purchase.id})
                    if purchase.is_advanced
                    else self.client.get("purchase/payment", {"TaskID": purchase.id})
                ) or []
            payment_dates = [p.date_paid for i in purchase.invoices for p in (i.payments or [])]
            payment_dates += [r.date_paid for c in purchase.credit_notes for r in c.refunds]
            payment_dates += [PaymentRecord.model_validate(p).date_paid for p in payments_raw or []]
            first, last = _date_span(
                [i.invoice_date for i in purchase.invoices]
                + [c.credit_note_date for c in purchase.credit_notes]
                + payment_dates
            )
            voided = _voided_documents(PURCHASE, purchase)
            with self.store.session() as session:
                save_snapshot(
                    session,
                    connection_id=self.connection_id,
                    kind=PURCHASE,
                    cin7_id=purchase.id,
                    version=purchase.version,
                    list_version=_row_version(raw_row, "LastUpdatedDate"),
                    first_date=first,
                    last_date=last,
                    payload=dump_json(raw),
                )
                if payments_raw is not None:
                    save_snapshot(
                        session,
                        connection_id=self.connection_id,
                        kind=PURCHASE_PAYMENTS,
                        cin7_id=purchase.id,
                        version=purchase.version,
                        payload=dump_json(payments_raw),
                    )
                self._audit_fetch(session, PURCHASE, purchase.id, purchase.version, _purchase_refs(purchase), voided)
            report.fetched[PURCHASE] += 1
            report.voided.extend(voided)

    def _changed_rows(
        self,
        endpoint: str,
        list_key: str,
        kind: str,
        model: type[SaleListRow] | type[PurchaseListRow],
        report: SyncReport,
    ) -> Iterable[tuple[Any, dict[str, Any]]]:
        """The list rows whose document changed since we last read it; the cursor moves after the last."""
        cursor_name = f"{endpoint}.UpdatedSince"
        with self.store.session() as session:
            cursor = read_cursor(session, self.connection_id, cursor_name)
            known = list_versions(session, self.connection_id, kind)
        first_sync = cursor is None
        since = (None if self.full_period else cursor) or cin7_timestamp(
            dt.datetime.combine(self.horizon - FIRST_SYNC_LOOKBACK, dt.time(), tzinfo=dt.UTC)
        )
        horizon_start = dt.datetime.combine(self.horizon, dt.time(), tzinfo=dt.UTC)
        rows = list(self.client.paginate(endpoint, list_key, {"UpdatedSince": since}))
        newest: dt.datetime | None = None
        for raw_row in rows:
            row = model.model_validate(raw_row)
            updated = row.updated if isinstance(row, SaleListRow) else row.last_updated_date
            if updated is not None:
                newest = max(newest, updated) if newest else updated
            row_id = row.sale_id if isinstance(row, SaleListRow) else row.id
            version = _row_version(raw_row, "Updated" if isinstance(row, SaleListRow) else "LastUpdatedDate")
            if known.get(row_id) == version:
                report.unchanged += 1
                continue
            if (
                first_sync
                and (updated is None or updated < horizon_start)
                and (row.invoice_date is None or row.invoice_date < self.horizon)
            ):
                report.skipped_before_horizon += 1
                continue
            yield row, raw_row
        if newest is not None:
            moved = cin7_timestamp(newest - CURSOR_OVERLAP)
            if cursor is None or moved > cursor:  # a full-period pass never moves a cursor back
                with self.store.session() as session:
                    write_cursor(session, self.connection_id, cursor_name, moved)

    def _audit_fetch(
        self,
        session: Any,
        kind: str,
        cin7_id: str,
        version: str,
        refs: list[str],
        voided: list[VoidedDocument],
    ) -> None:
        record_event(
            session,
            action=f"cin7.{kind}_read",
            subject_type=kind,
            subject_id=cin7_id,
            actor=self.actor,
            connection_id=self.connection_id,
            detail={"version": version, "voided": [v.number or v.cin7_id for v in voided]},
            refs=refs,
        )


def _row_version(raw_row: dict[str, Any], key: str) -> str:
    value = parse_timestamp(raw_row.get(key))
    return value.isoformat() if value else ""


def _date_span(dates: Iterable[dt.date | None]) -> tuple[dt.date | None, dt.date | None]:
    known = [d for d in dates if d is not None]
    return (min(known), max(known)) if known else (None, None)


def _voided_documents(kind: str, parent: Sale | Purchase) -> list[VoidedDocument]:
    """What is voided in a sale or purchase: the whole order, or single invoices and credit notes."""
    if parent.status.upper() == VOIDED:
        return [VoidedDocument(kind, parent.id, parent.id, parent.order_number)]
    found = [
        VoidedDocument(f"{kind}_invoice", invoice.task_id, parent.id, invoice.invoice_number)
        for invoice in parent.invoices
        if invoice.status.upper() == VOIDED
    ]
    return found + [
        VoidedDocument(f"{kind}_credit_note", note.task_id, parent.id, note.credit_note_number)
        for note in parent.credit_notes
        if note.status.upper() == VOIDED
    ]


def _sale_refs(sale: Sale) -> list[str]:
    refs = [sale.order_number, *(i.task_id for i in sale.invoices), *(i.invoice_number for i in sale.invoices)]
    refs += [c.task_id for c in sale.credit_notes] + [c.credit_note_number for c in sale.credit_notes]
    return [ref for ref in refs if ref]


def _purchase_refs(purchase: Purchase) -> list[str]:
    refs = [purchase.order_number, *(i.task_id for i in purchase.invoices)]
    refs += [c.task_id for c in purchase.credit_notes]
    return [ref for ref in refs if ref and ref != purchase.id]
