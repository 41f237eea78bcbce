"""The rules of the EXTF validator, each with a stable code (FACTS §6 unless noted).

Codes never change meaning; new rules get new numbers. `F` = the file as a whole, `H` = the header
record (line 1; the column is the header field number), `C` = the column heading line (line 2), `R` = a
booking record (lines 3..; the column is the data column number). Errors make DATEV reject the file or
book something wrong; warnings are soft rules worth a look.

The table is `RULE_TABLE` below: kept as text so it reads like documentation, and parsed into `RULES`, so
code and documentation cannot drift apart (a docstring would vanish under `python -OO`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

Severity = Literal["error", "warning"]


RULE_TABLE: Final = r"""
| code | severity | rule |
|---|---|---|
| EXTF-F001 | error | bytes not valid in the encoding DATEV will use (BOM → UTF-8/UTF-16, none → cp1252); UTF-32 |
| EXTF-F002 | error | UTF-8 text without BOM: DATEV reads it as cp1252 and garbles every non-ASCII character |
| EXTF-F003 | error | a line ends with a lone LF or CR instead of CR LF |
| EXTF-F004 | warning | the last line has no CR LF |
| EXTF-F005 | error | more than 99,999 booking records |
| EXTF-F006 | error | header or heading line missing |
| EXTF-F007 | error | file larger than 50 MB (upload limit) |
| EXTF-F008 | error | file name does not match `EXTF_.{0,51}\.csv` |
| EXTF-H001 | error | header is not 31 `;`-separated fields (or its quoting is broken) |
| EXTF-H002 | error | Kennzeichen is not "EXTF" |
| EXTF-H003 | error | Versionsnummer is not 700 |
| EXTF-H004 | error | Formatkategorie is not 21 |
| EXTF-H005 | error | Formatname is not "Buchungsstapel" |
| EXTF-H006 | error | Formatversion is not 13 |
| EXTF-H007 | error | Erzeugt am is not a valid JJJJMMTTHHMMSSmmm timestamp |
| EXTF-H008 | error | a field the import fills or DATEV reserves (7, 10, 23, 25, 26, 29, 30) is not empty |
| EXTF-H009 | error | Herkunft is not up to 2 letters/digits |
| EXTF-H010 | error | Exportiert von is longer than 25 characters |
| EXTF-H011 | error | Beraternummer is not 1001–9999999 |
| EXTF-H012 | error | Mandantennummer is not 1–99999 |
| EXTF-H013 | error | WJ-Beginn is not a valid date JJJJMMTT |
| EXTF-H014 | error | Sachkontenlänge is not 4–8 |
| EXTF-H015 | error | Datum vom / Datum bis is not a valid date JJJJMMTT |
| EXTF-H016 | error | Datum vom is after Datum bis |
| EXTF-H017 | error | the period is not inside the fiscal year that starts at WJ-Beginn |
| EXTF-H018 | error | Bezeichnung is longer than 30 characters |
| EXTF-H019 | error | Diktatkürzel is not empty or two capital letters |
| EXTF-H020 | error | Buchungstyp is not 1 or 2 |
| EXTF-H021 | error | Rechnungslegungszweck is not empty, 0, 30, 40, 50 or 64 |
| EXTF-H022 | error | Festschreibung is not 0 or 1 |
| EXTF-H023 | warning | Festschreibung is empty: DATEV then locks the batch on import |
| EXTF-H024 | error | WKZ is not three capital letters |
| EXTF-H025 | error | Sachkontenrahmen is not two digits |
| EXTF-H026 | error | header line longer than 1000 characters |
| EXTF-H027 | warning | a header field is quoted where DATEV writes a number, or bare where it writes text |
| EXTF-H028 | error | Anwendungsinformation is longer than 16 characters |
| EXTF-H029 | warning | the period spans two calendar years (#REW04404 per third-party validators) |
| EXTF-H030 | error | ID der Branchenlösung is not up to 4 digits |
| EXTF-H031 | error | a header text field has a control character or is not in NFC |
| EXTF-C001 | error | a column heading differs from format version 13 (or the count is not 125) |
| EXTF-R001 | error | a record does not have 125 fields (or is empty) |
| EXTF-R002 | error | Umsatz is not `^\d{1,10},\d{2}$` |
| EXTF-R003 | error | Umsatz is 0,00 |
| EXTF-R004 | error | Soll/Haben-Kennzeichen is not S or H |
| EXTF-R005 | error | WKZ Umsatz / WKZ Basis-Umsatz is not three capital letters |
| EXTF-R006 | error | Kurs is not 1–4 digits, comma, 2–6 digits, or is 0 |
| EXTF-R007 | error | Kurs, Basis-Umsatz and WKZ Basis-Umsatz are not given together |
| EXTF-R008 | error | foreign-currency Umsatz without Kurs |
| EXTF-R009 | error | Basis-Umsatz is not `^\d{1,10},\d{2}$` |
| EXTF-R010 | error | Konto / Gegenkonto is missing or not 1–9 digits |
| EXTF-R011 | error | Konto / Gegenkonto longer than Sachkontenlänge + 1 (personal accounts are length + 1) |
| EXTF-R012 | error | BU-Schlüssel is not up to 4 digits |
| EXTF-R013 | error | BU-Schlüssel with a tax key on an automatic account (FACTS §7.2) |
| EXTF-R014 | warning | BU-Schlüssel 40 (cancels the automatic function) on an automatic account: confirm it |
| EXTF-R015 | error | Belegdatum is not a valid day and month TTMM |
| EXTF-R016 | error | Belegdatum lies outside the header period |
| EXTF-R017 | error | Belegdatum lies outside the fiscal year of the header |
| EXTF-R018 | error | Belegfeld 1 longer than 36 or with characters other than A–Z a–z 0–9 $ & % * + - / |
| EXTF-R019 | warning | Belegfeld 1 has lower-case letters (some tools upper-case it; open-item matching is exact) |
| EXTF-R020 | error | Belegfeld 2 longer than 12 or with characters other than A–Z a–z 0–9 $ & % * + - / |
| EXTF-R021 | error | Skonto is not `\d{1,8},\d{2}` or is 0 |
| EXTF-R022 | error | Buchungstext longer than 60 characters |
| EXTF-R023 | warning | Buchungstext looks cut off (exactly 60 characters, or ends with ... or …) |
| EXTF-R024 | error | Beleglink is not a 4-letter system code, a space and a quoted id, up to 210 characters |
| EXTF-R025 | warning | a BEDI Beleglink whose id is not a GUID 8-4-4-4-12 |
| EXTF-R026 | warning | no Beleglink: the booking is not linked to its document |
| EXTF-R027 | error | a Beleginfo pair has only its Art or only its Inhalt |
| EXTF-R028 | error | Beleginfo Art longer than 20 or Inhalt longer than 210 characters |
| EXTF-R029 | error | KOST1 / KOST2 longer than 36 characters |
| EXTF-R030 | error | EU-Land u. UStID is not a VAT id: EU prefix (Greece EL) + national format, ≤ 15 |
| EXTF-R031 | error | a TTMMJJJJ date (Leistungsdatum, Fälligkeit, ...) is not a valid date |
| EXTF-R032 | error | Generalumkehr is not empty, 0 or 1 |
| EXTF-R033 | error | Festschreibung (record) is not empty, 0 or 1 |
| EXTF-R034 | error | a control character (line break, tab, ...) inside a field |
| EXTF-R035 | error | a text field is not in Unicode NFC (decomposed umlauts) |
| EXTF-R036 | error | a tax rate (EU-Steuersatz, Steuersatz) is not `\d{1,2},\d{2}` |
| EXTF-R037 | error | Land is not two capital letters |
| EXTF-R038 | error | Buchungs GUID longer than 36 characters |
| EXTF-R039 | warning | Basis-Umsatz differs from Umsatz / Kurs by more than 0,01 |
| EXTF-R040 | warning | a field is quoted where DATEV writes a number, or bare where it writes text |
| EXTF-R041 | error | a record's quoting is broken (a stray or unclosed quote) |
"""


@dataclass(frozen=True)
class Rule:
    code: str
    severity: Severity
    title: str


def _table() -> dict[str, Rule]:
    """The rules, read from RULE_TABLE."""
    rules = {}
    for match in re.finditer(r"^\| (EXTF-[FHCR]\d{3}) \| (error|warning) \| (.+) \|$", RULE_TABLE, re.MULTILINE):
        code, severity, title = match.groups()
        rules[code] = Rule(code, "error" if severity == "error" else "warning", title)
    return rules


RULES: Final[dict[str, Rule]] = _table()
