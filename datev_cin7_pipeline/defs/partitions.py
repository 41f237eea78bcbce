"""VAT periods (Umsatzsteuer-Voranmeldung) in German time: keys are period starts, `YYYY-MM-01`.

A code location serving several connections partitions by connection too (`connection` × `period`), so
each connection's periods are materialized, backfilled and checked on their own; with one connection
(or DATEV_CIN7_CONNECTION set) the keys are the periods alone.
"""

import datetime as dt

import dagster as dg

from datev_cin7_pipeline import settings
from datev_cin7_pipeline.config import served_connections
from datev_cin7_pipeline.periods import FIRST_PERIOD, VAT_TIMEZONE, partition_key

# end_offset=1: the open month is a partition too, so webhooks for it can be booked before it closes.
monthly_vat_periods = dg.MonthlyPartitionsDefinition(start_date=FIRST_PERIOD, timezone=VAT_TIMEZONE, end_offset=1)

quarterly_vat_periods = dg.TimeWindowPartitionsDefinition(
    start=FIRST_PERIOD,
    fmt="%Y-%m-%d",
    cron_schedule="0 0 1 */3 *",
    timezone=VAT_TIMEZONE,
    end_offset=1,
)

# Chosen when the definitions load, from the connections file (and DATEV_CIN7_CONNECTION).
SERVED_CONNECTIONS, _VAT_PERIOD = served_connections(settings.pinned_connection())
QUARTERLY = _VAT_PERIOD == "quarterly"
PER_CONNECTION = len(SERVED_CONNECTIONS) > 1
_periods = quarterly_vat_periods if QUARTERLY else monthly_vat_periods
vat_periods: dg.PartitionsDefinition = (
    dg.MultiPartitionsDefinition({"connection": dg.StaticPartitionsDefinition(SERVED_CONNECTIONS), "period": _periods})
    if PER_CONNECTION
    else _periods
)


def partition_for(connection: str, period: dt.date) -> str:
    """The partition key of one connection's period."""
    if PER_CONNECTION:
        return dg.MultiPartitionKey({"connection": connection, "period": partition_key(period)})
    return partition_key(period)
