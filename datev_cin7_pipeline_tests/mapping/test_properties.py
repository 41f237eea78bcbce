"""Property-based: for generated valid Cin7 documents, the bookings balance, reproduce Cin7's totals to the
cent, and pass the pandera model — whatever the lines, rates, discounts, tax mode and rounding mode."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from datev_cin7_pipeline.cin7.period import Cin7Period, Payment
from datev_cin7_pipeline.mapping import (
    InMemoryPersonalAccountRegistry,
    MappingConfig,
    book_period,
    booking_frame,
    validate_booking_frame,
)
from datev_cin7_pipeline.mapping.config import Chart
from datev_cin7_pipeline.mapping.result import open_item_movement
from datev_cin7_pipeline_tests.mapping.support import (
    DAY,
    L,
    PurchaseSpec,
    SaleSpec,
    credit_note,
    demo_mapping,
    empty_period,
    payment,
    purchase,
    purchase_credit_note,
    sale,
)

CENT, FOURTH = Decimal("0.01"), Decimal("0.0001")
# (party, currency is foreign, [(tax rule, Cin7 account, rate on the invoice)])
SALES = (
    (
        "hafenblick",
        False,
        (("USt 19%", "8400", 19), ("USt 7%", "8300", 7), ("USt 7%", "8400", 7), ("USt 19%", "8300", 19)),
    ),
    ("gruber", False, (("Steuerfrei innergemeinschaftliche Lieferung", "8125", 0),)),
    ("brooklyn", True, (("Steuerfrei Ausfuhr", "8120", 0),)),
)
PURCHASES = (
    ("solingen", False, (("Vorsteuer 19%", "3980", 19), ("Vorsteuer 19%", "3800", 19), ("Vorsteuer 7%", "3980", 7))),
    ("gusswerk", False, (("Innergemeinschaftlicher Erwerb 19%", "3980", 0),)),
    ("zuerich", True, (("Einfuhr Drittland (ohne Vorsteuer)", "3980", 0),)),
    ("vandijk", False, (("Reverse Charge §13b", "4730", 0),)),
)


@cache
def mapping(chart: Chart) -> MappingConfig:
    return demo_mapping(chart)


@dataclass(frozen=True)
class Generated:
    side: str
    party: str
    foreign: bool
    lines: tuple[tuple[str, str, int, int, Decimal, int], ...]  # rule, account, rate, quantity, price, discount
    inclusive: bool
    per_line: bool
    rate: Decimal
    credit: bool


def _cin7_line(rule: str, account: str, rate: int, quantity: int, price: Decimal, discount: int, doc: Generated) -> L:
    """A line as Cin7 prices it (cin7 FACTS §9): Total in the document's tax mode, Tax per line."""
    total = (quantity * price * (100 - discount) / Decimal(100)).quantize(CENT, ROUND_HALF_UP)
    exact = total * rate / (100 + rate) if doc.inclusive else total * rate / 100
    tax = exact.quantize(CENT if doc.per_line else FOURTH, ROUND_HALF_UP)
    return L(str(total), str(tax), rule, account, quantity=str(quantity), price=str(price), discount=str(discount))


def _totals(lines: list[L], doc: Generated) -> dict[str, str]:
    """Cin7's document totals; per-document rounding rounds the summed tax once."""
    total = sum((Decimal(line.total) for line in lines), Decimal(0))
    tax = sum((Decimal(line.tax) for line in lines), Decimal(0)).quantize(CENT, ROUND_HALF_UP)
    if doc.inclusive:
        return {"TotalBeforeTax": str(total - tax), "Tax": str(tax), "Total": str(total)}
    return {"TotalBeforeTax": str(total), "Tax": str(tax), "Total": str(total + tax)}


@st.composite
def documents(draw: st.DrawFn) -> Generated:
    side = draw(st.sampled_from(["sale", "purchase"]))
    party, foreign, choices = draw(st.sampled_from(SALES if side == "sale" else PURCHASES))
    line = st.tuples(
        st.sampled_from(choices),
        st.integers(1, 60),
        st.integers(1, 250_000).map(lambda cents: Decimal(cents) / 100),
        st.sampled_from([0, 0, 3, 10, 12.5]).map(lambda d: int(d)),
    )
    lines = draw(st.lists(line, min_size=1, max_size=8))
    return Generated(
        side=side,
        party=party,
        foreign=foreign,
        lines=tuple((rule, account, rate, qty, price, disc) for (rule, account, rate), qty, price, disc in lines),
        inclusive=side == "sale" and draw(st.booleans()),
        per_line=draw(st.booleans()),
        rate=draw(st.integers(5000, 15000).map(lambda r: Decimal(r) / 10000)) if foreign else Decimal(1),
        credit=draw(st.booleans()),
    )


def _period(doc: Generated) -> Cin7Period:
    period = empty_period(per_line=doc.per_line)
    lines = [_cin7_line(*spec, doc) for spec in doc.lines]
    totals = _totals(lines, doc)
    if doc.side == "sale":
        if doc.credit:
            sale_note = {**credit_note("CR-9", "INV-1001", lines, inclusive=doc.inclusive), **totals}
            document = sale(
                SaleSpec(doc.party, lines, credit_notes=[sale_note], rate=str(doc.rate), inclusive=doc.inclusive)
            )
            period.sale_credit_notes = [(document, document.credit_notes[0])]
        else:
            spec = SaleSpec(doc.party, lines, rate=str(doc.rate), inclusive=doc.inclusive, totals=totals)
            document = sale(spec)
            period.sale_invoices = [(document, document.invoices[0])]
        return period
    note: dict[str, Any] | None = {**purchase_credit_note("GS-9", lines), **totals} if doc.credit else None
    bought = purchase(PurchaseSpec(doc.party, lines, rate=str(doc.rate), credit_note=note))
    bought = bought.model_copy(update={"invoices": [bought.invoices[0].model_copy(update=_decimal(totals))]})
    if doc.credit:
        period.purchase_credit_notes = [(bought, bought.credit_notes[0])]
    else:
        period.purchase_invoices = [(bought, bought.invoices[0])]
    return period


def _decimal(totals: dict[str, str]) -> dict[str, Decimal]:
    names = {"TotalBeforeTax": "total_before_tax", "Tax": "tax", "Total": "total"}
    return {names[key]: Decimal(value) for key, value in totals.items()}


@settings(max_examples=150, deadline=None)
@given(documents(), st.sampled_from(["skr03", "skr04"]))
def test_generated_documents_balance_and_reproduce_cin7_totals(doc: Generated, chart: Chart) -> None:
    period = _period(doc)

    result = book_period(period, mapping(chart), InMemoryPersonalAccountRegistry())

    assert result.held == []
    (total,) = result.documents
    assert total.status == "booked"
    assert sum((open_item_movement(line) for line in result.lines), Decimal(0)) == total.cin7_total
    assert all(line.amount > 0 and line.amount == line.amount.quantize(CENT) for line in result.lines)
    assert all(line.tax_key == "" or line.account not in mapping(chart).automatic() for line in result.lines)
    assert all((line.base_amount is not None) == doc.foreign for line in result.lines)
    assert all(line.source_kind and line.source_id and line.source_version for line in result.lines)
    assert all(line.tax_treatment for line in result.lines)
    assert validate_booking_frame(booking_frame(result.lines, result.expected_totals())) == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 50_000), min_size=1, max_size=5), st.sampled_from(["skr03", "skr04"]))
def test_generated_partial_payments_each_clear_their_amount_on_the_invoice(cents: list[int], chart: Chart) -> None:
    amounts = [Decimal(value) / 100 for value in cents]
    document = sale(
        SaleSpec(
            "hafenblick",
            [L("1000.00", "190.00", "USt 19%", "8400")],
            payments=[payment(f"p{i}", str(amount)) for i, amount in enumerate(amounts)],
        )
    )
    period = empty_period()
    period.payments = [
        Payment(
            "customer_payment",
            f"p{i}",
            amount,
            DAY,
            "1200",
            Decimal(1),
            "",
            "INV-1001",
            document.id,
            document.customer_id,
        )
        for i, amount in enumerate(amounts)
    ]

    result = book_period(period, mapping(chart), InMemoryPersonalAccountRegistry(), parents={document.id: document})

    assert [line.amount for line in result.lines] == amounts
    assert {line.document_field_1 for line in result.lines} == {"INV-1001"}
    assert sum((open_item_movement(line) for line in result.lines), Decimal(0)) == -sum(amounts, Decimal(0))
    assert validate_booking_frame(booking_frame(result.lines, result.expected_totals())) == []
