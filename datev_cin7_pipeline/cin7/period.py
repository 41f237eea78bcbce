"""One VAT period's Cin7 documents, built from the local snapshot (no API calls).

Only AUTHORISED and PAID invoices and credit notes dated in the period are taken; drafts are counted so
they can be shown, voided ones are reported so earlier bookings can be reversed. Payments and refunds
count in the period they were paid in, whatever the date of the invoice they settle.

A bookable document or payment without a usable date (none, unparseable, or a typo such as 2062) would be
in no period anyone runs; it is taken in the period it last changed in Cin7 instead (`sync.placed_on`),
where the booking rules hold it as `missing_date` / `date_outside_period` and the period's checks name it.
A stored record with a field that does not parse is read without that field and listed in `unreadable`.
"""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, TypeVar

from datev_cin7_pipeline.cin7.client import parse_json
from datev_cin7_pipeline.cin7.models import (
    Account,
    Company,
    Customer,
    EmbeddedPayment,
    Location,
    PaymentRecord,
    Purchase,
    PurchaseCreditNote,
    PurchaseInvoice,
    Sale,
    SaleCreditNote,
    SaleInvoice,
    Supplier,
    TaxRule,
)
from datev_cin7_pipeline.cin7.sync import (
    ACCOUNT,
    BOOKABLE_STATUSES,
    COMPANY,
    CUSTOMER,
    LOCATION,
    PURCHASE,
    PURCHASE_PAYMENTS,
    SALE,
    SUPPLIER,
    TAX_RULE,
    VOIDED,
    Unreadable,
    VoidedDocument,
    changed_on,
    placed_on,
    validate_leniently,
)
from datev_cin7_pipeline.store import StateStore
from datev_cin7_pipeline.store.snapshots import SnapshotEntry, load_snapshots

_Record = TypeVar("_Record", Sale, Purchase, PaymentRecord)

PaymentDirection = Literal[
    "customer_payment",
    "customer_refund",
    "customer_prepayment",
    "supplier_payment",
    "supplier_refund",
    "supplier_prepayment",
]


@dataclass(frozen=True)
class Payment:
    """Money that moved: a payment or refund with the document it settles (for DATEV's open items)."""

    direction: PaymentDirection
    id: str
    amount: Decimal
    date_paid: dt.date | None  # None: held as missing_date in the period its document last changed in
    account: str  # the Cin7 bank/payment account code
    currency_rate: Decimal | None
    reference: str
    document_number: str  # the invoice or credit note it settles
    parent_id: str  # the sale or purchase
    party_id: str | None


@dataclass
class Cin7Period:
    start: dt.date
    end: dt.date  # exclusive
    company: Company | None = None
    accounts: dict[str, Account] = field(default_factory=dict)
    tax_rules: dict[str, TaxRule] = field(default_factory=dict)  # by name: documents name their rule
    locations: dict[str, Location] = field(default_factory=dict)
    customers: dict[str, Customer] = field(default_factory=dict)
    suppliers: dict[str, Supplier] = field(default_factory=dict)
    sale_invoices: list[tuple[Sale, SaleInvoice]] = field(default_factory=list)
    sale_credit_notes: list[tuple[Sale, SaleCreditNote]] = field(default_factory=list)
    purchase_invoices: list[tuple[Purchase, PurchaseInvoice]] = field(default_factory=list)
    purchase_credit_notes: list[tuple[Purchase, PurchaseCreditNote]] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    voided: list[VoidedDocument] = field(default_factory=list)
    not_bookable: collections.Counter[str] = field(default_factory=collections.Counter)  # status → count
    unreadable: list[Unreadable] = field(default_factory=list)  # fields of the period's records that do not parse
    # Every sale and purchase with activity in the period (also those whose invoices are from earlier
    # periods but were paid in this one), so a payment finds its invoice's currency and open item.
    sales: dict[str, Sale] = field(default_factory=dict)
    purchases: dict[str, Purchase] = field(default_factory=dict)

    def contains(self, day: dt.date | None) -> bool:
        return day is not None and self.start <= day < self.end


def load_period(store: StateStore, connection_id: int, start: dt.date, end: dt.date) -> Cin7Period:
    period = Cin7Period(start=start, end=end)
    with store.session() as session:
        snapshot = {
            kind: load_snapshots(session, connection_id, kind)
            for kind in (COMPANY, ACCOUNT, TAX_RULE, LOCATION, CUSTOMER, SUPPLIER)
        }
        sales = load_snapshots(session, connection_id, SALE, active_between=(start, end))
        purchases = load_snapshots(session, connection_id, PURCHASE, active_between=(start, end))
        purchase_payments = {
            entry.cin7_id: entry.payload
            for entry in load_snapshots(
                session, connection_id, PURCHASE_PAYMENTS, ids=[entry.cin7_id for entry in purchases]
            )
        }
    if snapshot[COMPANY]:
        period.company = Company.model_validate(parse_json(snapshot[COMPANY][0].payload))
    period.accounts = {a.code: a for a in (Account.model_validate(parse_json(e.payload)) for e in snapshot[ACCOUNT])}
    period.tax_rules = {r.name: r for r in (TaxRule.model_validate(parse_json(e.payload)) for e in snapshot[TAX_RULE])}
    period.locations = {
        loc.name: loc for loc in (Location.model_validate(parse_json(e.payload)) for e in snapshot[LOCATION])
    }
    period.customers = {c.id: c for c in (Customer.model_validate(parse_json(e.payload)) for e in snapshot[CUSTOMER])}
    period.suppliers = {s.id: s for s in (Supplier.model_validate(parse_json(e.payload)) for e in snapshot[SUPPLIER])}
    for entry in _taking(sales):
        sale = _read(period, Sale, SALE, entry.cin7_id, parse_json(entry.payload))
        if sale is not None:
            period.sales[sale.id] = sale
            _add_sale(period, sale)
    for entry in _taking(purchases):
        purchase = _read(period, Purchase, PURCHASE, entry.cin7_id, parse_json(entry.payload))
        records = purchase_payments.pop(entry.cin7_id, None)
        if purchase is None:
            continue
        period.purchases[purchase.id] = purchase
        read = [_read(period, PaymentRecord, PURCHASE_PAYMENTS, entry.cin7_id, r) for r in parse_json(records or "[]")]
        _add_purchase(period, purchase, [r for r in read if r is not None] if records else None)
    return period


def _taking(entries: list[SnapshotEntry]) -> Iterator[SnapshotEntry]:
    """The entries in their order, each let go of once read: a big month's raw JSON is not held beside the
    models made from it."""
    entries.reverse()
    while entries:
        yield entries.pop()


def _read(period: Cin7Period, model: type[_Record], kind: str, cin7_id: str, raw: object) -> _Record | None:
    """A stored record; a field that does not parse is read as empty and named in `period.unreadable`."""
    parsed, problems = validate_leniently(model, raw)
    parent = parsed.order_number if isinstance(parsed, Sale | Purchase) else ""
    period.unreadable += [Unreadable(kind, cin7_id, number or parent, problem) for number, problem in problems]
    return parsed


def _bookable(period: Cin7Period, status: str, whole_order_voided: bool) -> bool | None:
    """True: book it; False: voided (report it); None: not (yet) authorised, count it."""
    status = status.upper()
    if whole_order_voided or status == VOIDED:
        return False
    if status in BOOKABLE_STATUSES:
        return True
    period.not_bookable[status or "UNKNOWN"] += 1
    return None


def _taken(period: Cin7Period, day: dt.date | None, status: str, order_voided: bool, changed: dt.date | None) -> bool:
    """Whether a document belongs to the period: by its date, or if that is unusable by its last change."""
    bookable = not order_voided and status.upper() in BOOKABLE_STATUSES
    return period.contains(placed_on(day, bookable, changed))


def _add_sale(period: Cin7Period, sale: Sale) -> None:
    order_voided = sale.status.upper() == VOIDED
    changed = changed_on(sale.last_modified_on)
    for invoice in sale.invoices:
        taken = _taken(period, invoice.invoice_date, invoice.status, order_voided, changed)
        state = _bookable(period, invoice.status, order_voided) if taken else None
        if state:
            period.sale_invoices.append((sale, invoice))
        elif state is False:
            period.voided.append(VoidedDocument("sale_invoice", invoice.task_id, sale.id, invoice.invoice_number))
        if invoice.status.upper() in BOOKABLE_STATUSES and not order_voided:
            _add_payments(
                period, "customer_payment", invoice.payments, invoice.invoice_number, sale.id, sale.customer_id, changed
            )
    for note in sale.credit_notes:
        taken = _taken(period, note.credit_note_date, note.status, order_voided, changed)
        state = _bookable(period, note.status, order_voided) if taken else None
        if state:
            period.sale_credit_notes.append((sale, note))
        elif state is False:
            period.voided.append(VoidedDocument("sale_credit_note", note.task_id, sale.id, note.credit_note_number))
        if note.status.upper() in BOOKABLE_STATUSES and not order_voided:
            _add_payments(
                period, "customer_refund", note.refunds, note.credit_note_number, sale.id, sale.customer_id, changed
            )


def _add_purchase(period: Cin7Period, purchase: Purchase, records: list[PaymentRecord] | None) -> None:
    order_voided = purchase.status.upper() == VOIDED
    changed = changed_on(purchase.last_updated_date)
    for invoice in purchase.invoices:
        taken = _taken(period, invoice.invoice_date, invoice.status, order_voided, changed)
        state = _bookable(period, invoice.status, order_voided) if taken else None
        if state:
            period.purchase_invoices.append((purchase, invoice))
        elif state is False:
            period.voided.append(
                VoidedDocument("purchase_invoice", invoice.task_id, purchase.id, invoice.invoice_number)
            )
        if invoice.payments is not None and invoice.status.upper() in BOOKABLE_STATUSES and not order_voided:
            _add_payments(
                period,
                "supplier_payment",
                invoice.payments,
                invoice.invoice_number,
                purchase.id,
                purchase.supplier_id,
                changed,
            )
    for note in purchase.credit_notes:
        taken = _taken(period, note.credit_note_date, note.status, order_voided, changed)
        state = _bookable(period, note.status, order_voided) if taken else None
        if state:
            period.purchase_credit_notes.append((purchase, note))
        elif state is False:
            period.voided.append(
                VoidedDocument("purchase_credit_note", note.task_id, purchase.id, note.credit_note_number)
            )
        if note.status.upper() in BOOKABLE_STATUSES and not order_voided and records is None:
            _add_payments(
                period,
                "supplier_refund",
                note.refunds,
                note.credit_note_number,
                purchase.id,
                purchase.supplier_id,
                changed,
            )
    if records and not order_voided:
        _add_purchase_records(period, purchase, records, changed)


def _add_purchase_records(
    period: Cin7Period, purchase: Purchase, records: list[PaymentRecord], changed: dt.date | None
) -> None:
    """Payments read from `/purchase/payment`: match each to its invoice or credit note by task."""
    invoices = {invoice.task_id: invoice.invoice_number for invoice in purchase.invoices}
    notes = {note.task_id: note.credit_note_number for note in purchase.credit_notes}
    for record in records:
        if not period.contains(placed_on(record.date_paid, True, changed)):
            continue
        kind = record.type.strip().lower()
        direction: PaymentDirection = (
            "supplier_refund"
            if kind == "refund"
            else "supplier_prepayment"
            if kind == "prepayment"
            else "supplier_payment"
        )
        number = record.invoice_number or record.credit_note_number
        if not number:
            number = notes.get(record.task_id, "") if kind == "refund" else invoices.get(record.task_id, "")
        if not number and kind == "refund" and len(notes) == 1:
            number = next(iter(notes.values()))
        if not number and kind != "refund" and len(invoices) == 1:
            number = next(iter(invoices.values()))
        period.payments.append(
            Payment(
                direction=direction,
                id=record.id,
                amount=record.amount,
                date_paid=record.date_paid,
                account=record.account,
                currency_rate=record.currency_rate,
                reference=record.reference,
                document_number=number,
                parent_id=purchase.id,
                party_id=purchase.supplier_id,
            )
        )


def _add_payments(
    period: Cin7Period,
    direction: PaymentDirection,
    payments: list[EmbeddedPayment],
    document_number: str,
    parent_id: str,
    party_id: str | None,
    changed: dt.date | None,
) -> None:
    for payment in payments:
        if not period.contains(placed_on(payment.date_paid, True, changed)):
            continue
        period.payments.append(
            Payment(
                direction=direction,
                id=payment.id,
                amount=payment.amount,
                date_paid=payment.date_paid,
                account=payment.account,
                currency_rate=payment.currency_rate,
                reference=payment.reference,
                document_number=document_number,
                parent_id=parent_id,
                party_id=party_id,
            )
        )
