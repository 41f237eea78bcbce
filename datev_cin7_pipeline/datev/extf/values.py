"""How single values are spelled in an EXTF file, and how they are read back.

Amounts are written exactly (never rounded): a Decimal with more than two places keeps them, and the
validator then reports the amount, instead of the writer silently changing the booking.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Final

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
ESCAPED_QUOTE: Final = '""'


def quote(text: str) -> str:
    """A text field: in double quotes, inner quotes doubled (FACTS §6.1)."""
    if '"' in text:
        text = text.replace('"', ESCAPED_QUOTE)
    return f'"{text}"'


def unquote(raw: str) -> str:
    """The value of a quoted text field as `quote` wrote it."""
    inner = raw[1:-1]
    return inner.replace(ESCAPED_QUOTE, '"') if '"' in inner else inner


def has_control_character(text: str) -> bool:
    """True if the text holds a C0/C1 control character (line breaks included), which DATEV forbids."""
    return _CONTROL.search(text) is not None


def first_control_character(text: str) -> str | None:
    match = _CONTROL.search(text)
    return match.group() if match else None


def decimal_text(value: Decimal, min_places: int = 2) -> str:
    """A Decimal with a decimal comma, at least `min_places` places, no thousands separator, exact."""
    text = str(value)
    if min_places == 2 and len(text) > 3 and text[-3] == "." and "E" not in text:
        return f"{text[:-3]},{text[-2:]}"  # the usual case: exactly two places
    text = format(value, "f")
    whole, _, fraction = text.partition(".")
    if len(fraction) < min_places:
        fraction = fraction + "0" * (min_places - len(fraction))
    return f"{whole},{fraction}" if fraction else whole


def parse_decimal(text: str) -> Decimal:
    """A number written with a decimal comma; raises ValueError when it is not one."""
    if not text or "." in text:
        raise ValueError(f"{text!r} is not a number with a decimal comma")
    try:
        return Decimal(text.replace(",", "."))
    except InvalidOperation as exc:
        raise ValueError(f"{text!r} is not a number") from exc


def ttmm(day: dt.date) -> str:
    """Belegdatum: day and month only; the batch period supplies the year."""
    return f"{day.day:02d}{day.month:02d}"


def ttmmjjjj(day: dt.date) -> str:
    return f"{day.day:02d}{day.month:02d}{day.year:04d}"


def yyyymmdd(day: dt.date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def parse_ttmmjjjj(text: str) -> dt.date:
    if len(text) != 8 or not text.isdigit():
        raise ValueError(f"{text!r} is not a date TTMMJJJJ")
    return dt.date(int(text[4:]), int(text[2:4]), int(text[:2]))


def parse_yyyymmdd(text: str) -> dt.date:
    if len(text) != 8 or not text.isdigit():
        raise ValueError(f"{text!r} is not a date JJJJMMTT")
    return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))


def resolve_ttmm(text: str, period_start: dt.date, period_end: dt.date) -> dt.date:
    """The date a TTMM Belegdatum stands for: the one inside the batch period.

    A period of at most one fiscal year (366 days) holds each day and month at most once, so the answer
    is unique; raises ValueError when the day does not exist or lies outside the period.
    """
    if len(text) != 4 or not text.isdigit():
        raise ValueError(f"{text!r} is not a date TTMM")
    day, month = int(text[:2]), int(text[2:])
    for year in range(period_start.year, period_end.year + 1):
        try:
            candidate = dt.date(year, month, day)
        except ValueError:
            continue
        if period_start <= candidate <= period_end:
            return candidate
    raise ValueError(f"{text!r} is not a day within {period_start:%d.%m.%Y}–{period_end:%d.%m.%Y}")


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later (clamped to the month's last day)."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return _clamped(year, month + 1, day.day)


def fiscal_year_of(day: dt.date, fiscal_year_start: dt.date) -> dt.date:
    """The first day of the twelve-month fiscal year that holds `day`.

    Fiscal years repeat on the month and day of `fiscal_year_start`; a short fiscal year
    (Rumpfwirtschaftsjahr) cannot be derived from one start date and is not supported.
    """
    start = _clamped(day.year, fiscal_year_start.month, fiscal_year_start.day)
    if start > day:
        start = _clamped(day.year - 1, fiscal_year_start.month, fiscal_year_start.day)
    return start


def _clamped(year: int, month: int, day: int) -> dt.date:
    """The date, or the month's last day when the month is shorter."""
    for candidate_day in (day, 30, 29, 28):
        try:
            return dt.date(year, month, candidate_day)
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def fiscal_year_end(fiscal_year_start: dt.date) -> dt.date:
    """The last day of the twelve-month fiscal year starting on `fiscal_year_start`."""
    return add_months(fiscal_year_start, 12) - dt.timedelta(days=1)
