"""`check_mapping`: every gap and conflict of a mapping, alone or against a period's documents.

Without a period it checks the file: schema (typos, types), TODO values, account lengths, personal
ranges, BU keys on automatic accounts, taxable cases without a way for DATEV to book the VAT. With a
period it adds what the period's documents need: every Cin7 account, tax rule, bank account and cost
centre value they use must be mapped, and each (account, tax rule) pair they use must book cleanly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datev_cin7_pipeline.cin7.period import Cin7Period
from datev_cin7_pipeline.mapping import issues as codes
from datev_cin7_pipeline.mapping.config import (
    SELF_ASSESSED,
    TAX_ON_INVOICE,
    TODO,
    AutomaticAccount,
    CostCentreRule,
    MappingConfig,
    PersonalAccounts,
    Side,
    TaxKind,
    TaxRuleMapping,
    cin7_key,
)
from datev_cin7_pipeline.mapping.documents import SourceDocument, period_documents
from datev_cin7_pipeline.mapping.issues import MappingIssue, config_issues, error, key_path, warning

TAX_FREE_REPORTED = frozenset({"intra_eu_supply", "export"})


def check_mapping(
    mapping: MappingConfig | Mapping[str, Any] | str | Path, period_data: Cin7Period | None = None
) -> list[MappingIssue]:
    """Every issue of `mapping` (a parsed config, a dict, YAML text or a YAML file path).

    Errors block booking of the documents they concern; warnings are for a human to look at. The
    list is sorted errors first, then by key path.
    """
    if isinstance(mapping, MappingConfig):
        config = mapping
    else:
        parsed, problems = config_issues(mapping if isinstance(mapping, str | Path) else dict(mapping))
        if parsed is None:
            return problems
        config = parsed
    found = list(_static_issues(config))
    if period_data is not None:
        found.extend(_period_issues(config, period_data))
    unique = list(dict.fromkeys(found))
    return sorted(unique, key=lambda issue: (issue.severity != "error", issue.path, issue.code))


# --- the file alone -------------------------------------------------------------------------------


def _static_issues(config: MappingConfig) -> Iterator[MappingIssue]:
    yield from _client_issues(config)
    yield from _ledger_account_issues(config)
    yield from _personal_issues(config)
    yield from _tax_rule_issues(config)
    yield from _cost_centre_issues(config)


def _client_issues(config: MappingConfig) -> Iterator[MappingIssue]:
    datev = config.datev
    for name in ("consultant_number", "client_number"):
        if getattr(datev, name) == TODO:
            yield error(codes.TODO_VALUE, f"datev.{name}", "still TODO")
    if datev.consultant_number == 1001 or datev.client_number == 1:
        yield warning(
            codes.DEFAULT_CLIENT_NUMBERS,
            "datev",
            "Berater 1001 / Mandant 1 are DATEV's demo numbers; bookings would go to the wrong client",
        )


def _ledger_problem(account: int, length: int) -> tuple[str, str] | None:
    """Why `account` cannot be a G/L account at Sachkontenlänge `length` (FACTS §6.5)."""
    digits = len(str(account))
    if digits == length + 1:
        return codes.PERSONAL_ACCOUNT_AS_LEDGER, f"{account} has {digits} digits: that is a personal account"
    if digits > length:
        return codes.ACCOUNT_LENGTH, f"{account} has {digits} digits, the Sachkontenlänge is {length}"
    return None


def _ledger_account_issues(config: MappingConfig) -> Iterator[MappingIssue]:
    length = config.datev.account_length
    sections: list[tuple[str, Mapping[str, int | str]]] = [
        ("accounts", config.accounts),
        ("payment_accounts", config.payment_accounts),
    ]
    for section, entries in sections:
        for code, account in entries.items():
            path = key_path((section, code))
            if account == TODO:
                yield warning(codes.TODO_VALUE, path, f"Cin7 {code!r} still needs a DATEV account")
            elif isinstance(account, int) and (problem := _ledger_problem(account, length)):
                yield error(problem[0], path, problem[1])
    rounding = config.rounding.account
    if rounding == TODO:
        yield error(codes.TODO_VALUE, "rounding.account", "still TODO")
    elif isinstance(rounding, int):
        if problem := _ledger_problem(rounding, length):
            yield error(problem[0], "rounding.account", problem[1])
        if rounding in config.automatic():
            yield error(
                codes.AUTOMATIC_ACCOUNT_CONFLICT, "rounding.account", f"{rounding} is automatic: it would book VAT"
            )
    for account in [*config.automatic_accounts.add, *config.automatic_accounts.remove]:
        if problem := _ledger_problem(account, length):
            yield error(problem[0], "automatic_accounts", problem[1])


def _personal_issues(config: MappingConfig) -> Iterator[MappingIssue]:
    length = config.datev.account_length + 1
    ranges = {"debtors": config.debtors, "creditors": config.creditors}
    for name, settings in ranges.items():
        yield from _one_range_issues(name, settings, length)
    debtors, creditors = config.debtors, config.creditors
    if debtors.first <= creditors.last and creditors.first <= debtors.last:
        yield error(
            codes.PERSONAL_RANGE_OVERLAP,
            "debtors",
            f"debtors {debtors.first}–{debtors.last} overlap creditors {creditors.first}–{creditors.last}",
        )
    for name, settings, other in (("debtors", debtors, creditors), ("creditors", creditors, debtors)):
        collective = settings.collective_account
        if collective is not None and other.first <= collective <= other.last:
            yield error(
                codes.PERSONAL_RANGE_OVERLAP,
                f"{name}.collective_account",
                f"{collective} lies in the {'creditor' if name == 'debtors' else 'debtor'} range",
            )


def _one_range_issues(name: str, settings: PersonalAccounts, length: int) -> Iterator[MappingIssue]:
    for field in ("first", "last", "collective_account"):
        value = getattr(settings, field)
        if value is not None and len(str(value)) != length:
            yield error(
                codes.PERSONAL_ACCOUNT_LENGTH,
                f"{name}.{field}",
                f"{value} has {len(str(value))} digits; personal accounts have Sachkontenlänge + 1 = {length}",
            )
    if settings.first > settings.last:
        yield error(codes.PERSONAL_RANGE_INVALID, name, f"first {settings.first} is after last {settings.last}")
    collective = settings.collective_account
    if settings.mode == "personal" and collective is not None and settings.first <= collective <= settings.last:
        yield error(
            codes.PERSONAL_RANGE_INVALID,
            f"{name}.collective_account",
            f"{collective} lies inside the personal range: a customer/supplier could get it later",
        )


@dataclass(frozen=True)
class _Target:
    """One DATEV account a tax rule can book onto, with the key it would carry and where it is configured."""

    account: int
    bu_key: str
    path: str
    every_line: bool = False  # the rule's `account`: all its lines go there, so its key is meant for it


def _rule_targets(name: str, rule: TaxRuleMapping, side: Side) -> Iterator[_Target]:
    settings = rule.for_side(side)
    override = "account" if getattr(rule, side) is None or getattr(rule, side).account is None else f"{side}.account"
    if isinstance(settings.account, int):
        path = key_path(("tax_rules", name, *override.split(".")))
        yield _Target(settings.account, settings.bu_key, path, every_line=True)
        return
    for source, target in settings.redirect.items():
        if isinstance(target, int):
            yield _Target(target, settings.bu_key, key_path(("tax_rules", name, "redirect", source)))


def _tax_rule_issues(config: MappingConfig) -> Iterator[MappingIssue]:
    automatic = config.automatic()
    length = config.datev.account_length
    for name, rule in config.tax_rules.items():
        if rule.kind == TODO:
            yield error(codes.TODO_VALUE, key_path(("tax_rules", name, "kind")), "the tax treatment is still TODO")
            continue
        for side in rule.sides:
            settings = rule.for_side(side)
            if settings.account == TODO or TODO in settings.redirect.values():
                yield error(codes.TODO_VALUE, key_path(("tax_rules", name)), f"an account for {side}s is TODO")
            for target in _rule_targets(name, rule, side):
                if problem := _ledger_problem(target.account, length):
                    yield error(problem[0], target.path, problem[1])
                yield from _target_issues(name, rule.kind, rule, target, automatic)


def _target_issues(
    name: str, kind: TaxKind, rule: TaxRuleMapping, target: _Target, automatic: Mapping[int, AutomaticAccount]
) -> Iterator[MappingIssue]:
    """The tax issues of booking rule `name` onto `target.account` (FACTS §7.2)."""
    auto = automatic.get(target.account)
    if auto is not None:
        if target.bu_key and target.every_line:
            yield error(
                codes.BU_KEY_ON_AUTOMATIC_ACCOUNT,
                key_path(("tax_rules", name, "bu_key")),
                f"{target.account} is an automatic account: DATEV refuses a BU key on it (key {target.bu_key!r})",
            )
        if auto.kind != kind or auto.rate != rule.rate:
            yield error(
                codes.AUTOMATIC_ACCOUNT_CONFLICT,
                target.path,
                f"automatic account {target.account} computes {auto.kind} {auto.rate} %, "
                f"the rule is {kind} {rule.rate} %",
            )
        return
    if (kind in SELF_ASSESSED or (kind in TAX_ON_INVOICE and rule.rate > 0)) and not target.bu_key:
        yield error(
            codes.NO_TAX_MECHANISM,
            target.path,
            f"{target.account} is not automatic and the rule has no BU key: DATEV would book no VAT",
        )
    if kind in TAX_FREE_REPORTED and not target.bu_key:
        yield warning(
            codes.TAX_FREE_WITHOUT_KEY,
            target.path,
            f"{target.account} is not automatic and has no BU key: the {kind} would miss its UStVA/ZM line",
        )


def _cost_centre_issues(config: MappingConfig) -> Iterator[MappingIssue]:
    for name in ("kost1", "kost2"):
        rule: CostCentreRule | None = getattr(config.cost_centres, name)
        for value, centre in rule.values.items() if rule else []:
            if centre == TODO:
                yield warning(
                    codes.TODO_VALUE, key_path(("cost_centres", name, "values", value)), "still needs a cost centre"
                )


# --- against a period -----------------------------------------------------------------------------


def _period_issues(config: MappingConfig, period: Cin7Period) -> Iterator[MappingIssue]:
    documents = period_documents(period)
    yield from _base_currency_issues(config, period)
    yield from _fiscal_year_issues(config, period)
    yield from _used_account_issues(config, documents)
    yield from _used_tax_rule_issues(config, documents)
    yield from _used_cost_centre_issues(config, documents)
    yield from _used_payment_account_issues(config, period)
    if period.tax_rules:
        known = {cin7_key(name) for name in period.tax_rules}  # the mapping's keys are NFC
        for name in config.tax_rules:
            if name not in known:
                yield warning(
                    codes.UNKNOWN_TAX_RULE, key_path(("tax_rules", name)), "Cin7 has no tax rule with this name"
                )


def _base_currency_issues(config: MappingConfig, period: Cin7Period) -> Iterator[MappingIssue]:
    base = period.company.currency if period.company else ""
    if base and base != config.datev.currency:
        yield error(
            codes.CURRENCY_MISMATCH,
            "datev.currency",
            f"Cin7's base currency is {base}, DATEV's {config.datev.currency}",
        )


def _fiscal_year_issues(config: MappingConfig, period: Cin7Period) -> Iterator[MappingIssue]:
    last = period.end - dt.timedelta(days=1)
    if config.datev.fiscal_year_start(period.start) != config.datev.fiscal_year_start(last):
        yield error(
            codes.PERIOD_SPANS_FISCAL_YEARS,
            "datev.fiscal_year_start_month",
            f"{period.start}–{last} covers two fiscal years: one batch cannot hold it",
        )


def _line_codes(doc: SourceDocument) -> Iterator[tuple[str, str]]:
    """(Cin7 account code, tax rule name) of each line, with the document's defaults filled in, as mapping keys."""
    for line in doc.lines:
        yield cin7_key(line.account or doc.default_account), cin7_key(line.tax_rule or doc.header_tax_rule)


def _used_account_issues(config: MappingConfig, documents: list[SourceDocument]) -> Iterator[MappingIssue]:
    used: dict[str, list[str]] = {}
    for doc in documents:
        for code, _ in _line_codes(doc):
            used.setdefault(code, []).append(doc.number or doc.task_id)
    for code, numbers in used.items():
        mapped = config.accounts.get(code)
        if code and (mapped is None or mapped == TODO):
            yield error(
                codes.UNMAPPED_ACCOUNT,
                key_path(("accounts", code)),
                f"used by {len(numbers)} line(s), e.g. in {', '.join(sorted(set(numbers))[:3])}",
            )


def _used_tax_rule_issues(config: MappingConfig, documents: list[SourceDocument]) -> Iterator[MappingIssue]:
    automatic = config.automatic()
    pairs: set[tuple[str, str, Side]] = set()
    for doc in documents:
        for code, rule_name in _line_codes(doc):
            pairs.add((code, rule_name, doc.side))
    for rule_name in sorted({rule for _, rule, _ in pairs}):
        rule = config.tax_rules.get(rule_name)
        if rule is None or rule.kind == TODO:
            yield error(codes.UNMAPPED_TAX_RULE, key_path(("tax_rules", rule_name)), "used by the period's documents")
    for code, rule_name, side in sorted(pairs):
        rule = config.tax_rules.get(rule_name)
        mapped = config.accounts.get(code)
        if rule is None or rule.kind == TODO:
            continue
        if side not in rule.sides:
            yield error(
                codes.TAX_RULE_WRONG_SIDE, key_path(("tax_rules", rule_name, "sides")), f"used on a {side} document"
            )
            continue
        if not isinstance(mapped, int):
            continue
        settings = rule.for_side(side)
        account = settings.account if settings.account is not None else settings.redirect.get(mapped, mapped)
        if isinstance(account, int) and account != settings.account:
            target = _Target(account, settings.bu_key, key_path(("accounts", code)))
            yield from _target_issues(rule_name, rule.kind, rule, target, automatic)


def _used_cost_centre_issues(config: MappingConfig, documents: list[SourceDocument]) -> Iterator[MappingIssue]:
    for name in ("kost1", "kost2"):
        rule: CostCentreRule | None = getattr(config.cost_centres, name)
        if rule is None:
            continue
        values = {_cost_value(rule, doc) for doc in documents}
        for value in sorted(value for value in values if value is not None):
            mapped = rule.values.get(value)
            if mapped == TODO or (mapped is None and rule.on_missing == "hold"):
                yield error(
                    codes.UNMAPPED_COST_CENTRE,
                    key_path(("cost_centres", name, "values", value)),
                    f"{rule.source} {value!r} is used by the period's documents",
                )


def _cost_value(rule: CostCentreRule, doc: SourceDocument) -> str | None:
    """The document's value for `rule`, as a mapping key (NFC, as `rules.cost_centre` looks it up)."""
    if rule.source == "location":
        return cin7_key(doc.location)
    if rule.source == "sales_representative":
        return cin7_key(doc.sales_representative) if doc.side == "sale" else None
    return cin7_key(doc.attributes.get(rule.attribute, ""))


def _used_payment_account_issues(config: MappingConfig, period: Cin7Period) -> Iterator[MappingIssue]:
    used = {cin7_key(payment.account) for payment in period.payments if not payment.direction.endswith("prepayment")}
    for code in sorted(used):
        mapped = config.payment_accounts.get(code)
        if mapped is None or mapped == TODO:
            yield error(
                codes.UNMAPPED_PAYMENT_ACCOUNT,
                key_path(("payment_accounts", code)),
                "a Cin7 bank account used by the period's payments",
            )
