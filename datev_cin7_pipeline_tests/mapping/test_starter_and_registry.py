"""The starter mapping from presets plus real Cin7 master data, the presets, and personal account numbers."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from datev_cin7_pipeline.cin7.models import Account, Location, TaxRule
from datev_cin7_pipeline.mapping import (
    InMemoryPersonalAccountRegistry,
    PersonalAccountRangeExhausted,
    check_mapping,
    mapping_starter,
    parse_mapping,
)
from datev_cin7_pipeline.mapping.config import Chart
from datev_cin7_pipeline.mapping.presets import preset_automatic_accounts
from datev_cin7_pipeline_tests.mapping.support import ACCOUNTS, CHARTS, starter_text


@pytest.mark.parametrize("chart", CHARTS)
def test_the_starter_parses_and_check_names_every_open_decision(chart: Chart) -> None:
    text = starter_text(chart)

    config = parse_mapping(text)
    found = [(issue.severity, issue.code, issue.path) for issue in check_mapping(text)]

    assert config.datev.chart == chart
    assert found == [
        ("error", "todo", "datev.client_number"),
        ("error", "todo", "datev.consultant_number"),
        ("warning", "todo", "accounts['3980']"),
        ("warning", "todo", "cost_centres.kost1.values.Hamburg"),
        ("warning", "todo", "cost_centres.kost1.values.München"),
        ("warning", "todo", "payment_accounts['1210']"),
        ("warning", "todo", "payment_accounts['1220']"),
    ]


@pytest.mark.parametrize("chart", CHARTS)
def test_the_starter_fills_what_the_preset_knows(chart: Chart) -> None:
    data = yaml.safe_load(starter_text(chart))
    a = ACCOUNTS[chart]

    assert data["accounts"]["8400"] == a["rev19"]
    assert data["accounts"]["8125"] == a["igl"]
    assert data["accounts"]["4730"] == a["freight_out"]
    assert data["payment_accounts"]["1200"] == a["bank"]
    assert data["rounding"]["account"] == a["rounding"]
    assert "1400" not in data["accounts"]  # the receivables control account never is on a line
    assert data["tax_rules"]["Steuerfrei innergemeinschaftliche Lieferung"] == {
        "treatment": "IGL",
        "kind": "intra_eu_supply",
        "rate": 0,
        "account": a["igl"],
        "sides": ["sale"],
    }
    assert data["tax_rules"]["USt 7%"]["redirect"] == {a["rev19"]: a["rev7"]}
    assert data["tax_rules"]["Einfuhrumsatzsteuer"]["account"] == a["eust"]
    assert data["tax_rules"]["Reverse Charge §13b"]["account"] == a["rc"]
    assert data["debtors"] == {"mode": "personal", "first": 10001, "last": 69999, "collective_account": 10000}
    document_types = parse_mapping(starter_text(chart)).document_types
    assert document_types.for_kind("sale_credit_note") == "Rechnungsausgang"
    assert document_types.for_kind("purchase_invoice") == "Rechnungseingang"


def test_unknown_codes_and_rules_become_todo_and_longer_account_lengths_scale() -> None:
    accounts = [Account(code="200", name="Sales", type="REVENUE", account_class="REVENUE")]
    rules = [TaxRule(id="1", name="GST on Income", tax_percent=Decimal(10), is_tax_for_sale=True)]
    locations = [Location(id="1", name="Main Warehouse"), Location(id="2", name="Old", is_deprecated=True)]

    text = mapping_starter("skr03", accounts, rules, locations, account_length=6)
    data = yaml.safe_load(text)

    assert data["accounts"] == {"200": "TODO"}
    assert data["tax_rules"] == {"GST on Income": {"kind": "TODO", "rate": 10}}
    assert data["cost_centres"]["kost1"]["values"] == {"Main Warehouse": "TODO"}
    assert data["debtors"]["first"] == 1000100
    assert data["creditors"]["last"] == 9999999
    assert data["rounding"]["account"] == 159000
    assert ("error", "todo", "tax_rules['GST on Income'].kind") in [
        (i.severity, i.code, i.path) for i in check_mapping(text)
    ]


def test_presets_mark_the_automatic_accounts_of_each_chart() -> None:
    skr03, skr04 = preset_automatic_accounts("skr03"), preset_automatic_accounts("skr04")

    assert (skr03[8400].kind, skr03[8400].rate) == ("domestic", Decimal(19))
    assert (skr04[4125].kind, skr04[5923].kind) == ("intra_eu_supply", "reverse_charge")
    assert 1588 not in skr03
    assert 3800 not in skr03
    assert set(preset_automatic_accounts("skr03", 5)) == {number * 10 for number in skr03}


def test_a_party_keeps_its_number_and_numbers_are_never_reused() -> None:
    registry = InMemoryPersonalAccountRegistry()

    first = registry.account_for("debtor", "customer-a", 10001, 10003)
    second = registry.account_for("debtor", "customer-b", 10001, 10003)
    again = registry.account_for("debtor", "customer-a", 10001, 10003)
    creditor = registry.account_for("creditor", "customer-a", 70001, 70003)

    assert (first, second, again, creditor) == (10001, 10002, 10001, 70001)
    assert registry.assigned("debtor") == {"customer-a": 10001, "customer-b": 10002}


def test_a_stored_assignment_is_respected_and_a_full_range_raises() -> None:
    registry = InMemoryPersonalAccountRegistry({("debtor", "old"): 10002})

    assert registry.account_for("debtor", "new", 10001, 10003) == 10003  # after the highest, never a gap refill
    with pytest.raises(PersonalAccountRangeExhausted):
        registry.account_for("debtor", "third", 10001, 10003)


def test_the_readme_example_is_a_valid_mapping() -> None:
    readme = (Path(__file__).resolve().parents[2] / "datev_cin7_pipeline" / "mapping" / "README.md").read_text()
    example = readme.split("```yaml\n", 1)[1].split("```", 1)[0]

    config = parse_mapping(example)

    assert config.tax_rules["USt 19%"].for_side("sale").redirect == {8300: 8400}
    assert [issue for issue in check_mapping(example) if issue.severity == "error"] == []
