"""Cin7 values and mapping files the rules must not book wrongly nor let stop a period: decomposed Unicode
(NFC on both sides of every lookup), currencies that are no ISO 4217 code, amounts and rates DATEV's
fields cannot hold (held with a reason that names them), and a mapping file that is not UTF-8."""

from __future__ import annotations

import unicodedata
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from datev_cin7_pipeline.cin7.period import Cin7Period, Payment
from datev_cin7_pipeline.mapping import (
    BookingResult,
    InMemoryPersonalAccountRegistry,
    MappingFileError,
    book_period,
    check_mapping,
    parse_mapping,
)
from datev_cin7_pipeline.mapping.fields import ISO_4217_CURRENCIES, MAX_AMOUNT
from datev_cin7_pipeline.mapping.rules import BookingContext, conversion
from datev_cin7_pipeline_tests.mapping.support import (
    DAY,
    L,
    SaleSpec,
    demo_mapping,
    demo_mapping_dict,
    empty_period,
    master,
    sale,
)


def nfd(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    assert decomposed != text  # the test would prove nothing otherwise
    return decomposed


def _period(spec: SaleSpec, **changes: Any) -> Cin7Period:
    document = sale(spec)
    if changes:
        document = document.model_copy(update=changes)
    period = empty_period()
    period.sale_invoices = [(document, document.invoices[0])]
    return period


def _book(period: Cin7Period, mapping: dict[str, Any] | None = None) -> BookingResult:
    config = parse_mapping(mapping) if mapping is not None else demo_mapping("skr03")
    return book_period(period, config, InMemoryPersonalAccountRegistry())


def _held(result: BookingResult) -> list[str]:
    assert result.lines == []
    (document,) = result.held
    return [str(reason) for reason in document.reasons]


HAFENBLICK = [L("100.00", "19.00", "USt 19%", "8400")]


# --- NFC -------------------------------------------------------------------------------------------


def test_a_decomposed_location_finds_the_composed_cost_centre() -> None:
    result = _book(_period(SaleSpec("hafenblick", HAFENBLICK), location=nfd("München")))

    assert result.held == []
    assert [line.cost_centre_1 for line in result.lines] == ["200"]


def test_a_decomposed_mapping_key_is_stored_composed() -> None:
    mapping = demo_mapping_dict("skr03", cost_centres={"kost1": {"values": {nfd("Köln"): "300"}}})

    config = parse_mapping(mapping)

    assert config.cost_centres.kost1 is not None
    assert config.cost_centres.kost1.values["Köln"] == "300"
    result = _book(_period(SaleSpec("hafenblick", HAFENBLICK), location="Köln"), mapping)
    assert [line.cost_centre_1 for line in result.lines] == ["300"]


def test_an_unmapped_decomposed_location_is_held_and_named_composed() -> None:
    result = _book(_period(SaleSpec("hafenblick", HAFENBLICK), location=nfd("Düsseldorf")))

    assert _held(result) == ["unmapped_cost_centre: location 'Düsseldorf' has no cost centre"]
    assert unicodedata.is_normalized("NFC", result.held[0].reasons[0].message)


def test_decomposed_account_codes_and_tax_rule_names_find_their_mapping() -> None:
    rule = "Umsatzsteuer Gebühr 19%"
    mapping = demo_mapping_dict("skr03")
    mapping["tax_rules"][rule] = mapping["tax_rules"]["USt 19%"]
    mapping["accounts"]["Erlöse"] = 8400
    spec = SaleSpec("hafenblick", [L("100.00", "19.00", nfd(rule), nfd("Erlöse"))])

    result = _book(_period(spec), mapping)

    assert result.held == []
    assert [(line.account, line.amount, line.tax_treatment) for line in result.lines] == [
        (8400, Decimal("119.00"), parse_mapping(mapping).treatment_name(rule))
    ]
    assert parse_mapping(mapping).treatment_name(nfd(rule)) == parse_mapping(mapping).treatment_name(rule)


def test_a_decomposed_payment_account_finds_its_bank() -> None:
    mapping = demo_mapping_dict("skr03", payment_accounts={"Kasse Köln": 1000})
    customer = master().customers["hafenblick"]
    period = empty_period()
    period.payments = [
        Payment("customer_payment", "p1", Decimal(5), DAY, nfd("Kasse Köln"), None, "", "INV-7", "s1", customer.id)
    ]

    result = _book(period, mapping)

    assert result.held == []
    assert [(line.account, line.amount) for line in result.lines] == [(1000, Decimal(5))]


def test_mapping_check_matches_decomposed_cin7_values() -> None:
    rule = "Umsatzsteuer Gebühr 19%"
    mapping = demo_mapping_dict("skr03", payment_accounts={"Kasse Köln": 1000})
    mapping["tax_rules"][rule] = mapping["tax_rules"]["USt 19%"]
    period = _period(SaleSpec("hafenblick", [L("100.00", "19.00", nfd(rule), "8400")]), location=nfd("München"))
    period.tax_rules[nfd(rule)] = period.tax_rules["USt 19%"].model_copy(update={"name": nfd(rule)})
    customer = master().customers["hafenblick"]
    period.payments = [
        Payment("customer_payment", "p1", Decimal(5), DAY, nfd("Kasse Köln"), None, "", "INV-7", "s1", customer.id)
    ]

    assert check_mapping(mapping, period) == []


# --- currencies ------------------------------------------------------------------------------------


def test_the_currency_list_holds_iso_codes_only() -> None:
    assert {"EUR", "USD", "CHF", "GBP", "JPY", "PLN", "XCG", "ZWG"} <= ISO_4217_CURRENCIES
    assert not {"usd", "Eur", "XYZ", "EURO", "XXX", "XTS", "XAU", "DEM", "HRK", ""} & ISO_4217_CURRENCIES
    assert all(len(code) == 3 and code.isascii() and code.isupper() for code in ISO_4217_CURRENCIES)


def test_a_currency_that_is_no_iso_code_is_held() -> None:
    spec = SaleSpec("brooklyn", [L("1000.00", "0", "Steuerfrei Ausfuhr", "8120")], currency="XYZ", rate="2")

    assert _held(_book(_period(spec))) == ["unknown_currency: the currency 'XYZ' is not an ISO 4217 currency code"]


def test_a_lower_case_currency_is_held_not_upper_cased() -> None:
    spec = SaleSpec("brooklyn", [L("1000.00", "0", "Steuerfrei Ausfuhr", "8120")], currency="usd", rate="0.9")

    assert _held(_book(_period(spec))) == [
        "unknown_currency: the currency 'usd' is not an ISO 4217 currency code (ISO codes are upper case: 'USD')"
    ]


def test_a_payment_in_a_currency_that_is_no_iso_code_is_held() -> None:
    ctx = BookingContext(demo_mapping("skr03"), InMemoryPersonalAccountRegistry())

    reasons = conversion("usd", "EUR", Decimal("0.9"), ctx)

    assert isinstance(reasons, list)
    assert [reason.code for reason in reasons] == ["unknown_currency"]
    assert not isinstance(conversion("USD", "EUR", Decimal("0.9"), ctx), list)


@pytest.mark.parametrize(
    ("rate", "kurs"),
    [("0.00005", "20000.000000"), ("10000000", "0.000000")],
    ids=["kurs_over_four_digits", "kurs_rounds_to_zero"],
)
def test_a_rate_whose_kurs_datev_cannot_hold_is_held(rate: str, kurs: str) -> None:
    spec = SaleSpec("brooklyn", [L("1000.00", "0", "Steuerfrei Ausfuhr", "8120")], currency="USD", rate=rate)

    assert _held(_book(_period(spec))) == [
        f"rate_out_of_range: Cin7 CurrencyRate {rate} gives a Kurs of {kurs}; "
        "DATEV's Kurs takes 0.000001 to 9999.999999"
    ]


# --- amounts ----------------------------------------------------------------------------------------


def test_an_amount_over_ten_integer_digits_is_held_naming_it_and_the_limit() -> None:
    spec = SaleSpec("hafenblick", [L("12345678901.00", "2345678991.19", "USt 19%", "8400")])

    assert _held(_book(_period(spec))) == [
        "amount_too_large: the amount 14691357892.19 on account 8400 has more than 10 digits before the decimal "
        "comma: DATEV's Umsatz takes at most 9999999999.99"
    ]


def test_the_largest_amount_datev_takes_is_booked() -> None:
    spec = SaleSpec("hafenblick", [L("8403361344.53", "1596638655.46", "USt 19%", "8400")])

    result = _book(_period(spec))

    assert result.held == []
    assert [line.amount for line in result.lines] == [MAX_AMOUNT]


def test_a_base_amount_over_ten_integer_digits_is_held() -> None:
    spec = SaleSpec("brooklyn", [L("9000000000.00", "0", "Steuerfrei Ausfuhr", "8120")], currency="USD", rate="1.25")

    assert _held(_book(_period(spec))) == [
        "amount_too_large: the EUR amount 11250000000.00 on account 8120 has more than 10 digits before the "
        "decimal comma: DATEV's Basis-Umsatz takes at most 9999999999.99"
    ]


def test_a_payment_over_ten_integer_digits_is_held() -> None:
    customer = master().customers["hafenblick"]
    period = empty_period()
    period.payments = [
        Payment("customer_payment", "p1", Decimal("10000000000.00"), DAY, "1200", None, "", "INV-7", "s1", customer.id)
    ]

    assert _held(_book(period)) == [
        "amount_too_large: the amount 10000000000.00 has more than 10 digits before the decimal comma: "
        "DATEV's Umsatz takes at most 9999999999.99"
    ]


def test_one_document_too_large_does_not_hold_the_others() -> None:
    period = empty_period()
    big = sale(SaleSpec("hafenblick", [L("12345678901.00", "2345678991.19", "USt 19%", "8400")], number="INV-BIG"))
    good = sale(SaleSpec("hafenblick", HAFENBLICK, number="INV-OK", sale_id="sale-2", task_id="task-2"))
    period.sale_invoices = [(big, big.invoices[0]), (good, good.invoices[0])]

    result = _book(period)

    assert [line.document_field_1 for line in result.lines] == ["INV-OK"]
    assert [(held.document.number, held.codes) for held in result.held] == [("INV-BIG", ["amount_too_large"])]


# --- the mapping file -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"\xff\xfeversion: 1\x9c", "version: 1\n".encode("utf-16"), "version: 1  # München\n".encode("cp1252")],
    ids=["stray_byte", "utf16", "cp1252"],
)
def test_a_mapping_file_that_is_not_utf8_is_one_clear_issue(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_bytes(content)

    assert [str(issue) for issue in check_mapping(path)] == ["[error] yaml_syntax: the file is not UTF-8 text"]
    with pytest.raises(MappingFileError, match="the file is not UTF-8 text"):
        parse_mapping(path)
