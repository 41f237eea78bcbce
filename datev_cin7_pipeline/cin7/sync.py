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
- How far back the snapshot reaches is a cursor too (`<list>.horizon`): a run for an earlier period than
  any before lists from that period again, whatever `UpdatedSince` says, so a backfill finds its documents.
- One record that does not parse (a date Cin7 should never send) does not stop the sync: the field is read
  as empty, the record is stored and named (`SyncReport.unreadable`), and a document left without a usable
  date is held in the period it last changed in (`placed_on`). A row that cannot be read at all is named
  and keeps the cursor before it, so the next sync lists it again.

Nothing is booked here; `cin7.period` builds a VAT period from the snapshot.
"""

from __future__ import annotations

import collections
import copy
import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError

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
from datev_cin7_pipeline.periods import VAT_TIMEZONE
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
BOOKABLE_STATUSES = frozenset({"AUTHORISED", "PAID"})
# On the first sync, look this far before the horizon: a document can be entered before its date.
FIRST_SYNC_LOOKBACK = dt.timedelta(days=31)
CURSOR_OVERLAP = dt.timedelta(seconds=1)
# A document dated this far from its last change in Cin7 is a typo (2062 for 2026, 0001-01-01): no VAT
# period anyone runs holds it. Nobody dates an invoice a year ahead; ten years back is the retention
# period for accounting records (§147 AO), so nothing older can still be booked.
IMPLAUSIBLY_AHEAD = dt.timedelta(days=366)
IMPLAUSIBLY_OLD = dt.timedelta(days=3653)


@dataclass(frozen=True)
class VoidedDocument:
    kind: str  # sale_invoice | sale | purchase_invoice | purchase
    cin7_id: str  # the task (invoice) id, or the order id when the whole order is voided
    parent_id: str
    number: str


@dataclass(frozen=True)
class Unreadable:
    """A Cin7 record, or a field of it, that does not parse: named so someone can correct it in Cin7."""

    kind: str  # sale | purchase | purchase_payments, or the list (saleList / purchaseList) for a row
    cin7_id: str
    number: str  # the invoice or credit note the field sits in, else the order number
    problem: str  # `Invoices[0].InvoiceDate: not a Cin7 date: '20.05.2026'`


@dataclass
class SyncReport:
    fetched: collections.Counter[str] = field(default_factory=collections.Counter)
    unchanged: int = 0
    skipped_before_horizon: int = 0
    voided: list[VoidedDocument] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)
    calls: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "fetched": dict(self.fetched),
            "unchanged": self.unchanged,
            "skipped_before_horizon": self.skipped_before_horizon,
            "voided": len(self.voided),
            "unreadable": len(self.unreadable),
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
        held_back: list[dt.datetime | None] = []
        for row, raw_row in self._changed_rows("saleList", "SaleList", SALE, SaleListRow, report, held_back):
            raw = self.client.get("sale", {"ID": row.sale_id})
            sale, problems = validate_leniently(Sale, raw)
            if sale is None:
                _name_unread(report, SALE, row.sale_id, row.invoice_number or row.order_number, problems)
                held_back.append(row.updated)
                continue
            report.unreadable += [Unreadable(SALE, sale.id, n or sale.order_number, p) for n, p in problems]
            changed = changed_on(sale.last_modified_on)
            live = sale.status.upper() != VOIDED
            days = [placed_on(i.invoice_date, _live(i.status, live), changed) for i in sale.invoices]
            days += [placed_on(c.credit_note_date, _live(c.status, live), changed) for c in sale.credit_notes]
            days += [placed_on(p.date_paid, _live(i.status, live), changed) for i in sale.invoices for p in i.payments]
            days += [
                placed_on(r.date_paid, _live(c.status, live), changed) for c in sale.credit_notes for r in c.refunds
            ]
            first, last = _date_span(days)
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
        held_back: list[dt.datetime | None] = []
        rows = self._changed_rows("purchaseList", "PurchaseList", PURCHASE, PurchaseListRow, report, held_back)
        for row, raw_row in rows:
            raw = self.client.get("advanced-purchase" if row.is_advanced else "purchase", {"ID": row.id})
            purchase, problems = validate_leniently(Purchase, raw)
            if purchase is None:
                _name_unread(report, PURCHASE, row.id, row.invoice_number or row.order_number, problems)
                held_back.append(row.last_updated_date)
                continue
            report.unreadable += [Unreadable(PURCHASE, purchase.id, n or purchase.order_number, p) for n, p in problems]
            payments_raw: Any = None
            if any(invoice.payments is None for invoice in purchase.invoices):
                payments_raw = (
                    self.client.get("advanced-purchase/payment", {"PurchaseID": purchase.id})
                    if purchase.is_advanced
                    else self.client.get("purchase/payment", {"TaskID": purchase.id})
                ) or []
            changed = changed_on(purchase.last_updated_date)
            live = purchase.status.upper() != VOIDED
            days = [placed_on(i.invoice_date, _live(i.status, live), changed) for i in purchase.invoices]
            days += [placed_on(c.credit_note_date, _live(c.status, live), changed) for c in purchase.credit_notes]
            days += [
                placed_on(p.date_paid, _live(i.status, live), changed)
                for i in purchase.invoices
                for p in i.payments or []
            ]
            days += [
                placed_on(r.date_paid, _live(c.status, live), changed) for c in purchase.credit_notes for r in c.refunds
            ]
            for record_raw in payments_raw or []:
                record, problems = validate_leniently(PaymentRecord, record_raw)
                report.unreadable += [
                    Unreadable(PURCHASE_PAYMENTS, purchase.id, n or purchase.order_number, p) for n, p in problems
                ]
                if record is not None:
                    days.append(placed_on(record.date_paid, live, changed))
            first, last = _date_span(days)
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
        held_back: list[dt.datetime | None],
    ) -> Iterable[tuple[Any, dict[str, Any]]]:
        """The list rows whose document changed since we last read it; the cursor moves after the last.

        `held_back` collects when each row that could not be read changed (rows here, documents in the caller);
        the cursor stays before the earliest, so the next sync lists them again.
        """
        cursor_name, horizon_name = f"{endpoint}.UpdatedSince", f"{endpoint}.horizon"
        with self.store.session() as session:
            cursor = read_cursor(session, self.connection_id, cursor_name)
            reach = read_cursor(session, self.connection_id, horizon_name)
            known = list_versions(session, self.connection_id, kind)
        first_sync = cursor is None
        # The snapshot holds what changed since `reach` (less the lookback) and after; an earlier period's
        # documents changed before the cursor, so list from that period again. A snapshot from before the
        # reach was recorded is of unknown depth: list once from this horizon.
        backfill = not first_sync and (reach is None or self.horizon < dt.date.fromisoformat(reach))
        since = (None if self.full_period or backfill else cursor) or cin7_timestamp(
            dt.datetime.combine(self.horizon - FIRST_SYNC_LOOKBACK, dt.time(), tzinfo=dt.UTC)
        )
        horizon_start = dt.datetime.combine(self.horizon, dt.time(), tzinfo=dt.UTC)
        rows = list(self.client.paginate(endpoint, list_key, {"UpdatedSince": since}))
        newest: dt.datetime | None = None
        for raw_row in rows:
            row, problems = validate_leniently(model, raw_row)
            if row is None:
                number = str(raw_row.get("InvoiceNumber") or raw_row.get("OrderNumber") or "")
                row_id = str(raw_row.get("SaleID" if model is SaleListRow else "ID") or "")
                _name_unread(report, endpoint, row_id, number, problems)
                held_back.append(_moment(raw_row.get("Updated" if model is SaleListRow else "LastUpdatedDate")))
                continue
            updated = row.updated if isinstance(row, SaleListRow) else row.last_updated_date
            if updated is not None:
                newest = max(newest, updated) if newest else updated
            row_id = row.sale_id if isinstance(row, SaleListRow) else row.id
            version = _row_version(raw_row, "Updated" if isinstance(row, SaleListRow) else "LastUpdatedDate")
            if known.get(row_id) == version:
                report.unchanged += 1
                continue
            if (
                (first_sync or backfill)
                and (updated is None or updated < horizon_start)
                and (row.invoice_date is None or row.invoice_date < self.horizon)
            ):
                report.skipped_before_horizon += 1
                continue
            # A row field that does not parse was read as empty; the document read next names it.
            yield row, raw_row
        moved = cin7_timestamp(newest - CURSOR_OVERLAP) if newest is not None else None
        target = max(moved, cursor) if moved and cursor else moved or cursor  # a full-period pass never goes back
        if held_back:  # but what could not be read is listed again (when it changed unknown: this whole list)
            since_moment = parse_timestamp(since) or horizon_start
            again = cin7_timestamp(min(moment or since_moment for moment in held_back) - CURSOR_OVERLAP)
            target = min(target, again) if target else again
        with self.store.session() as session:
            if target is not None and target != cursor:
                write_cursor(session, self.connection_id, cursor_name, target)
            if reach is None or self.horizon < dt.date.fromisoformat(reach):
                write_cursor(session, self.connection_id, horizon_name, self.horizon.isoformat())

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
    value = _moment(raw_row.get(key))
    return value.isoformat() if value else str(raw_row.get(key) or "")


def _moment(value: Any) -> dt.datetime | None:
    try:
        return parse_timestamp(value)
    except ValueError:
        return None


Model = TypeVar("Model", bound=BaseModel)


def validate_leniently(model: type[Model], raw: Any) -> tuple[Model | None, list[tuple[str, str]]]:
    """`raw` as `model`, reading each field that does not parse as empty; also (number, problem) per such field.

    None when the record cannot be read even so (its id is what fails, or its shape). One bad value then
    holds back one document, not the whole sync and every period after it.
    """
    try:
        return model.model_validate(raw), []
    except ValidationError as exc:
        errors = exc.errors()
    patched = copy.deepcopy(raw)  # the stored payload keeps what Cin7 sent
    problems: list[tuple[str, str]] = []
    blanked: set[tuple[Any, ...]] = set()
    while True:
        for error in errors:
            location = tuple(error["loc"])
            number, found = _blank(patched, location)
            problems.append((number, f"{_field_path(location)}: {str(error['msg']).removeprefix('Value error, ')}"))
            if not found or location in blanked:
                return None, problems
            blanked.add(location)
        try:
            return model.model_validate(patched), problems
        except ValidationError as exc:
            errors = exc.errors()


def _blank(data: Any, location: tuple[Any, ...]) -> tuple[str, bool]:
    """Set the field at a pydantic error location to None; also the invoice or credit note number it is in."""
    number, node = "", data
    for step, part in enumerate(location):
        if isinstance(node, dict):
            number = str(node.get("InvoiceNumber") or node.get("CreditNoteNumber") or "") or number
            if step == len(location) - 1:
                if isinstance(part, str) and node.get(part) is not None:
                    node[part] = None
                    return number, True
                return number, False
            if isinstance(part, str) and isinstance(node.get(part), dict | list):
                node = node[part]
            elif part != 0:  # 0: a simple purchase's one Invoice object read as a one-element list
                return number, False
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return number, False
    return number, False


def _field_path(location: tuple[Any, ...]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in location).lstrip(".") or "record"


def _name_unread(report: SyncReport, kind: str, cin7_id: str, number: str, problems: list[tuple[str, str]]) -> None:
    text = "; ".join(problem for _, problem in problems)
    report.unreadable.append(Unreadable(kind, cin7_id, number, f"{text} (not stored; listed again on the next sync)"))


def changed_on(moment: dt.datetime | None) -> dt.date | None:
    """The German calendar day a document last changed in Cin7 (VAT periods are German days)."""
    return moment.astimezone(ZoneInfo(VAT_TIMEZONE)).date() if moment else None


def placed_on(day: dt.date | None, bookable: bool, changed: dt.date | None) -> dt.date | None:
    """The day that puts a document or payment in a VAT period: its own date, or for a bookable one without a
    usable date (none, or a typo no period will ever hold) the day it last changed in Cin7, so that it is
    held (missing_date / date_outside_period) in a period that runs instead of being in none."""
    if not bookable or changed is None:
        return day
    if day is None or day > changed + IMPLAUSIBLY_AHEAD or day < changed - IMPLAUSIBLY_OLD:
        return changed
    return day


def _live(status: str, parent_live: bool) -> bool:
    return parent_live and status.upper() in BOOKABLE_STATUSES


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
