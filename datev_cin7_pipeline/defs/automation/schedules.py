"""Schedules: the open periods re-synced several times a day (catching any missed webhook), and a full
reconciliation of a period once it has closed."""

import datetime as dt

import dagster as dg

from datev_cin7_pipeline.defs.automation.jobs import CONNECTION_TAG, PERIOD_TAG, TRIGGER_TAG, vat_period_job
from datev_cin7_pipeline.defs.partitions import QUARTERLY, SERVED_CONNECTIONS, partition_for
from datev_cin7_pipeline.periods import VAT_TIMEZONE, open_periods, partition_key, period_of, shift_period


@dg.schedule(
    name="open_periods_sync_schedule",
    job=vat_period_job,
    cron_schedule="15 6-20/2 * * *",
    execution_timezone=VAT_TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every two hours from 06:15 to 20:15 German time: the open VAT period(s), incrementally.",
)
def open_periods_sync_schedule(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    moment = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
    periods = open_periods(moment, quarterly=QUARTERLY)
    return [
        dg.RunRequest(
            run_key=f"sync:{name}:{partition_key(period)}:{moment.isoformat()}",
            partition_key=partition_for(name, period),
            tags={TRIGGER_TAG: "schedule", PERIOD_TAG: str(period), CONNECTION_TAG: name},
        )
        for name in SERVED_CONNECTIONS
        for period in periods
    ]


@dg.schedule(
    name="closed_period_reconciliation_schedule",
    job=vat_period_job,
    cron_schedule="30 3 1 * *",
    execution_timezone=VAT_TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="On the 1st at 03:30: the month that just ended, re-listed in full from Cin7 and reconciled.",
)
def closed_period_reconciliation_schedule(
    context: dg.ScheduleEvaluationContext,
) -> list[dg.RunRequest] | dg.SkipReason:
    moment = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
    quarterly = QUARTERLY
    current = period_of(moment, quarterly=quarterly)
    if current != period_of(moment):
        return dg.SkipReason("No VAT period ended just now (quarterly filing: only after a quarter).")
    ended = shift_period(current, -1, quarterly=quarterly)
    return [
        dg.RunRequest(
            run_key=f"reconcile:{name}:{partition_key(ended)}",
            partition_key=partition_for(name, ended),
            run_config={"ops": {"cin7_documents": {"config": {"full_period": True}}}},
            tags={TRIGGER_TAG: "period-closed", PERIOD_TAG: str(ended), CONNECTION_TAG: name},
        )
        for name in SERVED_CONNECTIONS
    ]
