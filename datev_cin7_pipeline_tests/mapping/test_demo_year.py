"""The demo company's whole year, month by month through the snapshot store, with the starter mapping
completed for its codes: nothing is held, every document reconciles, totals per tax treatment match
Cin7's own line totals, and booking a month again posts nothing."""

from __future__ import annotations

import collections
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from datev_cin7_pipeline.cin7.models import Purchase, Sale
from datev_cin7_pipeline.cin7.period import Cin7Period
from datev_cin7_pipeline.datev.bookings import BookingLine
from datev_cin7_pipeline.mapping import (
    BookingResult,
    InMemoryPersonalAccountRegistry,
    MappingConfig,
    book_period,
    booking_frame,
    check_mapping,
    document_frame,
    validate_booking_frame,
    validate_document_frame,
)
from datev_cin7_pipeline.mapping.config import Chart
from datev_cin7_pipeline.mapping.documents import Parent
from datev_cin7_pipeline.mapping.result import open_item_movement
from datev_cin7_pipeline.store import StateStore
from datev_cin7_pipeline_tests.mapping.support import (
    CHARTS,
    TODAY,
    demo,
    demo_mapping,
    periods,
    roundtrip,
    save_dataset,
)

FIRST_MONTH = TODAY.replace(year=TODAY.year - 1, month=TODAY.month + 1, day=1)


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Cin7Period]]:
    path: Path = tmp_path_factory.mktemp("demo-year") / "state.db"
    store = StateStore(f"sqlite:///{path}")
    try:
        connection_id = save_dataset(store, demo())
        yield periods(store, connection_id, FIRST_MONTH, TODAY)
    finally:
        store.dispose()


@pytest.fixture(scope="module")
def parents() -> dict[str, Parent]:
    """Every sale and purchase, so a payment finds the invoice of an earlier month."""
    found: dict[str, Parent] = {}
    for body in demo().sales.values():
        sale = Sale.model_validate(roundtrip(body))
        found[sale.id] = sale
    for body in demo().purchases.values():
        purchase = Purchase.model_validate(roundtrip(body))
        found[purchase.id] = purchase
    return found


def _book_year(
    year: list[Cin7Period], mapping: MappingConfig, parents: dict[str, Parent]
) -> tuple[list[BookingResult], InMemoryPersonalAccountRegistry]:
    registry = InMemoryPersonalAccountRegistry()
    return [book_period(period, mapping, registry, parents=parents) for period in year], registry


def _cin7_totals_per_treatment(period: Cin7Period, mapping: MappingConfig) -> dict[tuple[str, str], Decimal]:
    """From Cin7's own lines, independently of the booking rules: Σ line gross per (treatment, currency),
    signed as the open item moves (sales +, their credit notes −, supplier invoices −, their credits +)."""
    totals: dict[tuple[str, str], Decimal] = collections.defaultdict(Decimal)
    documents = [
        (1, sale.customer_currency, sale.tax_calculation, [*i.lines, *i.additional_charges])
        for sale, i in period.sale_invoices
    ]
    documents += [
        (-1, sale.customer_currency, sale.tax_calculation, [*n.lines, *n.additional_charges])
        for sale, n in period.sale_credit_notes
    ]
    documents += [
        (-1, p.supplier_currency, p.tax_calculation, [*i.lines, *i.additional_charges])
        for p, i in period.purchase_invoices
    ]
    documents += [
        (1, p.supplier_currency, p.tax_calculation, [*n.lines, *n.additional_charges])
        for p, n in period.purchase_credit_notes
    ]
    for sign, currency, calculation, lines in documents:
        for line in lines:
            gross = line.total if calculation == "Inclusive" else line.total + line.tax
            totals[(mapping.treatment_name(line.tax_rule), currency)] += sign * gross
    return dict(totals)


def _booked_totals_per_treatment(result: BookingResult) -> dict[tuple[str, str], Decimal]:
    totals: dict[tuple[str, str], Decimal] = collections.defaultdict(Decimal)
    for line in result.lines:
        if line.tax_treatment:
            totals[(line.tax_treatment, line.currency)] += open_item_movement(line)
    return dict(totals)


def test_the_year_covers_every_case_the_demo_promises(year: list[Cin7Period]) -> None:
    kinds = collections.Counter(
        kind
        for period in year
        for kind, count in (
            ("sale_invoice", len(period.sale_invoices)),
            ("sale_credit_note", len(period.sale_credit_notes)),
            ("purchase_invoice", len(period.purchase_invoices)),
            ("payment", len(period.payments)),
            ("voided", len(period.voided)),
        )
        for _ in range(count)
    )

    assert len(year) == 12
    assert kinds["sale_invoice"] > 40
    assert kinds["purchase_invoice"] > 20
    assert kinds["sale_credit_note"] == 2
    assert kinds["payment"] > 50
    assert kinds["voided"] == 1  # the one voided invoice: reported, never booked


@pytest.mark.parametrize("chart", CHARTS)
def test_the_whole_year_books_without_a_held_document(
    year: list[Cin7Period], parents: dict[str, Parent], chart: Chart
) -> None:
    mapping = demo_mapping(chart)

    results, registry = _book_year(year, mapping, parents)

    for period, result in zip(year, results, strict=True):
        assert [issue for issue in check_mapping(mapping, period) if issue.severity == "error"] == []
        assert result.held == []
        expected_documents = (
            len(period.sale_invoices)
            + len(period.sale_credit_notes)
            + len(period.purchase_invoices)
            + len(period.purchase_credit_notes)
            + len(period.payments)
        )
        assert [total.status for total in result.documents] == ["booked"] * expected_documents
        assert all(total.booked_total == total.cin7_total for total in result.documents)
        assert validate_booking_frame(booking_frame(result.lines, result.expected_totals())) == []
        assert validate_document_frame(document_frame(period, parents)) == []
        voided = {document.cin7_id for document in period.voided}
        assert not voided & {line.source_id for line in result.lines}
    lines = [line for result in results for line in result.lines]
    assert not [line for line in lines if line.tax_treatment == "Rundung"]  # the demo rounds per line
    assert {line.cost_centre_1 for line in lines if line.tax_treatment} == {"100", "200"}
    assert len(set(registry.assigned("debtor").values())) == len(registry.assigned("debtor")) >= 10
    assert all(10001 <= number <= 69999 for number in registry.assigned("debtor").values())
    assert all(70001 <= number <= 99999 for number in registry.assigned("creditor").values())


@pytest.mark.parametrize("chart", CHARTS)
def test_totals_per_tax_treatment_reconcile_with_cin7(
    year: list[Cin7Period], parents: dict[str, Parent], chart: Chart
) -> None:
    mapping = demo_mapping(chart)

    results, _ = _book_year(year, mapping, parents)

    for period, result in zip(year, results, strict=True):
        assert _booked_totals_per_treatment(result) == _cin7_totals_per_treatment(period, mapping)
        paid = sum(
            (
                p.amount if p.direction in ("supplier_payment", "customer_refund") else -p.amount
                for p in period.payments
            ),
            Decimal(0),
        )
        assert sum((open_item_movement(line) for line in result.lines if not line.tax_treatment), Decimal(0)) == paid
    treatments = {line.tax_treatment for result in results for line in result.lines}
    assert treatments >= {"USt 19", "USt 7", "IGL", "Ausfuhr", "VSt 19", "VSt 7", "IGE 19", "IGE 7", "§13b EU"}
    assert treatments >= {"Einfuhr", "EUSt"}


def test_booking_a_month_again_with_its_lines_posts_nothing(year: list[Cin7Period], parents: dict[str, Parent]) -> None:
    mapping = demo_mapping("skr03")
    registry = InMemoryPersonalAccountRegistry()
    period = max(year, key=lambda p: len(p.sale_invoices) + len(p.payments))
    first = book_period(period, mapping, registry, parents=parents)
    previous: dict[tuple[str, str], list[BookingLine]] = collections.defaultdict(list)
    for line in first.lines:
        previous[(line.source_kind, line.source_id)].append(line)

    again = book_period(period, mapping, registry, parents=parents, previous=previous)

    assert first.lines
    assert again.lines == []
    assert {total.status for total in again.documents} == {"unchanged"}
