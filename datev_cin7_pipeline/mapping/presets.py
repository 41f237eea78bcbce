"""Presets for a German wholesaler on SKR03 and SKR04: automatic accounts, tax treatments, standard accounts.

Accounts are from FACTS §7.3 (names from the Tryton SKR03/SKR04 charts, AM/AV marks from DATEV chart
conventions) unless marked otherwise; every preset is a proposal for the tax advisor to confirm, not a
fact about the client's chart (a client can switch an account's automatic function off, FACTS §5.2).
Numbers are for Sachkontenlänge 4; longer lengths append zeros (8400 → 84000 for length 5), the way
DATEV extends the standard charts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from datev_cin7_pipeline.mapping.config import AutomaticAccount, Chart, TaxKind

BASE_LENGTH = 4


@dataclass(frozen=True)
class TreatmentPreset:
    """A tax treatment for one chart, as the mapping file spells it (`TaxRuleMapping` fields)."""

    key: str
    treatment: str
    kind: str
    rate: int
    sides: tuple[str, ...]
    bu_key: str = ""
    account: int | None = None
    redirect: dict[int, int] = field(default_factory=dict)
    note: str = ""

    def as_mapping(self, account_length: int) -> dict[str, Any]:
        """The dict for the YAML file, accounts scaled to `account_length`."""
        entry: dict[str, Any] = {"treatment": self.treatment, "kind": self.kind, "rate": self.rate}
        if self.bu_key:
            entry["bu_key"] = self.bu_key
        if self.account is not None:
            entry["account"] = scale(self.account, account_length)
        if self.redirect:
            entry["redirect"] = {scale(a, account_length): scale(b, account_length) for a, b in self.redirect.items()}
        entry["sides"] = list(self.sides)
        return entry


@dataclass(frozen=True)
class ChartPreset:
    chart: Chart
    automatic: dict[int, tuple[TaxKind, int, str]]  # account → (kind, rate, name)
    treatments: dict[str, TreatmentPreset]
    accounts: dict[int, str]  # standard accounts a Cin7 code may be mapped to, with their names
    rounding_account: int
    debtors: tuple[int, int, int]  # first, last, collective
    creditors: tuple[int, int, int]


def scale(account: int, account_length: int) -> int:
    """A 4-digit standard account at a longer Sachkontenlänge (8400 → 84000 at length 5)."""
    return account * 10 ** (account_length - BASE_LENGTH)


def _treatments(chart: Chart) -> dict[str, TreatmentPreset]:
    """Keys per FACTS §7.2 for non-automatic accounts; automatic accounts per FACTS §7.3 (no key)."""
    s03 = chart == "skr03"

    def acc(skr03: int, skr04: int) -> int:
        return skr03 if s03 else skr04

    revenue19, revenue7 = acc(8400, 4400), acc(8300, 4300)
    goods19, goods7, goods_plain = acc(3400, 5400), acc(3300, 5300), acc(3200, 5200)
    presets = (
        TreatmentPreset(
            "output_19", "USt 19", "domestic", 19, ("sale",), "3", redirect={revenue7: revenue19}, note="USt 19 %"
        ),
        TreatmentPreset(
            "output_7", "USt 7", "domestic", 7, ("sale",), "2", redirect={revenue19: revenue7}, note="USt 7 %"
        ),
        TreatmentPreset(
            "intra_eu_supply",
            "IGL",
            "intra_eu_supply",
            0,
            ("sale",),
            account=acc(8125, 4125),
            note="steuerfreie innergemeinschaftliche Lieferung § 4 Nr. 1b UStG (automatic account, VAT id required)",
        ),
        TreatmentPreset(
            "export", "Ausfuhr", "export", 0, ("sale",), account=acc(8120, 4120), note="Ausfuhr § 4 Nr. 1a UStG"
        ),
        TreatmentPreset(
            "input_19", "VSt 19", "domestic", 19, ("purchase",), "9", redirect={goods7: goods19}, note="Vorsteuer 19 %"
        ),
        TreatmentPreset(
            "input_7", "VSt 7", "domestic", 7, ("purchase",), "8", redirect={goods19: goods7}, note="Vorsteuer 7 %"
        ),
        TreatmentPreset(
            "intra_eu_acquisition_19",
            "IGE 19",
            "intra_eu_acquisition",
            19,
            ("purchase",),
            account=acc(3425, 5425),
            note="innergemeinschaftlicher Erwerb 19 % (automatic: DATEV books VSt and USt)",
        ),
        TreatmentPreset(
            "intra_eu_acquisition_7",
            "IGE 7",
            "intra_eu_acquisition",
            7,
            ("purchase",),
            account=acc(3420, 5420),
            note="innergemeinschaftlicher Erwerb 7 % (account not in FACTS §7.3: confirm)",
        ),
        TreatmentPreset(
            "reverse_charge",
            "§13b EU",
            "reverse_charge",
            19,
            ("purchase",),
            account=acc(3123, 5923),
            note="§ 13b Leistungen eines EU-Unternehmers 19 % (automatic)",
        ),
        TreatmentPreset(
            "import",
            "Einfuhr",
            "import",
            0,
            ("purchase",),
            redirect={goods19: goods_plain, goods7: goods_plain},
            note="third-country goods: no VAT on the supplier invoice; onto plain Wareneingang, not an AV account",
        ),
        TreatmentPreset(
            "import_vat",
            "EUSt",
            "import_vat",
            0,
            ("purchase",),
            account=acc(1588, 1433),
            note="Einfuhrumsatzsteuer from the customs invoice (SKR04 1433 UNCONFIRMED, FACTS §7.3)",
        ),
    )
    return {preset.key: preset for preset in presets}


_SKR03_ACCOUNTS: dict[int, str] = {
    1000: "Kasse",
    1200: "Bank",
    1360: "Geldtransit",
    1571: "Abziehbare Vorsteuer 7 %",
    1574: "Abziehbare Vorsteuer aus innergemeinschaftlichem Erwerb 19 %",
    1576: "Abziehbare Vorsteuer 19 %",
    1577: "Abziehbare Vorsteuer nach § 13b UStG 19 %",
    1588: "Bezahlte Einfuhrumsatzsteuer",
    1590: "Durchlaufende Posten",
    1771: "Umsatzsteuer 7 %",
    1774: "Umsatzsteuer aus innergemeinschaftlichem Erwerb 19 %",
    1776: "Umsatzsteuer 19 %",
    1787: "Umsatzsteuer nach § 13b UStG 19 %",
    2150: "Aufwendungen aus Kursdifferenzen",
    2660: "Erträge aus Kursdifferenzen",
    3120: "Bauleistungen § 13b 19 %",
    3123: "Leistungen eines EU-Unternehmers § 13b 19 %",
    3125: "Leistungen eines ausländischen Unternehmers § 13b 19 %",
    3200: "Wareneingang",
    3300: "Wareneingang 7 % Vorsteuer",
    3400: "Wareneingang 19 % Vorsteuer",
    3420: "Innergemeinschaftlicher Erwerb 7 %",
    3425: "Innergemeinschaftlicher Erwerb 19 %",
    3550: "Steuerfreier innergemeinschaftlicher Erwerb",
    3731: "Erhaltene Skonti 7 % Vorsteuer",
    3736: "Erhaltene Skonti 19 % Vorsteuer",
    3800: "Bezugsnebenkosten",
    4730: "Ausgangsfrachten",
    8120: "Steuerfreie Umsätze § 4 Nr. 1a UStG",
    8125: "Steuerfreie innergemeinschaftliche Lieferungen § 4 Nr. 1b UStG",
    8300: "Erlöse 7 % USt",
    8315: "Erlöse aus im Inland steuerpflichtigen EU-Lieferungen 19 %",
    8400: "Erlöse 19 % USt",
    8731: "Gewährte Skonti 7 % USt",
    8736: "Gewährte Skonti 19 % USt",
}
# SKR03 → SKR04 for the accounts above (FACTS §7.3; 3420→5420, 3200→5200, 3800→5800, 4730→6740,
# 1590→1370, 2150→6880, 2660→4840 are common chart knowledge, not in FACTS: confirm).
SKR03_TO_SKR04: dict[int, int] = {
    1000: 1600,
    1200: 1800,
    1360: 1460,
    1571: 1401,
    1574: 1404,
    1576: 1406,
    1577: 1407,
    1588: 1433,
    1590: 1370,
    1771: 3801,
    1774: 3804,
    1776: 3806,
    1787: 3837,
    2150: 6880,
    2660: 4840,
    3120: 5920,
    3123: 5923,
    3125: 5925,
    3200: 5200,
    3300: 5300,
    3400: 5400,
    3420: 5420,
    3425: 5425,
    3550: 5550,
    3731: 5731,
    3736: 5736,
    3800: 5800,
    4730: 6740,
    8120: 4120,
    8125: 4125,
    8300: 4300,
    8315: 4315,
    8400: 4400,
    8731: 4731,
    8736: 4736,
}
_SKR04_ACCOUNTS = {SKR03_TO_SKR04[number]: name for number, name in _SKR03_ACCOUNTS.items()}

# Automatic accounts (AM/AV), FACTS §7.2 examples and §7.3: (kind, rate, name).
_SKR03_AUTOMATIC: dict[int, tuple[TaxKind, int]] = {
    8400: ("domestic", 19),
    8300: ("domestic", 7),
    8125: ("intra_eu_supply", 0),
    8120: ("export", 0),
    3400: ("domestic", 19),
    3300: ("domestic", 7),
    3425: ("intra_eu_acquisition", 19),
    3420: ("intra_eu_acquisition", 7),
    3123: ("reverse_charge", 19),
    8736: ("domestic", 19),
    8731: ("domestic", 7),
    3736: ("domestic", 19),
    3731: ("domestic", 7),
}


def _automatic(chart: Chart) -> dict[int, tuple[TaxKind, int, str]]:
    names = _SKR03_ACCOUNTS if chart == "skr03" else _SKR04_ACCOUNTS
    result: dict[int, tuple[TaxKind, int, str]] = {}
    for skr03, (kind, rate) in _SKR03_AUTOMATIC.items():
        number = skr03 if chart == "skr03" else SKR03_TO_SKR04[skr03]
        result[number] = (kind, rate, names[number])
    return result


PRESETS: dict[Chart, ChartPreset] = {
    "skr03": ChartPreset(
        "skr03",
        _automatic("skr03"),
        _treatments("skr03"),
        _SKR03_ACCOUNTS,
        rounding_account=1590,  # Durchlaufende Posten as interim account (common advice; confirm)
        debtors=(10001, 69999, 10000),
        creditors=(70001, 99999, 70000),
    ),
    "skr04": ChartPreset(
        "skr04",
        _automatic("skr04"),
        _treatments("skr04"),
        _SKR04_ACCOUNTS,
        rounding_account=1370,
        debtors=(10001, 69999, 10000),
        creditors=(70001, 99999, 70000),
    ),
}


def preset_automatic_accounts(chart: Chart, account_length: int = BASE_LENGTH) -> dict[int, AutomaticAccount]:
    """The chart's automatic accounts at `account_length`."""
    return {
        scale(number, account_length): AutomaticAccount(kind=kind, rate=Decimal(rate), name=name)
        for number, (kind, rate, name) in PRESETS[chart].automatic.items()
    }


def personal_range(bounds: tuple[int, int, int], account_length: int) -> tuple[int, int, int]:
    """A 5-digit personal range at `account_length` + 1 digits (10001 → 100010 for length 5, last → …9)."""
    first, last, collective = bounds
    factor = 10 ** (account_length - BASE_LENGTH)
    return first * factor, (last + 1) * factor - 1, collective * factor


def suggest_account(chart: Chart, cin7_code: str, account_length: int = BASE_LENGTH) -> tuple[int, str] | None:
    """A DATEV account for a Cin7 code that already is a known SKR03 standard account (as the demo's codes
    are), translated to SKR04 when that is the chart; None when the code needs a human decision."""
    if not cin7_code.isdigit() or len(cin7_code) != BASE_LENGTH:
        return None
    number = int(cin7_code)
    if number not in _SKR03_ACCOUNTS:
        return None
    target = number if chart == "skr03" else SKR03_TO_SKR04[number]
    return scale(target, account_length), PRESETS[chart].accounts[target]
