"""Dates the way Cin7 writes and reads them.

Cin7 documents its dates as ISO 8601 in UTC, but its examples mix 0 to 7 fractional digits, with and
without a trailing `Z` (`2017-11-22T00:00:00`, `2018-04-19T04:03:06.52Z`, `2017-11-28T05:08:30.6407568Z`).
Filters must accept all of these; what the simulator writes follows the same habits: document dates at
midnight without a zone, change timestamps with milliseconds (trailing zeros dropped) and a `Z`.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

_PATTERN = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,7}))?)?)?"
    r"(?P<zone>Z)?$"
)


def parse_cin7_datetime(text: str) -> datetime:
    """Read a Cin7 date or timestamp as an aware UTC datetime; raise ValueError if it is not one."""
    match = _PATTERN.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a date in the format yyyy-MM-ddTHH:mm:ss.fffffffZ")
    try:
        day = date.fromisoformat(match["date"])
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a date ({exc})") from exc
    fraction = (match["fraction"] or "").ljust(6, "0")[:6]
    return datetime(
        day.year,
        day.month,
        day.day,
        int(match["hour"] or 0),
        int(match["minute"] or 0),
        int(match["second"] or 0),
        int(fraction),
        tzinfo=UTC,
    )


def format_timestamp(moment: datetime) -> str:
    """A change timestamp such as `LastModifiedOn`: UTC, milliseconds without trailing zeros, and `Z`."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    millis = f"{utc.microsecond // 1000:03d}".rstrip("0")
    return f"{text}.{millis}Z" if millis else f"{text}Z"


def format_document_date(day: date) -> str:
    """A document date such as `InvoiceDate`: midnight, no zone, as in every Cin7 example."""
    return f"{day.isoformat()}T00:00:00"


def timestamp_from_epoch(seconds: float) -> str:
    """`format_timestamp` for a clock reading in seconds since the epoch."""
    return format_timestamp(datetime.fromtimestamp(seconds, UTC))
