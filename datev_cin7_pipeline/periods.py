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
