"""Crash matrix: the pipeline process is SIGKILLed at every step boundary and at random points of a run,
then run again to completion; DATEV must end up with every PDF once, every booking row once, none missing.

Each case starts both simulators in this process and a fresh home connected to them, runs VAT period
2026-05 of the demo company in a child process (`crash_runner.py`) that kills itself at the chosen point,
then runs the period again without a kill (after a refused DATEV login: a new login, as a person would,
then once more). The end state at DATEV (its capture folder and admin API) is compared with a clean run
in a fresh install: the same document GUIDs, each uploaded once; the same multiset of booking rows over
all succeeded EXTF jobs; no Reference-Id uploaded twice; the same totals per account. The clean run's
own Cin7 reconciliation check must pass, so equal rows also mean totals equal to Cin7's.

Named points (DESIGN §6 step boundaries): after a PDF's intent is committed and before its upload; after
the upload and before the ledger write; after "sending" is committed and before the EXTF upload; after
the upload and before the job id is stored; after a job status read; inside a token refresh (before the
call, after DATEV rotated the token, after the commit); inside the webhook receiver before and after the
inbox commit (Cin7's retry must bring the event in once, and its document must reach DATEV once).

Random points: the N-th HTTP request of the run (before it is sent or right after its answer), or a
delay after start, drawn with a fixed seed; a quarter of them expire DATEV's access tokens first, so a
kill can land inside a refresh.

CI runs the named points and 10 random points (a few minutes). The full matrix, 60 more random points:

    .venv/bin/python -m pytest datev_cin7_pipeline_tests/verification/test_crash_matrix.py -m crash_full

A summary (points tried, kills, duplicates, losses) is printed at the end of the module; with
`DATEV_CIN7_CRASH_REPORT=<file>` it is also written there as JSON.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import requests
from click.testing import CliRunner

from datev_cin7_pipeline.cli import main as cli
from datev_cin7_pipeline.datev.identities import document_guid
from datev_cin7_pipeline.defs.automation.sensors import cin7_webhook_inbox_sensor
from datev_cin7_pipeline.defs.connector import ConnectorResource
from datev_cin7_pipeline.store import StateStore
from datev_cin7_pipeline.store.models import InboxEvent
from datev_cin7_pipeline_tests.conftest import REPO_ROOT
from datev_cin7_pipeline_tests.verification.crash_runner import RECEIVER_POINTS
from datev_cin7_pipeline_tests.verification.harness import (
    RUNNER,
    AtDatev,
    Findings,
    Install,
    at_datev,
    compare,
    die_with_parent,
    kill_group,
    recover,
    run_child,
    simulated_install,
)

pytestmark = [pytest.mark.slow]

SEED = 20260501
CI_RANDOM_POINTS = 10
FULL_RANDOM_POINTS = 60
REPORT: list[dict[str, Any]] = []


# ##### THE POINTS


@dataclass(frozen=True)
class NamedPoint:
    point: str
    occurrence: int = 1
    expire_tokens: bool = False  # DATEV expires the access tokens first, so the run must refresh
    relogins: int = 0  # how many times a person must log in again before the period goes through

    @property
    def id(self) -> str:
        return f"{self.point}#{self.occurrence}"


NAMED_POINTS = [
    NamedPoint("document_intent_recorded"),
    NamedPoint("document_uploaded"),
    NamedPoint("document_uploaded", occurrence=4),
    NamedPoint("extf_sending_recorded"),
    NamedPoint("extf_uploaded"),
    NamedPoint("job_polled"),
    NamedPoint("refresh_requested", expire_tokens=True),
    # DATEV rotated the refresh token and the process died before the new one was stored: the stored one is
    # spent, so its reuse is refused and the connection asks for a new login (documented, DESIGN/oauth.py).
    NamedPoint("refresh_answered", expire_tokens=True, relogins=1),
    NamedPoint("refresh_committed", expire_tokens=True),
]


@dataclass(frozen=True)
class RandomPoint:
    index: int
    kind: str  # "calls" | "seconds"
    fraction: float  # of the clean run's HTTP calls or duration
    when: str  # "before" | "after" the request (calls only)
    expire_tokens: bool

    def crash(self, clean: CleanRun) -> dict[str, Any]:
        if self.kind == "seconds":
            return {"after_seconds": round(0.3 + self.fraction * 0.8 * clean.seconds, 2)}  # mostly inside the run
        # The last few calls vary with timing (job status reads); stay where every run reaches.
        return {"after_calls": 1 + int(self.fraction * (clean.http_calls - 4)), "when": self.when}


def random_points(count: int, seed: int) -> list[RandomPoint]:
    rng = random.Random(seed)
    return [
        RandomPoint(
            index=i,
            kind="seconds" if rng.random() < 0.25 else "calls",
            fraction=rng.random(),
            when=rng.choice(["before", "after"]),
            expire_tokens=rng.random() < 0.25,
        )
        for i in range(count)
    ]


# ##### FIXTURES


@dataclass(frozen=True)
class CleanRun:
    at: AtDatev
    http_calls: int
    seconds: float


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> CleanRun:
    """What DATEV holds after one uninterrupted run in a fresh install: the expected end state."""
    with simulated_install(tmp_path_factory.mktemp("clean")) as install:
        started = time.monotonic()
        run = run_child(install)
        seconds = time.monotonic() - started
        assert run.clean, run.log
        assert run.outcome is not None
        assert run.outcome["checks"]["cin7_totals_reconcile"] is True  # bookings equal Cin7's own totals
        expected = at_datev(install)
    assert len(expected.documents) >= 5
    assert sum(expected.rows.values()) >= 10
    assert list(expected.job_results.values()) == ["succeeded"]
    return CleanRun(expected, int(run.outcome["http_calls"]), seconds)


@pytest.fixture(scope="module", autouse=True)
def report(request: pytest.FixtureRequest) -> Iterator[None]:
    """The figures of every point tried, printed after the module (and saved when asked)."""
    yield
    if not REPORT:
        return
    killed = sum(1 for entry in REPORT if entry["killed"])
    duplicates = sum(len(entry["duplicates"]) for entry in REPORT)
    losses = sum(len(entry["losses"]) for entry in REPORT)
    lines = [
        f"crash matrix: {len(REPORT)} points tried ({killed} killed the run), {duplicates} duplicates, {losses} losses",
        *(
            f"  {e['case']}: killed={e['killed']} at={e['killed_at']} recovery_runs={e['recovery_runs']} "
            f"relogins={e['relogins']} duplicates={len(e['duplicates'])} losses={len(e['losses'])}"
            for e in REPORT
        ),
    ]
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():  # teardown output is captured otherwise
            for line in lines:
                reporter.write_line(line)
    if target := os.environ.get("DATEV_CIN7_CRASH_REPORT"):
        Path(target).write_text(json.dumps(REPORT, indent=1), "utf-8")


@pytest.fixture
def full_matrix(request: pytest.FixtureRequest) -> None:
    if "crash_full" not in str(request.config.getoption("markexpr") or ""):
        pytest.skip("the full crash matrix runs with `-m crash_full`")


# ##### ONE POINT


@dataclass(frozen=True)
class Outcome:
    killed: bool
    killed_at: str | None
    relogins: int
    recovered: bool
    first_recovery_errors: list[str]
    findings: Findings


def crash_and_recover(
    folder: Path, clean: CleanRun, case: str, crash: dict[str, Any], *, expire_tokens: bool
) -> Outcome:
    with simulated_install(folder) as install:
        if expire_tokens:
            assert install.datev_faults(expire_access_tokens=True)["actions"]["expire_access_tokens"] >= 1
        killed = run_child(install, crash)
        recovery = recover(install)
        findings = compare(clean.at, at_datev(install))
    outcome = Outcome(
        killed=killed.killed,
        killed_at=killed.killed_at,
        relogins=recovery.relogins,
        recovered=recovery.last.clean,
        first_recovery_errors=(recovery.runs[0].outcome or {}).get("errors", []),
        findings=findings,
    )
    REPORT.append(
        {
            "case": case,
            "crash": crash,
            "expire_tokens": expire_tokens,
            "killed": killed.killed,
            "killed_at": killed.killed_at,
            "recovery_runs": len(recovery.runs),
            "relogins": recovery.relogins,
            **asdict(findings),
        }
    )
    assert outcome.recovered, recovery.last.log
    return outcome


# ##### TESTS


@pytest.mark.parametrize("named", NAMED_POINTS, ids=lambda p: p.id)
def test_a_kill_at_a_step_boundary_neither_doubles_nor_loses(
    tmp_path: Path, clean: CleanRun, named: NamedPoint
) -> None:
    crash = {"point": named.point, "occurrence": named.occurrence}

    outcome = crash_and_recover(tmp_path, clean, named.id, crash, expire_tokens=named.expire_tokens)

    assert (outcome.killed, outcome.killed_at) == (True, named.point)
    assert outcome.findings.duplicates == []
    assert outcome.findings.losses == []
    assert outcome.relogins == named.relogins
    if named.relogins:  # the refused login is said plainly, with the command that fixes it
        assert any("datev-cin7 datev login" in e for e in outcome.first_recovery_errors), outcome.first_recovery_errors


def _random_case(tmp_path: Path, clean: CleanRun, point: RandomPoint, label: str) -> Outcome:
    crash = point.crash(clean)
    outcome = crash_and_recover(tmp_path, clean, f"{label}-{point.index}", crash, expire_tokens=point.expire_tokens)
    assert outcome.findings.duplicates == []
    assert outcome.findings.losses == []
    if point.kind == "calls":  # drawn below the clean run's count: every run reaches it
        assert outcome.killed, f"{crash} did not kill the run"
    return outcome


@pytest.mark.parametrize("point", random_points(CI_RANDOM_POINTS, SEED), ids=lambda p: f"random-{p.index}")
def test_a_kill_at_a_random_point_neither_doubles_nor_loses(
    tmp_path: Path, clean: CleanRun, point: RandomPoint
) -> None:
    _random_case(tmp_path, clean, point, "random")


@pytest.mark.crash_full
@pytest.mark.parametrize("point", random_points(FULL_RANDOM_POINTS, SEED + 1), ids=lambda p: f"full-{p.index}")
def test_full_matrix_random_point(tmp_path: Path, clean: CleanRun, point: RandomPoint, full_matrix: None) -> None:
    _random_case(tmp_path, clean, point, "full")


@pytest.mark.parametrize("point", ["extf_sending_recorded", "extf_uploaded", "job_polled"])
def test_a_replay_killed_midway_neither_doubles_nor_loses(tmp_path: Path, clean: CleanRun, point: str) -> None:
    """DATEV fails the period's job; `datev-cin7 replay` dies while sending its rows in a new file; the
    replay run again sends that file once. DATEV ends with the failed file and one succeeded file."""
    with simulated_install(tmp_path) as install:
        install.datev_faults(extf_job_failures=1)
        failed = run_child(install)
        killed = run_child(install, {"point": point}, command="replay")
        again = run_child(install, command="replay")
        at = at_datev(install)
        findings = compare(clean.at, at)
    REPORT.append(
        {
            "case": f"replay-{point}",
            "crash": {"point": point},
            "expire_tokens": False,
            "killed": killed.killed,
            "killed_at": killed.killed_at,
            "recovery_runs": 1,
            "relogins": 0,
            **asdict(findings),
        }
    )

    assert failed.outcome is not None
    assert failed.outcome["checks"]["datev_jobs_succeeded"] is False
    assert (killed.killed, killed.killed_at) == (True, point)
    assert again.clean, again.log
    assert findings.duplicates == []
    assert findings.losses == []
    assert sorted(at.job_results.values()) == ["failed", "succeeded"]
    assert sorted(at.extf_uploads.values()) == [1, 1]


@pytest.mark.parametrize(
    ("sabotage", "crash", "finds"),
    [
        ("no_reference_lookup", {"point": "extf_uploaded"}, "duplicates"),
        ("skip_first_pdf", None, "losses"),
    ],
)
def test_the_harness_sees_a_double_posting_and_a_loss(
    tmp_path: Path, clean: CleanRun, sabotage: str, crash: dict[str, Any] | None, finds: str
) -> None:
    """Controls: with exactly-once broken on purpose in the child, the comparison must report it."""
    with simulated_install(tmp_path) as install:
        first = run_child(install, crash, sabotage=sabotage)
        recovery = recover(install, sabotage=sabotage)
        findings = compare(clean.at, at_datev(install))

    assert first.killed == (crash is not None)
    assert recovery.last.clean, recovery.last.log
    if finds == "duplicates":
        assert findings.losses == []
        assert any("uploaded 2x" in d for d in findings.duplicates)
        assert sum(1 for d in findings.duplicates if d.startswith("row ")) == sum(clean.at.rows.values())
    else:
        assert findings.duplicates == []
        assert len(findings.losses) == 1
        assert findings.losses[0].startswith("PDF ")


# ##### WEBHOOK INTAKE


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_receiver(install: Install, port: int, point: str | None, name: str) -> subprocess.Popen[bytes]:
    crash = {"point": point} if point else None
    log = (install.folder / f"receiver-{name}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", RUNNER, "receiver", "--port", str(port)],
        cwd=REPO_ROOT,
        env=install.child_env(crash, install.folder / f"receiver-{name}.mark"),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=die_with_parent,
    )
    log.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the receiver exited with {process.returncode}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok:
                return process
        except requests.ConnectionError:
            time.sleep(0.1)
    kill_group(process)
    raise AssertionError("the receiver did not start within 60 s")


def _deliveries(install: Install, event_type: str) -> list[dict[str, Any]]:
    attempts = requests.get(f"{install.cin7_url}/_sim/deliveries", timeout=10).json()["Deliveries"]
    return [a for a in attempts if a["Type"] == event_type]


@pytest.mark.parametrize("point", RECEIVER_POINTS)
def test_a_receiver_killed_around_the_inbox_commit_loses_no_webhook(tmp_path: Path, point: str) -> None:
    """Cin7 delivers a new invoice's webhook; the receiver dies before or after committing it. Cin7 sees no
    answer and retries; the restarted receiver takes the retry. The inbox holds the event once, the sensor
    asks for one run of its period, and the invoice reaches DATEV once (PDF and rows)."""
    event_type = "Sale/InvoiceAuthorised"
    with simulated_install(tmp_path) as install:
        port = _free_port()
        with install.as_home():
            registered = CliRunner().invoke(cli, ["webhooks", "register", "--url", f"http://127.0.0.1:{port}"])
        assert registered.exit_code == 0, registered.output
        receiver = _start_receiver(install, port, point, "crashing")
        restarted: subprocess.Popen[bytes] | None = None
        try:
            action = requests.post(f"{install.cin7_url}/_sim/documents/sale/new/authorise", timeout=30).json()
            assert (action["Event"], action["Subscriptions"]) == (event_type, 1)
            assert receiver.wait(timeout=30) < 0  # SIGKILLed at the point
            assert (install.folder / "receiver-crashing.mark").read_text("utf-8") == point
            restarted = _start_receiver(install, port, None, "restarted")
            deadline = time.monotonic() + 30
            while not any(d["Outcome"] == "delivered" for d in _deliveries(install, event_type)):
                assert time.monotonic() < deadline, _deliveries(install, event_type)
                time.sleep(0.2)
        finally:
            kill_group(receiver)
            if restarted is not None:
                kill_group(restarted)
        attempts = _deliveries(install, event_type)
        outcomes = [a["Outcome"] for a in attempts]
        assert set(outcomes[:-1]) == {"failed"}  # Cin7 saw no answer from the killed receiver (nor a restarting one)
        assert outcomes[-1] == "delivered"

        sale_id = str(action["Details"]["SaleID"]).lower()
        with install.as_home():
            store = StateStore.open()
            try:
                with store.session() as session:
                    events = session.query(InboxEvent).filter(InboxEvent.document_id == sale_id).all()
                    counts = [(e.event_type, e.delivery_count) for e in events]
            finally:
                store.dispose()
            context = dg.build_sensor_context(resources={"connector": ConnectorResource()})
            sensor = cin7_webhook_inbox_sensor(context)
        # One event; the retry after a commit counted up on the same row.
        assert counts == [(event_type, 2 if point == "inbox_after_commit" else 1)]
        assert isinstance(sensor, dg.SensorResult)
        periods = sorted(str(r.partition_key) for r in sensor.run_requests or [])
        assert len(periods) == 1, periods
        first = run_child(install, period=periods[0])
        again = run_child(install, period=periods[0])
        assert first.clean, first.log
        assert again.clean, again.log

        attachment = requests.get(
            f"{install.cin7_url}/ExternalApi/v2/sale/attachment",
            params={"SaleID": sale_id},
            headers=_cin7_keys(),
            timeout=10,
        ).json()["Lines"][0]
        guid = document_guid("default", str(action["Details"]["TaskID"]).lower(), str(attachment["ID"]).lower())
        datev = at_datev(install)
        number = str(action["Details"]["InvoiceNumber"])
        invoice_rows = {row: n for row, n in datev.rows.items() if row.document_field_1 == number}
        REPORT.append(
            {
                "case": f"webhook-{point}",
                "crash": {"point": point},
                "expire_tokens": False,
                "killed": True,
                "killed_at": point,
                "recovery_runs": 2,
                "relogins": 0,
                "duplicates": [f"{k} {n}x" for k, n in datev.documents.items() if n > 1]
                + [f"{row.document_field_1} {row.amount} {n}x" for row, n in invoice_rows.items() if n > 1],
                "losses": [] if guid in datev.documents and invoice_rows else [f"invoice {number} not at DATEV"],
            }
        )
        assert datev.documents[guid] == 1
        assert invoice_rows
        assert set(invoice_rows.values()) == {1}
        assert all(n == 1 for n in datev.documents.values())
        assert all(n == 1 for n in datev.extf_uploads.values())


def _cin7_keys() -> dict[str, str]:
    from datev_cin7_pipeline.sandbox.cin7 import DEMO_ACCOUNT_ID, DEMO_APPLICATION_KEY

    return {"api-auth-accountid": DEMO_ACCOUNT_ID, "api-auth-applicationkey": DEMO_APPLICATION_KEY}
