"""Shared parts of the verification suite: an install wired to simulators in this process, the pipeline
run in a child process that can be killed, and what DATEV ended up holding, compared with a clean run.

The simulators run in the test process, so a SIGKILL of the child leaves DATEV's state (documents, EXTF
jobs, the captured files) exactly as a real crash would leave a real DATEV.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests

from datev_cin7_pipeline import settings
from datev_cin7_pipeline.datev.bookings import BookingLine
from datev_cin7_pipeline.datev.extf import read_extf
from datev_cin7_pipeline.sandbox.cin7 import Cin7SimConfig, build_cin7_app
from datev_cin7_pipeline.sandbox.datev import DatevSimConfig, build_datev_app, read_manifest
from datev_cin7_pipeline.sandbox.environment import SandboxOptions, connect_home_to_sandbox
from datev_cin7_pipeline.sandbox.serving import serve_in_thread
from datev_cin7_pipeline.store import StateStore
from datev_cin7_pipeline.store.models import Connection
from datev_cin7_pipeline_tests.conftest import REPO_ROOT
from datev_cin7_pipeline_tests.mapping.support import TODAY, demo
from datev_cin7_pipeline_tests.verification.crash_runner import CRASH_ENV, MARK_ENV, SABOTAGE_ENV

PERIOD = "2026-05-01"
CHILD_TIMEOUT_SECONDS = 180  # one period takes ~5 s; a hung child fails the test instead of CI
RUNNER = "datev_cin7_pipeline_tests.verification.crash_runner"
PR_SET_PDEATHSIG = 1  # linux/prctl.h


# ##### THE INSTALL


@dataclass
class Install:
    """A home connected to both simulators, which run in this process."""

    folder: Path
    home: Path
    capture: Path
    cin7_url: str
    datev_url: str
    runs: int = 0

    @contextmanager
    def as_home(self) -> Iterator[None]:
        """This process uses the install's home (for product calls made from the test)."""
        previous = os.environ.get(settings.HOME_ENV)
        os.environ[settings.HOME_ENV] = str(self.home)
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop(settings.HOME_ENV, None)
            else:
                os.environ[settings.HOME_ENV] = previous

    def child_env(
        self, crash: dict[str, Any] | None = None, mark: Path | None = None, sabotage: str | None = None
    ) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "DATEV_CIN7_"))}
        env[settings.HOME_ENV] = str(self.home)
        env["PYTHONUNBUFFERED"] = "1"
        if crash is not None:
            env[CRASH_ENV] = json.dumps(crash)
        if mark is not None:
            env[MARK_ENV] = str(mark)
        if sabotage is not None:
            env[SABOTAGE_ENV] = sabotage
        return env

    def datev_faults(self, **changes: Any) -> dict[str, Any]:
        response = requests.post(f"{self.datev_url}/_sim/faults", json=changes, timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def cin7_faults(self, **changes: Any) -> dict[str, Any]:
        response = requests.post(f"{self.cin7_url}/_sim/faults", json=changes, timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def login_state(self) -> tuple[str | None, str | None]:
        with self.as_home():
            store = StateStore.open()
        try:
            with store.session() as session:
                row = session.query(Connection).filter(Connection.name == "default").one()
                return row.datev_login_state, row.datev_login_reason
        finally:
            store.dispose()

    def log_in_again(self) -> None:
        """What a person does after "log in again": the DATEV login (the simulator approves at once)."""
        with self.as_home():
            connect_home_to_sandbox(self.cin7_url, self.datev_url, demo(), SandboxOptions(today=TODAY))


@contextmanager
def simulated_install(
    folder: Path,
    *,
    cin7: dict[str, Any] | None = None,
    datev: dict[str, Any] | None = None,
) -> Iterator[Install]:
    """Fresh simulators and a fresh home under `folder`; `cin7`/`datev` change the simulators' settings."""
    folder.mkdir(parents=True, exist_ok=True)
    capture = folder / "capture"
    cin7_config = Cin7SimConfig(
        **{
            "today": TODAY,
            "calls_per_minute": 6000,
            "webhook_first_delay": 0.2,
            "webhook_retry_delays": (1.0, 1.0, 2.0, 2.0, 2.0),
            **(cin7 or {}),
        }
    )
    # Jobs take a moment, so the pipeline really polls a pending job (and a kill can land there).
    datev_config = DatevSimConfig(**{"capture_folder": capture, "extf_processing_seconds": 0.3, **(datev or {})})
    with ExitStack() as stack:
        cin7_server = stack.enter_context(serve_in_thread(build_cin7_app(cin7_config, demo())))
        datev_server = stack.enter_context(serve_in_thread(build_datev_app(datev_config)))
        install = Install(folder, folder / "home", capture, cin7_server.url, datev_server.url)
        with install.as_home():
            connect_home_to_sandbox(install.cin7_url, install.datev_url, demo(), SandboxOptions(today=TODAY))
        yield install


# ##### THE CHILD PROCESS


@dataclass(frozen=True)
class ChildRun:
    returncode: int
    killed_at: str | None  # the crash point that fired (written by the child just before its SIGKILL)
    outcome: dict[str, Any] | None  # the run's outcome when it ended by itself
    log: str

    @property
    def killed(self) -> bool:
        return self.returncode == -signal.SIGKILL

    @property
    def clean(self) -> bool:
        return bool(self.outcome and self.outcome["success"] and all(self.outcome["checks"].values()))


def run_child(
    install: Install,
    crash: dict[str, Any] | None = None,
    period: str = PERIOD,
    sabotage: str | None = None,
    command: str = "materialize",
) -> ChildRun:
    """Run the period in a child process (killed as `crash` says); every process it started is gone after."""
    install.runs += 1
    stem = install.folder / f"run-{install.runs}"
    result, mark, log = stem.with_suffix(".json"), stem.with_suffix(".mark"), stem.with_suffix(".log")
    with log.open("wb") as output:
        # Own session: the group is killed at the end whatever happened, so nothing outlives the test.
        process = subprocess.Popen(
            [sys.executable, "-m", RUNNER, command, "--period", period, "--result", str(result)],
            cwd=REPO_ROOT,
            env=install.child_env(crash, mark, sabotage),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        try:
            returncode = process.wait(timeout=CHILD_TIMEOUT_SECONDS)
        finally:
            kill_group(process)
    return ChildRun(
        returncode=returncode,
        killed_at=mark.read_text("utf-8") if mark.exists() else None,
        outcome=json.loads(result.read_text("utf-8")) if result.exists() else None,
        log=log.read_text("utf-8", errors="replace")[-4000:],
    )


def die_with_parent() -> None:
    """In a child, between fork and exec: SIGKILL when the test process dies without its cleanup."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def kill_group(process: subprocess.Popen[bytes]) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


@dataclass
class Recovery:
    runs: list[ChildRun] = field(default_factory=list)
    relogins: int = 0

    @property
    def last(self) -> ChildRun:
        return self.runs[-1]


def recover(install: Install, sabotage: str | None = None) -> Recovery:
    """Run again without a kill until the period is through; a refused DATEV login is a person's job
    (log in again), done here once when the connection says so."""
    recovery = Recovery()
    recovery.runs.append(run_child(install, sabotage=sabotage))
    if not recovery.last.clean and install.login_state()[0] == "login_required":
        install.log_in_again()
        recovery.relogins += 1
        recovery.runs.append(run_child(install, sabotage=sabotage))
    return recovery


# ##### WHAT DATEV HOLDS


def row_label(line: BookingLine) -> str:
    return (
        f"{line.document_field_1} {line.document_date} {line.amount} {line.side} "
        f"{line.account}/{line.contra_account} {line.document_link[:14]}"
    )


@dataclass(frozen=True)
class AtDatev:
    """DATEV's side after a run, from the simulator's admin API and its capture folder."""

    documents: Counter[str]  # document GUID → accepted uploads
    extf_uploads: Counter[str]  # Reference-Id → accepted uploads
    rows: Counter[BookingLine]  # every row of every succeeded EXTF job
    job_results: dict[str, str]  # DATEV job id → result

    def totals_per_account(self) -> dict[int, Decimal]:
        totals: defaultdict[int, Decimal] = defaultdict(Decimal)
        for line, count in self.rows.items():
            totals[line.account] += line.signed() * count
            totals[line.contra_account] -= line.signed() * count
        return {account: value for account, value in totals.items() if value}


def at_datev(install: Install) -> AtDatev:
    manifest = read_manifest(install.capture)
    jobs = requests.get(f"{install.datev_url}/_sim/jobs", timeout=10).json()["extf"]
    results = {str(job["id"]): str(job["result"]) for job in jobs}
    uploads = [e for e in manifest if e["event"] == "upload"]
    rows: Counter[BookingLine] = Counter()
    for upload in uploads:
        if upload.get("reference_id") and results.get(str(upload["job_id"])) == "succeeded":
            rows.update(read_extf((install.capture / upload["path"]).read_bytes()).lines)
    return AtDatev(
        documents=Counter(str(e["guid"]) for e in uploads if e.get("guid")),
        extf_uploads=Counter(str(e["reference_id"]) for e in uploads if e.get("reference_id")),
        rows=rows,
        job_results=results,
    )


@dataclass(frozen=True)
class Findings:
    duplicates: list[str]
    losses: list[str]

    @property
    def ok(self) -> bool:
        return not self.duplicates and not self.losses


def compare(expected: AtDatev, actual: AtDatev) -> Findings:
    """Every PDF once, every booking row once across the succeeded jobs, none missing, same totals."""
    duplicates = [f"PDF {guid} uploaded {n}x" for guid, n in actual.documents.items() if n > 1]
    duplicates += [f"EXTF Reference-Id {ref} uploaded {n}x" for ref, n in actual.extf_uploads.items() if n > 1]
    duplicates += [
        f"row {row_label(row)} booked {actual.rows[row]}x (clean run: {expected.rows[row]}x)"
        for row in actual.rows
        if actual.rows[row] > expected.rows[row]
    ]
    losses = [f"PDF {guid} missing" for guid in expected.documents if guid not in actual.documents]
    losses += [
        f"row {row_label(row)} booked {actual.rows[row]}x (clean run: {expected.rows[row]}x)"
        for row in expected.rows
        if actual.rows[row] < expected.rows[row]
    ]
    duplicates += [f"PDF {guid} not in the clean run" for guid in actual.documents if guid not in expected.documents]
    if actual.totals_per_account() != expected.totals_per_account() and not (duplicates or losses):
        losses.append("totals per account differ from the clean run")
    return Findings(duplicates, losses)
