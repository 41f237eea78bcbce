"""`mapping_starter`: a first mapping file from the chart's preset and the connection's Cin7 master data.

Everything the preset can decide is filled in with a comment saying where it came from; every Cin7
code that needs a human (or the tax advisor) is `TODO`, which `check_mapping` reports until it is
replaced. Suggestions that are only guesses (a tax rule recognised by its name or rate) say so.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal

from datev_cin7_pipeline.cin7.models import Account, Location, TaxRule
from datev_cin7_pipeline.mapping.config import Chart
from datev_cin7_pipeline.mapping.presets import (
    BASE_LENGTH,
    PRESETS,
    TreatmentPreset,
    personal_range,
    scale,
    suggest_account,
)

# Cin7 accounts that never appear on an invoice line: control accounts Cin7 posts itself.
_CONTROL_SYSTEM_ACCOUNTS = frozenset({"DEBTORS", "CREDITORS", "RETAINEDEARNINGS", "GST", "ROUNDING"})
_LINE_TYPES = frozenset({"INVENTORY", "DIRECTCOSTS", "FIXED", "SALES", "REVENUE", "EXPENSE", "OTHERINCOME"})
_TAX_KINDS = (
    "domestic, tax_free, not_taxable, intra_eu_supply, export, intra_eu_acquisition, reverse_charge, import, import_vat"
)
# (words in the rule name, preset key or a rate-dependent family) in the order they are tried.
_NAME_HINTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("einfuhrumsatzsteuer", "import vat", "eust"), "import_vat"),
    (("13b", "reverse charge", "reverse-charge"), "reverse_charge"),
    (("innergemeinschaftliche lieferung", "intra-eu supply", "intra eu supply", "igl"), "intra_eu_supply"),
    (("innergemeinschaftlicher erwerb", "erwerb", "intra-eu acquisition", "acquisition"), "intra_eu_acquisition"),
    (("ausfuhr", "export"), "export"),
    (("einfuhr", "import"), "import"),
)


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def mapping_starter(
    chart: Chart,
    accounts: Iterable[Account],
    tax_rules: Iterable[TaxRule],
    locations: Iterable[Location],
    *,
    account_length: int = BASE_LENGTH,
) -> str:
    """A starter mapping YAML for `chart` covering the connection's Cin7 accounts, tax rules and locations."""
    accounts = list(accounts)
    sections = [
        _header(chart, account_length),
        _automatic_section(chart, account_length),
        _accounts_section(chart, [a for a in accounts if not _is_bank(a)], account_length),
        _tax_rules_section(chart, list(tax_rules), account_length),
        _payment_section(chart, [a for a in accounts if _is_bank(a)], account_length),
        _cost_centre_section([loc for loc in locations if not loc.is_deprecated]),
        _tail(chart, account_length),
    ]
    return "\n".join(section for section in sections if section) + "\n"


def _header(chart: Chart, length: int) -> str:
    return f"""# DATEV mapping for one Cin7 connection (schema: datev_cin7_pipeline/mapping/README.md).
# Generated from the {chart.upper()} wholesaler preset and the connection's Cin7 chart of accounts, tax rules
# and locations. Replace every TODO and confirm the preset's choices with the tax advisor;
# `datev-cin7 mapping check` lists what is still open.
version: 1

datev:
  consultant_number: TODO        # Beraternummer (1001–9999999)
  client_number: TODO            # Mandantennummer (1–99999)
  chart: {chart}
  account_length: {length}              # Sachkontenlänge 4–8; personal accounts have one digit more
  fiscal_year_start_month: 1     # first month of the fiscal year (WJ-Beginn)
  currency: EUR
  lock: false                    # Festschreibung: false lets the tax advisor still correct the bookings
  batch_label: "Cin7 Core"
"""


def _automatic_section(chart: Chart, length: int) -> str:
    lines = [
        "# Automatic accounts (AM/AV): DATEV computes the VAT from the gross amount, so they never get a",
        "# BU key. The preset assumes the standard chart; remove accounts the client has switched off.",
        "automatic_accounts:",
        "  preset: true",
        "  add: {}",
        "  remove: []",
        "# preset:",
    ]
    for number, (kind, rate, name) in sorted(PRESETS[chart].automatic.items()):
        lines.append(f"#   {scale(number, length)}  {name} ({kind} {rate} %)")
    return "\n".join(lines) + "\n"


def _is_bank(account: Account) -> bool:
    return account.type.upper() == "BANK" or account.for_payments


def _on_lines(account: Account) -> bool:
    """Accounts Cin7 puts on invoice lines: revenue, expense, stock, costs, and the import VAT account."""
    system = account.system_account.upper()
    if system in _CONTROL_SYSTEM_ACCOUNTS:
        return False
    if system == "GSTONIMPORTS":
        return True
    return account.account_class.upper() in ("REVENUE", "EXPENSE") or account.type.upper() in _LINE_TYPES


def _accounts_section(chart: Chart, accounts: list[Account], length: int) -> str:
    lines = ["# Cin7 account code (as text) → DATEV account.", "accounts:"]
    others = []
    for account in sorted(accounts, key=lambda a: a.code):
        if not _on_lines(account):
            others.append(account)
            continue
        lines.append(_account_entry(chart, account, length))
    if len(lines) == 2:
        lines[-1] = "accounts: {}"
    if others:
        lines.append("# Cin7 accounts not expected on document lines (add them if a document uses one):")
        lines.extend(f"#   {_q(a.code)}: {a.name} ({a.account_class}/{a.type})" for a in others)
    return "\n".join(lines) + "\n"


def _account_entry(chart: Chart, account: Account, length: int) -> str:
    described = f"Cin7: {account.name} ({account.account_class}/{account.type})"
    suggestion = suggest_account(chart, account.code, length)
    if suggestion:
        number, name = suggestion
        return f"  {_q(account.code)}: {number}    # {name}; {described}"
    if account.type.upper() == "INVENTORY":
        goods = scale(3400 if chart == "skr03" else 5400, length)
        return f"  {_q(account.code)}: TODO    # {described}; e.g. {goods} Wareneingang 19 % (automatic)"
    return f"  {_q(account.code)}: TODO    # {described}"


def _guess(rule: TaxRule) -> tuple[str | None, str]:
    """The preset treatment for a Cin7 tax rule, and how sure the guess is."""
    name = rule.name.lower()
    percents = [component.percent for component in rule.components]
    top = max([rule.tax_percent, *percents], default=Decimal(0))
    for words, key in _NAME_HINTS:
        if any(word in name for word in words):
            if key == "intra_eu_acquisition":
                return ("intra_eu_acquisition_7" if top == 7 else "intra_eu_acquisition_19"), "recognised by name"
            return key, "recognised by name"
    if rule.tax_percent in (19, 7) and rule.is_tax_for_sale != rule.is_tax_for_purchase:
        side = "output" if rule.is_tax_for_sale else "input"
        return f"{side}_{int(rule.tax_percent)}", "guessed from its rate and side"
    return None, ""


def _tax_rules_section(chart: Chart, rules: list[TaxRule], length: int) -> str:
    lines = [
        "# Cin7 tax rule (by name) → tax treatment. kind: " + _TAX_KINDS + ".",
        "# account: every line of the rule goes there; redirect: {mapped account: account for this rule};",
        "# bu_key: written only on accounts that are not automatic; sides: where the rule may be used.",
        "tax_rules:",
    ]
    for rule in sorted(rules, key=lambda r: r.name):
        key, how = _guess(rule)
        described = f"Cin7: {rule.tax_percent} %, {'sale' if rule.is_tax_for_sale else ''}"
        described += f"{'/' if rule.is_tax_for_sale and rule.is_tax_for_purchase else ''}"
        described += "purchase" if rule.is_tax_for_purchase else ""
        if key is None:
            lines += [
                f"  {_q(rule.name)}:    # {described}",
                "    kind: TODO",
                f"    rate: {rule.tax_percent.normalize():f}",
            ]
            continue
        preset = PRESETS[chart].treatments[key]
        lines.append(f"  {_q(rule.name)}:    # {preset.note}; {how}, confirm ({described})")
        lines.extend(_treatment_lines(preset, length))
    if len(lines) == 4:
        lines[-1] = "tax_rules: {}"
    return "\n".join(lines) + "\n"


def _treatment_lines(preset: TreatmentPreset, length: int) -> list[str]:
    entry = preset.as_mapping(length)
    lines = [f"    treatment: {_q(entry['treatment'])}", f"    kind: {entry['kind']}", f"    rate: {entry['rate']}"]
    if "bu_key" in entry:
        lines.append(f"    bu_key: {_q(entry['bu_key'])}")
    if "account" in entry:
        lines.append(f"    account: {entry['account']}")
    if "redirect" in entry:
        pairs = ", ".join(f"{source}: {target}" for source, target in entry["redirect"].items())
        lines.append(f"    redirect: {{{pairs}}}")
    lines.append(f"    sides: [{', '.join(entry['sides'])}]")
    return lines


def _payment_section(chart: Chart, banks: list[Account], length: int) -> str:
    lines = [
        "# Cin7 bank/payment account code → DATEV financial account (Bank, Kasse, Geldtransit).",
        "payment_accounts:",
    ]
    first_bank = scale(1200 if chart == "skr03" else 1800, length)
    for bank in sorted(banks, key=lambda a: a.code):
        described = f"Cin7: {bank.name}{f' ({bank.currency})' if bank.currency else ''}"
        suggestion = suggest_account(chart, bank.code, length)
        if suggestion:
            lines.append(f"  {_q(bank.code)}: {suggestion[0]}    # {suggestion[1]}; {described}")
        else:
            lines.append(f"  {_q(bank.code)}: TODO    # {described}; banks start at {first_bank}")
    if len(lines) == 2:
        lines[-1] = "payment_accounts: {}"
    return "\n".join(lines) + "\n"


def _cost_centre_section(locations: list[Location]) -> str:
    if not locations:
        return "# No Cin7 locations: no cost centres.\ncost_centres: {}\n"
    lines = [
        "# KOST1/KOST2 (≤36 characters): source location | sales_representative | attribute",
        "# (attribute: AdditionalAttribute1..10); on_missing: hold (default) or empty.",
        "cost_centres:",
        "  kost1:",
        "    source: location",
        "    on_missing: hold",
        "    values:",
    ]
    lines.extend(f"      {_q(location.name)}: TODO" for location in sorted(locations, key=lambda loc: loc.name))
    return "\n".join(lines) + "\n"


def _tail(chart: Chart, length: int) -> str:
    preset = PRESETS[chart]
    d_first, d_last, d_collective = personal_range(preset.debtors, length)
    c_first, c_last, c_collective = personal_range(preset.creditors, length)
    rounding = scale(preset.rounding_account, length)
    return f"""# Personal accounts: an own account per customer/supplier, assigned once in this range and never
# reused (mode: personal), or one collective account for all (mode: collective).
debtors:
  mode: personal
  first: {d_first}
  last: {d_last}
  collective_account: {d_collective}     # Sammeldebitor, used in mode collective
creditors:
  mode: personal
  first: {c_first}
  last: {c_last}
  collective_account: {c_collective}     # Sammelkreditor

# A document's rounding difference (between its lines and Cin7's total) goes here on its own line.
rounding:
  account: {rounding}                  # {preset.accounts[preset.rounding_account]} (interim account; confirm)
  tolerance: "0.05"               # a larger difference is not rounding: the document is held

# Cin7's CurrencyRate: base-currency units per foreign unit as documented (UNCONFIRMED in practice).
currency_rates:
  direction: base_per_foreign     # or foreign_per_base

reversal:
  style: generalumkehr            # or swap (same row with S and H exchanged)

# Skonto: Cin7 has none; when enabled, a PAID invoice paid short by at most max_percent % gets the
# shortfall as Skonto on its last payment.
cash_discount:
  enabled: false
  max_percent: 3

# DATEV document type (Belegtyp) per kind of Cin7 document, for the PDF upload.
document_types:
  sale_invoice: Rechnungsausgang
  sale_credit_note: Rechnungsausgang
  purchase_invoice: Rechnungseingang
  purchase_credit_note: Rechnungseingang
"""
