"""Load verification support: Cin7 webhook deliveries in bulk against the receiver process while pipeline
runs share its state store, and a month of cloned Cin7 documents run in a child process whose peak memory
is measured, with what DATEV must then hold derived from the Cin7 data alone.

The load client follows `benchmarks/webhook_intake.py`: plain HTTP/1.1 keep-alive connections on asyncio,
many deliveries in flight, so the client costs little next to the receiver. Unlike the benchmark it sends
Cin7's real delivery headers per subscription (auth, `X-Cin7-Event`, a new trace id per attempt), several
event types, and retries a delivery that got no 2xx answer, as Cin7 does.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, fields
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

from datev_cin7_pipeline import settings
from datev_cin7_pipeline.datev.identities import document_guid
from datev_cin7_pipeline.sandbox.cin7 import (
    DEMO_ACCOUNT_ID,
    DEMO_APPLICATION_KEY,
    Cin7Dataset,
    Cin7SimConfig,
    build_cin7_app,
)
from datev_cin7_pipeline.sandbox.cin7.webhooks import delivery_headers
from datev_cin7_pipeline.sandbox.datev import DatevSimConfig, build_datev_app
from datev_cin7_pipeline.sandbox.environment import SandboxOptions, connect_home_to_sandbox
from datev_cin7_pipeline.sandbox.serving import serve_in_thread
from datev_cin7_pipeline.store import StateStore
from datev_cin7_pipeline.store.models import AuditEvent, Connection, InboxEvent
from datev_cin7_pipeline_tests.conftest import REPO_ROOT
from datev_cin7_pipeline_tests.mapping.support import TODAY
from datev_cin7_pipeline_tests.verification.harness import (
    PERIOD,
    RUNNER,
    AtDatev,
    ChildRun,
    Install,
    die_with_parent,
    run_child,
    simulated_install,
)

CONNECTION = "default"
CIN7_MAX_CALLS_PER_MINUTE = 6000  # the most a connection's settings allow (config.Cin7Settings)
BENCHMARKS = REPO_ROOT / "benchmarks"
RUN_ACTORS = ("dagster", "pipeline")  # who a pipeline run's audit entries name (assets, and the code under them)


# ##### AN INSTALL ON ANOTHER DATABASE


@dataclass
class InstallOnDatabase(Install):
    """An install whose state store is `database_url` (PostgreSQL) for this process and every child."""

    database_url: str = ""

    @contextmanager
    def as_home(self) -> Iterator[None]:
        with super().as_home(), _environment(settings.DATABASE_URL_ENV, self.database_url):
            yield

    def child_env(
        self, crash: dict[str, Any] | None = None, mark: Path | None = None, sabotage: str | None = None
    ) -> dict[str, str]:
        # The harness leaves the developer's DATEV_CIN7_* settings out of a child; this one it must have.
        return {**super().child_env(crash, mark, sabotage), settings.DATABASE_URL_ENV: self.database_url}


@contextmanager
def installed(folder: Path, database_url: str | None = None) -> Iterator[Install]:
    """`simulated_install` with the demo company, its state store in the home or at `database_url`."""
    if database_url is None:
        with simulated_install(folder) as install:
            yield install
        return
    with _environment(settings.DATABASE_URL_ENV, database_url), simulated_install(folder) as install:
        yield InstallOnDatabase(
            **{f.name: getattr(install, f.name) for f in fields(Install)}, database_url=database_url
        )


@contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


@contextmanager
def opened_store(install: Install) -> Iterator[StateStore]:
    with install.as_home():
        store = StateStore.open()
    try:
        yield store
    finally:
        store.dispose()


# ##### WEBHOOK DELIVERIES

# Event types the receiver knows, with the payload keys Cin7 names the document and its number by.
EVENT_KEYS: dict[str, tuple[str, str]] = {
    "Sale/InvoiceAuthorised": ("SaleID", "InvoiceNumber"),
    "Sale/CreditNoteAuthorised": ("SaleID", "CreditNoteNumber"),
    "Sale/FullPaymentReceived": ("SaleID", "InvoiceNumber"),
    "Purchase/InvoiceAuthorised": ("PurchaseID", "InvoiceNumber"),
    "Purchase/CreditNoteAuthorised": ("PurchaseID", "CreditNoteNumber"),
    "Customer/Updated": ("CustomerID", "Name"),
    "Supplier/Updated": ("SupplierID", "Name"),
}


@dataclass(frozen=True)
class Event:
    event_type: str
    document_id: str
    number: str

    @property
    def identity(self) -> tuple[str, str]:
        """What makes two deliveries the same event: its type and its document (the inbox's columns)."""
        return self.event_type, self.document_id

    def body(self) -> bytes:
        id_key, number_key = EVENT_KEYS[self.event_type]
        return json.dumps({id_key: self.document_id, number_key: self.number}).encode()


@dataclass(frozen=True)
class Delivery:
    index: int
    event: Event
    original: int | None  # a repeat: the index of the event's first delivery


def delivery_plan(deliveries: int, *, repeat_every: int = 10, seed: int = 20260501) -> list[Delivery]:
    """`deliveries` deliveries of the event types in turn; every `repeat_every`-th repeats an earlier event
    (several may repeat the same one), as Cin7's retries and duplicate notifications do."""
    rng = random.Random(seed)
    types = list(EVENT_KEYS)
    plan: list[Delivery] = []
    originals: list[Delivery] = []
    for index in range(deliveries):
        if originals and (index + 1) % repeat_every == 0:
            first = rng.choice(originals)
            plan.append(Delivery(index, first.event, first.index))
            continue
        event_type = types[len(originals) % len(types)]
        document_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        delivery = Delivery(index, Event(event_type, document_id, f"LOAD-{index:05d}"), None)
        originals.append(delivery)
        plan.append(delivery)
    return plan


@dataclass
class Answer:
    """How one delivery ended: its last HTTP status, the receiver's verdict, and every failed attempt."""

    status: int | None = None
    outcome: str | None = None  # "accepted" | "duplicate" | "ignored" in a 202
    event_id: int | None = None
    failures: list[str] = field(default_factory=list)  # "500", "ConnectionResetError", …

    @property
    def stored(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class LoadResult:
    plan: list[Delivery]
    answers: list[Answer]
    started: float  # time.monotonic()
    ended: float

    @property
    def seconds(self) -> float:
        return self.ended - self.started

    @property
    def per_second(self) -> float:
        return len(self.plan) / self.seconds

    def final_statuses(self) -> Counter[int | None]:
        return Counter(answer.status for answer in self.answers)

    def failed_attempts(self) -> Counter[str]:
        return Counter(failure for answer in self.answers for failure in answer.failures)

    def sent_per_event(self) -> Counter[tuple[str, str]]:
        """Deliveries answered 2xx, per event identity."""
        return Counter(d.event.identity for d, a in zip(self.plan, self.answers, strict=True) if a.stored)


def subscription_headers(install: Install) -> dict[str, dict[str, str]]:
    """Per event type, the headers Cin7 sends with a delivery to the registered subscription (no trace id)."""
    answer = requests.get(
        f"{install.cin7_url}/ExternalApi/v2/webhooks",
        headers={"api-auth-accountid": DEMO_ACCOUNT_ID, "api-auth-applicationkey": DEMO_APPLICATION_KEY},
        timeout=10,
    )
    answer.raise_for_status()
    found = {}
    for subscription in answer.json()["Webhooks"]:
        headers = delivery_headers(subscription, "")
        headers.pop("x-amzn-trace-id")
        found[subscription["Type"]] = {"url": subscription["ExternalURL"], **headers}
    return found


def deliver(
    plan: Sequence[Delivery],
    headers: Mapping[str, Mapping[str, str]],
    *,
    concurrency: int = 32,
    retry_delay: float = 0.2,
    max_attempts: int = 20,
) -> LoadResult:
    """Send the plan over `concurrency` keep-alive connections. A repeat waits until its event's first
    delivery was answered, so which one the receiver must call "accepted" is known. A delivery answered
    5xx or left unanswered (connection dropped, no answer in 120 s) is sent again after `retry_delay`,
    up to `max_attempts` times, as Cin7 retries; a 4xx is final (Cin7 would retry it too, but here it can
    only mean the load itself is wrong)."""
    return asyncio.run(_deliver(plan, headers, concurrency, retry_delay, max_attempts))


async def _deliver(
    plan: Sequence[Delivery],
    headers: Mapping[str, Mapping[str, str]],
    concurrency: int,
    retry_delay: float,
    max_attempts: int,
) -> LoadResult:
    answers = [Answer() for _ in plan]
    answered = [asyncio.Event() for _ in plan]
    queue: asyncio.Queue[Delivery] = asyncio.Queue()
    for delivery in plan:
        queue.put_nowait(delivery)
    requests_ = {event_type: _request_head(dict(given)) for event_type, given in headers.items()}

    async def worker() -> None:
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        while not queue.empty():
            delivery = queue.get_nowait()
            if delivery.original is not None:
                await answered[delivery.original].wait()
            answer = answers[delivery.index]
            host, port, head = requests_[delivery.event.event_type]
            body = delivery.event.body()
            for _attempt in range(max_attempts):
                trace = f"x-amzn-trace-id: Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}\r\n"
                request = head + f"{trace}Content-Length: {len(body)}\r\n\r\n".encode() + body
                try:
                    if connection is None:
                        connection = await asyncio.open_connection(host, port)
                    status, close, payload = await asyncio.wait_for(_exchange(*connection, request), 120)
                except (OSError, EOFError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
                    answer.failures.append(type(exc).__name__)
                    await _close(connection)
                    connection = None
                    await asyncio.sleep(retry_delay)
                    continue
                if close:
                    await _close(connection)
                    connection = None
                answer.status = status
                if 200 <= status < 300:
                    verdict = json.loads(payload)
                    answer.outcome, answer.event_id = verdict.get("status"), verdict.get("event_id")
                    break
                answer.failures.append(str(status))
                if status < 500:
                    break
                await asyncio.sleep(retry_delay)
            answered[delivery.index].set()
        await _close(connection)

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return LoadResult(list(plan), answers, started, time.monotonic())


def _request_head(headers: dict[str, str]) -> tuple[str, int, bytes]:
    match = re.fullmatch(r"http://([^:/]+):(\d+)(/.*)", headers.pop("url"))
    assert match, "the subscriptions point at a loopback http:// receiver"
    host, port, path = match.group(1), int(match.group(2)), match.group(3)
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", *(f"{k}: {v}" for k, v in headers.items())]
    return host, port, ("\r\n".join(lines) + "\r\n").encode()


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bool, bytes]:
    """One request on a keep-alive connection: (status, whether the server closes it, body)."""
    writer.write(request)
    await writer.drain()
    status_line = await reader.readline()
    if not status_line:
        raise EOFError("the receiver closed the connection without an answer")
    status = int(status_line.split()[1])
    found: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        found[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(found.get("content-length", "0")))
    return status, found.get("connection", "").lower() == "close", body


async def _close(connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None) -> None:
    if connection is not None:
        connection[1].close()
        with suppress(OSError):
            await connection[1].wait_closed()


# ##### WHAT THE STORE HOLDS


@dataclass(frozen=True)
class InboxRow:
    event_id: int
    delivery_count: int
    status: str


@dataclass(frozen=True)
class Intake:
    """The connection's inbox by event identity, and the receiver's audit entries."""

    inbox: dict[tuple[str, str], InboxRow]
    inbox_rows: int  # rows in all, so two rows of one identity cannot hide in the dict
    audit_actions: Counter[str]  # webhook.received / webhook.duplicate
    webhook_audit_ids: tuple[int, int]  # the first and last audit id the receiver wrote
    pipeline_audit_ids_between: int  # audit entries of pipeline runs committed between those two


def intake(install: Install) -> Intake:
    with opened_store(install) as store, store.session() as session:
        connection_id = session.scalar(sa.select(Connection.id).where(Connection.name == CONNECTION))
        rows = session.execute(
            sa.select(
                InboxEvent.event_type,
                InboxEvent.document_id,
                InboxEvent.id,
                InboxEvent.delivery_count,
                InboxEvent.status,
            ).where(InboxEvent.connection_id == connection_id)
        ).all()
        actions = Counter(
            dict(
                session.execute(
                    sa.select(AuditEvent.action, sa.func.count())
                    .where(AuditEvent.subject_type == "inbox_event")
                    .group_by(AuditEvent.action)
                ).all()
            )
        )
        first, last = session.execute(
            sa.select(sa.func.min(AuditEvent.id), sa.func.max(AuditEvent.id)).where(
                AuditEvent.actor == "webhook-receiver", AuditEvent.subject_type == "inbox_event"
            )
        ).one()
        between = session.scalar(
            sa.select(sa.func.count()).where(
                AuditEvent.actor.in_(RUN_ACTORS), AuditEvent.id > (first or 0), AuditEvent.id < (last or 0)
            )
        )
    return Intake(
        inbox={(t, d): InboxRow(i, n, s) for t, d, i, n, s in rows},
        inbox_rows=len(rows),
        audit_actions=actions,
        webhook_audit_ids=(first or 0, last or 0),
        pipeline_audit_ids_between=int(between or 0),
    )


# ##### PIPELINE RUNS BESIDE THE LOAD


@dataclass(frozen=True)
class TimedRun:
    period: str
    started: float  # time.monotonic()
    ended: float
    run: ChildRun


class RunLoop(threading.Thread):
    """Runs `periods` one after the other in child processes, then again from the first, until stopped
    (after one round at least). A repeated period finds everything sent and must send nothing."""

    def __init__(self, install: Install, periods: Sequence[str], max_runs: int = 40) -> None:
        super().__init__(name="pipeline-runs", daemon=True)
        self.install = install
        self.periods = list(periods)
        self.max_runs = max_runs
        self.runs: list[TimedRun] = []
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while len(self.runs) < self.max_runs and (len(self.runs) < len(self.periods) or not self.stopping.is_set()):
                period = self.periods[len(self.runs) % len(self.periods)]
                started = time.monotonic()
                child = run_child(self.install, period=period)
                self.runs.append(TimedRun(period, started, time.monotonic(), child))
        except BaseException as exc:  # handed to the test thread, which asserts on it
            self.error = exc

    def overlapping(self, started: float, ended: float) -> list[TimedRun]:
        return [r for r in self.runs if r.started < ended and r.ended > started]


def cin7_calls(install: Install) -> int:
    return int(requests.get(f"{install.cin7_url}/_sim/calls", timeout=10).json()["Summary"]["total_calls"])


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.05)


# ##### A MONTH OF DOCUMENTS


@dataclass(frozen=True)
class ExpectedDocument:
    kind: str  # sale | purchase
    number: str
    currency: str
    total: Decimal  # signed as booked: an invoice positive, a credit note negative


@dataclass(frozen=True)
class Month:
    """Cloned demo documents dated in PERIOD, and what DATEV must hold once they are through."""

    dataset: Cin7Dataset
    documents: int  # invoices and credit notes
    documents_by_guid: dict[str, ExpectedDocument]  # DATEV document GUID → the Cin7 document
    payments: Counter[tuple[str, Decimal]]  # (currency, amount): money received positive, paid out negative


def month_of(documents: int) -> Month:
    """A month of `documents` invoices and credit notes, cloned as the end-to-end benchmark clones them."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.append(str(BENCHMARKS))  # the benchmarks import each other by file name
    from e2e_period import scaled_dataset

    dataset, made, _sales, _purchases = scaled_dataset(documents, dt.date.fromisoformat(PERIOD), TODAY)
    by_guid: dict[str, ExpectedDocument] = {}
    payments: Counter[tuple[str, Decimal]] = Counter()
    for kind, parents in (("sale", dataset.sales), ("purchase", dataset.purchases)):
        for parent in parents.values():
            currency = str(parent["CustomerCurrency" if kind == "sale" else "SupplierCurrency"])
            money_in = 1 if kind == "sale" else -1
            documents_ = _documents(parent)
            for document, sign, number in documents_:
                attachment = _pdf_of(parent, number, len(documents_))
                guid = document_guid(CONNECTION, str(document.get("TaskID") or parent["ID"]).lower(), attachment)
                by_guid[guid] = ExpectedDocument(kind, number, currency, sign * Decimal(str(document["Total"])))
                for payment in _as_list(document.get("Payments")) + _as_list(document.get("Refunds")):
                    payments[(currency, money_in * sign * Decimal(str(payment["Amount"])))] += 1
    assert len(by_guid) == made, "every cloned document has its own PDF"
    return Month(dataset, made, by_guid, payments)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if value else []


def _documents(parent: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], int, str]]:
    """The authorised invoices (+1) and credit notes (-1) of a sale or purchase, with their numbers."""
    found = []
    for key, sign, number_key in (
        ("Invoices", 1, "InvoiceNumber"),
        ("Invoice", 1, "InvoiceNumber"),
        ("CreditNotes", -1, "CreditNoteNumber"),
        ("CreditNote", -1, "CreditNoteNumber"),
    ):
        for document in _as_list(parent.get(key)):
            if document.get("Status") in ("AUTHORISED", "PAID"):
                found.append((document, sign, str(document[number_key])))
    return found


def _pdf_of(parent: Mapping[str, Any], number: str, documents: int) -> str:
    """The id of the PDF Cin7 keeps for the document: the one named after its number (or the only one)."""

    def plain(text: str) -> str:
        return re.sub(r"[^0-9a-z]+", "", text.lower())

    pdfs = [a for a in parent.get("Attachments") or [] if str(a["FileName"]).lower().endswith(".pdf")]
    named = [a for a in pdfs if plain(number) in plain(str(a["FileName"]))]
    chosen = named or (pdfs if len(pdfs) == 1 and documents == 1 else [])
    assert len(chosen) == 1, f"document {number} has no PDF of its own"
    return str(chosen[0]["ID"]).lower()


@contextmanager
def month_install(folder: Path, month: Month, calls_per_minute: int = CIN7_MAX_CALLS_PER_MINUTE) -> Iterator[Install]:
    """Both simulators holding the month (in this process) and a home connected to them."""
    folder.mkdir(parents=True, exist_ok=True)
    capture = folder / "capture"
    cin7_app = build_cin7_app(Cin7SimConfig(today=TODAY, calls_per_minute=calls_per_minute), month.dataset)
    datev_app = build_datev_app(DatevSimConfig(capture_folder=capture))
    with serve_in_thread(cin7_app) as cin7, serve_in_thread(datev_app) as datev:
        install = Install(folder, folder / "home", capture, cin7.url, datev.url)
        with install.as_home():
            options = SandboxOptions(today=TODAY, cin7_calls_per_minute=calls_per_minute)
            connect_home_to_sandbox(cin7.url, datev.url, month.dataset, options)
        yield install


@dataclass(frozen=True)
class MeasuredRun:
    returncode: int
    outcome: dict[str, Any] | None
    peak_rss_mb: float  # the pipeline process's own peak resident set, as the kernel counted it
    seconds: float
    log: str

    @property
    def clean(self) -> bool:
        return bool(self.outcome and self.outcome["success"] and all(self.outcome["checks"].values()))


def run_measured(install: Install, period: str = PERIOD, timeout: float = 3600) -> MeasuredRun:
    """One period through every asset in a child process (as `run_child` runs it); its peak RSS is the
    child's own high-water mark (VmHWM), which it reports with its outcome. Not the ru_maxrss wait4() gives:
    that starts from this process's size at the fork, and this one holds the simulators and their data."""
    install.runs += 1
    stem = install.folder / f"measured-{install.runs}"
    result, log = stem.with_suffix(".json"), stem.with_suffix(".log")
    started = time.monotonic()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", RUNNER, "materialize", "--period", period, "--result", str(result)],
            cwd=REPO_ROOT,
            env=install.child_env(),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        # Only signalled here; the reaping is wait4's.
        watchdog = threading.Timer(timeout, lambda: _kill_group(process.pid))
        watchdog.start()
        try:
            _pid, status, _usage = os.wait4(process.pid, 0)
        finally:
            watchdog.cancel()
            _kill_group(process.pid)
        process.returncode = os.waitstatus_to_exitcode(status)
    outcome = json.loads(result.read_text("utf-8")) if result.exists() else None
    return MeasuredRun(
        returncode=process.returncode,
        outcome=outcome,
        peak_rss_mb=float(outcome["peak_rss_mb"]) if outcome else float("nan"),
        seconds=time.monotonic() - started,
        log=log.read_text("utf-8", errors="replace")[-4000:],
    )


def _kill_group(pid: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


@dataclass(frozen=True)
class MonthFindings:
    duplicates: list[str]
    losses: list[str]
    wrong_totals: list[str]
    pdfs_once: int  # documents whose PDF DATEV holds exactly once
    totals_equal: int  # documents whose booked rows add up to Cin7's total, in its currency
    payments_booked: int  # payment rows (no Beleglink), each matched to one Cin7 payment

    @property
    def ok(self) -> bool:
        return not (self.duplicates or self.losses or self.wrong_totals)


def check_month(month: Month, at: AtDatev) -> MonthFindings:
    """DATEV against Cin7's own data: every document's PDF once, its rows adding up to its Cin7 total (in
    its currency; a second posting doubles it, a lost one leaves it short), every payment booked once."""
    duplicates = [f"PDF {guid} uploaded {n}x" for guid, n in at.documents.items() if n > 1]
    duplicates += [f"EXTF Reference-Id {ref} uploaded {n}x" for ref, n in at.extf_uploads.items() if n > 1]
    duplicates += [f"PDF {guid} is no Cin7 document" for guid in at.documents if guid not in month.documents_by_guid]
    losses = [
        f"PDF of {d.number} ({guid}) missing" for guid, d in month.documents_by_guid.items() if guid not in at.documents
    ]
    losses += [f"EXTF job {job} {result}" for job, result in at.job_results.items() if result != "succeeded"]
    booked: defaultdict[str, Decimal] = defaultdict(Decimal)
    currencies: defaultdict[str, set[str]] = defaultdict(set)
    payments: Counter[tuple[str, Decimal]] = Counter()
    for row, count in at.rows.items():
        if row.document_link:
            guid = row.document_link.split('"')[1]
            # An invoice credits revenue against a customer and debits cost against a supplier.
            to_customer = row.contra_account < 70000
            booked[guid] += (1 if (row.side == "H") == to_customer else -1) * row.amount * count
            currencies[guid].add(row.currency)
        else:
            payments[(row.currency, row.amount if row.side == "S" else -row.amount)] += count
    equal = {
        guid
        for guid, document in month.documents_by_guid.items()
        if booked.get(guid) == document.total and currencies.get(guid) == {document.currency}
    }
    wrong = [
        f"{d.kind} {d.number} ({guid}): booked {booked.get(guid)} {currencies.get(guid)}, Cin7 {d.total} {d.currency}"
        for guid, d in month.documents_by_guid.items()
        if guid not in equal
    ]
    wrong += [f"rows of {guid} belong to no Cin7 document" for guid in booked if guid not in month.documents_by_guid]
    duplicates += [f"payment {c} {a} booked {n}x more" for (c, a), n in (payments - month.payments).items()]
    losses += [f"payment {c} {a} missing {n}x" for (c, a), n in (month.payments - payments).items()]
    return MonthFindings(
        duplicates=duplicates,
        losses=losses,
        wrong_totals=wrong,
        pdfs_once=sum(1 for guid in month.documents_by_guid if at.documents.get(guid) == 1),
        totals_equal=len(equal),
        payments_booked=sum((payments & month.payments).values()),
    )
