"""VAT periods (Umsatzsteuer-Voranmeldung) in German time: keys are period starts, `YYYY-MM-01`."""

import dagster as dg

from datev_cin7_pipeline import settings
from datev_cin7_pipeline.config import deployment_vat_period
from datev_cin7_pipeline.periods import FIRST_PERIOD, VAT_TIMEZONE

# end_offset=1: the open month is a partition too, so webhooks for it can be booked before it closes.
monthly_vat_periods = dg.MonthlyPartitionsDefinition(start_date=FIRST_PERIOD, timezone=VAT_TIMEZONE, end_offset=1)

quarterly_vat_periods = dg.TimeWindowPartitionsDefinition(
    start=FIRST_PERIOD,
    fmt="%Y-%m-%d",
    cron_schedule="0 0 1 */3 *",
    timezone=VAT_TIMEZONE,
    end_offset=1,
)

# Chosen when the definitions load, from the connections' `vat_period`; every asset of the pipeline uses it.
QUARTERLY = deployment_vat_period(settings.connection_name()) == "quarterly"
vat_periods = quarterly_vat_periods if QUARTERLY else monthly_vat_periods
