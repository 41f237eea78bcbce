"""A Cin7 webhook reaches DATEV through the real processes of a production install, exactly once.

Every part runs as its own process, as deployed: both simulators (`datev-cin7 sandbox serve`), the
webhook receiver (`datev-cin7 webhooks serve`) and `dagster-daemon run` on the project's workspace, with
Dagster's instance (the production `deploy/dagster.yaml`) and the connector's state store each in a fresh
PostgreSQL database. The home is connected to the simulators as a user would (connections file, mapping,
credentials, DATEV login) and the webhook is registered at the Cin7 simulator with `webhooks register`.

Scenario: the Cin7 simulator authorises a new sale invoice and, like Cin7, delivers its webhook about a
minute later (`sandbox serve` has no option for a shorter delay). The inbox sensor asks for a run of the
current VAT period; that run re-reads Cin7, books the invoice, uploads its PDF under its deterministic
GUID and sends the EXTF batch, whose job DATEV (the simulator) finishes as succeeded. Cin7 then retries
the same delivery, which must not lead to a second run. The audit trail must show each step.

Outside CI an unreachable PostgreSQL skips the tests; with CI=true it fails them.
"""

from __future__ import annotations

import csv
import ctypes
import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import dagster as dg
import pytest
import requests
import sqlalchemy as sa
from sqlalchemy import select

from datev_cin7_pipeline import settings
from datev_cin7_pipeline.datev.identities import document_guid
from datev_cin7_pipeline.periods import partition_key, period_of
from datev_cin7_pipeline.sandbox.cin7 import DEMO_ACCOUNT_ID, DEMO_APPLICATION_KEY, demo_dataset
from datev_cin7_pipeline.sandbox.cin7.webhooks import delivery_headers
from datev_cin7_pipeline.sandbox.environment import SandboxOptions, connect_home_to_sandbox
from datev_cin7_pipeline.store import StateStore
from datev_cin7_pipeline.store.audit import AuditEntry, history
from datev_cin7_pipeline.store.models import BookingRecord, DatevJob, DocumentRecord, InboxEvent
from datev_cin7_pipeline_tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

T = TypeVar("T")

CONNECTION = "default"
SEED = 0  # `sandbox serve` serves the demo company of this seed; the mapping must be made from the same data
CALLS_PER_MINUTE = 6000  # the simulator's limit and the connection's pacing (the real 60/min would take minutes)
SENSOR = "cin7_webhook_inbox_sensor"
EVENT_TYPE = "Sale/InvoiceAuthorised"
BIN = Path(sys.executable).parent

# Bounded waits. Cin7 delivers a webhook ~60 s after the event, the sensor looks every 30 s, a run on two
# busy cores needs a minute or more (a process per step) and DATEV finishes an EXTF job after 10 s.
START_SECONDS = 60
OUTCOME_SECONDS = 240  # from authorising the invoice to its PDF and its job's success at DATEV
RUN_END_SECONDS = 90  # from DATEV's answer to the run's end
SENSOR_TICK_SECONDS = 90  # for a sensor tick that started after the retried delivery
STOP_SECONDS = 10  # grace after SIGTERM; the run has ended by then, so nothing is lost by a SIGKILL
PR_SET_PDEATHSIG = 1  # linux/prctl.h


# ##### PROCESSES


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path


@dataclass
class Processes:
    """The processes of the install, each in its own process group, with its output in a log file."""

    folder: Path
    env: dict[str, str]
    started: list[Process] = field(default_factory=list)

    def start(self, name: str, *args: str) -> Process:
        log = self.folder / f"{name}.log"
        with log.open("wb") as output:
            # Own session: the daemon starts a code server, which starts run workers, which start step
            # processes; stopping the group ends them all.
            popen = subprocess.Popen(
                list(args),
                cwd=REPO_ROOT,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # only a prctl call between fork and exec
            )
        process = Process(name, popen, log)
        self.started.append(process)
        return process

    def check_alive(self) -> None:
        for process in self.started:
            if process.popen.poll() is not None:
                pytest.fail(f"{process.name} exited with {process.popen.returncode}.\n{self.report()}")

    def stop_all(self) -> None:
        with ExitStack() as stops:  # every process is stopped even if stopping one of them fails
            for process in self.started:  # callbacks run last first: the daemon before the servers it uses
                stops.callback(_stop, process.popen)

    def report(self, lines: int = 60) -> str:
        parts = []
        for process in self.started:
            text = process.log.read_text("utf-8", errors="replace").splitlines() if process.log.exists() else []
            parts.append(f"----- {process.name} (last {lines} lines of {process.log})\n" + "\n".join(text[-lines:]))
        return "\n".join(parts)


def _die_with_parent() -> None:
    """In the child: SIGTERM when pytest dies without its teardown (SIGKILL); the daemon's code server then
    stops on its own when its heartbeat ends."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@contextmanager
def _teardown_on_sigterm() -> Iterator[None]:
    """`timeout` and CI runners stop pytest with SIGTERM, which would skip the teardown and leave the processes
    and databases behind; as an interrupt it runs the teardown (pytest finalizes fixtures on Ctrl-C)."""

    def interrupt(signum: int, _frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends pytest at once
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")".
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    return children


def _descendants(pid: int) -> list[int]:
    children = _children_by_parent()
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _signal(pids: list[int], pgid: int, sig: signal.Signals) -> None:
    for kill, target in [(os.killpg, pgid), *((os.kill, pid) for pid in pids)]:
        with suppress(ProcessLookupError, PermissionError):
            kill(target, sig)


def _stop(popen: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the group and every descendant (one may have left the group), SIGKILL if it lingers."""
    # Collected before anything dies: an orphan is re-parented and could no longer be found.
    descendants = _descendants(popen.pid)
    _signal(descendants, popen.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        popen.wait(timeout=STOP_SECONDS)
    deadline = time.monotonic() + STOP_SECONDS
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in descendants):
        time.sleep(0.2)
    _signal([pid for pid in descendants if Path(f"/proc/{pid}").exists()], popen.pid, signal.SIGKILL)
    if popen.poll() is None:
        popen.kill()
        popen.wait(timeout=STOP_SECONDS)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(
    what: str,
    seconds: float,
    probe: Callable[[], T | None],
    processes: Processes,
    pause: float = 1,
    explain: Callable[[str], str] | None = None,
) -> T:
    """Poll `probe` until it returns something; fail with every process's log when time is up."""
    deadline = time.monotonic() + seconds
    while True:
        processes.check_alive()
        try:
            found = probe()
        except requests.RequestException:
            found = None
        if found is not None:
            return found
        if time.monotonic() > deadline:
            message = f"Timed out after {seconds:.0f} s waiting for {what}."
            pytest.fail(explain(message) if explain else f"{message}\n{processes.report()}")
        time.sleep(pause)


# ##### FIXTURES


@contextmanager
def _fresh_database(server_url: str, label: str) -> Iterator[str]:
    name = f"e2e_{label}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        url = sa.engine.make_url(server_url).set(drivername="postgresql+psycopg2", database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Install:
    processes: Processes
    instance: dg.DagsterInstance
    store: StateStore
    cin7_url: str
    datev_url: str
    receiver_url: str
    capture: Path

    def cin7_api(self, method: str, endpoint: str, **kwargs: Any) -> Any:
        headers = {"api-auth-accountid": DEMO_ACCOUNT_ID, "api-auth-applicationkey": DEMO_APPLICATION_KEY}
        response = requests.request(
            method, f"{self.cin7_url}/ExternalApi/v2/{endpoint}", headers=headers, timeout=30, **kwargs
        )
        response.raise_for_status()
        return response.json()

    def webhook_runs(self) -> list[dg.RunRecord]:
        return list(self.instance.get_run_records(filters=dg.RunsFilter(tags={"dagster/sensor_name": SENSOR})))

    def explain(self, message: str) -> str:
        runs = self.instance.get_runs(limit=10)
        lines = [message, "----- Dagster runs (newest first)"]
        for run in runs:
            lines.append(f"{run.run_id} {run.job_name} {run.status.value} {dict(run.tags)}")
            if run.status == dg.DagsterRunStatus.FAILURE:
                for entry in self.instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
                    lines.append(f"  step failure: {entry.message}")
        return "\n".join(lines) + "\n" + self.processes.report()


@pytest.fixture(scope="module")
def install(postgres_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Install]:
    """Simulators, receiver and daemon running against two fresh PostgreSQL databases, home connected."""
    folder = tmp_path_factory.mktemp("e2e")
    home, dagster_home, capture = folder / "home", folder / "dagster_home", folder / "capture"
    dagster_home.mkdir()
    # The production instance file, verbatim: PostgreSQL (psycopg2 scheme), queued runs, pools.
    (dagster_home / "dagster.yaml").write_text((REPO_ROOT / "deploy" / "dagster.yaml").read_text("utf-8"), "utf-8")
    with ExitStack() as stack, pytest.MonkeyPatch.context() as monkeypatch:
        stack.enter_context(_teardown_on_sigterm())
        state_url = stack.enter_context(_fresh_database(postgres_server, "state"))
        dagster_db = sa.engine.make_url(stack.enter_context(_fresh_database(postgres_server, "dagster")))
        environment = {
            settings.HOME_ENV: str(home),
            settings.DATABASE_URL_ENV: state_url,
            "DAGSTER_HOME": str(dagster_home),
            "DAGSTER_PG_USERNAME": dagster_db.username or "postgres",
            "DAGSTER_PG_PASSWORD": dagster_db.password or "",
            "DAGSTER_PG_HOST": dagster_db.host or "127.0.0.1",
            "DAGSTER_PG_PORT": str(dagster_db.port or 5432),
            "DAGSTER_PG_DB": str(dagster_db.database),
        }
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        for name in (settings.SECRET_KEY_ENV, settings.CONNECTION_ENV):
            monkeypatch.delenv(name, raising=False)  # the vault key is the home's key file, for every process
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        processes = Processes(folder, env)
        stack.callback(processes.stop_all)

        # Creates Dagster's schema before the daemon's threads race to do it.
        instance = stack.enter_context(dg.DagsterInstance.from_config(str(dagster_home)))
        store = StateStore(state_url)
        stack.callback(store.dispose)

        sandbox = processes.start(
            "sandbox",
            str(BIN / "datev-cin7"),
            "sandbox",
            "serve",
            f"--seed={SEED}",
            "--cin7-port=0",
            "--datev-port=0",
            f"--calls-per-minute={CALLS_PER_MINUTE}",
            f"--datev-capture={capture}",
        )

        def simulator_urls() -> tuple[str, str] | None:
            text = sandbox.log.read_text("utf-8", errors="replace")
            cin7 = re.search(r"Cin7 Core simulator: (http://\S+?)/ExternalApi/v2/", text)
            datev = re.search(r"DATEV simulator: (http://\S+)", text)
            return (cin7.group(1), datev.group(1)) if cin7 and datev else None

        cin7_url, datev_url = _wait_for("the simulators", START_SECONDS, simulator_urls, processes, 0.2)
        connect_home_to_sandbox(
            cin7_url,
            datev_url,
            demo_dataset(SEED),
            SandboxOptions(cin7_calls_per_minute=CALLS_PER_MINUTE, connection=CONNECTION),
        )

        receiver_url = f"http://127.0.0.1:{_free_port()}"
        registered = subprocess.run(
            [str(BIN / "datev-cin7"), "webhooks", "register", "--url", receiver_url, "--connection", CONNECTION],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert registered.returncode == 0, registered.stdout + registered.stderr
        assert re.search(rf"created: .*{re.escape(EVENT_TYPE)}", registered.stdout), registered.stdout

        port = receiver_url.rsplit(":", 1)[1]
        processes.start("receiver", str(BIN / "datev-cin7"), "webhooks", "serve", "--host", "127.0.0.1", "--port", port)
        _wait_for(
            "the webhook receiver",
            START_SECONDS,
            lambda: requests.get(f"{receiver_url}/healthz", timeout=5).ok or None,
            processes,
            0.2,
        )
        yield Install(processes, instance, store, cin7_url, datev_url, receiver_url, capture)


@dataclass(frozen=True)
class Invoice:
    sale_id: str
    task_id: str
    number: str
    guid: str
    period: str


@dataclass(frozen=True)
class Outcome:
    invoice: Invoice
    run: dg.DagsterRun
    event_id: int
    datev_document: dict[str, Any]
    datev_job: dict[str, Any]
    extf_file: bytes
    delivered: dict[str, Any]  # Cin7's delivery attempt, as the simulator logged it
    retry_answer: requests.Response
    retried_at: float


@pytest.fixture(scope="module")
def outcome(install: Install) -> Outcome:
    """Authorise a sale invoice in Cin7 and follow it to DATEV; then retry its webhook as Cin7 would."""
    started = time.monotonic()
    authorised = requests.post(f"{install.cin7_url}/_sim/documents/sale/new/authorise", timeout=30)
    assert authorised.status_code == 200, authorised.text
    action = authorised.json()
    assert action["Event"] == EVENT_TYPE
    assert action["Subscriptions"] == 1, action  # the subscription `webhooks register` made
    sale_id = str(action["Details"]["SaleID"]).lower()
    task_id = str(action["Details"]["TaskID"]).lower()
    (attachment,) = install.cin7_api("GET", "sale/attachment", params={"SaleID": sale_id})["Lines"]
    # The design's identity, computed here independently: UUID5 over (tenant, invoice, attachment).
    invoice = Invoice(
        sale_id=sale_id,
        task_id=task_id,
        number=str(action["Details"]["InvoiceNumber"]),
        guid=document_guid(CONNECTION, task_id, str(attachment["ID"]).lower()),
        period=partition_key(period_of(dt.datetime.now(dt.UTC))),
    )

    # The daemon starts while Cin7 holds the webhook back, so its minute is not lost.
    processes = install.processes
    processes.start("daemon", str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml")

    def webhook_run() -> dg.DagsterRun | None:
        runs = [r.dagster_run for r in install.webhook_runs()]
        return next((r for r in runs if r.tags.get("dagster/partition") == invoice.period), None)

    run = _wait_for(
        f"the sensor's run of {invoice.period}", OUTCOME_SECONDS, webhook_run, processes, 2, install.explain
    )
    with install.store.session() as session:
        event_id = session.scalars(select(InboxEvent.id).where(InboxEvent.document_id == sale_id)).one()

    # Cin7 retries a delivery it did not see answered: same payload, same authentication, new trace id.
    (delivered,) = [
        d
        for d in requests.get(f"{install.cin7_url}/_sim/deliveries", timeout=10).json()["Deliveries"]
        if d["Type"] == EVENT_TYPE and d["Outcome"] == "delivered"
    ]
    (subscription,) = [w for w in install.cin7_api("GET", "webhooks")["Webhooks"] if w["Type"] == EVENT_TYPE]
    retried_at = time.time()
    retry_answer = requests.post(
        delivered["URL"],
        data=json.dumps(delivered["Payload"]).encode("utf-8"),
        headers=delivery_headers(subscription, f"Root=1-{int(retried_at):08x}-{uuid.uuid4().hex[:24]}"),
        timeout=30,
    )

    def at_datev() -> tuple[dict[str, Any], dict[str, Any], bytes] | None:
        documents = requests.get(f"{install.datev_url}/_sim/documents", timeout=10).json()["documents"]
        document = next((d for d in documents if d["id"] == invoice.guid), None)
        events = requests.get(f"{install.datev_url}/_sim/manifest", timeout=10).json()["events"]
        for upload in (e for e in events if e["event"] == "upload" and str(e["path"]).startswith("extf/")):
            content = (install.capture / upload["path"]).read_bytes()
            if invoice.guid.encode("ascii") not in content:
                continue
            jobs = requests.get(f"{install.datev_url}/_sim/jobs", timeout=10).json()["extf"]
            job = next(j for j in jobs if j["id"] == upload["job_id"])
            if document is not None and job["result"] != "pending":
                return document, job, content
        return None

    remaining = OUTCOME_SECONDS - (time.monotonic() - started)
    document, job, extf_file = _wait_for(
        "the PDF and the finished job at DATEV", remaining, at_datev, processes, 2, install.explain
    )

    def finished_run() -> dg.DagsterRun | None:
        current = install.instance.get_run_by_id(run.run_id)
        return current if current is not None and current.is_finished else None

    run = _wait_for("the end of the webhook's run", RUN_END_SECONDS, finished_run, processes, 2, install.explain)
    return Outcome(
        invoice=invoice,
        run=run,
        event_id=event_id,
        datev_document=document,
        datev_job=job,
        extf_file=extf_file,
        delivered=delivered,
        retry_answer=retry_answer,
        retried_at=retried_at,
    )


def _trail(install: Install, *refs: str) -> list[AuditEntry]:
    """The audit events of all `refs`, each once, in the order they were written."""
    with install.store.session() as session:
        entries = {entry.id: entry for ref in refs for entry in history(session, ref)}
    return [entries[key] for key in sorted(entries)]


def _actions(entries: list[AuditEntry]) -> list[str]:
    return [entry.action for entry in entries]


# ##### TESTS


def test_the_webhook_run_uploads_the_invoice_pdf_and_its_booking_job_succeeds(
    install: Install, outcome: Outcome
) -> None:
    invoice, run = outcome.invoice, outcome.run
    explain = install.explain
    assert run.status == dg.DagsterRunStatus.SUCCESS, explain(f"run {run.run_id} ended {run.status.value}")
    assert run.job_name == "vat_period_job"
    assert run.tags["dagster/run_key"] == f"inbox:{CONNECTION}:{invoice.period}:{outcome.event_id}"
    assert run.tags["datev-cin7/trigger"] == "webhook"
    assert run.tags["datev-cin7/period"] == invoice.period
    assert run.tags["datev-cin7/inbox-events"] == str(outcome.event_id)

    # DATEV holds the invoice's PDF under the GUID computed from Cin7's ids ...
    document = outcome.datev_document
    assert document["client_id"] == "29098-55003"
    assert [f["name"] for f in document["files"]] == [f"{invoice.number}.pdf"]
    assert (document["document_type"], document["note"]) == ("Rechnungsausgang", f"Cin7 {invoice.number}")
    # ... and every booking row of the invoice in the EXTF file DATEV accepted links to it.
    lines = outcome.extf_file.decode("utf-8-sig").splitlines()
    columns, *rows = list(csv.reader(lines[1:], delimiter=";"))
    mine = [dict(zip(columns, row, strict=True)) for row in rows if row[columns.index("Belegfeld 1")] == invoice.number]
    assert mine, lines
    assert {row["Beleglink"] for row in mine} == {f'BEDI "{invoice.guid}"'}
    assert outcome.datev_job["result"] == "succeeded", outcome.datev_job

    # The ledger says the same: document uploaded, booking row booked in that job.
    with install.store.session() as session:
        record = session.scalars(select(DocumentRecord).where(DocumentRecord.guid == invoice.guid)).one()
        booking = session.scalars(select(BookingRecord).where(BookingRecord.cin7_document_id == invoice.task_id)).one()
        job = session.get(DatevJob, booking.job_id)
        assert (record.status, record.cin7_document_id) == ("uploaded", invoice.task_id)
        assert (booking.kind, booking.status, booking.document_guid) == ("booking", "booked", invoice.guid)
        assert job is not None
        assert (job.datev_job_id, job.status) == (outcome.datev_job["id"], "succeeded")


def test_the_audit_trail_follows_the_invoice_from_webhook_to_succeeded_job(install: Install, outcome: Outcome) -> None:
    invoice = outcome.invoice
    sale_trail = _trail(install, invoice.sale_id)
    # The webhook names the sale; the re-read sale names its invoice (task id), which the booking and
    # the document name; the booking row names its job. Each hop is checked, not assumed.
    (read,) = [e for e in sale_trail if e.action == "cin7.sale_read"]
    assert read.subject_id == invoice.sale_id
    invoice_trail = _trail(install, invoice.task_id)
    assert read.id in [e.id for e in invoice_trail], _actions(invoice_trail)
    with install.store.session() as session:
        reference_id = session.scalars(
            select(DatevJob.reference_id)
            .join(BookingRecord, BookingRecord.job_id == DatevJob.id)
            .where(BookingRecord.cin7_document_id == invoice.task_id)
        ).one()
    job_trail = _trail(install, reference_id)
    timeline = _trail(install, invoice.sale_id, invoice.task_id, invoice.guid, reference_id)
    actions = _actions(timeline)

    def first(action: str) -> int:
        assert action in actions, install.explain(f"no {action!r} in the invoice's trail: {actions}")
        return actions.index(action)

    steps = [
        "webhook.received",
        "cin7.sale_read",  # the re-read from the API (the webhook itself is never booked)
        "webhook.processed",
        "booking.recorded",
        "document.intended",
        "document.uploaded",
        "datev.job_submitted",
        "datev.job_succeeded",
    ]
    assert [first(step) for step in steps] == sorted(first(step) for step in steps), actions
    assert first("booking.recorded") < first("datev.job_intended") < first("datev.job_submitted")

    by_action = {entry.action: entry for entry in timeline}
    assert by_action["webhook.received"].detail["event_type"] == EVENT_TYPE
    assert by_action["webhook.processed"].detail["run_id"] == outcome.run.run_id
    assert by_action["document.uploaded"].subject_id == invoice.guid
    assert by_action["datev.job_succeeded"].subject_id == reference_id
    assert {e.action for e in job_trail} >= {"datev.job_intended", "datev.job_submitted", "datev.job_succeeded"}
    # Nothing of the invoice went to DATEV twice.
    assert actions.count("document.uploaded") == 1
    assert actions.count("booking.recorded") == 1


def test_the_invoice_trail_names_its_batch_and_job(install: Install, outcome: Outcome) -> None:
    actions = _actions(_trail(install, outcome.invoice.sale_id, outcome.invoice.task_id, outcome.invoice.guid))
    assert "datev.job_submitted" in actions
    assert "datev.job_succeeded" in actions


def test_a_retried_webhook_requests_no_second_run(install: Install, outcome: Outcome) -> None:
    assert (outcome.delivered["Attempt"], outcome.delivered["Status"]) == (1, 202)
    assert outcome.delivered["URL"] == f"{install.receiver_url}/webhooks/cin7/{CONNECTION}"
    assert outcome.retry_answer.status_code == 202, outcome.retry_answer.text
    assert outcome.retry_answer.json() == {"status": "duplicate", "event_id": outcome.event_id}
    with install.store.session() as session:
        event = session.get(InboxEvent, outcome.event_id)
        assert event is not None
        assert (event.delivery_count, event.status) == (2, "processed")
    assert _actions(_trail(install, outcome.invoice.sale_id)).count("webhook.duplicate") == 1

    # The sensor must have looked at the inbox after the retry was stored, and asked for nothing.
    (state,) = [s for s in install.instance.all_instigator_state() if s.instigator_name == SENSOR]

    def ticks(after: float | None = None) -> list[Any]:
        return list(install.instance.get_ticks(state.instigator_origin_id, state.selector_id, after=after))

    def tick_after_retry() -> Any:
        return next((t for t in ticks(outcome.retried_at) if t.is_completed), None)

    tick = _wait_for("a sensor tick after the retry", SENSOR_TICK_SECONDS, tick_after_retry, install.processes, 2)
    assert tick.run_ids == [], install.explain(f"the tick after the retry launched {tick.run_ids}")
    (requesting,) = [t for t in ticks() if outcome.run.run_id in t.run_ids]
    assert tick.cursor == requesting.cursor  # the retry did not move the sensor past anything new
    # Every run the sensor ever made was made before the retry, and the invoice's period has exactly one.
    records = install.webhook_runs()
    assert [r.create_timestamp.timestamp() < outcome.retried_at for r in records] == [True] * len(records)
    period_runs = [
        r.dagster_run.run_id for r in records if r.dagster_run.tags["dagster/partition"] == outcome.invoice.period
    ]
    assert period_runs == [outcome.run.run_id], install.explain(f"webhook runs of the period: {period_runs}")
