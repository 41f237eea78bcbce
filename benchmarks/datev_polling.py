"""DATEV job polling: status reads per job and how late we notice that a job finished.

EXTF jobs that DATEV (the simulator, on a simulated clock) finishes after 5 s, 60 s and 300 s are polled
with the connector's schedule (first read after DATEV's Retry-After, then doubling, capped); the clock
moves only when the poller sleeps, so the figures are exact and the run takes seconds. Printed per job:
status reads, and the delay between completion and our noticing it. DATEV calls thirty status reads per
upload inefficient; the goal is well under ten.

    .venv/bin/python benchmarks/datev_polling.py
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests

from datev_cin7_pipeline.datev.api import DatevApi
from datev_cin7_pipeline.datev.endpoints import DatevEndpoints
from datev_cin7_pipeline.datev.oauth import DatevTokens, OAuthClient, start_login
from datev_cin7_pipeline.datev.polling import PollSchedule, wait_for_job
from datev_cin7_pipeline.sandbox.datev import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    HEADING_COLUMNS,
    DatevSimConfig,
    build_datev_app,
)
from datev_cin7_pipeline.sandbox.serving import serve_in_thread
from datev_cin7_pipeline.store import CredentialsVault, Secret, StateStore

CLIENT = "29098-55003"


class SimulatedClock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC).timestamp()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _extf() -> bytes:
    header = (
        '"EXTF";700;21;"Buchungsstapel";13;20261124090000000;;"RE";"";"";29098;55003;20260101;4;20261001;'
        '20261031;"Cin7 Core";"";1;0;0;"EUR";;"";;;"03";;;"";""'
    )
    fields = [""] * len(HEADING_COLUMNS)
    fields[:11] = ["119,00", '"S"', '"EUR"', "", "", '""', "10000", "8400", '""', "0510", '"INV-1"']
    fields[13] = '"Erloes INV-1"'
    return ("\ufeff" + "\r\n".join([header, ";".join(HEADING_COLUMNS), ";".join(fields)]) + "\r\n").encode()


def measure(processing_seconds: float) -> tuple[int, float]:
    clock = SimulatedClock()
    app = build_datev_app(DatevSimConfig(clock=clock, extf_processing_seconds=processing_seconds))
    with serve_in_thread(app) as server, tempfile.TemporaryDirectory() as folder:
        store = StateStore(f"sqlite:///{Path(folder) / 'state.db'}")
        endpoints = DatevEndpoints.production().on_simulator(server.url)
        tokens = DatevTokens(
            "bench",
            CredentialsVault(store),
            endpoints,
            OAuthClient(DEMO_CLIENT_ID, Secret(DEMO_CLIENT_SECRET)),
            clock=clock,
        )
        login = start_login(endpoints, tokens.client, "http://127.0.0.1/callback")
        redirect = requests.get(login.url, allow_redirects=False, timeout=10).headers["Location"]
        tokens.complete_login(login, {k: v[0] for k, v in parse_qs(urlsplit(redirect).query).items()})
        api = DatevApi(tokens, endpoints)
        submitted_at = clock()
        submission = api.submit_extf(CLIENT, filename="EXTF_bench.csv", reference_id="bench-1", content=_extf())
        outcome = wait_for_job(
            lambda: api.extf_job(CLIENT, submission.job_id),
            lambda job: job.finished,
            schedule=PollSchedule(max_wait=3600),
            retry_after=submission.retry_after,
            sleep=clock.sleep,
        )
        store.dispose()
    assert outcome.finished, "the job never finished"
    noticed_after = clock() - submitted_at
    return outcome.reads, noticed_after - processing_seconds


def main() -> int:
    rows = []
    for seconds in (5.0, 60.0, 300.0):
        reads, delay = measure(seconds)
        rows.append((seconds, reads, delay))
        print(f"job finishing after {seconds:>5.0f} s: {reads} status reads, noticed {delay:.1f} s after completion")
    worst_reads = max(reads for _, reads, _ in rows)
    print(
        "RESULT "
        + " ".join(f"reads_{int(s)}s={r} delay_{int(s)}s={d:.1f}" for s, r, d in rows)
        + f" max_reads={worst_reads} budget=10"
    )
    return 0 if worst_reads < 10 else 1


if __name__ == "__main__":
    sys.exit(main())
