"""Mapping issues: every gap or conflict with a stable code, a severity, the key path and a message.

The codes are an interface: asset checks, the CLI and the finance team's alerts key on them, so a code
is never renamed. The same codes name the reasons a document is held (`HoldReason.code`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

Severity = Literal["error", "warning"]

# --- the file itself ---
YAML_SYNTAX = "yaml_syntax"  # not YAML, or not a mapping at the top
UNKNOWN_KEY = "unknown_key"  # a key the schema does not know (usually a typo)
MISSING_KEY = "missing_key"  # a required key is absent
INVALID_VALUE = "invalid_value"  # wrong type or out of range
TODO_VALUE = "todo"  # a value still marked TODO
DEFAULT_CLIENT_NUMBERS = "default_client_numbers"  # Berater 1001 / Mandant 1 look like placeholders
# --- accounts ---
ACCOUNT_LENGTH = "account_length"  # a G/L account longer than the Sachkontenlänge
PERSONAL_ACCOUNT_AS_LEDGER = "personal_account_as_ledger"  # a G/L target in the personal-account length
PERSONAL_ACCOUNT_LENGTH = "personal_account_length"  # a debtor/creditor number not Sachkontenlänge + 1 digits
PERSONAL_RANGE_OVERLAP = "personal_range_overlap"  # debtor and creditor ranges overlap
PERSONAL_RANGE_INVALID = "personal_range_invalid"  # first > last, or the collective account inside the range
# --- tax ---
BU_KEY_ON_AUTOMATIC_ACCOUNT = "bu_key_on_automatic_account"
AUTOMATIC_ACCOUNT_CONFLICT = "automatic_account_conflict"  # the automatic account computes another case/rate
NO_TAX_MECHANISM = "no_tax_mechanism"  # taxable case on a plain account without a BU key: VAT would be lost
TAX_FREE_WITHOUT_KEY = "tax_free_without_key"  # IGL/export on a plain account without key: UStVA line missing
TAX_RULE_WRONG_SIDE = "tax_rule_wrong_side"  # a sales rule on a purchase or vice versa
# --- what the period's documents use ---
UNMAPPED_ACCOUNT = "unmapped_account"
UNMAPPED_TAX_RULE = "unmapped_tax_rule"
UNMAPPED_PAYMENT_ACCOUNT = "unmapped_payment_account"
UNMAPPED_COST_CENTRE = "unmapped_cost_centre"  # a location / representative / attribute value without KOST
UNKNOWN_TAX_RULE = "unknown_tax_rule"  # the mapping names a rule Cin7 does not have
CURRENCY_MISMATCH = "currency_mismatch"  # Cin7's base currency is not the DATEV client's
PERIOD_SPANS_FISCAL_YEARS = "period_spans_fiscal_years"
# --- reasons that only documents have ---
MISSING_ACCOUNT = "missing_account"  # a Cin7 line without an account code
MISSING_RATE = "missing_rate"
MISSING_VAT_ID = "missing_vat_id"
INVALID_VAT_ID = "invalid_vat_id"
MISSING_DATE = "missing_date"
DATE_OUTSIDE_PERIOD = "date_outside_period"
MISSING_NUMBER = "missing_number"
AMOUNT_PRECISION = "amount_precision"  # a Cin7 amount with more than 2 decimals that rounding cannot fix
TOTALS_MISMATCH = "totals_mismatch"  # lines and document total differ by more than the rounding tolerance
TAX_AMOUNT_MISMATCH = "tax_amount_mismatch"  # Cin7's line tax contradicts the mapped treatment
UNKNOWN_PARTY = "unknown_party"  # no customer/supplier id for a personal account
PERSONAL_RANGE_EXHAUSTED = "personal_range_exhausted"
PREPAYMENT_NOT_SUPPORTED = "prepayment_not_supported"
INVALID_AMOUNT = "invalid_amount"  # a negative payment
UNKNOWN_CURRENCY = "unknown_currency"  # no currency, or one that is not an ISO 4217 code
AMOUNT_TOO_LARGE = "amount_too_large"  # an amount over the 10 integer digits DATEV's Umsatz allows
RATE_OUT_OF_RANGE = "rate_out_of_range"  # a Kurs outside what DATEV's field takes (0 < Kurs ≤ 9999.999999)

DESCRIPTIONS: dict[str, str] = {
    YAML_SYNTAX: "the file is not YAML or not a mapping",
    UNKNOWN_KEY: "a key the schema does not know (usually a typo)",
    MISSING_KEY: "a required key is missing",
    INVALID_VALUE: "a value of the wrong type or out of range",
    TODO_VALUE: "a value still marked TODO",
    DEFAULT_CLIENT_NUMBERS: "Berater 1001 / Mandant 1 are DATEV's demo numbers",
    ACCOUNT_LENGTH: "a G/L account with more digits than the Sachkontenlänge",
    PERSONAL_ACCOUNT_AS_LEDGER: "a G/L mapping target has the length of a personal account",
    PERSONAL_ACCOUNT_LENGTH: "a personal account that is not Sachkontenlänge + 1 digits",
    PERSONAL_RANGE_OVERLAP: "debtor and creditor ranges overlap",
    PERSONAL_RANGE_INVALID: "a personal range is empty or contains its collective account",
    BU_KEY_ON_AUTOMATIC_ACCOUNT: "a BU key on an automatic account",
    AUTOMATIC_ACCOUNT_CONFLICT: "the automatic account computes another tax case or rate",
    NO_TAX_MECHANISM: "a taxable case on a plain account without a BU key",
    TAX_FREE_WITHOUT_KEY: "a tax-free EU supply or export on a plain account without a BU key",
    TAX_RULE_WRONG_SIDE: "a tax rule used on the side (sale/purchase) it is not mapped for",
    UNMAPPED_ACCOUNT: "a Cin7 account code without a DATEV account",
    UNMAPPED_TAX_RULE: "a Cin7 tax rule without a tax treatment",
    UNMAPPED_PAYMENT_ACCOUNT: "a Cin7 bank account without a DATEV financial account",
    UNMAPPED_COST_CENTRE: "a location, representative or attribute value without a cost centre",
    UNKNOWN_TAX_RULE: "the mapping names a tax rule Cin7 does not have",
    CURRENCY_MISMATCH: "Cin7's base currency differs from the DATEV client's",
    PERIOD_SPANS_FISCAL_YEARS: "the period covers two fiscal years",
    MISSING_ACCOUNT: "a Cin7 line without an account code",
    MISSING_RATE: "a foreign-currency amount without a currency rate",
    MISSING_VAT_ID: "an intra-EU supply to a customer without VAT id",
    INVALID_VAT_ID: "an intra-EU supply to a VAT id that is malformed, German or not from the EU",
    MISSING_DATE: "a document without its date",
    DATE_OUTSIDE_PERIOD: "a document dated outside the period",
    MISSING_NUMBER: "a document without the number that keys its open item",
    AMOUNT_PRECISION: "an amount with more than 2 decimals",
    TOTALS_MISMATCH: "the lines do not add up to the document total within the rounding tolerance",
    TAX_AMOUNT_MISMATCH: "Cin7's line tax contradicts the mapped tax treatment",
    UNKNOWN_PARTY: "no customer or supplier to give a personal account",
    PERSONAL_RANGE_EXHAUSTED: "no free personal account number left in the range",
    PREPAYMENT_NOT_SUPPORTED: "prepayments (Anzahlungen) are not booked yet",
    INVALID_AMOUNT: "a negative payment amount",
    UNKNOWN_CURRENCY: "the document names no currency or one that is not an ISO 4217 code",
    AMOUNT_TOO_LARGE: "an amount with more than the 10 integer digits DATEV's Umsatz field allows",
    RATE_OUT_OF_RANGE: "an exchange rate that gives a Kurs DATEV's field cannot hold",
}


@dataclass(frozen=True)
class MappingIssue:
    """One gap or conflict: `code` is stable, `path` is the key path in the mapping file ("" if none)."""

    code: str
    severity: Severity
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"[{self.severity}] {self.code}: {where}{self.message}"


def error(code: str, path: str, message: str) -> MappingIssue:
    return MappingIssue(code, "error", path, message)


def warning(code: str, path: str, message: str) -> MappingIssue:
    return MappingIssue(code, "warning", path, message)


def key_path(location: tuple[Any, ...]) -> str:
    """`('tax_rules', 'USt 19%', 'bu_kee')` → `tax_rules["USt 19%"].bu_kee` (names with spaces quoted)."""
    parts: list[str] = []
    for part in location:
        if part == "[key]":
            parts.append("(key)")
            continue
        text = str(part)
        if isinstance(part, int) or not text.isidentifier():
            parts.append(f"[{text!r}]" if isinstance(part, str) else f"[{text}]")
        else:
            parts.append(("." if parts else "") + text)
    return "".join(parts)


def _issue_from_pydantic(problem: Any) -> MappingIssue:
    location = tuple(problem["loc"])
    kind = problem["type"]
    path = key_path(location)
    if kind == "extra_forbidden":
        return error(UNKNOWN_KEY, path, f"unknown key {location[-1]!r} (a typo?)")
    if kind == "missing":
        return error(MISSING_KEY, path, f"{location[-1]!r} is required")
    message = str(problem["msg"]).removeprefix("Value error, ")
    return error(INVALID_VALUE, path, f"{message} (got {problem.get('input')!r})")


def config_issues(data: str | Path | dict[str, Any]) -> tuple[Any, list[MappingIssue]]:
    """Parse a mapping; returns (MappingConfig or None, the issues that prevented parsing)."""
    from datev_cin7_pipeline.mapping.config import MappingConfig, load_yaml

    if isinstance(data, dict):
        raw: Any = data
    else:
        try:
            raw = load_yaml(data)
        except yaml.YAMLError as exc:
            return None, [error(YAML_SYNTAX, "", f"not valid YAML: {exc}")]
        except UnicodeDecodeError:  # e.g. saved as UTF-16 or cp1252: a traceback would name neither
            return None, [error(YAML_SYNTAX, "", "the file is not UTF-8 text")]
    if not isinstance(raw, dict):
        return None, [error(YAML_SYNTAX, "", "the mapping file must be a YAML mapping (key: value) at the top")]
    try:
        return MappingConfig.model_validate(raw), []
    except ValidationError as exc:
        return None, [_issue_from_pydantic(problem) for problem in exc.errors()]
