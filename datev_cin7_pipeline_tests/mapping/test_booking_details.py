"""Booking details beyond the table: every field of a line, GUID links, cost centres, currency direction,
collective accounts, and the reasons a document is held."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from datev_cin7_pipeline.cin7.period import Cin7Period, Payment
from datev_cin7_pipeline.datev.bookings import BookingLine
from datev_cin7_pipeline.mapping import (
    BookingResult,
    InMemoryPersonalAccountRegistry,
    book_period,
)
from datev_cin7_pipeline.mapping.rules import BookingContext, book_sale_invoice
from datev_cin7_pipeline_tests.mapping.support import (
    DAY,
    L,
    PurchaseSpec,
    SaleSpec,
    credit_note,
    demo_mapping,
    empty_period,
    master,
    payment,
    purchase,
    sale,
)

GUID = "6F9619FF-8B86-D011-B42D-00C04FC964FF"


def _book(period: Cin7Period, **mapping: Any) -> BookingResult:
    return book_period(
        period, demo_mapping("skr03", **mapping), InMemoryPersonalAccountRegistry(), guids={"task-inv-1": GUID}
    )


def _sale_period(spec: SaleSpec) -> Cin7Period:
    period = empty_period()
    document = sale(spec)
    period.sale_invoices = [(document, document.invoices[0])]
    return period


def test_a_sale_invoice_line_field_by_field() -> None:
    period = _sale_period(SaleSpec("hafenblick", [L("100.00", "19.00", "USt 19%", "8400")]))
    invoice = period.sale_invoices[0][1]

    (line,) = _book(period).lines

    assert line == BookingLine(
        amount=Decimal("119.00"),
        side="H",
        account=8400,
        contra_account=10001,
        document_date=DAY,
        document_field_1="INV-1001",
        text="INV-1001 Café Hafenblick GmbH",
        tax_key="",
        currency="EUR",
        document_link=f'BEDI "{GUID}"',
        document_infos=(("Cin7 Rechnung", "INV-1001"), ("Cin7 Auftrag", "SO-0042")),
        cost_centre_1="100",
        supply_date=DAY,  # Leistungsdatum: Cin7's invoice date
        due_date=dt.date(2026, 3, 24),
        source_kind="sale_invoice",
        source_id="task-inv-1",
        source_version=line.source_version,
        tax_treatment="USt 19",
    )
    assert len(line.source_version) == 16
    assert invoice.invoice_due_date == dt.date(2026, 3, 24)


def test_the_version_ignores_payments_but_not_a_changed_line() -> None:
    spec = SaleSpec("hafenblick", [L("100.00", "19.00", "USt 19%", "8400")])
    plain = _book(_sale_period(spec)).lines[0].source_version
    paid = _book(_sale_period(SaleSpec(**{**spec.__dict__, "payments": [payment("p", "119.00")]}))).lines[0]
    changed = _book(_sale_period(SaleSpec(**{**spec.__dict__, "lines": [L("100.00", "19.00", "USt 19%", "8300")]})))

    assert paid.source_version == plain
    assert changed.lines[0].source_version != plain


def test_a_credit_note_keeps_its_own_number_in_beleginfo() -> None:
    period = empty_period()
    document = sale(
        SaleSpec(
            "hafenblick",
            [L("100.00", "19.00", "USt 19%", "8400")],
            day=dt.date(2026, 2, 1),
            credit_notes=[credit_note("CR-2001", "INV-1001", [L("10.00", "1.90", "USt 19%", "8400")])],
        )
    )
    period.sale_credit_notes = [(document, document.credit_notes[0])]

    (line,) = book_period(
        period, demo_mapping("skr04"), InMemoryPersonalAccountRegistry(), guids={"sale_credit_note:task-cn-1": GUID}
    ).lines

    assert line.document_field_1 == "INV-1001"
    assert line.document_infos == (
        ("Cin7 Rechnung", "INV-1001"),
        ("Cin7 Gutschrift", "CR-2001"),
        ("Cin7 Auftrag", "SO-0042"),
    )
    assert line.document_link == f'BEDI "{GUID}"'
    assert line.due_date is None


def test_cost_centres_from_the_sales_representative_and_an_attribute() -> None:
    period = _sale_period(SaleSpec("hafenblick", [L("100.00", "19.00", "USt 19%", "8400")]))
    bought = purchase(PurchaseSpec("solingen", [L("100.00", "19.00", "Vorsteuer 19%", "3980")]))
    period.purchase_invoices = [(bought, bought.invoices[0])]
    kost = {
        "kost1": {"source": "attribute", "attribute": "AdditionalAttribute1", "on_missing": "empty", "values": {}},
        "kost2": {"source": "sales_representative", "values": {"Lena Vogt": "LV"}},
    }

    lines = _book(period, cost_centres=kost).lines

    assert [(line.source_kind, line.cost_centre_1, line.cost_centre_2) for line in lines] == [
        ("sale_invoice", "", "LV"),
        ("purchase_invoice", "", ""),  # a purchase has no sales representative
    ]


def test_the_cin7_rate_direction_is_a_mapping_setting() -> None:
    spec = SaleSpec("brooklyn", [L("1000.00", "0", "Steuerfrei Ausfuhr", "8120")], rate="1.25")

    documented = _book(_sale_period(spec)).lines[0]
    flipped = _book(_sale_period(spec), currency_rates={"direction": "foreign_per_base"}).lines[0]

    assert (documented.base_amount, documented.exchange_rate) == (Decimal("1250.00"), Decimal("0.800000"))
    assert (flipped.base_amount, flipped.exchange_rate) == (Decimal("800.00"), Decimal("1.250000"))
    assert (flipped.currency, flipped.base_currency) == ("USD", "EUR")


def test_collective_accounts_instead_of_personal_ones() -> None:
    period = _sale_period(SaleSpec("hafenblick", [L("100.00", "19.00", "USt 19%", "8400")]))
    registry = InMemoryPersonalAccountRegistry()

    result = book_period(period, demo_mapping("skr03", debtors={"mode": "collective"}), registry)

    assert [line.contra_account for line in result.lines] == [10000]
    assert registry.assigned("debtor") == {}


def test_per_document_function() -> None:
    period = _sale_period(SaleSpec("gruber", [L("500.00", "0", "Steuerfrei innergemeinschaftliche Lieferung", "8125")]))
    sale_document, invoice = period.sale_invoices[0]
    ctx = BookingContext.for_period(period, demo_mapping("skr04"), InMemoryPersonalAccountRegistry())

    result = book_sale_invoice(sale_document, invoice, ctx)

    assert [(line.account, line.eu_vat_id) for line in result.lines] == [(4125, "ATU57390142")]


# --- held ---------------------------------------------------------------------------------------------


def _held_codes(result: BookingResult) -> list[list[str]]:
    assert result.lines == []
    return [item.codes for item in result.held]


@pytest.mark.parametrize(
    ("spec", "codes"),
    [
        (SaleSpec("brooklyn", [L("1000.00", "0", "Steuerfrei Ausfuhr", "8120")], rate="0"), ["missing_rate"]),
        (
            SaleSpec("hafenblick", [L("100.005", "19.00", "USt 19%", "8400")], totals={"Total": "119.005"}),
            ["amount_precision"],
        ),
        (
            SaleSpec("hafenblick", [L("100.00", "19.00", "USt 19%", "8400")], totals={"Total": "129.00"}),
            ["totals_mismatch"],
        ),
        (SaleSpec("hafenblick", [L("100.00", "7.00", "USt 19%", "8400")]), ["tax_amount_mismatch"]),
        (
            SaleSpec("hafenblick", [L("100.00", "0", "Vorsteuer 19%", "8400")]),
            ["tax_amount_mismatch", "tax_rule_wrong_side"],
        ),
        (SaleSpec("hafenblick", [L("100.00", "19.00", "USt 19%", "8400")], number=""), ["missing_number"]),
    ],
    ids=[
        "no_rate",
        "three_decimals",
        "lines_differ_from_total",
        "tax_contradicts_rule",
        "purchase_rule",
        "no_number",
    ],
)
def test_a_document_with_a_gap_is_held_with_its_reasons(spec: SaleSpec, codes: list[str]) -> None:
    assert _held_codes(_book(_sale_period(spec))) == [codes]


def test_lines_sharing_account_and_rule_still_have_their_own_tax_checked() -> None:
    """The account/rule decision is shared between lines; the tax amount check is each line's own."""
    good = SaleSpec("hafenblick", [L("100.00", "19.00", "USt 19%", "8400")], number="INV-1", task_id="t-1")
    bad = SaleSpec(
        "hafenblick",
        [L("50.00", "9.50", "USt 19%", "8400", name="Gut"), L("100.00", "7.00", "USt 19%", "8400", name="Falsch")],
        number="INV-2",
        sale_id="sale-2",
        task_id="t-2",
    )
    period = empty_period()
    period.sale_invoices = [(document, document.invoices[0]) for document in (sale(good), sale(bad), sale(good))]

    result = _book(period)

    assert [line.document_field_1 for line in result.lines] == ["INV-1", "INV-1"]
    ((reason,),) = [item.reasons for item in result.held]
    assert reason.code == "tax_amount_mismatch"
    assert "'Falsch'" in reason.message


def test_reasons_keep_their_order_when_the_decision_is_shared() -> None:
    lines = [L("100.00", "0", "Vorsteuer 19%", "8400", name="Eins"), L("10.00", "0", "Vorsteuer 19%", "8400")]

    result = _book(_sale_period(SaleSpec("hafenblick", lines)))

    assert [reason.code for reason in result.held[0].reasons] == [
        "tax_rule_wrong_side",
        "tax_amount_mismatch",
        "tax_amount_mismatch",
    ]


def test_an_automatic_account_that_contradicts_the_rule_is_held() -> None:
    spec = SaleSpec("hafenblick", [L("100.00", "19.00", "USt 19%", "8400")])

    result = _book(_sale_period(spec), tax_rules={"USt 19%": {"redirect": {8400: 8300}}})

    assert _held_codes(result) == [["automatic_account_conflict"]]
    assert "8300" in result.held[0].reasons[0].message


def test_a_taxable_rule_on_a_plain_account_without_key_is_held() -> None:
    spec = SaleSpec("hafenblick", [L("100.00", "19.00", "USt 19%", "4730")])

    assert _held_codes(_book(_sale_period(spec), tax_rules={"USt 19%": {"bu_key": ""}})) == [["no_tax_mechanism"]]


def test_a_location_without_cost_centre_and_a_customer_without_id() -> None:
    document = sale(SaleSpec("hafenblick", [L("100.00", "19.00", "USt 19%", "8400")]))
    document = document.model_copy(update={"location": "Berlin", "customer_id": None})
    period = empty_period()
    period.sale_invoices = [(document, document.invoices[0])]

    assert _held_codes(_book(period)) == [["unknown_party", "unmapped_cost_centre"]]


def test_payments_that_cannot_be_booked() -> None:
    customer = master().customers["hafenblick"]
    period = empty_period()
    period.payments = [
        Payment("customer_prepayment", "pp", Decimal(50), DAY, "1200", None, "", "", "s1", customer.id),
        Payment("customer_payment", "p2", Decimal("-5"), DAY, "1299", None, "", "INV-9", "s1", customer.id),
        Payment("customer_payment", "p3", Decimal(5), dt.date(2026, 4, 1), "1200", None, "", "", "s1", customer.id),
        Payment("customer_payment", "p4", Decimal(5), DAY, "1200", None, "", "INV-7", "s1", "unknown-customer"),
    ]

    assert _held_codes(_book(period)) == [
        ["prepayment_not_supported"],
        ["invalid_amount", "unmapped_payment_account"],
        ["date_outside_period", "missing_number"],
        ["unknown_currency"],  # neither its sale nor the customer master names a currency
    ]


def test_a_full_personal_range_holds_the_document() -> None:
    period = _sale_period(SaleSpec("hafenblick", [L("100.00", "19.00", "USt 19%", "8400")]))
    registry = InMemoryPersonalAccountRegistry({("debtor", "someone"): 69999})

    result = book_period(period, demo_mapping("skr03"), registry)

    assert _held_codes(result) == [["personal_range_exhausted"]]
