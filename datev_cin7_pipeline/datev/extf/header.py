"""The EXTF header record (line 1): writing it from a BatchHeader, reading it back.

Field by field as DATEV's sample header spells it (FACTS §6.2): texts quoted, numbers bare, the fields
the import fills or DATEV reserves left empty. Our defaults are DATEV's sample values: Herkunft "RE",
Buchungstyp 1 (Finanzbuchführung), Rechnungslegungszweck 0 (independent of purpose).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Final, Literal
from zoneinfo import ZoneInfo

from datev_cin7_pipeline.datev.bookings import BatchHeader
from datev_cin7_pipeline.datev.extf import columns as c
from datev_cin7_pipeline.datev.extf.errors import ExtfReadError, ExtfWriteError
from datev_cin7_pipeline.datev.extf.records import split_fields
from datev_cin7_pipeline.datev.extf.values import first_control_character, parse_yyyymmdd, quote, unquote, yyyymmdd

LOCAL_TIME: Final = ZoneInfo("Europe/Berlin")
ORIGIN: Final = "RE"
BOOKING_TYPE_FINANCIAL: Final = 1
ACCOUNTING_PURPOSE_ANY: Final = 0


def created_stamp(moment: dt.datetime) -> str:
    """Field 6: YYYYMMDDHHMMSSmmm in German local time (an aware datetime is converted, a naive one is
    taken as local time already)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(LOCAL_TIME)
    return f"{moment:%Y%m%d%H%M%S}{moment.microsecond // 1000:03d}"


def parse_created_stamp(text: str) -> dt.datetime:
    if len(text) != 17 or not text.isdigit():
        raise ValueError(f"{text!r} is not a timestamp JJJJMMTTHHMMSSmmm")
    moment = dt.datetime.strptime(text[:14], "%Y%m%d%H%M%S").replace(microsecond=int(text[14:]) * 1000)
    return moment.replace(tzinfo=LOCAL_TIME)


def booking_header_fields(header: BatchHeader) -> list[str]:
    """The 31 raw header fields (texts already quoted) of a Buchungsstapel."""
    fields = _common_fields(header, c.CATEGORY_BOOKINGS, c.FORMAT_NAME_BOOKINGS, c.FORMAT_VERSION_BOOKINGS)
    fields[14] = yyyymmdd(header.period_start)
    fields[15] = yyyymmdd(header.period_end)
    fields[16] = _text(header.label, 17)
    fields[17] = _text(header.dictation_initials, 18)
    fields[18] = str(BOOKING_TYPE_FINANCIAL)
    fields[19] = str(ACCOUNTING_PURPOSE_ANY)
    fields[20] = "1" if header.lock else "0"
    fields[21] = _text(header.currency, 22)
    return fields


def personal_accounts_header_fields(header: BatchHeader) -> list[str]:
    """The 31 raw header fields of a Debitoren/Kreditoren file, as DATEV's example spells them: no
    period, label, initials, booking type, lock or currency (those belong to booking batches)."""
    fields = _common_fields(
        header, c.CATEGORY_PERSONAL_ACCOUNTS, c.FORMAT_NAME_PERSONAL_ACCOUNTS, c.FORMAT_VERSION_PERSONAL_ACCOUNTS
    )
    fields[16] = '""'
    fields[17] = '""'
    fields[21] = '""'
    return fields


def _common_fields(header: BatchHeader, category: int, name: str, version: int) -> list[str]:
    fields = [""] * len(c.HEADER_FIELDS)
    fields[0] = quote(c.FORMAT_TAG)
    fields[1] = str(c.HEADER_VERSION)
    fields[2] = str(category)
    fields[3] = quote(name)
    fields[4] = str(version)
    fields[5] = created_stamp(header.created_at)
    fields[7] = quote(ORIGIN)
    fields[8] = '""'  # Exportiert von
    fields[9] = '""'  # Importiert von: set by the import
    fields[10] = str(header.consultant_number)
    fields[11] = str(header.client_number)
    fields[12] = yyyymmdd(header.fiscal_year_start)
    fields[13] = str(header.account_length)
    fields[23] = '""'  # Derivatskennzeichen
    fields[26] = _text(header.chart, 27)
    fields[29] = '""'  # reserved text field
    fields[30] = _text(header.application_info, 31)
    return fields


def _text(value: str, number: int) -> str:
    character = first_control_character(value)
    if character is not None:
        raise ExtfWriteError(
            f"control character {character!r} in a text field", column=number, field=c.header_field_name(number)
        )
    return quote(unicodedata.normalize("NFC", value))


def format_header(fields: list[str]) -> str:
    """The header line; refuses a line DATEV would reject for its length."""
    line = c.SEPARATOR.join(fields)
    if len(line) > c.MAX_HEADER_CHARS:
        raise ExtfWriteError(f"the header is {len(line)} characters long; DATEV accepts at most {c.MAX_HEADER_CHARS}")
    return line


def read_booking_header(line: str) -> BatchHeader:
    """The BatchHeader a Buchungsstapel header line describes; raises ExtfReadError when it is not one."""
    raw = split_fields(line)
    if raw is None or len(raw) != len(c.HEADER_FIELDS):
        raise ExtfReadError(f"line 1 is not an EXTF header of {len(c.HEADER_FIELDS)} fields")
    values = [unquote(field) if field.startswith('"') else field for field in raw]
    expected = (c.FORMAT_TAG, str(c.HEADER_VERSION), str(c.CATEGORY_BOOKINGS), c.FORMAT_NAME_BOOKINGS)
    if tuple(values[:4]) != expected or values[4] != str(c.FORMAT_VERSION_BOOKINGS):
        raise ExtfReadError(f"line 1 is not a {c.FORMAT_NAME_BOOKINGS} header (format 700/21/13): {values[:5]}")
    try:
        return BatchHeader(
            consultant_number=int(values[10]),
            client_number=int(values[11]),
            fiscal_year_start=parse_yyyymmdd(values[12]),
            account_length=int(values[13]),
            period_start=parse_yyyymmdd(values[14]),
            period_end=parse_yyyymmdd(values[15]),
            label=values[16],
            dictation_initials=values[17],
            currency=values[21],
            chart=_chart(values[26]),
            lock=values[20] == "1",
            application_info=values[30],
            created_at=parse_created_stamp(values[5]),
        )
    except ValueError as exc:
        raise ExtfReadError(f"line 1: {exc}") from exc


def _chart(value: str) -> Literal["03", "04"]:
    if value == "03":
        return "03"
    if value == "04":
        return "04"
    raise ValueError(f"Sachkontenrahmen {value!r} is neither 03 nor 04")
