"""VAT periods: Germany files monthly (or quarterly) in local time, whatever the servers' clock says."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

VAT_TIMEZONE = "Europe/Berlin"
FIRST_PERIOD = "2024-01-01"


def period_of(moment: dt.datetime, *, quarterly: bool = False) -> dt.date:
    """The first day of the VAT period a moment falls in, in German time."""
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are ambiguous; pass an aware datetime")
    local = moment.astimezone(ZoneInfo(VAT_TIMEZONE)).date()
    month = local.month
    if quarterly:
        month = 3 * ((month - 1) // 3) + 1
    return dt.date(local.year, month, 1)


def partition_key(period: dt.date) -> str:
    return period.strftime("%Y-%m-01")


def period_start(day: dt.date, *, quarterly: bool = False) -> dt.date:
    """The first day of the VAT period a calendar day falls in."""
    month = 3 * ((day.month - 1) // 3) + 1 if quarterly else day.month
    return dt.date(day.year, month, 1)


def shift_period(period: dt.date, steps: int, *, quarterly: bool = False) -> dt.date:
    """The period `steps` periods after (or, negative, before) `period`."""
    months = period.year * 12 + period.month - 1 + steps * (3 if quarterly else 1)
    return dt.date(months // 12, months % 12 + 1, 1)


def open_periods(moment: dt.datetime, *, quarterly: bool = False, late_days: int = 10) -> list[dt.date]:
    """The periods still taking documents at `moment`, oldest first: the current one and, during its first
    `late_days` days (the VAT return for the last one is due on the 10th), the one before."""
    current = period_of(moment, quarterly=quarterly)
    local_date = moment.astimezone(ZoneInfo(VAT_TIMEZONE)).date()
    if (local_date - current).days < late_days:
        return [shift_period(current, -1, quarterly=quarterly), current]
    return [current]
