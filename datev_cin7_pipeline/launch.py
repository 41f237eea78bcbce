"""Running one of the pipeline's Dagster jobs for a period in this process, for the CLI (`replay`).

With `demo.py`, the only plain module that touches Dagster: the CLI must be able to run the very job the
UI and the daemon run, and say in one line how it went.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

import dagster as dg

from datev_cin7_pipeline import settings
from datev_cin7_pipeline.periods import partition_key


@dataclass(frozen=True)
class JobOutcome:
    run_id: str
    success: bool
    failed_checks: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return self.success and not self.failed_checks


def run_job_for_period(job_name: str, connection: str, period: dt.date, *, tags: dict[str, str]) -> JobOutcome:
    """One run of `job_name` for the period's partition, recorded in DAGSTER_HOME's instance when set."""
    from datev_cin7_pipeline.definitions import defs

    os.environ[settings.CONNECTION_ENV] = connection  # read when the definitions load
    job = defs().resolve_job_def(job_name)
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    with instance:
        result = job.execute_in_process(
            partition_key=partition_key(period), instance=instance, raise_on_error=False, tags=tags
        )
    failed = tuple(e.check_name for e in result.get_asset_check_evaluations() if not e.passed)
    return JobOutcome(result.run_id, result.success, failed)
