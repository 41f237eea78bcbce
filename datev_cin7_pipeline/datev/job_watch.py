"""Finishing DATEV jobs that a run left pending, one status read per job and tick, without holding a run.

DATEV never calls back, and a run should not sit for an hour waiting on a slow job. The job sensor calls
`poll_due_jobs` every tick: each job whose next read is due gets exactly one status read; a job still
pending gets its next read time from the same backoff the runs use (so DATEV's polling budget holds); a
job that finished has its booking rows settled and is reported so the sensor can refresh the period.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from datev_cin7_pipeline.datev.api import DatevApi, DatevApiError
from datev_cin7_pipeline.datev.polling import PollSchedule
from datev_cin7_pipeline.datev.transfer import JobOutcome, poll_batch, poll_dxso_package
from datev_cin7_pipeline.store import StateStore
from datev_cin7_pipeline.store import jobs as job_ledger
from datev_cin7_pipeline.store.ledger import settle_bookings_of_job
from datev_cin7_pipeline.store.models import utcnow

ONE_READ = PollSchedule(first_delay=0.0, jitter=0.0, max_reads=1)


@dataclass(frozen=True)
class WatchedJob:
    reference_id: str
    api: str  # extf | dxso
    period: dt.date
    status: str
    error: str | None = None  # why the read itself failed (the job stays due)


def poll_due_jobs(
    api: DatevApi,
    store: StateStore,
    connection_id: int,
    client_id: str,
    *,
    backoff: PollSchedule,
    now: dt.datetime | None = None,
    limit: int = 50,
) -> list[WatchedJob]:
    """One status read for every open job that is due; returns what each read found."""
    now = now or utcnow()
    with store.session() as session:
        due = [
            (job.reference_id, job.api, job.period, job.status_reads)
            for job in job_ledger.open_jobs(session, connection_id)
            if job.datev_job_id and (job.next_poll_at is None or job.next_poll_at <= now)
        ][:limit]
    seen: list[WatchedJob] = []
    for reference_id, kind, period, reads_before in due:
        poll = poll_dxso_package if kind == "dxso" else poll_batch
        try:
            outcome: JobOutcome = poll(api, store, connection_id, client_id, reference_id, schedule=ONE_READ)
        except DatevApiError as error:
            # Maintenance or a 5xx is not the job's fault: it stays open and is read again next tick.
            seen.append(WatchedJob(reference_id, kind, period, job_ledger.PENDING, str(error)))
            continue
        with store.session() as session:
            job = job_ledger.job_by_reference(session, connection_id, reference_id)
            assert job is not None
            if outcome.status in job_ledger.FINAL:
                settle_bookings_of_job(session, job)
            else:
                wait = backoff.delay(reads_before + outcome.reads + 1, None)
                job.next_poll_at = now + dt.timedelta(seconds=wait)
        seen.append(WatchedJob(reference_id, kind, period, outcome.status))
    return seen
