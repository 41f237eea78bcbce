"""The four Cin7 document kinds and payments in one shape, so the booking rules are written once.

A sale invoice, a sale credit note, a supplier invoice and a supplier credit note differ only in side
(sale/purchase), direction (invoice/credit) and where Cin7 keeps the currency, rate and number. This
module flattens them into `SourceDocument`, and a period's payments into `SourcePayment` (with the
currency and the open item they settle, looked up in their sale or purchase).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from datev_cin7_pipeline.cin7.models import (
    Company,
    Customer,
    DocumentLine,
    EmbeddedPayment,
    Purchase,
    PurchaseCreditNote,
    PurchaseInvoice,
    Sale,
    SaleCreditNote,
    SaleInvoice,
    Supplier,
    TaxRule,
)
from datev_cin7_pipeline.cin7.period import BOOKABLE_STATUSES, Cin7Period, Payment
from datev_cin7_pipeline.mapping.config import DocumentKind, Side

Parent = Sale | Purchase


@dataclass(frozen=True)
class SourceDocument:
    """An invoice or credit note with what booking needs, whatever its Cin7 kind."""

    kind: DocumentKind
    task_id: str
    parent_id: str
    number: str  # the document's own Cin7 number
    open_item_number: str  # the invoice whose open item it books onto (a credit note: the credited invoice)
    order_number: str
    date: dt.date | None
    due_date: dt.date | None
    currency: str
    base_currency: str
    rate: Decimal | None  # Cin7's CurrencyRate, in Cin7's direction
    inclusive: bool
    lines: tuple[DocumentLine, ...]
    total: Decimal
    tax: Decimal
    total_before_tax: Decimal
    party_id: str | None
    party_name: str
    location: str
    sales_representative: str
    header_tax_rule: str
    default_account: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    version: str = ""

    # Plain properties, not cached ones: a cached value in the instance dict would cost every document
    # its shared-key dict (tens of megabytes for a large period) to save little time.
    @property
    def side(self) -> Side:
        return "sale" if self.kind.startswith("sale") else "purchase"

    @property
    def is_credit(self) -> bool:
        return self.kind.endswith("credit_note")


@dataclass(frozen=True)
class SourcePayment:
    """A payment or refund, with the currency and open item taken from the document it settles."""

    kind: str  # the Cin7 direction: customer_payment | customer_refund | supplier_payment | …
    payment_id: str
    parent_id: str
    number: str  # the invoice or credit note number Cin7 gives for it
    open_item_number: str  # the invoice number whose open item it clears
    amount: Decimal
    date: dt.date | None
    account: str  # Cin7 bank account code
    currency: str  # "" when neither its sale/purchase nor the party tells
    base_currency: str
    rate: Decimal | None
    party_id: str | None
    party_name: str
    reference: str
    order_number: str
    cash_discount: Decimal | None = None
    version: str = ""

    @property
    def side(self) -> Side:
        return "sale" if self.kind.startswith("customer") else "purchase"


def fingerprint(*parts: Any) -> str:
    """A 16-hex-digit version of booking-relevant content.

    Not Cin7's LastModifiedOn: that moves whenever a payment is added to the sale, which would make
    every paid invoice look changed and trigger a reversal of an unchanged booking.
    """
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _inclusive(calculation: str, header_rule: str, tax_rules: Mapping[str, TaxRule]) -> bool:
    """Tax-inclusive from the header's TaxCalculation, else from the header tax rule (cin7 FACTS §9)."""
    mode = calculation.strip().lower()
    if mode:
        return mode == "inclusive"
    rule = tax_rules.get(header_rule)
    return bool(rule and rule.tax_inclusive)


def _base(parent_base: str, company: Company | None) -> str:
    return parent_base or (company.currency if company else "")


def _dump(model: Any, exclude: set[str]) -> Any:
    return model.model_dump(mode="json", exclude=exclude)


def sale_invoice_document(
    sale: Sale, invoice: SaleInvoice, company: Company | None, tax_rules: Mapping[str, TaxRule]
) -> SourceDocument:
    base = _base(sale.base_currency, company)
    return SourceDocument(
        kind="sale_invoice",
        task_id=invoice.task_id,
        parent_id=sale.id,
        number=invoice.invoice_number,
        open_item_number=invoice.invoice_number,
        order_number=sale.order_number,
        date=invoice.invoice_date,
        due_date=invoice.invoice_due_date,
        currency=sale.customer_currency or base,
        base_currency=base,
        rate=invoice.currency_conversion_rate or sale.currency_rate,
        inclusive=_inclusive(sale.tax_calculation, sale.tax_rule, tax_rules),
        lines=(*invoice.lines, *invoice.additional_charges),
        total=invoice.total,
        tax=invoice.tax,
        total_before_tax=invoice.total_before_tax,
        party_id=sale.customer_id,
        party_name=sale.customer,
        location=sale.location,
        sales_representative=sale.sales_representative,
        header_tax_rule=sale.tax_rule,
        default_account=sale.default_account,
        attributes=sale.additional_attributes,
        version=fingerprint(_sale_header(sale), _dump(invoice, {"payments", "paid", "status"})),
    )


def credited_sale_invoice(sale: Sale, note: SaleCreditNote) -> str:
    """The invoice a sale credit note credits: its own field, else the sale's only invoice."""
    if note.credit_note_invoice_number:
        return note.credit_note_invoice_number
    numbers = [invoice.invoice_number for invoice in sale.invoices if invoice.invoice_number]
    return numbers[0] if len(numbers) == 1 else note.credit_note_number


def sale_credit_note_document(
    sale: Sale, note: SaleCreditNote, company: Company | None, tax_rules: Mapping[str, TaxRule]
) -> SourceDocument:
    base = _base(sale.base_currency, company)
    return SourceDocument(
        kind="sale_credit_note",
        task_id=note.task_id,
        parent_id=sale.id,
        number=note.credit_note_number,
        open_item_number=credited_sale_invoice(sale, note),
        order_number=sale.order_number,
        date=note.credit_note_date,
        due_date=None,
        currency=sale.customer_currency or base,
        base_currency=base,
        rate=note.credit_note_conversion_rate or sale.currency_rate,
        inclusive=_inclusive(sale.tax_calculation, sale.tax_rule, tax_rules),
        lines=(*note.lines, *note.additional_charges),
        total=note.total,
        tax=note.tax,
        total_before_tax=note.total_before_tax,
        party_id=sale.customer_id,
        party_name=sale.customer,
        location=sale.location,
        sales_representative=sale.sales_representative,
        header_tax_rule=sale.tax_rule,
        default_account=sale.default_account,
        attributes=sale.additional_attributes,
        version=fingerprint(_sale_header(sale), _dump(note, {"refunds", "status"})),
    )


def purchase_invoice_key(purchase: Purchase, invoice: PurchaseInvoice) -> str:
    """The open-item number of a supplier invoice: the supplier's number, else the purchase order number
    (supplier numbers are typed in by hand and may be empty)."""
    return invoice.invoice_number or purchase.order_number


def credited_purchase_invoice(purchase: Purchase, note: PurchaseCreditNote) -> str:
    if note.credit_note_invoice_number:
        return note.credit_note_invoice_number
    keys = [purchase_invoice_key(purchase, invoice) for invoice in purchase.invoices]
    keys = [key for key in keys if key]
    return keys[0] if len(keys) == 1 else note.credit_note_number


def purchase_invoice_document(
    purchase: Purchase, invoice: PurchaseInvoice, company: Company | None, tax_rules: Mapping[str, TaxRule]
) -> SourceDocument:
    base = _base(purchase.base_currency, company)
    return SourceDocument(
        kind="purchase_invoice",
        task_id=invoice.task_id or purchase.id,
        parent_id=purchase.id,
        number=invoice.invoice_number,
        open_item_number=purchase_invoice_key(purchase, invoice),
        order_number=purchase.order_number,
        date=invoice.invoice_date,
        due_date=invoice.invoice_due_date,
        currency=purchase.supplier_currency or base,
        base_currency=base,
        rate=purchase.currency_rate,
        inclusive=_inclusive(purchase.tax_calculation, purchase.tax_rule, tax_rules),
        lines=(*invoice.lines, *invoice.additional_charges),
        total=invoice.total,
        tax=invoice.tax,
        total_before_tax=invoice.total_before_tax,
        party_id=purchase.supplier_id,
        party_name=purchase.supplier,
        location=purchase.location,
        sales_representative="",
        header_tax_rule=purchase.tax_rule,
        default_account=purchase.inventory_account,
        attributes=purchase.additional_attributes,
        version=fingerprint(_purchase_header(purchase), _dump(invoice, {"payments", "paid", "status"})),
    )


def purchase_credit_note_document(
    purchase: Purchase, note: PurchaseCreditNote, company: Company | None, tax_rules: Mapping[str, TaxRule]
) -> SourceDocument:
    base = _base(purchase.base_currency, company)
    return SourceDocument(
        kind="purchase_credit_note",
        task_id=note.task_id or purchase.id,
        parent_id=purchase.id,
        number=note.credit_note_number,
        open_item_number=credited_purchase_invoice(purchase, note),
        order_number=purchase.order_number,
        date=note.credit_note_date,
        due_date=None,
        currency=purchase.supplier_currency or base,
        base_currency=base,
        rate=purchase.currency_rate,
        inclusive=_inclusive(purchase.tax_calculation, purchase.tax_rule, tax_rules),
        lines=(*note.lines, *note.additional_charges),
        total=note.total,
        tax=note.tax,
        total_before_tax=note.total_before_tax,
        party_id=purchase.supplier_id,
        party_name=purchase.supplier,
        location=purchase.location,
        sales_representative="",
        header_tax_rule=purchase.tax_rule,
        default_account=purchase.inventory_account,
        attributes=purchase.additional_attributes,
        version=fingerprint(_purchase_header(purchase), _dump(note, {"refunds", "status"})),
    )


def _sale_header(sale: Sale) -> Any:
    return _dump(
        sale,
        {"invoices", "credit_notes", "attachments", "last_modified_on", "status", "billing_address"},
    )


def _purchase_header(purchase: Purchase) -> Any:
    return _dump(purchase, {"invoices", "credit_notes", "attachments", "last_updated_date", "status"})


def period_documents(period: Cin7Period) -> list[SourceDocument]:
    """The period's bookable invoices and credit notes, sales first, in the period's order."""
    return list(iter_period_documents(period))


def iter_period_documents(period: Cin7Period) -> Iterator[SourceDocument]:
    """`period_documents` one at a time, for a caller that needs each only briefly."""
    company, rules = period.company, period.tax_rules
    yield from (sale_invoice_document(sale, invoice, company, rules) for sale, invoice in period.sale_invoices)
    yield from (sale_credit_note_document(sale, note, company, rules) for sale, note in period.sale_credit_notes)
    yield from (purchase_invoice_document(p, invoice, company, rules) for p, invoice in period.purchase_invoices)
    yield from (purchase_credit_note_document(p, note, company, rules) for p, note in period.purchase_credit_notes)


def period_parents(period: Cin7Period) -> dict[str, Parent]:
    """The sales and purchases the period's documents and payments belong to, by id."""
    parents: dict[str, Parent] = {**period.sales, **period.purchases}
    for sale, _ in (*period.sale_invoices, *period.sale_credit_notes):
        parents[sale.id] = sale
    for purchase, _ in (*period.purchase_invoices, *period.purchase_credit_notes):
        parents[purchase.id] = purchase
    return parents


# --- payments ------------------------------------------------------------------------------------


def source_payment(
    payment: Payment,
    parent: Parent | None,
    company: Company | None,
    parties: Mapping[str, Customer | Supplier],
    *,
    cash_discount_percent: Decimal | None = None,
) -> SourcePayment:
    """A period payment with its currency and open item; `parent` is its sale/purchase if known.

    Without the parent, the currency comes from the customer/supplier master data and the open item is
    the number Cin7 gives (for a refund: the credit note's number, since the credited invoice is unknown).
    """
    party = parties.get(payment.party_id or "")
    base = _base(parent.base_currency if parent else "", company)
    currency = _payment_currency(parent, party, base)
    open_item, discount = payment.document_number, None
    if isinstance(parent, Sale):
        open_item = _sale_open_item(parent, payment)
        discount = _sale_cash_discount(parent, payment, cash_discount_percent)
    elif isinstance(parent, Purchase):
        open_item = _purchase_open_item(parent, payment)
        discount = _purchase_cash_discount(parent, payment, cash_discount_percent)
    return SourcePayment(
        kind=payment.direction,
        payment_id=payment.id,
        parent_id=payment.parent_id,
        number=payment.document_number,
        open_item_number=open_item,
        amount=payment.amount,
        date=payment.date_paid,
        account=payment.account,
        currency=currency,
        base_currency=base,
        rate=payment.currency_rate,
        party_id=payment.party_id,
        party_name=_party_name(parent, party),
        reference=payment.reference,
        order_number=parent.order_number if parent else "",
        cash_discount=discount,
        version=fingerprint(
            payment.direction,
            payment.amount,
            payment.date_paid,
            payment.account,
            payment.currency_rate,
            open_item,
            currency,
            discount,
        ),
    )


def _payment_currency(parent: Parent | None, party: Customer | Supplier | None, base: str) -> str:
    if isinstance(parent, Sale):
        return parent.customer_currency or base
    if isinstance(parent, Purchase):
        return parent.supplier_currency or base
    if party is not None and party.currency:
        return party.currency
    return ""


def _party_name(parent: Parent | None, party: Customer | Supplier | None) -> str:
    if isinstance(parent, Sale) and parent.customer:
        return parent.customer
    if isinstance(parent, Purchase) and parent.supplier:
        return parent.supplier
    return party.name if party else ""


def _sale_open_item(sale: Sale, payment: Payment) -> str:
    if payment.direction == "customer_refund":
        for note in sale.credit_notes:
            if note.credit_note_number == payment.document_number:
                return credited_sale_invoice(sale, note)
    return payment.document_number


def _purchase_open_item(purchase: Purchase, payment: Payment) -> str:
    if payment.direction == "supplier_refund":
        for note in purchase.credit_notes:
            if note.credit_note_number == payment.document_number:
                return credited_purchase_invoice(purchase, note)
        return payment.document_number
    for invoice in purchase.invoices:
        if payment.document_number in (invoice.invoice_number, purchase_invoice_key(purchase, invoice)):
            return purchase_invoice_key(purchase, invoice)
    return payment.document_number


def _shortfall(
    total: Decimal,
    status: str,
    payments: Iterable[EmbeddedPayment],
    credited: Decimal,
    this_payment: str,
    percent: Decimal | None,
) -> Decimal | None:
    """Skonto: a PAID invoice settled short by at most `percent` %, charged to its last payment."""
    paid = list(payments)
    if percent is None or status.upper() != "PAID" or not paid or total <= 0:
        return None
    last = max(paid, key=lambda p: (p.date_paid or dt.date.min, p.id))
    if last.id != this_payment:
        return None
    missing = total - credited - sum((p.amount for p in paid), Decimal(0))
    if Decimal(0) < missing <= total * percent / 100:
        return missing
    return None


def _sale_cash_discount(sale: Sale, payment: Payment, percent: Decimal | None) -> Decimal | None:
    if payment.direction != "customer_payment":
        return None
    for invoice in sale.invoices:
        if invoice.invoice_number == payment.document_number:
            notes = [n for n in sale.credit_notes if credited_sale_invoice(sale, n) == invoice.invoice_number]
            credited = sum(
                (n.total - sum((r.amount for r in n.refunds), Decimal(0)) for n in notes if _bookable(n.status)),
                Decimal(0),
            )
            return _shortfall(invoice.total, invoice.status, invoice.payments, credited, payment.id, percent)
    return None


def _purchase_cash_discount(purchase: Purchase, payment: Payment, percent: Decimal | None) -> Decimal | None:
    if payment.direction != "supplier_payment":
        return None
    for invoice in purchase.invoices:
        key = purchase_invoice_key(purchase, invoice)
        if key == payment.document_number or invoice.invoice_number == payment.document_number:
            notes = [n for n in purchase.credit_notes if credited_purchase_invoice(purchase, n) == key]
            credited = sum(
                (n.total - sum((r.amount for r in n.refunds), Decimal(0)) for n in notes if _bookable(n.status)),
                Decimal(0),
            )
            return _shortfall(invoice.total, invoice.status, invoice.payments or [], credited, payment.id, percent)
    return None


def _bookable(status: str) -> bool:
    return status.upper() in BOOKABLE_STATUSES
