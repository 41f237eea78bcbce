"""One case per business situation, each asserting the exact booking lines for SKR03 and for SKR04.

Every case builds Cin7 documents for the demo company (its master data, its Cin7 codes), books them
with the demo mapping (starter + completion, `support.demo_mapping`) and compares every line: amount,
side, Konto, Gegenkonto, BU key, Belegfeld 1, Buchungstext, KOST1, currency, Kurs, Basis-Umsatz, VAT id,
Skonto, Generalumkehr, tax treatment. Accounts are given by role and looked up per chart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from datev_cin7_pipeline.cin7.models import Purchase, Sale
from datev_cin7_pipeline.cin7.period import Cin7Period, Payment, PaymentDirection
from datev_cin7_pipeline.cin7.sync import VoidedDocument
from datev_cin7_pipeline.datev.bookings import BookingLine
from datev_cin7_pipeline.mapping import (
    InMemoryPersonalAccountRegistry,
    MappingConfig,
    book_period,
    booking_frame,
    validate_booking_frame,
)
from datev_cin7_pipeline.mapping.config import Chart
from datev_cin7_pipeline_tests.mapping.support import (
    C1,
    C2,
    CHARTS,
    D1,
    DAY,
    Expect,
    L,
    PurchaseSpec,
    SaleSpec,
    credit_note,
    demo_mapping,
    empty_period,
    master,
    payment,
    project,
    purchase,
    purchase_credit_note,
    sale,
)

FEB = dt.date(2026, 2, 20)
HAFENBLICK = "INV-1001 Café Hafenblick GmbH"
SOLINGEN = "Solinger Schneidwaren Weber & Söhne KG"


@dataclass
class Scenario:
    period: Cin7Period
    parents: dict[str, Sale | Purchase] = field(default_factory=dict)


Previous = Callable[[MappingConfig, InMemoryPersonalAccountRegistry], Mapping[tuple[str, str], Sequence[BookingLine]]]


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[], Scenario]
    expected: tuple[Expect, ...] = ()
    held: tuple[str, ...] = ()  # the codes of the single held document
    mapping: Mapping[str, Any] = field(default_factory=dict)
    per_line: bool = True
    previous: Previous | None = None


# --- builders -------------------------------------------------------------------------------------


def period_with(
    *,
    sales: Sequence[Sale] = (),
    credit_notes: Sequence[Sale] = (),
    purchases: Sequence[Purchase] = (),
    purchase_credits: Sequence[Purchase] = (),
    payments: Sequence[Payment] = (),
    per_line: bool = True,
) -> Cin7Period:
    period = empty_period(per_line=per_line)
    period.sale_invoices = [(s, s.invoices[0]) for s in sales]
    period.sale_credit_notes = [(s, s.credit_notes[0]) for s in credit_notes]
    period.purchase_invoices = [(p, p.invoices[0]) for p in purchases]
    period.purchase_credit_notes = [(p, p.credit_notes[0]) for p in purchase_credits]
    period.payments = list(payments)
    return period


def pay(parent: Sale | Purchase, payment_id: str, direction: PaymentDirection, number: str) -> Payment:
    """The period's `Payment` for an embedded payment or refund of `parent` (as `load_period` builds it)."""
    embedded = [
        *(p for i in parent.invoices for p in (i.payments or [])),
        *(r for c in parent.credit_notes for r in c.refunds),
    ]
    found = next(p for p in embedded if p.id == payment_id)
    party = parent.customer_id if isinstance(parent, Sale) else parent.supplier_id
    assert found.date_paid is not None
    return Payment(
        direction,
        found.id,
        found.amount,
        found.date_paid,
        found.account,
        found.currency_rate,
        found.reference,
        number,
        parent.id,
        party,
    )


def one_sale(spec: SaleSpec, per_line: bool = True) -> Callable[[], Scenario]:
    return lambda: Scenario(period_with(sales=[sale(spec)], per_line=per_line))


def one_purchase(spec: PurchaseSpec) -> Callable[[], Scenario]:
    return lambda: Scenario(period_with(purchases=[purchase(spec)]))


U19, U7 = "USt 19%", "USt 7%"
V19, V7 = "Vorsteuer 19%", "Vorsteuer 7%"
IGL, EXPORT = "Steuerfrei innergemeinschaftliche Lieferung", "Steuerfrei Ausfuhr"
IGE19, IGE7, RC = "Innergemeinschaftlicher Erwerb 19%", "Innergemeinschaftlicher Erwerb 7%", "Reverse Charge §13b"
IMPORT, EUST = "Einfuhr Drittland (ohne Vorsteuer)", "Einfuhrumsatzsteuer"

ROUNDING_LINES = [L("10.13", "1.9247", U19, "8400"), L("5.15", "0.3605", U7, "8300")]


def _credit_note_full() -> Scenario:
    spec = SaleSpec(
        "hafenblick",
        [L("100.00", "19.00", U19, "8400")],
        day=FEB,
        credit_notes=[credit_note("CR-2001", "INV-1001", [L("100.00", "19.00", U19, "8400")])],
    )
    return Scenario(period_with(credit_notes=[sale(spec)]))


def _credit_note_partial() -> Scenario:
    lines = [L("100.00", "19.00", U19, "8400"), L("50.00", "3.50", U7, "8300")]
    spec = SaleSpec(
        "hafenblick",
        lines,
        day=FEB,
        credit_notes=[credit_note("CR-2002", "INV-1001", [L("20.00", "1.40", U7, "8300")])],
    )
    return Scenario(period_with(credit_notes=[sale(spec)]))


def _paid(amount: str, *, status: str = "AUTHORISED") -> Scenario:
    spec = SaleSpec(
        "hafenblick", [L("100.00", "19.00", U19, "8400")], day=FEB, status=status, payments=[payment("p-1", amount)]
    )
    document = sale(spec)
    return Scenario(
        period_with(payments=[pay(document, "p-1", "customer_payment", "INV-1001")]), {document.id: document}
    )


def _refund() -> Scenario:
    refund = payment("r-1", "23.80", DAY + dt.timedelta(days=2))
    spec = SaleSpec(
        "hafenblick",
        [L("100.00", "19.00", U19, "8400")],
        day=FEB,
        status="PAID",
        payments=[payment("p-1", "119.00", FEB)],
        credit_notes=[credit_note("CR-2001", "INV-1001", [L("20.00", "3.80", U19, "8400")], refunds=[refund])],
    )
    document = sale(spec)
    period = period_with(credit_notes=[document], payments=[pay(document, "r-1", "customer_refund", "CR-2001")])
    return Scenario(period, {document.id: document})


def _without_vat_id() -> Scenario:
    period = period_with(sales=[sale(SaleSpec("dubois", [L("500.00", "0", IGL, "8125")]))])
    dubois = master().customers["dubois"]
    period.customers[dubois.id] = dubois.model_copy(update={"tax_number": ""})
    return Scenario(period)


def _import_with_customs() -> Scenario:
    goods = PurchaseSpec("pacific", [L("2340.00", "0", IMPORT, "3980")], number="PCI-00500", rate="0.92")
    customs = PurchaseSpec(
        "zollagentur",
        [L("409.03", "0", EUST, "1588", name="EUSt lt. Zollbescheid"), L("65.00", "12.35", V19, "3800")],
        number="HZA-000321",
        purchase_id="purchase-2",
    )
    return Scenario(period_with(purchases=[purchase(goods), purchase(customs)]))


SOLINGEN_INVOICE = PurchaseSpec("solingen", [L("500.00", "95.00", V19, "3980")], number="WS/2026/Ü-0815", day=FEB)


def _supplier_credit_note() -> Scenario:
    spec = PurchaseSpec(
        "solingen",
        [L("500.00", "95.00", V19, "3980")],
        number="WS/2026/Ü-0815",
        day=FEB,
        credit_note=purchase_credit_note("GS-77", [L("100.00", "19.00", V19, "3980")]),
    )
    return Scenario(period_with(purchase_credits=[purchase(spec)]))


def _supplier_payment() -> Scenario:
    spec = PurchaseSpec(
        "solingen", SOLINGEN_INVOICE.lines, number="WS/2026/Ü-0815", day=FEB, payments=[payment("sp-1", "595.00")]
    )
    document = purchase(spec)
    return Scenario(
        period_with(payments=[pay(document, "sp-1", "supplier_payment", "WS/2026/Ü-0815")]), {document.id: document}
    )


def _nasty_number() -> Scenario:
    spec = PurchaseSpec(
        "solingen",
        [L("100.00", "19.00", V19, "3980")],
        number="RE 2026/Ü-17.ä_x#1",
        payments=[payment("sp-9", "119.00")],
    )
    document = purchase(spec)
    period = period_with(
        purchases=[document], payments=[pay(document, "sp-9", "supplier_payment", "RE 2026/Ü-17.ä_x#1")]
    )
    return Scenario(period)


def _several_gaps() -> Scenario:
    lines = [L("100.00", "19.00", "USt 16%", "8400"), L("10.00", "1.90", U19, "8999")]
    return Scenario(period_with(sales=[sale(SaleSpec("hafenblick", lines, day=dt.date(2026, 4, 2)))]))


def _voided() -> Scenario:
    period = period_with()
    period.voided = [VoidedDocument("sale_invoice", "task-inv-1", "sale-1", "INV-1001")]
    return Scenario(period)


def _previous(spec: SaleSpec) -> Previous:
    """The booking `spec` got when it was booked before (same mapping, same registry)."""

    def build(mapping: MappingConfig, registry: InMemoryPersonalAccountRegistry) -> dict[tuple[str, str], Any]:
        earlier = book_period(period_with(sales=[sale(spec)]), mapping, registry)
        return {("sale_invoice", "task-inv-1"): earlier.lines}

    return build


SALE_19 = SaleSpec("hafenblick", [L("100.00", "19.00", U19, "8400")])


# --- the cases ------------------------------------------------------------------------------------


def E(amount: str, side: str, account: str | int, contra: int, beleg: str, text: str, **kw: Any) -> Expect:
    return Expect(amount, side, account, contra, beleg, text, **kw)


CASES: tuple[Case, ...] = (
    Case(
        "domestic_sale_19",
        one_sale(SALE_19),
        (E("119.00", "H", "rev19", D1, "INV-1001", HAFENBLICK, kost1="100", treatment="USt 19"),),
    ),
    Case(
        "domestic_sale_7",
        one_sale(SaleSpec("hafenblick", [L("50.00", "3.50", U7, "8300")])),
        (E("53.50", "H", "rev7", D1, "INV-1001", HAFENBLICK, kost1="100", treatment="USt 7"),),
    ),
    Case(
        "mixed_rates_and_a_7_percent_line_on_the_19_percent_account",
        one_sale(
            SaleSpec(
                "hafenblick",
                [
                    L("100.00", "19.00", U19, "8400"),
                    L("50.00", "3.50", U7, "8300"),
                    L("20.00", "3.80", U19, "8400"),
                    L("30.00", "2.10", U7, "8400"),  # redirected 8400 → 8300 by the 7 % rule
                ],
            )
        ),
        (
            E("142.80", "H", "rev19", D1, "INV-1001", HAFENBLICK, kost1="100", treatment="USt 19"),
            E("85.60", "H", "rev7", D1, "INV-1001", HAFENBLICK, kost1="100", treatment="USt 7"),
        ),
    ),
    Case(
        "sale_with_freight_charge",
        one_sale(
            SaleSpec(
                "hafenblick",
                [L("200.00", "38.00", U19, "8400", name="Gusseisenpfanne")],
                charges=[L("45.00", "8.55", U19, "8400", name="Fracht und Verpackung")],
            )
        ),
        (E("291.55", "H", "rev19", D1, "INV-1001", HAFENBLICK, kost1="100", treatment="USt 19"),),
    ),
    Case(
        "sale_with_line_discount",
        one_sale(SaleSpec("hafenblick", [L("180.00", "34.20", U19, "8400", quantity="10", price="20", discount="10")])),
        (E("214.20", "H", "rev19", D1, "INV-1001", HAFENBLICK, kost1="100", treatment="USt 19"),),
    ),
    Case(
        "tax_inclusive_sale",
        one_sale(
            SaleSpec(
                "sonnenwiese",
                [L("119.00", "19.00", U19, "8400"), L("21.40", "1.40", U7, "8300")],
                inclusive=True,
            )
        ),
        (
            E(
                "119.00",
                "H",
                "rev19",
                D1,
                "INV-1001",
                "INV-1001 Hofladen Sonnenwiese (Inh. Jörg Brandt)",
                kost1="100",
                treatment="USt 19",
            ),
            E(
                "21.40",
                "H",
                "rev7",
                D1,
                "INV-1001",
                "INV-1001 Hofladen Sonnenwiese (Inh. Jörg Brandt)",
                kost1="100",
                treatment="USt 7",
            ),
        ),
    ),
    Case(
        "rounding_per_line_needs_no_rounding_line",
        one_sale(SaleSpec("hafenblick", ROUNDING_LINES, totals={"Tax": "2.28", "Total": "17.56"})),
        (
            E("12.05", "H", "rev19", D1, "INV-1001", HAFENBLICK, kost1="100", treatment="USt 19"),
            E("5.51", "H", "rev7", D1, "INV-1001", HAFENBLICK, kost1="100", treatment="USt 7"),
        ),
    ),
    Case(
        "rounding_per_document_books_the_cent_on_the_rounding_account",
        one_sale(SaleSpec("hafenblick", ROUNDING_LINES, totals={"Tax": "2.29", "Total": "17.57"}), per_line=False),
        (
            E("12.05", "H", "rev19", D1, "INV-1001", HAFENBLICK, kost1="100", treatment="USt 19"),
            E("5.51", "H", "rev7", D1, "INV-1001", HAFENBLICK, kost1="100", treatment="USt 7"),
            E("0.01", "H", "rounding", D1, "INV-1001", "Rundungsdifferenz INV-1001", kost1="100", treatment="Rundung"),
        ),
    ),
    Case(
        "intra_eu_supply_with_vat_id",
        one_sale(SaleSpec("gruber", [L("500.00", "0", IGL, "8125"), L("300.00", "0", IGL, "8400")])),
        (
            E(
                "800.00",
                "H",
                "igl",
                D1,
                "INV-1001",
                "INV-1001 Wiener Kaffeehaus Gruber GmbH",
                kost1="200",
                vat_id="ATU57390142",
                treatment="IGL",
            ),
        ),
    ),
    Case("intra_eu_supply_without_vat_id_is_held", _without_vat_id, held=("missing_vat_id",)),
    Case(
        "export_to_a_third_country",
        one_sale(SaleSpec("bergblick", [L("1000.00", "0", EXPORT, "8120")], currency="EUR")),
        (
            E(
                "1000.00",
                "H",
                "export",
                D1,
                "INV-1001",
                "INV-1001 Confiserie Bergblick AG",
                kost1="200",
                treatment="Ausfuhr",
            ),
        ),
    ),
    Case(
        "export_sale_in_usd",
        one_sale(
            SaleSpec(
                "brooklyn",
                [L("1000.00", "0", EXPORT, "8120")],
                charges=[L("50.00", "0", EXPORT, "8120", name="Freight")],
                rate="0.92",
            )
        ),
        (
            E(
                "1050.00",
                "H",
                "export",
                D1,
                "INV-1001",
                "INV-1001 Brooklyn Coffee Supply LLC",
                kost1="100",
                currency="USD",
                kurs="1.086957",
                base="966.00",
                treatment="Ausfuhr",
            ),
        ),
    ),
    Case(
        "full_credit_note",
        _credit_note_full,
        (
            E(
                "119.00",
                "S",
                "rev19",
                D1,
                "INV-1001",
                "Gutschrift CR-2001 zu INV-1001 Café Hafenblick GmbH",
                kost1="100",
                treatment="USt 19",
            ),
        ),
    ),
    Case(
        "partial_credit_note",
        _credit_note_partial,
        (
            E(
                "21.40",
                "S",
                "rev7",
                D1,
                "INV-1001",
                "Gutschrift CR-2002 zu INV-1001 Café Hafenblick GmbH",
                kost1="100",
                treatment="USt 7",
            ),
        ),
    ),
    Case(
        "full_payment",
        lambda: _paid("119.00", status="PAID"),
        (E("119.00", "S", "bank", D1, "INV-1001", "Zahlung INV-1001 Café Hafenblick GmbH"),),
    ),
    Case(
        "partial_payment",
        lambda: _paid("50.00"),
        (E("50.00", "S", "bank", D1, "INV-1001", "Zahlung INV-1001 Café Hafenblick GmbH"),),
    ),
    Case(
        "payment_with_cash_discount",
        lambda: _paid("115.43", status="PAID"),
        (E("115.43", "S", "bank", D1, "INV-1001", "Zahlung INV-1001 Café Hafenblick GmbH", discount="3.57"),),
        mapping={"cash_discount": {"enabled": True, "max_percent": 3}},
    ),
    Case(
        "credit_note_and_its_refund",
        _refund,
        (
            E(
                "23.80",
                "S",
                "rev19",
                D1,
                "INV-1001",
                "Gutschrift CR-2001 zu INV-1001 Café Hafenblick GmbH",
                kost1="100",
                treatment="USt 19",
            ),
            E("23.80", "H", "bank", D1, "INV-1001", "Erstattung CR-2001 Café Hafenblick GmbH"),
        ),
    ),
    Case(
        "supplier_invoice_19_stock_and_inbound_costs",
        one_purchase(
            PurchaseSpec(
                "solingen",
                [L("500.00", "95.00", V19, "3980"), L("40.00", "7.60", V19, "3800", name="Verpackung")],
                number="WS/2026/Ü-0815",
            )
        ),
        (
            E(
                "595.00",
                "S",
                "goods19",
                C1,
                "WS/2026/Ue-0815",
                f"WS/2026/Ü-0815 {SOLINGEN}",
                kost1="100",
                treatment="VSt 19",
            ),
            E(
                "47.60",
                "S",
                "inbound",
                C1,
                "WS/2026/Ue-0815",
                f"WS/2026/Ü-0815 {SOLINGEN}",
                key="9",
                kost1="100",
                treatment="VSt 19",
            ),
        ),
    ),
    Case(
        "supplier_invoice_7",
        one_purchase(PurchaseSpec("roestmanufaktur", [L("1000.00", "70.00", V7, "3980")], number="RB-2026-00123")),
        (
            E(
                "1070.00",
                "S",
                "goods7",
                C1,
                "RB-2026-00123",
                "RB-2026-00123 Röstmanufaktur Bremen GmbH",
                kost1="100",
                treatment="VSt 7",
            ),
        ),
    ),
    Case(
        "intra_eu_acquisition_19",
        one_purchase(PurchaseSpec("gusswerk", [L("1950.00", "0", IGE19, "3980")], number="AR2600123")),
        (
            E(
                "1950.00",
                "S",
                "ige19",
                C1,
                "AR2600123",
                "AR2600123 Alpen-Gusswerk GmbH",
                kost1="200",
                treatment="IGE 19",
            ),
        ),
    ),
    Case(
        "intra_eu_acquisition_7",
        one_purchase(PurchaseSpec("oleificio", [L("2976.00", "0", IGE7, "3980")], number="123/2026")),
        (
            E(
                "2976.00",
                "S",
                "ige7",
                C1,
                "123/2026",
                "123/2026 Oleificio Toscano S.r.l.",
                kost1="200",
                treatment="IGE 7",
            ),
        ),
    ),
    Case(
        "reverse_charge_13b_freight_service",
        one_purchase(PurchaseSpec("vandijk", [L("770.00", "0", RC, "4730")], number="VD202600123")),
        (
            E(
                "770.00",
                "S",
                "rc",
                C1,
                "VD202600123",
                "VD202600123 Logistiek Van Dijk B.V.",
                kost1="100",
                treatment="§13b EU",
            ),
        ),
    ),
    Case(
        "import_in_usd_and_the_customs_invoice_with_import_vat",
        _import_with_customs,
        (
            E(
                "2340.00",
                "S",
                "goods_plain",
                C1,
                "PCI-00500",
                "PCI-00500 Pacific Coffee Importers Inc.",
                kost1="100",
                currency="USD",
                kurs="1.086957",
                base="2152.80",
                treatment="Einfuhr",
            ),
            E(
                "409.03",
                "S",
                "eust",
                C2,
                "HZA-000321",
                "HZA-000321 Hanseatische Zollagentur GmbH",
                kost1="100",
                treatment="EUSt",
            ),
            E(
                "77.35",
                "S",
                "inbound",
                C2,
                "HZA-000321",
                "HZA-000321 Hanseatische Zollagentur GmbH",
                key="9",
                kost1="100",
                treatment="VSt 19",
            ),
        ),
    ),
    Case(
        "supplier_invoice_in_chf",
        one_purchase(PurchaseSpec("zuerich", [L("1790.00", "0", IMPORT, "3980")], number="R-2026-0042", rate="1.05")),
        (
            E(
                "1790.00",
                "S",
                "goods_plain",
                C1,
                "R-2026-0042",
                "R-2026-0042 Kaffeemaschinen Zürich AG",
                kost1="200",
                currency="CHF",
                kurs="0.952381",
                base="1879.50",
                treatment="Einfuhr",
            ),
        ),
    ),
    Case(
        "supplier_credit_note",
        _supplier_credit_note,
        (
            E(
                "119.00",
                "H",
                "goods19",
                C1,
                "WS/2026/Ue-0815",
                "Gutschrift GS-77 zu WS/2026/Ü-0815 Solinger Schneidwaren...",
                kost1="100",
                treatment="VSt 19",
            ),
        ),
    ),
    Case(
        "supplier_payment",
        _supplier_payment,
        (
            E(
                "595.00",
                "H",
                "bank",
                C1,
                "WS/2026/Ue-0815",
                "Zahlung WS/2026/Ü-0815 Solinger Schneidwaren Weber & Söhn...",
            ),
        ),
    ),
    Case(
        "unknown_tax_rule_is_held",
        one_sale(SaleSpec("hafenblick", [L("100.00", "16.00", "USt 16%", "8400")])),
        held=("unmapped_tax_rule",),
    ),
    Case(
        "unmapped_account_is_held",
        one_sale(SaleSpec("hafenblick", [L("100.00", "19.00", U19, "8999")])),
        held=("unmapped_account",),
    ),
    Case(
        "every_gap_of_a_document_is_reported",
        _several_gaps,
        held=("date_outside_period", "unmapped_account", "unmapped_tax_rule"),
    ),
    Case(
        "voided_after_booking_generalumkehr",
        _voided,
        (
            E(
                "119.00",
                "H",
                "rev19",
                D1,
                "INV-1001",
                "Storno INV-1001 Café Hafenblick GmbH",
                kost1="100",
                reversal=True,
                treatment="USt 19",
            ),
        ),
        previous=_previous(SALE_19),
    ),
    Case(
        "voided_after_booking_swapped_sides",
        _voided,
        (
            E(
                "119.00",
                "S",
                "rev19",
                D1,
                "INV-1001",
                "Storno INV-1001 Café Hafenblick GmbH",
                kost1="100",
                treatment="USt 19",
            ),
        ),
        mapping={"reversal": {"style": "swap"}},
        previous=_previous(SALE_19),
    ),
    Case(
        "changed_after_booking_is_reversed_and_booked_anew",
        one_sale(SaleSpec("hafenblick", [L("200.00", "38.00", U19, "8400")])),
        (
            E(
                "119.00",
                "H",
                "rev19",
                D1,
                "INV-1001",
                "Storno INV-1001 Café Hafenblick GmbH",
                kost1="100",
                reversal=True,
                treatment="USt 19",
            ),
            E("238.00", "H", "rev19", D1, "INV-1001", HAFENBLICK, kost1="100", treatment="USt 19"),
        ),
        previous=_previous(SALE_19),
    ),
    Case(
        "nasty_document_number_in_belegfeld_1",
        _nasty_number,
        (
            E(
                "119.00",
                "S",
                "goods19",
                C1,
                "RE-2026/Ue-17-ae-x1",
                f"RE 2026/Ü-17.ä_x#1 {SOLINGEN}",
                kost1="100",
                treatment="VSt 19",
            ),
            E(
                "119.00",
                "H",
                "bank",
                C1,
                "RE-2026/Ue-17-ae-x1",
                "Zahlung RE 2026/Ü-17.ä_x#1 Solinger Schneidwaren Weber &...",
            ),
        ),
    ),
)


def _run(case: Case, chart: Chart) -> tuple[Any, MappingConfig]:
    mapping = demo_mapping(chart, **dict(case.mapping))
    registry = InMemoryPersonalAccountRegistry()
    previous = case.previous(mapping, registry) if case.previous else None
    scenario = case.build()
    if not case.per_line:
        company = scenario.period.company
        assert company is not None
        scenario.period.company = company.model_copy(update={"tax_calculation_method": "Total"})
    result = book_period(scenario.period, mapping, registry, parents=scenario.parents, previous=previous)
    return result, mapping


@pytest.mark.parametrize("chart", CHARTS)
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_booking_case(case: Case, chart: Chart) -> None:
    result, _ = _run(case, chart)

    assert [project(line) for line in result.lines] == [expected.row(chart) for expected in case.expected]
    if case.held:
        assert len(result.held) == 1
        assert result.held[0].codes == sorted(case.held)
        assert result.lines == []
    else:
        assert result.held == []
    assert validate_booking_frame(booking_frame(result.lines, result.expected_totals())) == []


def test_at_least_25_business_situations() -> None:
    assert len(CASES) >= 25


@pytest.mark.parametrize("chart", CHARTS)
def test_every_booked_document_reproduces_its_cin7_total(chart: Chart) -> None:
    for case in CASES:
        result, _ = _run(case, chart)
        for total in result.documents:
            if total.status == "booked":
                assert total.booked_total == total.cin7_total, (case.name, total)
