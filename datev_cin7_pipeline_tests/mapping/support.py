"""Test support: the demo company's master data, a completed mapping per chart, document builders, and
a period built through the real snapshot store (`cin7.period.load_period`)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any

import yaml

from datev_cin7_pipeline.cin7.client import dump_json, parse_json
from datev_cin7_pipeline.cin7.models import (
    Account,
    Company,
    Customer,
    Location,
    PaymentRecord,
    Purchase,
    Sale,
    Supplier,
    TaxRule,
)
from datev_cin7_pipeline.cin7.period import Cin7Period, load_period
from datev_cin7_pipeline.cin7.sync import (
    ACCOUNT,
    COMPANY,
    CUSTOMER,
    LOCATION,
    PURCHASE,
    PURCHASE_PAYMENTS,
    SALE,
    SUPPLIER,
    TAX_RULE,
)
from datev_cin7_pipeline.datev.bookings import BookingLine
from datev_cin7_pipeline.mapping import MappingConfig, mapping_starter, parse_mapping
from datev_cin7_pipeline.mapping.config import Chart
from datev_cin7_pipeline.sandbox.cin7 import Cin7Dataset, demo_dataset
from datev_cin7_pipeline.sandbox.cin7.demo_company import CUSTOMERS, SUPPLIERS
from datev_cin7_pipeline.store import StateStore
from datev_cin7_pipeline.store.connections import ensure_connection
from datev_cin7_pipeline.store.snapshots import save_snapshot

TODAY = dt.date(2026, 6, 15)
START, END = dt.date(2026, 3, 1), dt.date(2026, 4, 1)
DAY = dt.date(2026, 3, 10)
CHARTS: tuple[Chart, ...] = ("skr03", "skr04")

# The DATEV accounts the tests expect, by role, per chart (FACTS §7.3 and the presets).
ACCOUNTS: dict[str, dict[str, int]] = {
    "skr03": {
        "rev19": 8400,
        "rev7": 8300,
        "igl": 8125,
        "export": 8120,
        "goods19": 3400,
        "goods7": 3300,
        "goods_plain": 3200,
        "ige19": 3425,
        "ige7": 3420,
        "rc": 3123,
        "eust": 1588,
        "inbound": 3800,
        "freight_out": 4730,
        "bank": 1200,
        "bank_usd": 1210,
        "paypal": 1220,
        "rounding": 1590,
    },
    "skr04": {
        "rev19": 4400,
        "rev7": 4300,
        "igl": 4125,
        "export": 4120,
        "goods19": 5400,
        "goods7": 5300,
        "goods_plain": 5200,
        "ige19": 5425,
        "ige7": 5420,
        "rc": 5923,
        "eust": 1433,
        "inbound": 5800,
        "freight_out": 6740,
        "bank": 1800,
        "bank_usd": 1810,
        "paypal": 1820,
        "rounding": 1370,
    },
}
# First personal accounts handed out by a fresh registry with the preset ranges.
D1, D2, C1, C2 = 10001, 10002, 70001, 70002


def roundtrip(payload: Any) -> Any:
    """JSON as the API would deliver it: amounts parsed as Decimal."""
    return parse_json(dump_json(payload))


@cache
def demo() -> Cin7Dataset:
    return demo_dataset(1, TODAY)


@dataclass(frozen=True)
class Master:
    company: Company
    accounts: dict[str, Account]
    tax_rules: dict[str, TaxRule]
    locations: dict[str, Location]
    customers: dict[str, Customer]  # by the demo's key ("hafenblick", …)
    suppliers: dict[str, Supplier]


@cache
def master() -> Master:
    data = demo()
    customers = {c["Name"]: Customer.model_validate(roundtrip(c)) for c in data.customers}
    suppliers = {s["Name"]: Supplier.model_validate(roundtrip(s)) for s in data.suppliers}
    return Master(
        Company.model_validate(roundtrip(data.me)),
        {a["Code"]: Account.model_validate(roundtrip(a)) for a in data.accounts},
        {r["Name"]: TaxRule.model_validate(roundtrip(r)) for r in data.tax_rules},
        {loc["Name"]: Location.model_validate(roundtrip(loc)) for loc in data.locations},
        {spec.key: customers[spec.name] for spec in CUSTOMERS},
        {spec.key: suppliers[spec.name] for spec in SUPPLIERS},
    )


def completion(chart: Chart) -> dict[str, Any]:
    """The decisions the starter leaves open for the demo company (what a user would fill in)."""
    a = ACCOUNTS[chart]
    return {
        "datev": {"consultant_number": 29098, "client_number": 55003},
        "accounts": {"3980": a["goods19"]},
        "payment_accounts": {"1210": a["bank_usd"], "1220": a["paypal"]},
        "cost_centres": {"kost1": {"values": {"Hamburg": "100", "München": "200"}}},
    }


def merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        merged[key] = merge(merged.get(key) or {}, value) if isinstance(value, dict) else value
    return merged


def starter_text(chart: Chart) -> str:
    m = master()
    return mapping_starter(chart, m.accounts.values(), m.tax_rules.values(), m.locations.values())


def demo_mapping_dict(chart: Chart, **changes: Any) -> dict[str, Any]:
    data = merge(yaml.safe_load(starter_text(chart)), completion(chart))
    return merge(data, changes)


def demo_mapping(chart: Chart, **changes: Any) -> MappingConfig:
    return parse_mapping(demo_mapping_dict(chart, **changes))


# --- documents ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class L:
    """A document line: net (or gross for an inclusive document) total, tax, rule, Cin7 account."""

    total: str
    tax: str
    rule: str
    account: str
    name: str = "Ware"
    quantity: str = "1"
    price: str | None = None
    discount: str = "0"

    def json(self) -> dict[str, Any]:
        return {
            "Name": self.name,
            "Quantity": Decimal(self.quantity),
            "Price": Decimal(self.price or self.total),
            "Discount": Decimal(self.discount),
            "Tax": Decimal(self.tax),
            "Total": Decimal(self.total),
            "TaxRule": self.rule,
            "Account": self.account,
        }


def _totals(lines: Sequence[L], charges: Sequence[L], inclusive: bool) -> dict[str, Decimal]:
    every = [*lines, *charges]
    total = sum((Decimal(line.total) for line in every), Decimal(0))
    tax = sum((Decimal(line.tax) for line in every), Decimal(0))
    if inclusive:
        return {"TotalBeforeTax": total - tax, "Tax": tax, "Total": total}
    return {"TotalBeforeTax": total, "Tax": tax, "Total": total + tax}


def payment(pid: str, amount: str, day: dt.date = DAY, account: str = "1200", rate: str = "1") -> dict[str, Any]:
    return {
        "ID": pid,
        "Amount": Decimal(amount),
        "DatePaid": f"{day.isoformat()}T00:00:00",
        "Account": account,
        "CurrencyRate": Decimal(rate),
        "Reference": "",
    }


@dataclass
class SaleSpec:
    customer: str
    lines: Sequence[L] = ()
    charges: Sequence[L] = ()
    number: str = "INV-1001"
    day: dt.date = DAY
    inclusive: bool = False
    currency: str | None = None
    rate: str = "1"
    status: str = "AUTHORISED"
    payments: Sequence[dict[str, Any]] = ()
    credit_notes: Sequence[dict[str, Any]] = ()
    totals: dict[str, str] = field(default_factory=dict)  # overrides (rounding cases)
    sale_id: str = "sale-1"
    task_id: str = "task-inv-1"


def sale(spec: SaleSpec) -> Sale:
    customer = master().customers[spec.customer]
    totals = {**_totals(spec.lines, spec.charges, spec.inclusive), **{k: Decimal(v) for k, v in spec.totals.items()}}
    invoice = {
        "TaskID": spec.task_id,
        "InvoiceNumber": spec.number,
        "InvoiceDate": f"{spec.day.isoformat()}T00:00:00",
        "InvoiceDueDate": f"{(spec.day + dt.timedelta(days=14)).isoformat()}T00:00:00",
        "Status": spec.status,
        "CurrencyConversionRate": Decimal(spec.rate),
        "Lines": [line.json() for line in spec.lines],
        "AdditionalCharges": [charge.json() for charge in spec.charges],
        "Payments": list(spec.payments),
        **totals,
    }
    body = {
        "ID": spec.sale_id,
        "Customer": customer.name,
        "CustomerID": customer.id,
        "BaseCurrency": "EUR",
        "CustomerCurrency": spec.currency or customer.currency,
        "CurrencyRate": Decimal(spec.rate),
        "TaxRule": customer.tax_rule,
        "TaxCalculation": "Inclusive" if spec.inclusive else "Exclusive",
        "Location": customer.location,
        "SalesRepresentative": customer.sales_representative,
        "Order": {"SaleOrderNumber": "SO-0042"},
        "Status": "INVOICED",
        "Invoices": [invoice],
        "CreditNotes": list(spec.credit_notes),
        "LastModifiedOn": "2026-03-10T10:00:00Z",
    }
    return Sale.model_validate(roundtrip(body))


def credit_note(
    number: str,
    invoice_number: str,
    lines: Sequence[L],
    *,
    day: dt.date = DAY,
    refunds: Sequence[dict[str, Any]] = (),
    task_id: str = "task-cn-1",
    inclusive: bool = False,
) -> dict[str, Any]:
    return {
        "TaskID": task_id,
        "CreditNoteNumber": number,
        "CreditNoteInvoiceNumber": invoice_number,
        "CreditNoteDate": f"{day.isoformat()}T00:00:00",
        "Status": "AUTHORISED",
        "Lines": [line.json() for line in lines],
        "AdditionalCharges": [],
        "Refunds": list(refunds),
        **_totals(lines, (), inclusive),
    }


@dataclass
class PurchaseSpec:
    supplier: str
    lines: Sequence[L] = ()
    charges: Sequence[L] = ()
    number: str = "RE-4711"
    day: dt.date = DAY
    currency: str | None = None
    rate: str = "1"
    status: str = "AUTHORISED"
    payments: Sequence[dict[str, Any]] | None = ()
    credit_note: dict[str, Any] | None = None
    purchase_id: str = "purchase-1"
    order_number: str = "PO-0007"


def purchase(spec: PurchaseSpec) -> Purchase:
    supplier = master().suppliers[spec.supplier]
    invoice: dict[str, Any] = {
        "InvoiceNumber": spec.number,
        "InvoiceDate": f"{spec.day.isoformat()}T00:00:00",
        "InvoiceDueDate": f"{(spec.day + dt.timedelta(days=30)).isoformat()}T00:00:00",
        "Status": spec.status,
        "Lines": [line.json() for line in spec.lines],
        "AdditionalCharges": [charge.json() for charge in spec.charges],
        **_totals(spec.lines, spec.charges, False),
    }
    if spec.payments is not None:
        invoice["Payments"] = list(spec.payments)
    body: dict[str, Any] = {
        "ID": spec.purchase_id,
        "Type": "Simple Purchase",
        "Supplier": supplier.name,
        "SupplierID": supplier.id,
        "OrderNumber": spec.order_number,
        "BaseCurrency": "EUR",
        "SupplierCurrency": spec.currency or supplier.currency,
        "CurrencyRate": Decimal(spec.rate),
        "TaxRule": supplier.tax_rule,
        "TaxCalculation": "Exclusive",
        "Location": _supplier_location(spec.supplier),
        "InventoryAccount": "3980",
        "Status": "INVOICED",
        "Invoice": invoice,
        "LastUpdatedDate": "2026-03-10T10:00:00Z",
    }
    if spec.credit_note is not None:
        body["CreditNote"] = spec.credit_note
    return Purchase.model_validate(roundtrip(body))


def _supplier_location(key: str) -> str:
    return next(spec.location for spec in SUPPLIERS if spec.key == key)


def purchase_credit_note(number: str, lines: Sequence[L], *, day: dt.date = DAY) -> dict[str, Any]:
    return {
        "CreditNoteNumber": number,
        "CreditNoteDate": f"{day.isoformat()}T00:00:00",
        "Status": "AUTHORISED",
        "Lines": [line.json() for line in lines],
        "AdditionalCharges": [],
        "Refunds": [],
        **_totals(lines, (), False),
    }


def empty_period(start: dt.date = START, end: dt.date = END, *, per_line: bool = True) -> Cin7Period:
    m = master()
    company = m.company if per_line else m.company.model_copy(update={"tax_calculation_method": "Total"})
    return Cin7Period(
        start=start,
        end=end,
        company=company,
        accounts=dict(m.accounts),
        tax_rules=dict(m.tax_rules),
        locations=dict(m.locations),
        customers={c.id: c for c in m.customers.values()},
        suppliers={s.id: s for s in m.suppliers.values()},
    )


# --- a period through the snapshot store -----------------------------------------------------------


def _span(dates: Iterable[dt.date | None]) -> tuple[dt.date | None, dt.date | None]:
    known = [d for d in dates if d is not None]
    return (min(known), max(known)) if known else (None, None)


def save_dataset(store: StateStore, data: Cin7Dataset, name: str = "demo") -> int:
    """Write a dataset into the snapshot store the way `cin7.sync` does; returns the connection id."""
    with store.session() as session:
        connection_id = ensure_connection(session, name, actor="test")
        save_snapshot(
            session, connection_id=connection_id, kind=COMPANY, cin7_id="me", version="1", payload=dump_json(data.me)
        )
        lists = [(ACCOUNT, data.accounts, "Code"), (TAX_RULE, data.tax_rules, "ID"), (LOCATION, data.locations, "ID")]
        lists += [(CUSTOMER, data.customers, "ID"), (SUPPLIER, data.suppliers, "ID")]
        for kind, records, key in lists:
            for record in records:
                save_snapshot(
                    session,
                    connection_id=connection_id,
                    kind=kind,
                    cin7_id=str(record[key]),
                    version="1",
                    payload=dump_json(record),
                )
        for sale_id, body in data.sales.items():
            _save_sale(session, connection_id, sale_id, body)
        for purchase_id, body in data.purchases.items():
            _save_purchase(session, connection_id, purchase_id, body, data.purchase_payments.get(purchase_id))
    return connection_id


def _save_sale(session: Any, connection_id: int, sale_id: str, body: Any) -> None:
    model = Sale.model_validate(roundtrip(body))
    first, last = _span(
        [i.invoice_date for i in model.invoices]
        + [c.credit_note_date for c in model.credit_notes]
        + [p.date_paid for i in model.invoices for p in i.payments]
        + [r.date_paid for c in model.credit_notes for r in c.refunds]
    )
    save_snapshot(
        session,
        connection_id=connection_id,
        kind=SALE,
        cin7_id=sale_id,
        version=model.version or "1",
        first_date=first,
        last_date=last,
        payload=dump_json(body),
    )


def _save_purchase(session: Any, connection_id: int, purchase_id: str, body: Any, records: Any) -> None:
    model = Purchase.model_validate(roundtrip(body))
    embedded = all(invoice.payments is not None for invoice in model.invoices)
    dates = [i.invoice_date for i in model.invoices] + [c.credit_note_date for c in model.credit_notes]
    dates += [p.date_paid for i in model.invoices for p in (i.payments or [])]
    dates += [r.date_paid for c in model.credit_notes for r in c.refunds]
    if not embedded:
        dates += [PaymentRecord.model_validate(roundtrip(r)).date_paid for r in records or []]
    first, last = _span(dates)
    save_snapshot(
        session,
        connection_id=connection_id,
        kind=PURCHASE,
        cin7_id=purchase_id,
        version=model.version or "1",
        first_date=first,
        last_date=last,
        payload=dump_json(body),
    )
    if not embedded:
        save_snapshot(
            session,
            connection_id=connection_id,
            kind=PURCHASE_PAYMENTS,
            cin7_id=purchase_id,
            version="1",
            payload=dump_json(records or []),
        )


def month_starts(first: dt.date, last: dt.date) -> list[dt.date]:
    """The first days of the months from `first`'s to `last`'s, plus the month after."""
    months, day = [], first.replace(day=1)
    while day <= last:
        months.append(day)
        day = (day + dt.timedelta(days=32)).replace(day=1)
    return [*months, day]


def periods(store: StateStore, connection_id: int, first: dt.date, last: dt.date) -> list[Cin7Period]:
    bounds = month_starts(first, last)
    return [load_period(store, connection_id, start, end) for start, end in itertools.pairwise(bounds)]


# --- comparing lines ------------------------------------------------------------------------------

Row = tuple[Any, ...]


def project(line: BookingLine) -> Row:
    """The fields the table-driven cases assert, in a fixed order."""
    return (
        line.amount,
        line.side,
        line.account,
        line.contra_account,
        line.tax_key,
        line.document_field_1,
        line.text,
        line.cost_centre_1,
        line.currency,
        line.exchange_rate,
        line.base_amount,
        line.eu_vat_id,
        line.cash_discount,
        line.reversal,
        line.tax_treatment,
    )


@dataclass(frozen=True)
class Expect:
    """An expected line with accounts by role (`ACCOUNTS`) or number; `None` fields are not set."""

    amount: str
    side: str
    account: str | int
    contra: int
    beleg: str
    text: str
    key: str = ""
    kost1: str = ""
    currency: str = "EUR"
    kurs: str | None = None
    base: str | None = None
    vat_id: str = ""
    discount: str | None = None
    reversal: bool = False
    treatment: str = ""

    def row(self, chart: Chart) -> Row:
        account = ACCOUNTS[chart][self.account] if isinstance(self.account, str) else self.account
        return (
            Decimal(self.amount),
            self.side,
            account,
            self.contra,
            self.key,
            self.beleg,
            self.text,
            self.kost1,
            self.currency,
            None if self.kurs is None else Decimal(self.kurs),
            None if self.base is None else Decimal(self.base),
            self.vat_id,
            None if self.discount is None else Decimal(self.discount),
            self.reversal,
            self.treatment,
        )
