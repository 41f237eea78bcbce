"""Reversals (both styles, rebooking) and the pandera models: what they accept and what they catch."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from datev_cin7_pipeline.cin7.period import Cin7Period, Payment
from datev_cin7_pipeline.datev.bookings import BookingLine
from datev_cin7_pipeline.mapping import (
    InMemoryPersonalAccountRegistry,
    book_period,
    booking_frame,
    document_frame,
    rebook,
    reversal_lines,
    validate_booking_frame,
    validate_document_frame,
)
from datev_cin7_pipeline.mapping.frames import unbalanced_documents
from datev_cin7_pipeline_tests.mapping.support import (
    DAY,
    L,
    SaleSpec,
    demo_mapping,
    empty_period,
    payment,
    sale,
)


def _line(**changes: Any) -> BookingLine:
    line = BookingLine(
        amount=Decimal("119.00"),
        side="H",
        account=8400,
        contra_account=10001,
        document_date=DAY,
        document_field_1="INV-1",
        text="INV-1 Kunde",
        source_kind="sale_invoice",
        source_id="t1",
        source_version="v1",
        tax_treatment="USt 19",
    )
    return dataclasses.replace(line, **changes)


def test_generalumkehr_keeps_sides_and_keys_and_sets_the_flag() -> None:
    original = _line(tax_key="3", account=8200)

    (reversal,) = reversal_lines([original], "generalumkehr", on=dt.date(2026, 3, 31))

    assert (reversal.side, reversal.tax_key, reversal.reversal) == ("H", "3", True)
    assert reversal.document_date == dt.date(2026, 3, 31)
    assert reversal.text == "Storno INV-1 Kunde"
    assert reversal.document_field_1 == "INV-1"  # the open item is reversed as well
    assert reversal.document_infos[-1] == ("Cin7 Storno", "v1")


def test_swap_style_exchanges_the_sides() -> None:
    (reversal,) = reversal_lines([_line(tax_key="3")], "swap")

    assert (reversal.side, reversal.tax_key, reversal.reversal) == ("S", "3", False)


def test_rebook_posts_nothing_for_an_unchanged_booking_and_reversal_plus_new_for_a_change() -> None:
    old = [_line()]

    assert rebook(old, [_line(source_version="v2")], "generalumkehr") == []  # same rows, new Cin7 version
    changed = rebook(old, [_line(amount=Decimal("238.00"), source_version="v2")], "generalumkehr")
    assert [(line.amount, line.reversal) for line in changed] == [(Decimal("119.00"), True), (Decimal("238.00"), False)]
    assert [line.reversal for line in rebook(old, None, "swap")] == [False]
    assert [line.side for line in rebook(old, None, "swap")] == ["S"]


def test_booking_a_period_again_with_its_previous_lines_posts_nothing() -> None:
    mapping, registry = demo_mapping("skr03"), InMemoryPersonalAccountRegistry()
    period = empty_period()
    document = sale(SaleSpec("hafenblick", [L("100.00", "19.00", "USt 19%", "8400")]))
    period.sale_invoices = [(document, document.invoices[0])]
    first = book_period(period, mapping, registry)

    again = book_period(period, mapping, registry, previous={("sale_invoice", "task-inv-1"): first.lines})

    assert again.lines == []
    assert [total.status for total in again.documents] == ["unchanged"]


def test_a_reversal_of_a_line_from_an_earlier_month_is_dated_inside_the_period() -> None:
    mapping, registry = demo_mapping("skr03"), InMemoryPersonalAccountRegistry()
    period = empty_period()
    old = _line(document_date=dt.date(2026, 2, 27))

    result = book_period(period, mapping, registry, previous={("sale_invoice", "t1"): [old]})

    assert [(line.document_date, line.reversal) for line in result.lines] == [(dt.date(2026, 3, 1), True)]
    assert [total.status for total in result.documents] == ["reversed"]


# --- pandera -------------------------------------------------------------------------------------


def _period() -> Cin7Period:
    period = empty_period()
    document = sale(
        SaleSpec(
            "brooklyn",
            [L("1000.00", "0", "Steuerfrei Ausfuhr", "8120")],
            rate="0.92",
            payments=[payment("p-1", "400.00", account="1210", rate="0.93")],
        )
    )
    period.sale_invoices = [(document, document.invoices[0])]
    period.payments = [
        Payment(
            "customer_payment",
            "p-1",
            Decimal("400.00"),
            DAY,
            "1210",
            Decimal("0.93"),
            "",
            "INV-1001",
            document.id,
            document.customer_id,
        )
    ]
    return period


def _booked() -> tuple[list[BookingLine], dict[tuple[str, str, str], Decimal]]:
    result = book_period(_period(), demo_mapping("skr03"), InMemoryPersonalAccountRegistry())
    assert result.held == []
    return result.lines, result.expected_totals()


def test_valid_lines_pass_and_the_document_frame_too() -> None:
    lines, totals = _booked()
    documents = document_frame(_period())

    assert [(line.amount, line.base_amount, line.exchange_rate) for line in lines] == [
        (Decimal("1000.00"), Decimal("920.00"), Decimal("1.086957")),
        (Decimal("400.00"), Decimal("372.00"), Decimal("1.075269")),
    ]
    assert validate_booking_frame(booking_frame(lines, totals)) == []
    assert validate_booking_frame(booking_frame([])) == []
    assert list(documents["kind"]) == ["sale_invoice", "customer_payment"]
    assert list(documents["currency"]) == ["USD", "USD"]
    assert validate_document_frame(documents) == []
    assert validate_document_frame(document_frame(empty_period())) == []


def test_the_document_frame_catches_cin7_arithmetic_that_does_not_add_up() -> None:
    documents = document_frame(_period())
    documents.loc[0, "tax"] = Decimal("5.00")

    failures = validate_document_frame(documents)

    assert {(failure.check, failure.index) for failure in failures} == {("total_is_net_plus_tax", 0)}


@pytest.mark.parametrize(
    ("change", "check", "column"),
    [
        ({"amount": Decimal("119.001")}, "amount_is_positive_cents", "amount"),
        ({"amount": Decimal("-1.00")}, "amount_is_positive_cents", "amount"),
        ({"side": "X"}, "isin(['S', 'H'])", "side"),
        ({"account": 0}, "greater_than(0)", "account"),
        ({"tax_key": "12345"}, "str_matches('^\\d{0,4}$')", "tax_key"),
        ({"document_field_1": "INV_1"}, "belegfeld_charset", "document_field_1"),
        ({"document_field_1": "X" * 37}, "str_length(1, 36)", "document_field_1"),
        ({"text": "x" * 61}, "str_length(None, 60)", "text"),
        ({"currency": "eur"}, "str_matches('^[A-Z]{3}$')", "currency"),
        ({"exchange_rate": Decimal("1.0869565")}, "rate_is_positive_with_six_decimals", "exchange_rate"),
    ],
)
def test_a_broken_field_is_caught(change: dict[str, Any], check: str, column: str) -> None:
    lines, totals = _booked()
    broken = [dataclasses.replace(lines[0], **change), *lines[1:]]

    failures = validate_booking_frame(booking_frame(broken, totals))

    assert (check, column) in {(failure.check, failure.column) for failure in failures}


def test_an_unbalanced_document_is_caught_with_all_its_rows() -> None:
    lines, totals = _booked()
    # the invoice's line books 10.00 less than Cin7's total: its open item would not reconcile
    broken = [dataclasses.replace(lines[0], amount=lines[0].amount - 10, base_amount=None), *lines[1:]]
    frame = booking_frame(broken, totals)

    failures = validate_booking_frame(frame)

    assert {failure.check for failure in failures} >= {"document_balances", "currency_fields_together"}
    assert unbalanced_documents(frame) == [("sale_invoice", "task-inv-1", lines[0].source_version, "booking")]


def test_one_document_on_two_open_item_accounts_does_not_balance() -> None:
    lines = [_line(), _line(account=8300, amount=Decimal("10.70"), contra_account=10002)]

    frame = booking_frame(lines)

    assert unbalanced_documents(frame) == [("sale_invoice", "t1", "v1", "booking")]
    assert "document_balances" in {failure.check for failure in validate_booking_frame(frame)}
