"""The mapping of one Cin7 connection onto one DATEV client, as a YAML file.

Every decision the tax advisor has to confirm lives here, not in code: which DATEV account a Cin7
account code becomes, how a Cin7 tax rule (Cin7 has no tax codes, documents name their rule) is booked,
where cost centres come from, which personal accounts customers and suppliers get, and which accounts of
the chart are automatic (DATEV computes the VAT itself, so they must never carry a BU key, FACTS §7.2).

Unknown keys are refused (`extra="forbid"`): a typo such as `bu_kee` must not silently become "no tax
key". Values that still need a decision may be the string `TODO`; `check_mapping` reports them, and the
booking rules hold every document that needs one. The full schema with an example is in
`mapping/README.md` (see also `mapping_starter`).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator, model_validator

from datev_cin7_pipeline.datev.bookings import BatchHeader

TODO: Final = "TODO"
Todo = Literal["TODO"]
Chart = Literal["skr03", "skr04"]
Side = Literal["sale", "purchase"]
SIDES: tuple[Side, ...] = ("sale", "purchase")
TaxKind = Literal[
    "domestic",  # German VAT on the invoice (USt on sales, Vorsteuer on purchases)
    "tax_free",  # tax-free without a special report line
    "not_taxable",  # outside the scope of VAT (e.g. a foreign company's own bookkeeping)
    "intra_eu_supply",  # steuerfreie innergemeinschaftliche Lieferung, § 4 Nr. 1b UStG (needs the VAT id)
    "export",  # steuerfreie Ausfuhrlieferung, § 4 Nr. 1a UStG
    "intra_eu_acquisition",  # innergemeinschaftlicher Erwerb: DATEV books VSt and USt itself
    "reverse_charge",  # § 13b UStG: the recipient owes the VAT, DATEV books VSt and USt itself
    "import",  # goods from a third country: no VAT on the supplier's invoice (EUSt is paid at customs)
    "import_vat",  # the import VAT line of a customs invoice: the line amount is the tax
]
DocumentKind = Literal["sale_invoice", "sale_credit_note", "purchase_invoice", "purchase_credit_note"]
# Kinds whose invoice shows no VAT although DATEV must book VAT from it (self-assessment).
SELF_ASSESSED: frozenset[str] = frozenset({"intra_eu_acquisition", "reverse_charge"})
# Kinds whose invoice lines carry the VAT at the treatment's rate.
TAX_ON_INVOICE: frozenset[str] = frozenset({"domestic"})

MAX_ACCOUNT = 999_999_999  # Konto / Gegenkonto: at most 9 digits (FACTS §6.4 fields 7, 8)


# --- scalar validators ---------------------------------------------------------------------------


def _account_or_todo(value: Any) -> int | Todo:
    """An account number 1–999999999, or TODO. Quoted numbers are accepted, anything else is refused."""
    if value == TODO:
        return TODO
    number = _as_int(value)
    if number is None or not 0 < number <= MAX_ACCOUNT:
        raise ValueError(f"expected an account number (1–{MAX_ACCOUNT}) or TODO, got {value!r}")
    return number


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _ranged_or_todo(low: int, high: int, what: str) -> PlainValidator:
    def validate(value: Any) -> int | Todo:
        if value == TODO:
            return TODO
        number = _as_int(value)
        if number is None or not low <= number <= high:
            raise ValueError(f"expected {what} ({low}–{high}) or TODO, got {value!r}")
        return number

    return PlainValidator(validate)


def cin7_key(text: str) -> str:
    """Cin7 text as a mapping key: NFC. Cin7 and YAML editors may write 'ü' decomposed (u + U+0308); both
    sides of every lookup go through this, so a decomposed 'München' finds the mapping's 'München'."""
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def _cin7_code(value: Any) -> str:
    """Cin7 codes and names are text: an unquoted YAML number would lose leading zeros (0860 → 860)."""
    if not isinstance(value, str):
        raise ValueError(f'write Cin7 codes and names as quoted strings ("{value}"): a number loses leading zeros')
    return cin7_key(value)


def _bu_key(value: Any) -> str:
    """A BU key: empty or 1–4 digits (FACTS §7.1). YAML may read `9` as a number; that is fine."""
    if value is None:
        return ""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not (text == "" or (text.isdigit() and len(text) <= 4)):
        raise ValueError(f"a BU key is empty or 1–4 digits, got {value!r}")
    return text


def _text_value(value: Any) -> Any:
    """KOST values may be written as YAML numbers (`100`); they are text in DATEV (FACTS §6.4 field 37)."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"expected a number, got {value!r}") from exc


AccountRef = Annotated[int | Todo, PlainValidator(_account_or_todo)]
AccountNumber = Annotated[int, Field(gt=0, le=MAX_ACCOUNT)]
Cin7Code = Annotated[str, BeforeValidator(_cin7_code)]
BuKey = Annotated[str, PlainValidator(_bu_key)]
Percent = Annotated[Decimal, BeforeValidator(_decimal), Field(ge=0, le=100)]
KostValue = Annotated[str, BeforeValidator(_text_value), Field(min_length=1, max_length=36)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- sections ------------------------------------------------------------------------------------


class DatevClient(_Strict):
    """The DATEV side: who the client is and how its books are set up (EXTF header, FACTS §6.2)."""

    consultant_number: Annotated[int | Todo, _ranged_or_todo(1001, 9_999_999, "a Beraternummer")]
    client_number: Annotated[int | Todo, _ranged_or_todo(1, 99_999, "a Mandantennummer")]
    chart: Chart
    account_length: int = Field(4, ge=4, le=8)  # Sachkontenlänge; personal accounts have one digit more
    fiscal_year_start_month: int = Field(1, ge=1, le=12)
    currency: str = Field("EUR", pattern=r"^[A-Z]{3}$")  # the client's base currency (WKZ)
    lock: bool = False  # Festschreibung: 0 lets the tax advisor still correct the bookings (FACTS §6.2)
    dictation_initials: str = Field("", pattern=r"^([A-Z]{2})?$")
    batch_label: str = Field("Cin7 Core", max_length=30)

    def fiscal_year_start(self, day: dt.date) -> dt.date:
        """The first day of the fiscal year `day` belongs to."""
        year = day.year if day.month >= self.fiscal_year_start_month else day.year - 1
        return dt.date(year, self.fiscal_year_start_month, 1)

    def batch_header(self, period_start: dt.date, period_end: dt.date) -> BatchHeader:
        """The EXTF header for a batch from `period_start` to `period_end` (inclusive).

        Raises ValueError while the consultant or client number is still TODO, or when the dates span
        two fiscal years (DATEV refuses such a batch, ANCHORS §5.10).
        """
        consultant, client = self.consultant_number, self.client_number
        if consultant == TODO or client == TODO:
            raise ValueError("datev.consultant_number and datev.client_number must be set before exporting")
        if self.fiscal_year_start(period_start) != self.fiscal_year_start(period_end):
            raise ValueError(f"{period_start}–{period_end} spans two fiscal years; split the batch")
        return BatchHeader(
            consultant_number=consultant,
            client_number=client,
            fiscal_year_start=self.fiscal_year_start(period_start),
            account_length=self.account_length,
            period_start=period_start,
            period_end=period_end,
            label=self.batch_label,
            dictation_initials=self.dictation_initials,
            currency=self.currency,
            chart="03" if self.chart == "skr03" else "04",
            lock=self.lock,
        )


class AutomaticAccount(_Strict):
    """What an automatic account (AM/AV) computes, so a tax rule that contradicts it is caught."""

    kind: TaxKind
    rate: Percent = Decimal(0)
    name: str = ""


class AutomaticAccounts(_Strict):
    """The chart's automatic accounts: the preset for the chart, plus `add`, minus `remove`.

    Verify against the client's real chart (DATEV's `mainFunction`, FACTS §5.2): a client may have
    switched an account's automatic function off.
    """

    preset: bool = True
    add: dict[AccountNumber, AutomaticAccount] = Field(default_factory=dict)
    remove: list[AccountNumber] = Field(default_factory=list)


class TaxSideSettings(_Strict):
    """Overrides of a tax rule's booking for one side (sale or purchase) only."""

    account: AccountRef | None = None
    redirect: dict[AccountNumber, AccountRef] | None = None
    bu_key: BuKey | None = None


class TaxRuleMapping(_Strict):
    """How lines with one Cin7 tax rule are booked.

    The DATEV account of a line is, in order: `account` (every line of this rule goes there, e.g. the
    automatic account 8125 for intra-EU supplies), else `redirect[mapped account]` (e.g. 8400 → 8300 for
    the 7 % rule, so the revenue account follows the rate), else the mapped Cin7 line account. The BU key
    is written only when that account is not automatic (FACTS §7.2: never a key on an automatic account).
    `rate` is the VAT rate of the case (19 for an intra-EU acquisition at 19 %, even though the supplier's
    invoice shows no VAT); it is cross-checked against Cin7's line tax and the automatic account.
    """

    treatment: str = Field("", max_length=40)  # name for totals per treatment; defaults to the rule name
    kind: TaxKind | Todo
    rate: Percent = Decimal(0)
    bu_key: BuKey = ""
    account: AccountRef | None = None
    redirect: dict[AccountNumber, AccountRef] = Field(default_factory=dict)
    sides: list[Side] = Field(default_factory=lambda: list(SIDES), min_length=1)
    sale: TaxSideSettings | None = None
    purchase: TaxSideSettings | None = None

    def for_side(self, side: Side) -> ResolvedTaxSide:
        """The account override, redirects and key that apply on `side`."""
        override = self.sale if side == "sale" else self.purchase
        if override is None:
            return ResolvedTaxSide(self.account, self.redirect, self.bu_key)
        return ResolvedTaxSide(
            override.account if override.account is not None else self.account,
            override.redirect if override.redirect is not None else self.redirect,
            override.bu_key if override.bu_key is not None else self.bu_key,
        )


@dataclass(frozen=True)
class ResolvedTaxSide:
    """A tax rule's settings as they apply on one side."""

    account: int | Todo | None
    redirect: Mapping[int, int | Todo]
    bu_key: str


class CostCentreRule(_Strict):
    """Where KOST1 or KOST2 comes from, and the DATEV cost centre for each Cin7 value."""

    source: Literal["location", "sales_representative", "attribute"]
    attribute: str = ""  # AdditionalAttribute1..10 when source is `attribute`
    values: dict[Cin7Code, KostValue | Todo] = Field(default_factory=dict)
    on_missing: Literal["hold", "empty"] = "hold"  # a document whose value has no entry

    @model_validator(mode="after")
    def _attribute_named(self) -> CostCentreRule:
        if self.source == "attribute" and not self.attribute:
            raise ValueError("source 'attribute' needs `attribute` (e.g. AdditionalAttribute1)")
        return self


class CostCentres(_Strict):
    kost1: CostCentreRule | None = None
    kost2: CostCentreRule | None = None


class PersonalAccounts(_Strict):
    """Debtors or creditors: an own account per customer/supplier from a range, or one collective account.

    Personal numbers are assigned once, stored, and never reused (ANCHORS §5.4: never derived from
    database ids). They are one digit longer than the G/L accounts (FACTS §6.5).
    """

    mode: Literal["personal", "collective"] = "personal"
    first: AccountNumber
    last: AccountNumber
    collective_account: AccountNumber | None = None

    @model_validator(mode="after")
    def _collective_needs_account(self) -> PersonalAccounts:
        if self.mode == "collective" and self.collective_account is None:
            raise ValueError("mode 'collective' needs `collective_account`")
        return self


class Rounding(_Strict):
    """Where a document's rounding difference goes, and the largest difference that is still rounding."""

    account: AccountRef
    tolerance: Annotated[Decimal, BeforeValidator(_decimal), Field(ge=0, le=1)] = Decimal("0.05")


class CurrencyRates(_Strict):
    """Cin7 documents its CurrencyRate as base-currency units per foreign unit (cin7 FACTS §9), but
    that direction is UNCONFIRMED in practice; flip it here if a real document proves otherwise."""

    direction: Literal["base_per_foreign", "foreign_per_base"] = "base_per_foreign"


class Reversal(_Strict):
    """How a booking is reversed: DATEV's Generalumkehr flag (field 118) or the same row with swapped sides."""

    style: Literal["generalumkehr", "swap"] = "generalumkehr"


class CashDiscount(_Strict):
    """Skonto. Cin7 has no cash-discount field; when enabled, a PAID invoice whose payments fall short of
    its total by at most `max_percent` carries the shortfall as `Skonto` on its last payment."""

    enabled: bool = False
    max_percent: Percent = Decimal(3)


class DocumentTypes(_Strict):
    """The DATEV document type (Belegtyp, ≤30) each kind of Cin7 document is uploaded as (FACTS §2)."""

    sale_invoice: str = Field("Rechnungsausgang", max_length=30)
    sale_credit_note: str = Field("Rechnungsausgang", max_length=30)
    purchase_invoice: str = Field("Rechnungseingang", max_length=30)
    purchase_credit_note: str = Field("Rechnungseingang", max_length=30)

    def for_kind(self, kind: DocumentKind) -> str:
        return str(getattr(self, kind))


class MappingConfig(_Strict):
    """The whole mapping file (see the module docstring and `mapping/README.md`)."""

    version: Literal[1] = 1
    datev: DatevClient
    automatic_accounts: AutomaticAccounts = Field(default_factory=AutomaticAccounts)
    accounts: dict[Cin7Code, AccountRef] = Field(default_factory=dict)
    tax_rules: dict[Cin7Code, TaxRuleMapping] = Field(default_factory=dict)
    payment_accounts: dict[Cin7Code, AccountRef] = Field(default_factory=dict)
    cost_centres: CostCentres = Field(default_factory=CostCentres)
    debtors: PersonalAccounts
    creditors: PersonalAccounts
    rounding: Rounding
    currency_rates: CurrencyRates = Field(default_factory=CurrencyRates)
    reversal: Reversal = Field(default_factory=Reversal)
    cash_discount: CashDiscount = Field(default_factory=CashDiscount)
    document_types: DocumentTypes = Field(default_factory=DocumentTypes)

    def automatic(self) -> dict[int, AutomaticAccount]:
        """The effective automatic accounts: preset (scaled to the account length) + add − remove."""
        from datev_cin7_pipeline.mapping.presets import preset_automatic_accounts

        accounts = (
            preset_automatic_accounts(self.datev.chart, self.datev.account_length)
            if self.automatic_accounts.preset
            else {}
        )
        accounts.update(self.automatic_accounts.add)
        for number in self.automatic_accounts.remove:
            accounts.pop(number, None)
        return accounts

    def treatment_name(self, rule_name: str) -> str:
        name = cin7_key(rule_name)
        rule = self.tax_rules.get(name)
        return (rule.treatment if rule and rule.treatment else name) or ""


# --- loading --------------------------------------------------------------------------------------


class MappingFileError(ValueError):
    """The file is not a valid mapping; `issues` names each problem with its key path."""

    def __init__(self, issues: list[Any]) -> None:
        self.issues = issues
        super().__init__("; ".join(f"{issue.path}: {issue.message}" for issue in issues) or "invalid mapping")


def parse_mapping(data: str | Path | dict[str, Any]) -> MappingConfig:
    """A mapping from YAML text, a YAML file or an already parsed dict; MappingFileError names every problem."""
    from datev_cin7_pipeline.mapping.issues import config_issues

    config, issues = config_issues(data)
    if config is None:
        raise MappingFileError(issues)
    return config


def load_yaml(data: str | Path) -> Any:
    """YAML text or a UTF-8 file; a file in another encoding raises UnicodeDecodeError (`config_issues`
    turns it into a yaml_syntax issue)."""
    text = data.read_text(encoding="utf-8") if isinstance(data, Path) else data
    return yaml.safe_load(text)
