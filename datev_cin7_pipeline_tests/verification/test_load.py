"""Load: the webhook receiver loses nothing under 10,000 deliveries while pipeline runs write to the same
state store, and a month of documents reaches DATEV once, with the pipeline's peak memory reported.

Webhooks (on SQLite, and on PostgreSQL, marked `postgres`): the receiver runs as its own process
(`crash_runner.py receiver`, registered with `webhooks register` as Cin7 would call it); 10,000 deliveries
of seven event types arrive over 32 keep-alive connections, every tenth a repeat of an earlier event,
while the demo company's periods 2026-02 to 2026-05 run one after the other in child processes against
the simulators, and again from the first until the load is through. Then:
- every delivery was answered 202 at its first attempt: the receiver waits for the store's write lock
  instead of failing (a 5xx or a dropped connection would be retried here as Cin7 retries, and reported);
- each event's first delivery was "accepted", each repeat a "duplicate" naming the same inbox id;
- the inbox holds one row per event sent (by event type and document id), under the id its deliveries
  were answered with, counting exactly its deliveries; the audit trail has one entry per delivery;
- pipeline runs really wrote in between: their audit entries interleave with the receiver's, and a run was
  going during the load (on SQLite the load can be over within one run, so no number of runs is asked);
- every run ended clean and DATEV holds exactly what clean runs of the same periods hold (harness.compare:
  no duplicates, no losses; a repeated period sends nothing).

A month (CI: 300 documents; `load_full`: 10,000): invoices, credit notes and their payments cloned from the
demo company into 2026-05, run through every asset in a child process at the highest Cin7 call limit a
connection allows. What DATEV must hold is derived from the Cin7 data alone: every document's PDF once,
its rows adding up to its Cin7 total in its currency, every payment once; and the run's own checks pass
(Cin7 totals reconcile). A control shows the same check reporting a missing PDF, a row booked twice and a
payment booked twice. The run's peak RSS is printed at the end of the module; the memory bound itself is
measured by `benchmarks/month_memory.py`, not asserted here.

CI runs the webhook load on both backends and the 300-document month (about 1.5 minutes on two cores).
The long runs, the 10,000-document month (about 10 minutes) and 50,000 deliveries over 64 connections on
both backends (a few minutes), are marked `load_full`:

    .venv/bin/python -m pytest -p no:cacheprovider datev_cin7_pipeline_tests/verification/test_load.py -m load_full
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from datev_cin7_pipeline.cli import main as cli
from datev_cin7_pipeline_tests.verification.harness import (
    AtDatev,
    at_datev,
    compare,
    kill_group,
    run_child,
    simulated_install,
)
from datev_cin7_pipeline_tests.verification.load_support import (
    EVENT_KEYS,
    RunLoop,
    check_month,
    cin7_calls,
    deliver,
    delivery_plan,
    installed,
    intake,
    month_install,
    month_of,
    run_measured,
    subscription_headers,
    wait_until,
)
from datev_cin7_pipeline_tests.verification.test_crash_matrix import _free_port, _start_receiver

pytestmark = [pytest.mark.slow]

DELIVERIES = 10_000
REPEAT_EVERY = 10
CONCURRENCY = 32
FULL_DELIVERIES = 50_000
FULL_CONCURRENCY = 64
PERIODS = ("2026-02-01", "2026-03-01", "2026-04-01", "2026-05-01")
CI_MONTH = 300
FULL_MONTH = 10_000
FIGURES: list[str] = []


@pytest.fixture(scope="module", autouse=True)
def figures(request: pytest.FixtureRequest) -> Iterator[None]:
    """The measured figures, printed after the module."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if FIGURES and reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():  # teardown output is captured otherwise
            for line in FIGURES:
                reporter.write_line(line)


@pytest.fixture(scope="module")
def clean_periods(tmp_path_factory: pytest.TempPathFactory) -> AtDatev:
    """What DATEV holds after the periods ran once each, one after the other, in a fresh install."""
    with simulated_install(tmp_path_factory.mktemp("clean")) as install:
        for period in PERIODS:
            run = run_child(install, period=period)
            assert run.clean, run.log
        expected = at_datev(install)
    assert len(expected.documents) >= 20
    assert set(expected.job_results.values()) == {"succeeded"}
    return expected


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str | None:
    """None: the default SQLite file in the home; else a PostgreSQL URL in a schema of its own."""
    if request.param == "sqlite":
        return None
    return str(request.getfixturevalue("postgres_schema_url"))


@pytest.fixture
def full_load(request: pytest.FixtureRequest) -> None:
    if "load_full" not in str(request.config.getoption("markexpr") or ""):
        pytest.skip("the long load runs run with `-m load_full`")


# ##### WEBHOOKS WHILE RUNS WRITE


def test_the_receiver_loses_no_delivery_while_runs_write_to_the_same_store(
    tmp_path: Path, clean_periods: AtDatev, store_url: str | None, request: pytest.FixtureRequest
) -> None:
    _webhook_load(tmp_path, clean_periods, store_url, request.node.callspec.id, DELIVERIES, CONCURRENCY)


@pytest.mark.load_full
@pytest.mark.timeout(1800)
def test_the_receiver_loses_no_delivery_in_a_long_load(
    tmp_path: Path, clean_periods: AtDatev, store_url: str | None, request: pytest.FixtureRequest, full_load: None
) -> None:
    label = f"{request.node.callspec.id}, long"
    _webhook_load(tmp_path, clean_periods, store_url, label, FULL_DELIVERIES, FULL_CONCURRENCY)


def _webhook_load(
    tmp_path: Path, clean_periods: AtDatev, store_url: str | None, label: str, deliveries: int, concurrency: int
) -> None:
    plan = delivery_plan(deliveries, repeat_every=REPEAT_EVERY)
    repeats = [d for d in plan if d.original is not None]
    sent_per_event = Counter(d.event.identity for d in plan)
    with installed(tmp_path, store_url) as install:
        port = _free_port()
        with install.as_home():
            registered = CliRunner().invoke(cli, ["webhooks", "register", "--url", f"http://127.0.0.1:{port}"])
        assert registered.exit_code == 0, registered.output
        headers = subscription_headers(install)
        receiver = _start_receiver(install, port, None, "load")
        runs = RunLoop(install, PERIODS)
        try:
            before = cin7_calls(install)
            runs.start()
            # The load starts once the first run is reading Cin7: from then on it writes to the store.
            wait_until(lambda: cin7_calls(install) > before, 120, "the first run reading Cin7")
            load = deliver(plan, headers, concurrency=concurrency)
        finally:
            runs.stopping.set()
            runs.join(timeout=300)
            kill_group(receiver)
        assert runs.error is None, runs.error
        stored = intake(install)
        at = at_datev(install)
    overlapping = runs.overlapping(load.started, load.ended)
    FIGURES.append(
        f"webhook load ({label}): deliveries={len(plan)} distinct={len(sent_per_event)} "
        f"repeats={len(repeats)} statuses={dict(load.final_statuses())} failed_attempts={dict(load.failed_attempts())} "
        f"lost={len(set(load.sent_per_event()) - set(stored.inbox))} inbox_rows={stored.inbox_rows} "
        f"seconds={load.seconds:.1f} per_second={load.per_second:.0f} runs={len(runs.runs)} "
        f"runs_concurrent={len(overlapping)} pipeline_audit_entries_interleaved={stored.pipeline_audit_ids_between}"
    )

    # Every delivery answered 202 at once, none refused, failed or dropped.
    assert load.final_statuses() == {202: deliveries}
    assert load.failed_attempts() == Counter()
    first_answer = {d.event.identity: a for d, a in zip(plan, load.answers, strict=True) if d.original is None}
    assert Counter(first_answer[i].outcome for i in first_answer) == {"accepted": len(sent_per_event)}
    assert Counter(load.answers[d.index].outcome for d in repeats) == {"duplicate": len(repeats)}
    assert [d.index for d in repeats if load.answers[d.index].event_id != load.answers[d.original].event_id] == []

    # The inbox: one row per event, under the id its deliveries were answered with, counting all of them.
    assert stored.inbox_rows == len(stored.inbox) == len(sent_per_event) == deliveries - len(repeats)
    assert set(stored.inbox) == set(sent_per_event) == set(load.sent_per_event())
    assert {i: row.delivery_count for i, row in stored.inbox.items()} == dict(sent_per_event)
    assert {i: row.event_id for i, row in stored.inbox.items()} == {i: a.event_id for i, a in first_answer.items()}
    assert {row.status for row in stored.inbox.values()} == {"pending"}
    assert {event_type for event_type, _ in stored.inbox} == set(EVENT_KEYS)
    assert stored.audit_actions == {"webhook.received": len(sent_per_event), "webhook.duplicate": len(repeats)}

    # The runs wrote to the same store while the deliveries came in.
    assert stored.pipeline_audit_ids_between > 0
    assert overlapping  # how many depends on the machine's speed: the load may end within one run
    assert [r.period for r in runs.runs[: len(PERIODS)]] == list(PERIODS)
    assert [(r.period, r.run.log) for r in runs.runs if not r.run.clean] == []

    # DATEV holds what clean runs of the periods hold: repeated periods sent nothing, nothing is missing.
    findings = compare(clean_periods, at)
    assert findings.duplicates == []
    assert findings.losses == []


# ##### A MONTH OF DOCUMENTS


def _month(tmp_path: Path, documents: int) -> None:
    month = month_of(documents)
    with month_install(tmp_path, month) as install:
        run = run_measured(install)
        at = at_datev(install)
    findings = check_month(month, at)
    payments = sum(month.payments.values())
    FIGURES.append(
        f"month of {month.documents} documents: pipeline peak RSS {run.peak_rss_mb:.0f} MB "
        f"({run.peak_rss_mb * 1024 / month.documents:.1f} KB per document), run {run.seconds:.0f} s; "
        f"PDFs once {findings.pdfs_once}, totals equal to Cin7 {findings.totals_equal}, "
        f"payments booked {findings.payments_booked}/{payments}, duplicates {len(findings.duplicates)}, "
        f"losses {len(findings.losses)}, wrong totals {len(findings.wrong_totals)}"
    )

    assert run.clean, (run.outcome, run.log)
    assert run.outcome is not None
    assert run.outcome["checks"]["cin7_totals_reconcile"] is True
    assert findings.duplicates == []
    assert findings.losses == []
    assert findings.wrong_totals == []
    assert findings.pdfs_once == findings.totals_equal == len(month.documents_by_guid) == documents
    assert findings.payments_booked == payments
    assert payments > documents // 2  # most documents are paid in the month: the payments path is covered
    assert sum(at.rows.values()) > documents  # multi-rate documents have several rows each

    # Control: the same check sees a PDF missing, a document's row booked twice and a payment booked twice.
    missing = next(iter(at.documents))
    doubled = next(row for row in at.rows if row.document_link)
    paid_twice = next(row for row in at.rows if not row.document_link)
    broken = replace(at, documents=at.documents - Counter({missing: 1}), rows=at.rows + Counter([doubled, paid_twice]))
    control = check_month(month, broken)
    assert [loss.split(" (")[0] for loss in control.losses] == [f"PDF of {month.documents_by_guid[missing].number}"]
    assert [wrong.split(": ")[0] for wrong in control.wrong_totals] == [
        f"{document.kind} {document.number} ({guid})"
        for guid, document in month.documents_by_guid.items()
        if f'"{guid}"' in doubled.document_link
    ]
    assert len(control.duplicates) == 1
    assert control.duplicates[0].startswith("payment ")
    assert control.pdfs_once == control.totals_equal == documents - 1


def test_a_month_of_documents_reaches_datev_once(tmp_path: Path) -> None:
    _month(tmp_path, CI_MONTH)


@pytest.mark.load_full
@pytest.mark.timeout(3600)
def test_a_month_of_10000_documents_reaches_datev_once(tmp_path: Path, full_load: None) -> None:
    _month(tmp_path, FULL_MONTH)
