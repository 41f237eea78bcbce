"""Every Cin7 sample document (shared reference samples) is booked or held with reasons, never dropped.

The samples are other companies' documents (RUB and USD base currencies, Australian tax rules, `Tax: 0`),
so the mapping is written for their codes. They go through the real snapshot store and `load_period`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from datev_cin7_pipeline.cin7.client import parse_json
from datev_cin7_pipeline.cin7.models import PaymentRecord, Sale
from datev_cin7_pipeline.cin7.period import Cin7Period, Payment, load_period
from datev_cin7_pipeline.mapping import (
    BookingResult,
    InMemoryPersonalAccountRegistry,
    MappingConfig,
    book_period,
    booking_frame,
    check_mapping,
    parse_mapping,
    validate_booking_frame,
)
from datev_cin7_pipeline.sandbox.cin7 import Cin7Dataset
from datev_cin7_pipeline.store import StateStore
from datev_cin7_pipeline_tests.mapping.support import save_dataset

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "cin7" / "samples"
START, END = dt.date(2017, 11, 1), dt.date(2018, 5, 1)


def load(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def sample_mapping(currency: str) -> MappingConfig:
    """A mapping for the samples' own codes (SKR03 targets); `currency` is the DATEV client's."""
    return parse_mapping(
        {
            "datev": {
                "consultant_number": 29098,
                "client_number": 55003,
                "chart": "skr03",
                "currency": currency,
                "fiscal_year_start_month": 7,  # the samples run from Nov 2017 to Apr 2018
            },
            "accounts": {"200": 8200, "715": 3200},
            "tax_rules": {
                "Tax on Sales": {"kind": "not_taxable", "sides": ["sale"]},
                "Sales Tax on Imports": {"kind": "import", "sides": ["purchase"]},
                "Tax on Purchases": {"kind": "not_taxable", "sides": ["purchase"]},
            },
            "payment_accounts": {"718": 1200, "712": 1210, "713": 1220},
            "debtors": {"first": 10001, "last": 69999},
            "creditors": {"first": 70001, "last": 99999},
            "rounding": {"account": 1590},
        }
    )


def _company(
    sales: Sequence[Any] = (),
    purchases: Sequence[Any] = (),
    purchase_payments: dict[str, Any] | None = None,
    currency: str = "RUB",
) -> Cin7Dataset:
    """The samples' master data (`/me` with the base currency of the documents' company) with documents."""
    return Cin7Dataset(
        me={**load("me.get.response.json"), "Currency": currency},
        accounts=load("ref-account.get.response.json")["AccountsList"],
        tax_rules=load("ref-tax.get.response.json")["TaxRuleList"],
        locations=load("ref-location.get.response.json")["LocationList"],
        customers=load("customer.get.response.json")["CustomerList"],
        suppliers=load("supplier.get.response.json")["SupplierList"],
        sales={sale["ID"]: sale for sale in sales},
        purchases={purchase["ID"]: purchase for purchase in purchases},
        purchase_payments=purchase_payments or {},
    )


def _wrapped_sale(name: str, key: str) -> dict[str, Any]:
    """A `/sale/invoice` or `/sale/creditnote` sample inside its sale (the sub-resource has no header)."""
    body = load(name)
    return {"ID": body["SaleID"], "CustomerID": "sample-customer", "Customer": "Sample Customer", key: body[key]}


def _simple_purchase_views() -> dict[str, Any]:
    """`/purchase/invoice` + `/purchase/creditnote` as one simple purchase whose payments come from
    `/purchase/payment` (no embedded `Payments`)."""
    invoice = load("purchase-invoice.get.response.json")
    return {
        "ID": "sample-purchase-views",
        "Type": "Simple Purchase",
        "SupplierID": "sample-supplier",
        "Supplier": "Sample Supplier",
        "Status": "INVOICED",
        "Invoice": invoice,
        "CreditNote": load("purchase-creditnote.get.response.json"),
    }


def _advanced_purchase_views() -> dict[str, Any]:
    invoices = load("advanced-purchase-invoice.get.response.json")
    return {
        "ID": invoices["PurchaseID"],
        "Type": "Advanced Purchase",
        "SupplierID": "sample-supplier-2",
        "Supplier": "Second Sample Supplier",
        "OrderNumber": "PO-00103",
        "Status": "INVOICED",
        "Invoice": invoices["Invoices"],
        "CreditNote": [],
    }


def _sale_payments(period: Cin7Period) -> None:
    """`/sale/payment` rows as the period's payments (the sale sample embeds none of them)."""
    for row in load("sale-payment.get.response.json"):
        record = PaymentRecord.model_validate(row)
        assert record.date_paid is not None
        period.payments.append(
            Payment(
                "customer_refund" if record.type == "Refund" else "customer_payment",
                record.id,
                record.amount,
                record.date_paid,
                record.account,
                record.currency_rate,
                record.reference,
                record.invoice_number or record.credit_note_number,
                record.sale_id or "",
                "6c18f8e9-90e1-418f-aebc-1219e67e4b9c",
            )
        )


Outcome = tuple[str, str, str, list[str]]  # kind, number, status, hold codes


@dataclass(frozen=True)
class SampleCase:
    name: str
    dataset: Callable[[], Cin7Dataset]
    currency: str
    expected: tuple[Outcome, ...]
    not_bookable: dict[str, int] = field(default_factory=dict)
    sale_payments: bool = False


SAMPLE_CASES = (
    SampleCase(
        "sale.get",
        lambda: _company(sales=[load("sale.get.response.json")]),
        "RUB",
        (("sale_invoice", "INV-00001", "booked", []),),
        {"DRAFT": 1},  # its credit note is a draft
    ),
    SampleCase(
        "sale.get with /sale/payment rows",
        lambda: _company(sales=[load("sale.get.response.json")]),
        "RUB",
        (
            ("sale_invoice", "INV-00001", "booked", []),
            ("customer_payment", "INV-00005", "booked", []),
            ("customer_refund", "CR-00004", "booked", []),
        ),
        {"DRAFT": 1},
        sale_payments=True,
    ),
    SampleCase(
        "purchase.get",
        lambda: _company(purchases=[load("purchase.get.response.json")]),
        "RUB",
        (
            ("purchase_invoice", "1", "booked", []),
            ("purchase_credit_note", "tr12", "booked", []),
            ("supplier_payment", "1", "booked", []),
            ("supplier_payment", "1", "booked", []),
            ("supplier_refund", "tr12", "booked", []),
        ),
    ),
    SampleCase(
        "advanced-purchase.get",
        lambda: _company(purchases=[load("advanced-purchase.get.response.json")], currency="USD"),
        "USD",
        (
            ("purchase_invoice", "INV-00069", "booked", []),
            ("purchase_credit_note", "CR-00069", "booked", []),
            ("purchase_credit_note", "CR-00069-2", "booked", []),
            ("supplier_payment", "INV-00069", "booked", []),
            ("supplier_refund", "CR-00069", "booked", []),
            ("supplier_refund", "CR-00069-2", "booked", []),
        ),
    ),
    SampleCase(
        "sale-invoice.get and sale-creditnote.get (drafts)",
        lambda: _company(
            sales=[
                {
                    **_wrapped_sale("sale-invoice.get.response.json", "Invoices"),
                    **{"CreditNotes": load("sale-creditnote.get.response.json")["CreditNotes"]},
                }
            ]
        ),
        "RUB",
        (),
        {"DRAFT": 2},
    ),
    SampleCase(
        "purchase-invoice/creditnote/payment.get",
        lambda: _company(
            purchases=[_simple_purchase_views()],
            purchase_payments={"sample-purchase-views": load("purchase-payment.get.response.json")},
        ),
        "RUB",
        (
            ("purchase_credit_note", "tr12", "booked", []),
            ("supplier_refund", "tr12", "booked", []),
            ("supplier_payment", "1", "booked", []),
        ),
        {"DRAFT": 1},  # the invoice view is a draft
    ),
    SampleCase(
        "advanced-purchase-invoice/payment.get",
        lambda: _company(
            purchases=[_advanced_purchase_views()],
            purchase_payments={
                "5a7fb526-527a-4229-b331-90b6f5535aab": load("advanced-purchase-payment.get.response.json")
            },
        ),
        "RUB",
        (
            ("purchase_invoice", "INV-00103", "booked", []),
            ("purchase_invoice", "INV-00103/2", "booked", []),
            # the payment sample belongs to another purchase: it names no invoice of this one
            ("supplier_refund", "", "held", ["missing_number"]),
            ("supplier_payment", "", "held", ["missing_number"]),
        ),
    ),
)


def _period(tmp_path: Path, case: SampleCase) -> Cin7Period:
    store = StateStore(f"sqlite:///{tmp_path / 'samples.db'}")
    try:
        connection_id = save_dataset(store, case.dataset(), "samples")
        period = load_period(store, connection_id, START, END)
    finally:
        store.dispose()
    if case.sale_payments:
        _sale_payments(period)
    return period


def _book(period: Cin7Period, currency: str) -> BookingResult:
    sale = load("sale.get.response.json")
    parents = {sale["ID"]: Sale.model_validate(parse_json(json.dumps(sale)))}
    return book_period(period, sample_mapping(currency), InMemoryPersonalAccountRegistry(), parents=parents)


@pytest.mark.parametrize("case", SAMPLE_CASES, ids=[case.name for case in SAMPLE_CASES])
def test_every_sample_document_is_booked_or_held_with_reasons(tmp_path: Path, case: SampleCase) -> None:
    period = _period(tmp_path, case)

    result = _book(period, case.currency)

    held = {item.document.key: item.codes for item in result.held}
    outcomes = [
        (total.document.kind, total.document.number, total.status, held.get(total.document.key, []))
        for total in result.documents
    ]
    assert outcomes == list(case.expected)
    assert dict(period.not_bookable) == case.not_bookable
    assert validate_booking_frame(booking_frame(result.lines, result.expected_totals())) == []
    assert [i for i in check_mapping(sample_mapping(case.currency), period) if i.severity == "error"] == []


@pytest.mark.parametrize("case", SAMPLE_CASES[:4], ids=[case.name for case in SAMPLE_CASES[:4]])
def test_a_eur_client_holds_the_samples_for_their_base_currency(tmp_path: Path, case: SampleCase) -> None:
    period = _period(tmp_path, case)

    result = _book(period, "EUR")

    assert result.lines == []
    assert result.held
    assert all("currency_mismatch" in item.codes for item in result.held)
    assert "currency_mismatch" in [issue.code for issue in check_mapping(sample_mapping("EUR"), period)]


def test_sample_booking_lines(tmp_path: Path) -> None:
    result = _book(_period(tmp_path, SAMPLE_CASES[2]), "RUB")

    assert [
        (line.source_kind, line.amount, line.side, line.account, line.contra_account, line.document_field_1)
        for line in result.lines
    ] == [
        ("purchase_invoice", Decimal("9.00"), "S", 3200, 70001, "1"),
        ("purchase_credit_note", Decimal("9.00"), "H", 3200, 70001, "1"),  # Belegfeld 1: the credited invoice
        ("supplier_payment", Decimal("1.00"), "H", 1200, 70001, "1"),
        ("supplier_payment", Decimal("1.00"), "H", 1200, 70001, "1"),
        ("supplier_refund", Decimal("9.00"), "S", 1200, 70001, "1"),  # the refund clears the same open item
    ]
