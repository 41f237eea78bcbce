"""Sensors: webhook inbox → period runs; pending DATEV jobs polled to their end without a run."""

import json

import dagster as dg

from datev_cin7_pipeline.datev.job_watch import poll_due_jobs
from datev_cin7_pipeline.defs.automation.jobs import (
    CONNECTION_TAG,
    PERIOD_TAG,
    TRIGGER_TAG,
    datev_job_results_job,
    vat_period_job,
)
from datev_cin7_pipeline.defs.cin7.assets import INBOX_EVENTS_TAG
from datev_cin7_pipeline.defs.connector import ConnectorResource
from datev_cin7_pipeline.defs.partitions import QUARTERLY, SERVED_CONNECTIONS, partition_for
from datev_cin7_pipeline.errors import ConnectorError
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
    # One cursor per connection (the newest inbox event looked at), as JSON: {"default": 41, ...}.
    cursors: dict[str, int] = json.loads(context.cursor) if context.cursor else {}
    runs: list[dg.RunRequest] = []
    problems: list[str] = []
    for name in SERVED_CONNECTIONS:
        after = cursors.get(name, 0)
        try:
            with connector.open(name) as conn:
                plan = plan_inbox_runs(conn.store, conn.connection_id, name, after, quarterly=QUARTERLY)
        except ConnectorError as error:
            problems.append(f"{name}: {error}")
            continue
        cursors[name] = plan.cursor
        runs += [
            dg.RunRequest(
                run_key=run.run_key,
                partition_key=partition_for(name, run.period),
                tags={
                    INBOX_EVENTS_TAG: format_event_ids(run.event_ids),
                    TRIGGER_TAG: "webhook",
                    PERIOD_TAG: str(run.period),
                    CONNECTION_TAG: name,
                },
            )
            for run in plan.runs
        ]
    for problem in problems:
        context.log.warning(problem)
    skip = None if runs else " ".join(problems) or "No new webhook events."
    return dg.SensorResult(run_requests=runs, cursor=json.dumps(cursors, sort_keys=True), skip_reason=skip)


@dg.sensor(
    name="datev_job_sensor",
    job=datev_job_results_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Reads the status of DATEV jobs a run left pending (one read per job when due, with backoff); "
    "a finished job triggers a refresh of its period's job results and checks.",
)
def datev_job_sensor(context: dg.SensorEvaluationContext, connector: ConnectorResource) -> dg.SensorResult:
    runs: list[dg.RunRequest] = []
    problems: list[str] = []
    seen_count = 0
    for name in SERVED_CONNECTIONS:
        try:
            with connector.open(name) as conn:
                seen = poll_due_jobs(
                    conn.datev(), conn.store, conn.connection_id, conn.datev_client_id, backoff=conn.poll_schedule
                )
        except ConnectorError as error:
            problems.append(f"{name}: {error}")
            continue
        seen_count += len(seen)
        for job in seen:
            if job.error:
                context.log.warning(f"DATEV job {job.reference_id}: status read failed, trying later: {job.error}")
        runs += [
            dg.RunRequest(
                run_key=f"datev-job-final:{job.reference_id}:{job.status}",
                partition_key=partition_for(name, job.period),
                tags={PERIOD_TAG: str(job.period), CONNECTION_TAG: name},
            )
            for job in seen
            if job.status in ("succeeded", "failed", "cancelled")
        ]
    skip = None if runs else " ".join(problems) or f"{seen_count} pending DATEV job(s) read, none finished."
    return dg.SensorResult(run_requests=runs, skip_reason=skip)
