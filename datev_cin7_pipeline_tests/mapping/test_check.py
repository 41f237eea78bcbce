"""The mapping file and `check_mapping`: each kind of mistake is reported with its stable code and key path."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from datev_cin7_pipeline.mapping import MappingFileError, check_mapping, parse_mapping
from datev_cin7_pipeline.mapping.config import Chart
from datev_cin7_pipeline.mapping.issues import MappingIssue
from datev_cin7_pipeline_tests.mapping.support import (
    CHARTS,
    L,
    PurchaseSpec,
    SaleSpec,
    demo_mapping,
    demo_mapping_dict,
    empty_period,
    master,
    merge,
    purchase,
    sale,
)


def codes(found: list[MappingIssue]) -> list[tuple[str, str, str]]:
    return [(issue.severity, issue.code, issue.path) for issue in found]


@pytest.mark.parametrize("chart", CHARTS)
def test_the_completed_demo_mapping_has_no_issues(chart: Chart) -> None:
    assert check_mapping(demo_mapping_dict(chart)) == []


def test_a_typo_key_is_an_unknown_key_with_its_path() -> None:
    data = demo_mapping_dict("skr03")
    data["tax_rules"]["USt 19%"]["bu_kee"] = "3"

    found = check_mapping(data)

    assert codes(found) == [("error", "unknown_key", "tax_rules['USt 19%'].bu_kee")]
    assert "typo" in found[0].message
    with pytest.raises(MappingFileError, match=r"tax_rules\['USt 19%'\]\.bu_kee"):
        parse_mapping(data)


def test_a_typo_at_the_top_and_a_wrong_value_are_both_reported() -> None:
    data = demo_mapping_dict("skr03")
    data["rounding_acount"] = 1590
    data["datev"]["account_length"] = 9

    assert codes(check_mapping(data)) == [
        ("error", "invalid_value", "datev.account_length"),
        ("error", "unknown_key", "rounding_acount"),
    ]


def test_an_unquoted_cin7_code_is_refused_because_it_would_lose_leading_zeros() -> None:
    text = yaml.safe_dump(demo_mapping_dict("skr03"), allow_unicode=True).replace(
        "accounts:\n", "accounts:\n  0700: 700\n", 1
    )

    found = check_mapping(text)

    assert [issue.code for issue in found] == ["invalid_value"]
    assert found[0].path == "accounts[448](key)"  # YAML 1.1 even reads 0700 as octal 448
    assert "quoted" in found[0].message


def test_not_yaml_and_not_a_mapping() -> None:
    assert [i.code for i in check_mapping("datev: [unclosed")] == ["yaml_syntax"]
    assert [i.code for i in check_mapping("- just\n- a list\n")] == ["yaml_syntax"]


def test_a_required_section_missing() -> None:
    data = demo_mapping_dict("skr03")
    del data["rounding"]

    assert codes(check_mapping(data)) == [("error", "missing_key", "rounding")]


def test_a_file_path_is_read(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text(yaml.safe_dump(demo_mapping_dict("skr04"), allow_unicode=True), encoding="utf-8")

    assert check_mapping(path) == []
    assert parse_mapping(path).datev.chart == "skr04"


def test_a_bu_key_on_an_automatic_account() -> None:
    data = demo_mapping_dict("skr03")
    data["tax_rules"]["Steuerfrei innergemeinschaftliche Lieferung"]["bu_key"] = "11"

    assert codes(check_mapping(data)) == [
        ("error", "bu_key_on_automatic_account", "tax_rules['Steuerfrei innergemeinschaftliche Lieferung'].bu_key")
    ]


def test_an_automatic_account_that_computes_another_rate() -> None:
    data = demo_mapping_dict("skr04")
    data["tax_rules"]["Innergemeinschaftlicher Erwerb 7%"]["account"] = 5425  # the 19 % account

    found = check_mapping(data)

    assert codes(found) == [
        ("error", "automatic_account_conflict", "tax_rules['Innergemeinschaftlicher Erwerb 7%'].account")
    ]
    assert "19" in found[0].message


def test_a_taxable_rule_on_a_plain_account_without_key() -> None:
    data = demo_mapping_dict("skr03")
    data["tax_rules"]["Reverse Charge §13b"]["account"] = 4730  # Ausgangsfrachten: not automatic, no key

    assert codes(check_mapping(data)) == [
        ("error", "no_tax_mechanism", "tax_rules['Reverse Charge §13b'].account"),
    ]


@pytest.mark.parametrize(
    ("section", "code", "value", "expected"),
    [
        ("accounts", "8400", 84000, ("error", "personal_account_as_ledger", "accounts['8400']")),
        ("accounts", "8400", 840000, ("error", "account_length", "accounts['8400']")),
        ("payment_accounts", "1200", 120000, ("error", "account_length", "payment_accounts['1200']")),
    ],
)
def test_an_account_of_the_wrong_length(section: str, code: str, value: int, expected: tuple[str, str, str]) -> None:
    data = demo_mapping_dict("skr03")
    data[section][code] = value

    assert codes(check_mapping(data)) == [expected]


def test_a_longer_account_length_makes_the_preset_accounts_too_short_for_nothing() -> None:
    data = demo_mapping_dict("skr03")
    data["datev"]["account_length"] = 5

    found = codes(check_mapping(data))

    # the ranges are still 5 digits, but personal accounts must now have 6
    assert ("error", "personal_account_length", "debtors.first") in found
    assert ("error", "personal_account_length", "creditors.last") in found


def test_overlapping_personal_ranges() -> None:
    data = demo_mapping_dict("skr03")
    data["debtors"]["last"] = 75000

    assert codes(check_mapping(data)) == [
        ("error", "personal_range_overlap", "creditors.collective_account"),
        ("error", "personal_range_overlap", "debtors"),
    ]


def test_a_collective_account_inside_the_personal_range_and_an_empty_range() -> None:
    data = demo_mapping_dict("skr03")
    data["debtors"]["collective_account"] = 10500
    data["creditors"]["first"], data["creditors"]["last"] = 99999, 70001

    assert codes(check_mapping(data)) == [
        ("error", "personal_range_invalid", "creditors"),
        ("error", "personal_range_invalid", "debtors.collective_account"),
    ]


def test_todo_values_and_demo_client_numbers() -> None:
    data = merge(demo_mapping_dict("skr03"), {"accounts": {"3980": "TODO"}})
    data["datev"]["consultant_number"] = "TODO"
    data["datev"]["client_number"] = 1

    assert codes(check_mapping(data)) == [
        ("error", "todo", "datev.consultant_number"),
        ("warning", "todo", "accounts['3980']"),
        ("warning", "default_client_numbers", "datev"),
    ]


def test_rounding_onto_an_automatic_account() -> None:
    data = demo_mapping_dict("skr03")
    data["rounding"]["account"] = 8400

    assert codes(check_mapping(data)) == [("error", "automatic_account_conflict", "rounding.account")]


def test_automatic_accounts_can_be_removed_and_then_need_keys() -> None:
    data = demo_mapping_dict("skr03")
    data["automatic_accounts"]["remove"] = [8125]

    assert codes(check_mapping(data)) == [
        ("warning", "tax_free_without_key", "tax_rules['Steuerfrei innergemeinschaftliche Lieferung'].account")
    ]


# --- against a period ------------------------------------------------------------------------------


def _period_with_gaps() -> Any:
    period = empty_period()
    document = sale(
        SaleSpec(
            "hafenblick",
            [L("100.00", "19.00", "USt 19%", "8999"), L("10.00", "1.60", "USt 16%", "8400")],
        )
    )
    period.sale_invoices = [(document, document.invoices[0])]
    bought = purchase(PurchaseSpec("solingen", [L("100.00", "19.00", "USt 19%", "3980")]))
    period.purchase_invoices = [(bought, bought.invoices[0])]
    return period


def test_the_periods_documents_name_every_unmapped_code() -> None:
    mapping = demo_mapping("skr03", cost_centres={"kost1": {"values": {"München": "TODO"}}})
    period = _period_with_gaps()
    document = period.sale_invoices[0][0]
    period.sale_invoices[0] = (document.model_copy(update={"location": "Berlin"}), period.sale_invoices[0][1])

    assert codes(check_mapping(mapping, period)) == [
        ("error", "unmapped_account", "accounts['8999']"),
        ("error", "unmapped_cost_centre", "cost_centres.kost1.values.Berlin"),
        ("error", "unmapped_tax_rule", "tax_rules['USt 16%']"),
        ("error", "tax_rule_wrong_side", "tax_rules['USt 19%'].sides"),  # a sales rule on a supplier invoice
        ("warning", "todo", "cost_centres.kost1.values.München"),
    ]


def test_unmapped_payment_accounts_of_the_period() -> None:
    from datev_cin7_pipeline.cin7.period import Payment

    period = empty_period()
    customer = master().customers["hafenblick"]
    period.payments = [
        Payment("customer_payment", "p1", Decimal(1), dt.date(2026, 3, 5), "1299", None, "", "INV-1", "s1", customer.id)
    ]

    assert codes(check_mapping(demo_mapping("skr03"), period)) == [
        ("error", "unmapped_payment_account", "payment_accounts['1299']")
    ]


def test_a_foreign_base_currency_and_a_period_across_two_fiscal_years() -> None:
    period = empty_period(dt.date(2026, 3, 1), dt.date(2026, 5, 1))
    assert period.company is not None
    period.company = period.company.model_copy(update={"currency": "CHF"})
    mapping = demo_mapping("skr03", datev={"fiscal_year_start_month": 4})

    assert codes(check_mapping(mapping, period)) == [
        ("error", "currency_mismatch", "datev.currency"),
        ("error", "period_spans_fiscal_years", "datev.fiscal_year_start_month"),
    ]


def test_a_mapped_tax_rule_cin7_does_not_have() -> None:
    mapping = demo_mapping("skr03", tax_rules={"Alte Regel": {"kind": "tax_free"}})

    assert codes(check_mapping(mapping, empty_period())) == [("warning", "unknown_tax_rule", "tax_rules['Alte Regel']")]


def test_batch_header_from_the_mapping() -> None:
    datev = demo_mapping("skr04", datev={"fiscal_year_start_month": 7}).datev

    header = datev.batch_header(dt.date(2026, 3, 1), dt.date(2026, 3, 31))

    assert (header.consultant_number, header.client_number, header.chart) == (29098, 55003, "04")
    assert header.fiscal_year_start == dt.date(2025, 7, 1)
    assert header.lock is False
    with pytest.raises(ValueError, match="two fiscal years"):
        datev.batch_header(dt.date(2026, 6, 1), dt.date(2026, 7, 31))
