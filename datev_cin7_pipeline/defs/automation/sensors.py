"""Sensors: webhook inbox → period runs; pending DATEV jobs polled to their end without a run."""

import dagster as dg

from datev_cin7_pipeline.datev.job_watch import poll_due_jobs
from datev_cin7_pipeline.defs.automation.jobs import PERIOD_TAG, TRIGGER_TAG, datev_job_results_job, vat_period_job
from datev_cin7_pipeline.defs.cin7.assets import INBOX_EVENTS_TAG
from datev_cin7_pipeline.defs.connector import ConnectorResource
from datev_cin7_pipeline.defs.partitions import QUARTERLY
from datev_cin7_pipeline.errors import ConnectorError
from datev_cin7_pipeline.periods import partition_key
from datev_cin7_pipeline.webhooks.runs import format_event_ids, plan_inbox_runs


@dg.sensor(
    name="cin7_webhook_inbox_sensor",
    job=vat_period_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="New Cin7 webhooks in the inbox → a run of each VAT period they touch (run keys from the "
    "events, so a retried webhook never makes a second run).",
)
def cin7_webhook_inbox_sensor(context: dg.SensorEvaluationContext, connector: ConnectorResource) -> dg.SensorResult:
    after = int(context.cursor or 0)
    try:
        with connector.open() as conn:
            plan = plan_inbox_runs(conn.store, conn.connection_id, conn.name, after, quarterly=QUARTERLY)
    except ConnectorError as error:
        return dg.SensorResult(skip_reason=str(error), cursor=context.cursor)
    runs = [
        dg.RunRequest(
            run_key=run.run_key,
            partition_key=partition_key(run.period),
            tags={
                INBOX_EVENTS_TAG: format_event_ids(run.event_ids),
                TRIGGER_TAG: "webhook",
                PERIOD_TAG: str(run.period),
            },
        )
        for run in plan.runs
    ]
    skip = None if runs else f"No new webhook events after inbox event {after}."
    return dg.SensorResult(run_requests=runs, cursor=str(plan.cursor), skip_reason=skip)


@dg.sensor(
    name="datev_job_sensor",
    job=datev_job_results_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Reads the status of DATEV jobs a run left pending (one read per job when due, with backoff); "
    "a finished job triggers a refresh of its period's job results and checks.",
)
def datev_job_sensor(context: dg.SensorEvaluationContext, connector: ConnectorResource) -> dg.SensorResult:
    try:
        with connector.open() as conn:
            seen = poll_due_jobs(
                conn.datev(), conn.store, conn.connection_id, conn.datev_client_id, backoff=conn.poll_schedule
            )
    except ConnectorError as error:
        return dg.SensorResult(skip_reason=str(error))
    for job in seen:
        if job.error:
            context.log.warning(f"DATEV job {job.reference_id}: status read failed, trying again later: {job.error}")
    runs = [
        dg.RunRequest(
            run_key=f"datev-job-final:{job.reference_id}:{job.status}",
            partition_key=partition_key(job.period),
            tags={PERIOD_TAG: str(job.period)},
        )
        for job in seen
        if job.status in ("succeeded", "failed", "cancelled")
    ]
    skip = None if runs else f"{len(seen)} pending DATEV job(s) read, none finished."
    return dg.SensorResult(run_requests=runs, skip_reason=skip)
