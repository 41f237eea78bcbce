"""The DATEV-Format (EXTF) checks: the header checks DATEV documents, and the sandbox's stricter row rules.

What DATEV itself checks on upload (accounting-extf-files 3.0.1, the tables of `GET .../jobs/{job-id}`):
- `1008833` "Invalid file": no payload; more than 99,999 postings; an encoding other than Windows-1252,
  UTF-8, UTF-16LE, UTF-16BE, chosen by the byte order mark (none = Windows-1252);
- `1008834` "EXTF-header": missing header columns; header over 1000 characters; an unknown combination of
  data category, format name and format version; DateFrom after DateTo; consultant or client number not
  those of the upload's client id; and the field errors named by position (1-7, 11-16) and reserved fields
  (23-26, 29, 30) that must be empty. The texts below are DATEV's, word for word.

DATEV's sandbox checks no more than that (FACTS.md §3), yet the complaints about exporters are about the
rows (FACTS §6.4, DESIGN §10). So the simulator also applies the Buchungsstapel field rules to every row of
category 21 format 13 and fails the job with `validation_details` that name line and field. Those details
carry the type `SANDBOX_ROW_RULES_TYPE`, so nobody mistakes them for a DATEV code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

HELP = "http://www.datev.de/hilfe/"
INVALID_FILE = 1008833
INVALID_HEADER = 1008834
SANDBOX_ROW_RULES_TYPE = "urn:datev-cin7-sandbox:extf-booking-row-rules"
MAX_HEADER_CHARACTERS = 1000
HEADER_FIELDS = 31
MAX_LISTED_ERRORS = 100

NO_PAYLOAD = "No payload"
UNSUPPORTED_ENCODING = "Only Windows-1252, UTF-8, UTF16LE, and UTF16BE are supported"
MISSING_COLUMNS = "Missing columns in EXTF-header"
HEADER_TOO_LONG = "EXTF-header exceeds maximum length of 1000 characters"
INVALID_COMBINATION = "Invalid combination of data category, format name and format version"
DATES_REVERSED = "DateFrom must not be greater than DateTo"
CONSULTANT_MISMATCH = "The consultant-number in the EXTF-header does not match with the upload request"
CLIENT_MISMATCH = "The client-number in the EXTF-header does not match with the upload request"

FIELD_NAMES: dict[int, str] = {
    1: "DATEV Format Label",
    2: "Version Number",
    3: "Data Category",
    4: "Format Name",
    5: "Format Version",
    6: "Created On",
    7: "Imported",
    11: "Consultant",
    12: "Client",
    13: "FY Begin",
    14: "Length of Ledger Account",
    15: "Date From",
    16: "Date To",
}
RESERVED_FIELDS = (23, 24, 25, 26, 29, 30)

FORMATS: frozenset[tuple[int, str, int]] = frozenset(
    {
        (21, "Buchungsstapel", 13),
        (16, "Debitoren/Kreditoren", 5),
        (20, "Kontenbeschriftungen", 3),
        (46, "Zahlungsbedingungen", 2),
        (48, "Diverse Adressen", 2),
        (65, "Wiederkehrende Buchungen", 4),
    }
)
"""Category, format name and version the simulator accepts (the current versions, FACTS §6.2)."""
CATEGORIES = frozenset(category for category, _, _ in FORMATS)
FORMAT_NAMES = frozenset(name for _, name, _ in FORMATS)
BOOKING_BATCH = (21, "Buchungsstapel", 13)

HEADING_COLUMNS: tuple[str, ...] = (
    "Umsatz (ohne Soll/Haben-Kz)",
    "Soll/Haben-Kennzeichen",
    "WKZ Umsatz",
    "Kurs",
    "Basis-Umsatz",
    "WKZ Basis-Umsatz",
    "Konto",
    "Gegenkonto (ohne BU-Schlüssel)",
    "BU-Schlüssel",
    "Belegdatum",
    "Belegfeld 1",
    "Belegfeld 2",
    "Skonto",
    "Buchungstext",
    "Postensperre",
    "Diverse Adressnummer",
    "Geschäftspartnerbank",
    "Sachverhalt",
    "Zinssperre",
    "Beleglink",
    "Beleginfo - Art 1",
    "Beleginfo - Inhalt 1",
    "Beleginfo - Art 2",
    "Beleginfo - Inhalt 2",
    "Beleginfo - Art 3",
    "Beleginfo - Inhalt 3",
    "Beleginfo - Art 4",
    "Beleginfo - Inhalt 4",
    "Beleginfo - Art 5",
    "Beleginfo - Inhalt 5",
    "Beleginfo - Art 6",
    "Beleginfo - Inhalt 6",
    "Beleginfo - Art 7",
    "Beleginfo - Inhalt 7",
    "Beleginfo - Art 8",
    "Beleginfo - Inhalt 8",
    "KOST1 - Kostenstelle",
    "KOST2 - Kostenstelle",
    "Kost-Menge",
    "EU-Land u. UStID (Bestimmung)",
    "EU-Steuersatz (Bestimmung)",
    "Abw. Versteuerungsart",
    "Sachverhalt L+L",
    "Funktionsergänzung L+L",
    "BU 49 Hauptfunktionstyp",
    "BU 49 Hauptfunktionsnummer",
    "BU 49 Funktionsergänzung",
    "Zusatzinformation - Art 1",
    "Zusatzinformation- Inhalt 1",
    "Zusatzinformation - Art 2",
    "Zusatzinformation- Inhalt 2",
    "Zusatzinformation - Art 3",
    "Zusatzinformation- Inhalt 3",
    "Zusatzinformation - Art 4",
    "Zusatzinformation- Inhalt 4",
    "Zusatzinformation - Art 5",
    "Zusatzinformation- Inhalt 5",
    "Zusatzinformation - Art 6",
    "Zusatzinformation- Inhalt 6",
    "Zusatzinformation - Art 7",
    "Zusatzinformation- Inhalt 7",
    "Zusatzinformation - Art 8",
    "Zusatzinformation- Inhalt 8",
    "Zusatzinformation - Art 9",
    "Zusatzinformation- Inhalt 9",
    "Zusatzinformation - Art 10",
    "Zusatzinformation- Inhalt 10",
    "Zusatzinformation - Art 11",
    "Zusatzinformation- Inhalt 11",
    "Zusatzinformation - Art 12",
    "Zusatzinformation- Inhalt 12",
    "Zusatzinformation - Art 13",
    "Zusatzinformation- Inhalt 13",
    "Zusatzinformation - Art 14",
    "Zusatzinformation- Inhalt 14",
    "Zusatzinformation - Art 15",
    "Zusatzinformation- Inhalt 15",
    "Zusatzinformation - Art 16",
    "Zusatzinformation- Inhalt 16",
    "Zusatzinformation - Art 17",
    "Zusatzinformation- Inhalt 17",
    "Zusatzinformation - Art 18",
    "Zusatzinformation- Inhalt 18",
    "Zusatzinformation - Art 19",
    "Zusatzinformation- Inhalt 19",
    "Zusatzinformation - Art 20",
    "Zusatzinformation- Inhalt 20",
    "Stück",
    "Gewicht",
    "Zahlweise",
    "Forderungsart",
    "Veranlagungsjahr",
    "Zugeordnete Fälligkeit",
    "Skontotyp",
    "Auftragsnummer",
    "Buchungstyp",
    "USt-Schlüssel (Anzahlungen)",
    "EU-Land (Anzahlungen)",
    "Sachverhalt L+L (Anzahlungen)",
    "EU-Steuersatz (Anzahlungen)",
    "Erlöskonto (Anzahlungen)",
    "Herkunft-Kz",
    "Buchungs GUID",
    "KOST-Datum",
    "SEPA-Mandatsreferenz",
    "Skontosperre",
    "Gesellschaftername",
    "Beteiligtennummer",
    "Identifikationsnummer",
    "Zeichnernummer",
    "Postensperre bis",
    "Bezeichnung SoBil-Sachverhalt",
    "Kennzeichen SoBil-Buchung",
    "Festschreibung",
    "Leistungsdatum",
    "Datum Zuord. Steuerperiode",
    "Fälligkeit",
    "Generalumkehr (GU)",
    "Steuersatz",
    "Land",
    "Abrechnungsreferenz",
    "BVV-Position",
    "EU-Land u. UStID (Ursprung)",
    "EU-Steuersatz (Ursprung)",
    "Abw. Skontokonto",
)
"""Line 2 of a Buchungsstapel in format version 13, column by column (125 columns, FACTS §6.3)."""

# Columns the row rules look at (0-based positions in a row).
AMOUNT, SIDE, CURRENCY, RATE, BASE_AMOUNT, BASE_CURRENCY, ACCOUNT, CONTRA_ACCOUNT, TAX_KEY, DOCUMENT_DATE = range(10)
DOCUMENT_FIELD_1, DOCUMENT_FIELD_2, CASH_DISCOUNT, BOOKING_TEXT = 10, 11, 12, 13
DOCUMENT_LINK, COST_CENTRE_1, COST_CENTRE_2, SUPPLY_DATE = 19, 36, 37, 114
QUOTED_COLUMNS = (
    SIDE,
    CURRENCY,
    BASE_CURRENCY,
    TAX_KEY,
    DOCUMENT_FIELD_1,
    DOCUMENT_FIELD_2,
    BOOKING_TEXT,
    DOCUMENT_LINK,
    COST_CENTRE_1,
    COST_CENTRE_2,
)
NUMBER_COLUMNS = (AMOUNT, RATE, BASE_AMOUNT, ACCOUNT, CONTRA_ACCOUNT, DOCUMENT_DATE, CASH_DISCOUNT, SUPPLY_DATE)

_AMOUNT = re.compile(r"\d{1,10},\d{2}")
_RATE = re.compile(r"\d{1,4},\d{2,6}")
_DISCOUNT = re.compile(r"\d{1,8},\d{2}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_ACCOUNT = re.compile(r"\d{1,9}")
_TAX_KEY = re.compile(r"\d{1,4}")
_DAY_MONTH = re.compile(r"\d{4}")
_FULL_DATE = re.compile(r"\d{8}")
_DOCUMENT_FIELD = re.compile(r"[A-Za-z0-9$&%*+\-/]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Field(NamedTuple):
    """One CSV field: its text (quotes removed, doubled quotes undone) and whether it was quoted.

    A NamedTuple, not a dataclass: a full batch holds 12.5 million fields and this is cheaper to build.
    """

    value: str
    quoted: bool = False


class CsvLineError(ValueError):
    """A line that is not `;`-separated fields with correctly doubled quotes."""


def split_line(line: str) -> list[Field]:
    """Split one EXTF line into fields; quoted fields may contain `;` and doubled quotes."""
    return [field_of(raw) for raw in split_raw(line)]


def field_of(raw: str) -> Field:
    """The field of one raw token as `split_raw` returns it (quotes still on)."""
    if raw.startswith('"'):
        return Field(raw[1:-1].replace('""', '"'), True)
    return Field(raw, False)


_SIMPLE_LINE = re.compile(r'(?:"(?:[^";]|"")*"|[^";]*)(?:;(?:"(?:[^";]|"")*"|[^";]*))*')


def split_raw(line: str) -> list[str]:
    """The raw tokens of a line (quotes kept), or CsvLineError for broken quoting.

    A whole Buchungsstapel holds up to 12.5 million fields, so the usual line - no `;` inside a quoted
    field - is recognised (quoting included) by one regular expression and split by `str.split`; only
    the rest is re-joined piece by piece.
    """
    if _SIMPLE_LINE.fullmatch(line):
        return line.split(";")
    tokens: list[str] = []
    parts = line.split(";")
    index, count = 0, len(parts)
    while index < count:
        part = parts[index]
        if not part.startswith('"'):
            if '"' in part:
                raise CsvLineError(f"a quote inside the unquoted field {len(tokens) + 1}")
        else:
            while not _closed(part):
                index += 1
                if index == count:
                    raise CsvLineError("an unterminated quote")
                part += ";" + parts[index]
            if '"' in part[1:-1].replace('""', ""):
                raise CsvLineError("text after a closing quote")
        tokens.append(part)
        index += 1
    return tokens


def _closed(part: str) -> bool:
    """A piece that starts with a quote is a whole field when it ends with one and its quotes pair up."""
    return len(part) >= 2 and part.endswith('"') and part.count('"') % 2 == 0


@dataclass(frozen=True)
class Finding:
    """One entry of `validation_details.affected_elements`."""

    name: str
    reason: str

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "reason": self.reason}


@dataclass(frozen=True)
class ExtfHeader:
    """The header values a job reports (`data_category_id`, `label`, `date_from`, ...)."""

    category: int | None = None
    format_name: str = ""
    format_version: int | None = None
    consultant: int | None = None
    client: int | None = None
    fiscal_year_begin: date | None = None
    account_length: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    label: str = ""
    currency: str = "EUR"

    @property
    def is_booking_batch(self) -> bool:
        return (self.category, self.format_name, self.format_version) == BOOKING_BATCH


@dataclass(frozen=True)
class ExtfCheck:
    """The outcome of checking one uploaded file: what a job reports, and why it fails (if it does)."""

    encoding: str | None = None
    header: ExtfHeader | None = None
    postings: int | None = None
    details: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.details is None


class UnsupportedEncoding(ValueError):
    """A UTF-32 byte order mark, or bytes that do not decode in the encoding the BOM chose."""


_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def decode_extf(data: bytes) -> tuple[str, str]:
    """The text and the encoding DATEV would read: UTF-8/UTF-16 by BOM, otherwise Windows-1252."""
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        raise UnsupportedEncoding("UTF-32")
    bom, encoding = next(((bom, name) for bom, name in _BOMS if data.startswith(bom)), (b"", "windows-1252"))
    try:
        return data[len(bom) :].decode(encoding), encoding
    except UnicodeDecodeError as exc:
        raise UnsupportedEncoding(str(exc)) from exc


def validation_details(
    code: int | str, title: str, findings: Sequence[Finding], detail: str | None = None
) -> dict[str, Any]:
    """A `ValidationDetails` object; `detail` defaults to the single finding's text or "Fields with error"."""
    listed = list(findings[:MAX_LISTED_ERRORS])
    if detail is None:
        detail = findings[0].reason if len(findings) == 1 else "Fields with error"
    body: dict[str, Any] = {
        "type": f"{HELP}{code}" if isinstance(code, int) else code,
        "title": title,
        "detail": detail,
    }
    if listed:
        body["affected_elements"] = [finding.as_json() for finding in listed]
    return body


def invalid_file(reason: str) -> dict[str, Any]:
    return validation_details(INVALID_FILE, "Invalid file", [Finding("EXTF-file", reason)])


def check_extf_file(data: bytes, client_id: str, *, max_postings: int = 99_999, row_rules: bool = True) -> ExtfCheck:
    """Check an uploaded file as DATEV does (1008833, 1008834), then the row rules (when `row_rules`)."""
    try:
        text, encoding = decode_extf(data)
    except UnsupportedEncoding:
        return ExtfCheck(details=invalid_file(UNSUPPORTED_ENCODING))
    lines = _lines(text)
    if not lines or not lines[0].strip():
        return ExtfCheck(encoding=encoding, details=invalid_file(NO_PAYLOAD))
    postings = max(0, len(lines) - 2)
    if postings > max_postings:
        return ExtfCheck(encoding, None, postings, invalid_file(f"More than {max_postings} postings"))
    header, header_findings = check_header(lines[0], client_id)
    if header_findings:
        details = validation_details(INVALID_HEADER, "Invalid EXTF-header", header_findings)
        return ExtfCheck(encoding, header, postings, details)
    if postings == 0:
        return ExtfCheck(encoding, header, postings, invalid_file(NO_PAYLOAD))
    if row_rules and header.is_booking_batch:
        row_findings = list(check_rows(lines, header))
        if row_findings:
            count = len(row_findings)
            detail = f"{count} error(s) in the booking rows; first: {row_findings[0].name}: {row_findings[0].reason}"
            title = "Booking rows break the Buchungsstapel field rules (sandbox check)"
            details = validation_details(SANDBOX_ROW_RULES_TYPE, title, row_findings, detail)
            return ExtfCheck(encoding, header, postings, details)
    return ExtfCheck(encoding, header, postings, None)


def _lines(text: str) -> list[str]:
    """Lines without their CR/LF; trailing empty lines (a final line break) are not records."""
    lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


# --- the header (line 1) -------------------------------------------------------------------------------


def check_header(line: str, client_id: str) -> tuple[ExtfHeader, list[Finding]]:
    """DATEV's 1008834 checks of the header line against the client id of the upload (`<consultant>-<client>`)."""
    findings: list[Finding] = []
    if len(line) > MAX_HEADER_CHARACTERS:
        findings.append(Finding("EXTF-header", HEADER_TOO_LONG))
    try:
        fields = split_line(line)
    except CsvLineError:
        fields = [Field(part.strip('"'), part.startswith('"')) for part in line.split(";")]
    if len(fields) < HEADER_FIELDS:
        findings.append(Finding("EXTF-header", MISSING_COLUMNS))
    values = {position: fields[position - 1].value for position in range(1, len(fields) + 1)}
    header = ExtfHeader(**_header_values(values, findings), **_dates_and_ids(values, client_id, findings))
    for position in RESERVED_FIELDS:
        if values.get(position, ""):
            findings.append(
                Finding(f"Reserved ({position})", f"Error in header field - Reserved - must be empty ({position})")
            )
    return header, findings


def _field_error(position: int) -> Finding:
    name = FIELD_NAMES[position]
    if position == 1:
        return Finding(f"{name} (1)", "Error in header field - DATEV Format Label - must be EXTF (1)")
    return Finding(f"{name} ({position})", f"Error in header field - {name} - is invalid ({position})")


def _header_values(values: dict[int, str], findings: list[Finding]) -> dict[str, Any]:
    """Fields 1-7 and the format combination; collects findings, returns what could be read."""
    if values.get(1) != "EXTF":
        findings.append(_field_error(1))
    if values.get(2) != "700":
        findings.append(_field_error(2))
    category = _int(values.get(3, ""), 1, 999)
    if category not in CATEGORIES:
        findings.append(_field_error(3))
    format_name = values.get(4, "")
    if format_name not in FORMAT_NAMES:
        findings.append(_field_error(4))
    format_version = _int(values.get(5, ""), 1, 999)
    if format_version is None:
        findings.append(_field_error(5))
    known = category in CATEGORIES and format_name in FORMAT_NAMES and format_version is not None
    if known and (category, format_name, format_version) not in FORMATS:
        findings.append(Finding("EXTF-header", INVALID_COMBINATION))
    if not _timestamp_ok(values.get(6, "")):
        findings.append(_field_error(6))
    if values.get(7, ""):
        findings.append(_field_error(7))
    return {
        "category": category,
        "format_name": format_name,
        "format_version": format_version,
        "label": values.get(17, ""),
        "currency": values.get(22, "") or "EUR",
    }


def _dates_and_ids(values: dict[int, str], client_id: str, findings: list[Finding]) -> dict[str, Any]:
    """Fields 11-16: numbers, the match with the path's client id, the fiscal year and the period."""
    booking = values.get(3) == "21"
    consultant = _int(values.get(11, ""), 1001, 9_999_999, max_digits=7)
    client = _int(values.get(12, ""), 1, 99_999, max_digits=5)
    expected_consultant, _, expected_client = client_id.partition("-")
    if consultant is None:
        findings.append(_field_error(11))
    elif str(consultant) != expected_consultant:
        findings.append(Finding("Consultant (11)", CONSULTANT_MISMATCH))
    if client is None:
        findings.append(_field_error(12))
    elif str(client) != expected_client:
        findings.append(Finding("Client (12)", CLIENT_MISMATCH))
    fiscal_year_begin = _optional_date(values, 13, booking, findings)
    account_length = None
    if values.get(14, "") or booking:
        account_length = _int(values.get(14, ""), 4, 8, max_digits=1)
        if account_length is None:
            findings.append(_field_error(14))
    date_from = _optional_date(values, 15, booking, findings)
    date_to = _optional_date(values, 16, booking, findings)
    if date_from and date_to and date_from > date_to:
        findings.append(Finding("Date From (15)", DATES_REVERSED))
    return {
        "consultant": consultant,
        "client": client,
        "fiscal_year_begin": fiscal_year_begin,
        "account_length": account_length,
        "date_from": date_from,
        "date_to": date_to,
    }


def _optional_date(values: dict[int, str], position: int, required: bool, findings: list[Finding]) -> date | None:
    raw = values.get(position, "")
    if not raw and not required:
        return None
    parsed = _yyyymmdd(raw)
    if parsed is None:
        findings.append(_field_error(position))
    return parsed


def _int(raw: str, low: int, high: int, *, max_digits: int = 3) -> int | None:
    if not raw.isascii() or not raw.isdigit() or len(raw) > max_digits:
        return None
    value = int(raw)
    return value if low <= value <= high else None


def _yyyymmdd(raw: str) -> date | None:
    if not _FULL_DATE.fullmatch(raw):
        return None
    try:
        return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
    except ValueError:
        return None


def _timestamp_ok(raw: str) -> bool:
    """`YYYYMMDDHHMMSSmmm`, 17 digits, a real moment."""
    if not (len(raw) == 17 and raw.isascii() and raw.isdigit()):
        return False
    try:
        datetime.strptime(raw[:14], "%Y%m%d%H%M%S")
    except ValueError:
        return False
    return True


# --- the rows (line 2 and lines 3..n) ----------------------------------------------------------------------


def check_rows(lines: Sequence[str], header: ExtfHeader) -> Iterator[Finding]:
    """The column headings (line 2) and the Buchungsstapel field rules for each booking line."""
    yield from _check_headings(lines[1])
    for number, line in enumerate(lines[2:], start=3):
        yield from check_row(number, line, header)


def _check_headings(line: str) -> Iterator[Finding]:
    name = "line 2 (column headings)"
    try:
        values = [f.value for f in split_line(line)]
    except CsvLineError as exc:
        yield Finding(name, f"not readable: {exc}")
        return
    if len(values) != len(HEADING_COLUMNS):
        yield Finding(name, f"has {len(values)} columns, format version 13 has {len(HEADING_COLUMNS)}")
        return
    for position, (got, expected) in enumerate(zip(values, HEADING_COLUMNS, strict=True), start=1):
        if got != expected:
            yield Finding(name, f"column {position} must be {expected!r}, got {got!r}")


def _where(number: int, column: int) -> str:
    return f"line {number}, field {column + 1} ({HEADING_COLUMNS[column]})"


def check_row(number: int, line: str, header: ExtfHeader) -> Iterator[Finding]:
    """The field rules of FACTS §6.4 for one booking line (`number` is the line number in the file)."""
    if not line.strip():
        yield Finding(f"line {number}", "empty line between booking lines")
        return
    try:
        fields = _Row(split_raw(line))
    except CsvLineError as exc:
        yield Finding(f"line {number}", f"not readable: {exc} (a line break inside a text field?)")
        return
    if len(fields) != len(HEADING_COLUMNS):
        yield Finding(f"line {number}", f"has {len(fields)} fields, the column headings have {len(HEADING_COLUMNS)}")
        return
    if _CONTROL.search(line):
        for column, item in enumerate(fields):
            if _CONTROL.search(item.value):
                yield Finding(_where(number, column), "control characters are not allowed in a field")
    yield from _check_quoting(number, fields)
    yield from _check_amounts(number, fields, header)
    yield from _check_accounts(number, fields, header)
    yield from _check_dates(number, fields, header)
    yield from _check_texts(number, fields)


class _Row:
    """A booking line's fields, decoded only when a rule looks at them (most columns are never read)."""

    def __init__(self, raw: list[str]) -> None:
        self.raw = raw
        self._decoded: dict[int, Field] = {}

    def __len__(self) -> int:
        return len(self.raw)

    def __getitem__(self, column: int) -> Field:
        found = self._decoded.get(column)
        if found is None:
            found = self._decoded[column] = field_of(self.raw[column])
        return found

    def __iter__(self) -> Iterator[Field]:
        return (field_of(raw) for raw in self.raw)


def _check_quoting(number: int, fields: _Row) -> Iterator[Finding]:
    for column in QUOTED_COLUMNS:
        if fields[column].value and not fields[column].quoted:
            yield Finding(_where(number, column), 'a text field must be enclosed in "..."')
    for column in NUMBER_COLUMNS:
        if fields[column].quoted:
            yield Finding(_where(number, column), "a number or date field must not be quoted")


def _check_amounts(number: int, fields: _Row, header: ExtfHeader) -> Iterator[Finding]:
    amount = fields[AMOUNT].value
    if not _AMOUNT.fullmatch(amount) or _decimal(amount) <= 0:
        yield Finding(
            _where(number, AMOUNT), f"must match ^\\d{{1,10}},\\d{{2}}$ and be greater than 0, got {amount!r}"
        )
    if fields[SIDE].value not in ("S", "H"):
        yield Finding(_where(number, SIDE), f'must be "S" or "H", got {fields[SIDE].value!r}')
    for column in (CURRENCY, BASE_CURRENCY):
        if fields[column].value and not _CURRENCY.fullmatch(fields[column].value):
            yield Finding(_where(number, column), f"must be a currency code [A-Z]{{3}}, got {fields[column].value!r}")
    rate = fields[RATE].value
    if rate and (not _RATE.fullmatch(rate) or _decimal(rate) <= 0):
        yield Finding(_where(number, RATE), f"must match ^\\d{{1,4}},\\d{{2,6}}$ and be greater than 0, got {rate!r}")
    base = fields[BASE_AMOUNT].value
    if base and not _AMOUNT.fullmatch(base):
        yield Finding(_where(number, BASE_AMOUNT), f"must match ^\\d{{1,10}},\\d{{2}}$, got {base!r}")
    currency = fields[CURRENCY].value
    if currency and currency != header.currency and not (rate and base and fields[BASE_CURRENCY].value):
        yield Finding(
            _where(number, RATE), f"the foreign currency {currency} needs Kurs, Basis-Umsatz and WKZ Basis-Umsatz"
        )
    discount = fields[CASH_DISCOUNT].value
    if discount and (not _DISCOUNT.fullmatch(discount) or _decimal(discount) <= 0):
        yield Finding(
            _where(number, CASH_DISCOUNT), f"must match ^\\d{{1,8}},\\d{{2}}$ and be greater than 0, got {discount!r}"
        )


def _check_accounts(number: int, fields: _Row, header: ExtfHeader) -> Iterator[Finding]:
    longest = (header.account_length or 8) + 1
    for column in (ACCOUNT, CONTRA_ACCOUNT):
        value = fields[column].value
        if not _ACCOUNT.fullmatch(value):
            yield Finding(_where(number, column), f"must be an account number of 1-9 digits, got {value!r}")
        elif len(value) > longest:
            yield Finding(
                _where(number, column),
                f"{value} is longer than a personal account (Sachkontenlänge {header.account_length} + 1 digits)",
            )
    key = fields[TAX_KEY].value
    if key and not _TAX_KEY.fullmatch(key):
        yield Finding(_where(number, TAX_KEY), f"must be a quoted key of at most 4 digits, got {key!r}")


def _check_dates(number: int, fields: _Row, header: ExtfHeader) -> Iterator[Finding]:
    raw = fields[DOCUMENT_DATE].value
    if not _DAY_MONTH.fullmatch(raw):
        yield Finding(_where(number, DOCUMENT_DATE), f"must be TTMM (day and month), got {raw!r}")
    elif header.date_from and header.date_to and _in_period(raw, header.date_from, header.date_to) is None:
        period = f"{header.date_from:%d.%m.%Y}-{header.date_to:%d.%m.%Y}"
        yield Finding(_where(number, DOCUMENT_DATE), f"{raw} is not a date in the batch period {period}")
    supply = fields[SUPPLY_DATE].value
    if supply and _ttmmjjjj(supply) is None:
        yield Finding(_where(number, SUPPLY_DATE), f"must be a date TTMMJJJJ, got {supply!r}")


def _check_texts(number: int, fields: _Row) -> Iterator[Finding]:
    for column, limit in ((DOCUMENT_FIELD_1, 36), (DOCUMENT_FIELD_2, 12)):
        value = fields[column].value
        if len(value) > limit:
            yield Finding(_where(number, column), f"at most {limit} characters, got {len(value)}")
        if not _DOCUMENT_FIELD.fullmatch(value):
            bad = sorted({char for char in value if not _DOCUMENT_FIELD.fullmatch(char)})
            yield Finding(_where(number, column), f"only A-Z a-z 0-9 $ & % * + - / are allowed, got {''.join(bad)!r}")
    for column, limit in ((BOOKING_TEXT, 60), (DOCUMENT_LINK, 210), (COST_CENTRE_1, 36), (COST_CENTRE_2, 36)):
        if len(fields[column].value) > limit:
            yield Finding(_where(number, column), f"at most {limit} characters, got {len(fields[column].value)}")


def _decimal(raw: str) -> float:
    return float(raw.replace(",", "."))


def _in_period(day_month: str, first: date, last: date) -> date | None:
    """The date of `TTMM` inside [first, last] (the year comes from the batch period), or None."""
    for year in range(first.year, last.year + 1):
        try:
            candidate = date(year, int(day_month[2:]), int(day_month[:2]))
        except ValueError:
            continue
        if first <= candidate <= last:
            return candidate
    return None


def _ttmmjjjj(raw: str) -> date | None:
    if not _FULL_DATE.fullmatch(raw):
        return None
    try:
        return date(int(raw[4:]), int(raw[2:4]), int(raw[:2]))
    except ValueError:
        return None
