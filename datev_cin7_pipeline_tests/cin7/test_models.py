"""Every documented Cin7 payload parses into the typed models, money exact as Decimal, with the key
variants FACTS.md marks uncertain (`InvocieNumber`, object-or-list invoices, 0–7 fractional digits)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from datev_cin7_pipeline.cin7 import models as m
from datev_cin7_pipeline.cin7.client import dump_json, parse_json

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "cin7" / "samples"


def _rows(key: str, model: type[m.Cin7Model]) -> Callable[[Any], list[Any]]:
    return lambda body: [model.model_validate(row) for row in body[key]]


def _each(model: type[m.Cin7Model]) -> Callable[[Any], list[Any]]:
    return lambda body: [model.model_validate(row) for row in body]


def _one(model: type[m.Cin7Model]) -> Callable[[Any], list[Any]]:
    return lambda body: [model.model_validate(body)]


PARSERS: dict[str, Callable[[Any], list[Any]]] = {
    "sale.get.response.json": _one(m.Sale),
    "sale-list.get.response.json": _rows("SaleList", m.SaleListRow),
    "sale-creditnote-list.get.response.json": _rows("SaleList", m.SaleListRow),
    "sale-invoice.get.response.json": _rows("Invoices", m.SaleInvoice),
    "sale-creditnote.get.response.json": _rows("CreditNotes", m.SaleCreditNote),
    "sale-payment.get.response.json": _each(m.PaymentRecord),
    "sale-attachment.get.response.json": _rows("Lines", m.Attachment),
    "purchase.get.response.json": _one(m.Purchase),
    "advanced-purchase.get.response.json": _one(m.Purchase),
    "purchase-list.get.response.json": _rows("PurchaseList", m.PurchaseListRow),
    "purchase-creditnote-list.get.response.json": _rows("PurchaseList", m.PurchaseListRow),
    "purchase-invoice.get.response.json": _one(m.PurchaseInvoice),
    "advanced-purchase-invoice.get.response.json": _rows("Invoices", m.PurchaseInvoice),
    "purchase-creditnote.get.response.json": _one(m.PurchaseCreditNote),
    "purchase-payment.get.response.json": _each(m.PaymentRecord),
    "advanced-purchase-payment.get.response.json": _each(m.PaymentRecord),
    "purchase-attachment.get.response.json": _rows("Lines", m.Attachment),
    "customer.get.response.json": _rows("CustomerList", m.Customer),
    "supplier.get.response.json": _rows("SupplierList", m.Supplier),
    "ref-account.get.response.json": _rows("AccountsList", m.Account),
    "ref-tax.get.response.json": _rows("TaxRuleList", m.TaxRule),
    "ref-location.get.response.json": _rows("LocationList", m.Location),
    "me.get.response.json": _one(m.Company),
    "webhooks.get.response.json": _rows("Webhooks", m.WebhookSubscription),
    "webhooks.post.request.json": _one(m.WebhookSubscription),
}
# Payloads of endpoints the connector never calls: writes (Cin7 is only ever read) and GL data we do not use.
NOT_USED = {
    "sale-invoice.post.request.json",
    "sale-payment.post.request.json",
    "sale-attachment.post.request.json",
    "purchase-invoice.post.request.json",
    "purchase-payment.post.request.json",
    "ref-account-bank.get.response.json",
    "ref-customer-credits.get.response.json",
    "ref-supplier-deposits.get.response.json",
    "journal.get.response.json",
    "transactions.get.response.json",
    "money-task-list.get.response.json",
}


def test_every_sample_is_either_parsed_or_knowingly_unused() -> None:
    files = {path.name for path in SAMPLES.glob("*.json")}
    assert files, f"no samples found in {SAMPLES}"
    assert files == set(PARSERS) | NOT_USED


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_sample_parses(name: str) -> None:
    parsed = PARSERS[name](parse_json((SAMPLES / name).read_bytes()))
    assert parsed
    assert all(isinstance(item, m.Cin7Model) for item in parsed)


def _load(name: str) -> Any:
    return parse_json((SAMPLES / name).read_bytes())


def test_a_sale_carries_invoices_credit_notes_payments_and_refunds_exactly() -> None:
    sale = m.Sale.model_validate(_load("sale.get.response.json"))
    assert sale.id == "916ab4c0-6ccb-4c93-873d-0603859050e4"
    assert sale.order_number == "SO-00001"  # from Order.SaleOrderNumber
    assert sale.tax_calculation == "Exclusive"
    assert sale.version == "2017-11-22T10:10:49.750000+00:00"
    [invoice] = sale.invoices
    assert (invoice.invoice_number, invoice.status, invoice.invoice_date) == (
        "INV-00001",
        "AUTHORISED",
        dt.date(2017, 11, 22),
    )
    assert invoice.total == Decimal("358")
    assert isinstance(invoice.total, Decimal)
    assert next(line.label for line in invoice.additional_charges).startswith("Desktop/network support")
    [note] = sale.credit_notes
    assert note.credit_note_invoice_number == "INV-00001"
    assert [(r.amount, r.date_paid) for r in note.refunds] == [(Decimal("358"), dt.date(2017, 11, 23))]


def test_a_simple_purchase_with_the_documented_typo() -> None:
    purchase = m.Purchase.model_validate(_load("purchase.get.response.json"))
    assert not purchase.is_advanced
    [invoice] = purchase.invoices
    assert invoice.invoice_number == "1"  # from `InvocieNumber`
    assert invoice.task_id == purchase.id  # a simple purchase's invoice is its own task
    assert invoice.payments is not None
    assert [p.amount for p in invoice.payments] == [Decimal(1), Decimal(1)]
    assert purchase.credit_notes[0].task_id == purchase.id


def test_an_advanced_purchase_lists_its_invoices() -> None:
    purchase = m.Purchase.model_validate(_load("advanced-purchase.get.response.json"))
    assert purchase.is_advanced
    assert [(i.task_id, i.invoice_number, i.total) for i in purchase.invoices] == [
        ("dd31bf19-ea4b-412b-970c-d59f1a98ceea", "INV-00069", Decimal(840))
    ]


def test_an_invoice_without_embedded_payments_says_so() -> None:
    invoice = m.PurchaseInvoice.model_validate(_load("purchase-invoice.get.response.json"))
    assert invoice.payments is None  # the client then reads /purchase/payment


def test_master_data() -> None:
    company = m.Company.model_validate(_load("me.get.response.json"))
    assert (company.currency, company.time_zone, company.rounds_tax_per_line) == ("RUB", "Europe/Moscow", False)
    supplier = m.Supplier.model_validate(_load("supplier.get.response.json")["SupplierList"][0])
    assert supplier.country == "Australia"
    assert supplier.billing_address is not None
    assert supplier.billing_address.type == "Billing"  # billing preferred over business
    rules = {
        r.name: r for r in (m.TaxRule.model_validate(x) for x in _load("ref-tax.get.response.json")["TaxRuleList"])
    }
    assert rules["GST on Income"].components[0].percent == Decimal("10.0000000000")
    account = m.Account.model_validate(_load("ref-account.get.response.json")["AccountsList"][0])
    assert (account.code, account.account_class, account.system_account) == ("800", "LIABILITY", "CREDITORS")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2017-11-28T05:08:30.6407568Z", dt.datetime(2017, 11, 28, 5, 8, 30, 640756, tzinfo=dt.UTC)),
        ("2018-04-19T04:03:06.52Z", dt.datetime(2018, 4, 19, 4, 3, 6, 520000, tzinfo=dt.UTC)),
        ("2017-11-22T00:00:00", dt.datetime(2017, 11, 22, tzinfo=dt.UTC)),
        ("2026-03-29T01:30:00+02:00", dt.datetime(2026, 3, 28, 23, 30, tzinfo=dt.UTC)),
        ("2026-03-29", dt.datetime(2026, 3, 29, tzinfo=dt.UTC)),
        ("", None),
        (None, None),
    ],
)
def test_timestamps_with_any_precision(text: str | None, expected: dt.datetime | None) -> None:
    assert m.parse_timestamp(text) == expected


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01T00:00:00", "2026-02-30", "01.02.2026"])
def test_malformed_dates_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"not a Cin7|month|day"):
        m.parse_timestamp(text)


def test_json_round_trip_keeps_amounts_exact() -> None:
    body = parse_json(b'{"Total": 0.1, "Tax": 19.0000, "Price": 1234567.8912, "Qty": 3, "Big": 0.12345678901234567890}')
    assert body["Total"] == Decimal("0.1")
    assert body["Tax"] == Decimal("19.0000")
    text = dump_json(body)
    assert text == '{"Total":0.1,"Tax":19.0000,"Price":1234567.8912,"Qty":3,"Big":0.12345678901234567890}'
    assert parse_json(text) == body
    line = m.DocumentLine.model_validate({"Price": 0.1, "Quantity": 3})  # a float slipped in: no binary noise
    assert line.price * line.quantity == Decimal("0.3")


def test_models_of_the_same_shape_share_one_frozen_fields_set_and_copies_still_update() -> None:
    """A big month holds tens of thousands of lines; each one's own set of given fields was most of its size."""
    line = {"ProductID": "p1", "SKU": "A", "Name": "Ware", "Quantity": 1, "Price": 10, "Tax": 1.9, "Total": 10}
    first, second = m.DocumentLine.model_validate(line), m.DocumentLine.model_validate({**line, "SKU": "B"})

    assert first.__pydantic_fields_set__ is second.__pydantic_fields_set__
    assert isinstance(first.__pydantic_fields_set__, frozenset)
    assert first.model_fields_set == {"product_id", "sku", "name", "quantity", "price", "tax", "total"}

    changed = first.model_copy(update={"comment": "x"})

    assert changed.comment == "x"
    assert "comment" in changed.model_fields_set
    assert "comment" not in second.model_fields_set  # the shared set was not touched
    assert first.model_copy(deep=True, update={"sku": "C"}).sku == "C"
