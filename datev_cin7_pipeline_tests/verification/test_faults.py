"""Faults, end to end through the assets: each scenario breaks Cin7, DATEV or the webhooks the way the
real services break, runs the period (again, where a person would), and checks the end state at DATEV
against a clean run: every PDF once, every booking row once across the succeeded EXTF jobs, none missing.

Scenarios and expected end states:
- DATEV drops the connection after it accepted the EXTF file: the job is found by its Reference-Id, the
  file is not sent again; the same after it accepted a PDF (the repeat is a 409, the PDF is there once).
- DATEV 503 maintenance: a short one is waited out (Retry-After) within the run; a long one fails the run
  with a clear message, and the next run sends the file once (after asking DATEV by Reference-Id).
- DATEV 5xx: on status reads retried in the run; on the EXTF upload itself (unclear) the run stops and
  the next one asks before it sends; a connection dropped before the upload arrived is sent once later.
- The access token expires mid-run: one refresh, the run goes through.
- A revoked or a reused refresh token: the run stops with "log in again" (the connection's state says so,
  nothing was sent); after the login the period goes through once.
- Two processes refresh at once (two runs of the period together): neither spends a used refresh token.
- Slow connections to both services: the run is slower, nothing else changes.
- Cin7 throttling storms, 429 and 503, with and without Retry-After; Cin7 5xx and dropped connections:
  ridden out within the run.
- A DATEV job fails; after the cause is fixed `datev-cin7 replay` sends its rows in a new file once. The
  cause is either injected, or a real one: a mistyped Mandant in the mapping, which DATEV refuses.
- Webhooks duplicated and out of order: one inbox event per document, one run, each document once.
- A webhook subscription Cin7 deactivated after failed deliveries: the scheduled sync still books it.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import requests
from click.testing import CliRunner
from starlette.testclient import TestClient

from datev_cin7_pipeline import definitions
from datev_cin7_pipeline.cli import main as cli
from datev_cin7_pipeline.config import load_connections, require_connection
from datev_cin7_pipeline.datev.api import DatevApi
from datev_cin7_pipeline.datev.connect import datev_tokens_for
from datev_cin7_pipeline.datev.oauth import LOGIN_REQUIRED, REFUSED
from datev_cin7_pipeline.defs.automation.schedules import open_periods_sync_schedule
from datev_cin7_pipeline.defs.automation.sensors import cin7_webhook_inbox_sensor
from datev_cin7_pipeline.defs.bookings.assets import datev_booking_lines
from datev_cin7_pipeline.defs.cin7.assets import cin7_documents
from datev_cin7_pipeline.defs.connector import ConnectorResource
from datev_cin7_pipeline.defs.datev.assets import (
    JOBS_SUCCEEDED,
    datev_booking_jobs,
    datev_documents,
    datev_extf_batches,
)
from datev_cin7_pipeline.sandbox.cin7 import DEMO_ACCOUNT_ID, DEMO_APPLICATION_KEY
from datev_cin7_pipeline.sandbox.cin7.webhooks import delivery_headers
from datev_cin7_pipeline.store import CredentialsVault, StateStore
from datev_cin7_pipeline.store import jobs as job_ledger
from datev_cin7_pipeline.store.audit import history
from datev_cin7_pipeline.store.models import DatevJob, DocumentRecord, InboxEvent
from datev_cin7_pipeline.webhooks.app import build_webhook_app
from datev_cin7_pipeline.webhooks.setup import receiver_connections
from datev_cin7_pipeline_tests.verification.crash_runner import step_errors
from datev_cin7_pipeline_tests.verification.harness import (
    PERIOD,
    AtDatev,
    Install,
    at_datev,
    compare,
    run_child,
    simulated_install,
)

pytestmark = [pytest.mark.slow]

ASSETS = [cin7_documents, datev_booking_lines, datev_extf_batches, datev_documents, datev_booking_jobs]
EXTF_IMPORT = "POST accounting-extf-files /clients/{client-id}/extf-files/import"
DOCUMENT_PUT = "PUT accounting-documents"
JOB_READ = "GET accounting-extf-files /clients/{client-id}/extf-files/jobs/{job-id}"


# ##### HELPERS


def materialize(install: Install, period: str = PERIOD) -> dg.ExecuteInProcessResult:
    with install.as_home():
        return dg.materialize(
            ASSETS,
            partition_key=period,
            resources={"connector": ConnectorResource(poll_first_delay_seconds=0.05)},
            raise_on_error=False,
        )


def clean(result: dg.ExecuteInProcessResult) -> bool:
    return result.success and all(e.passed for e in result.get_asset_check_evaluations())


def datev_calls(install: Install) -> list[dict[str, Any]]:
    return list(requests.get(f"{install.datev_url}/_sim/calls", timeout=10).json()["calls"])


def cin7_outcomes(install: Install) -> dict[str, int]:
    summary = requests.get(f"{install.cin7_url}/_sim/calls", timeout=10).json()["Summary"]
    return dict(summary["calls_per_outcome"])


def label(call: dict[str, Any]) -> str:
    return f"{call['method']} {call['api']} {call['endpoint']}"


def job_actions(install: Install) -> list[str]:
    """The audit actions of the period's EXTF jobs, oldest first."""
    with install.as_home():
        store = StateStore.open()
    try:
        with store.session() as session:
            references = [ref for (ref,) in session.query(DatevJob.reference_id).order_by(DatevJob.id)]
            return [event.action for ref in references for event in history(session, ref)]
    finally:
        store.dispose()


def assert_once(expected: AtDatev, install: Install) -> AtDatev:
    actual = at_datev(install)
    findings = compare(expected, actual)
    assert findings.duplicates == []
    assert findings.losses == []
    return actual


def token_grants(install: Install) -> int:
    return sum(1 for call in datev_calls(install) if call["endpoint"] == "/token" and call["status"] == 200)


@pytest.fixture(scope="module")
def expected(tmp_path_factory: pytest.TempPathFactory) -> AtDatev:
    """DATEV's end state after a clean run of the period in a fresh install."""
    with simulated_install(tmp_path_factory.mktemp("clean")) as install:
        result = materialize(install)
        assert clean(result)
        at = at_datev(install)
    assert len(at.documents) >= 5
    assert sum(at.rows.values()) >= 10
    return at


@pytest.fixture
def install(tmp_path: Path) -> Iterator[Install]:
    with simulated_install(tmp_path) as fresh:
        yield fresh


# ##### DATEV


def test_datev_drops_the_connection_after_accepting_the_extf_file(install: Install, expected: AtDatev) -> None:
    install.datev_faults(drop_after_accept_burst=1, target="extf-files/import")

    result = materialize(install)

    assert clean(result), step_errors(result)
    imports = [call["outcome"] for call in datev_calls(install) if label(call) == EXTF_IMPORT]
    assert imports == ["dropped after accept"]  # sent once; its job found by Reference-Id, not sent again
    actions = job_actions(install)
    assert "datev.job_found_by_reference" in actions
    assert "datev.job_submitted" not in actions
    at = assert_once(expected, install)
    assert list(at.job_results.values()) == ["succeeded"]


def test_datev_drops_the_connection_after_accepting_a_pdf(install: Install, expected: AtDatev) -> None:
    install.datev_faults(drop_after_accept_burst=1, target=DOCUMENT_PUT)

    result = materialize(install)

    assert clean(result), step_errors(result)
    puts = [(call["outcome"], call["status"]) for call in datev_calls(install) if label(call).startswith(DOCUMENT_PUT)]
    assert puts.count(("dropped after accept", None)) == 1
    assert puts.count(("conflict", 409)) == 1  # the repeat after the broken connection: "already there"
    with install.as_home():
        store = StateStore.open()
    with store.session() as session:
        statuses = sorted(status for (status,) in session.query(DocumentRecord.status))
    store.dispose()
    assert statuses.count("already_present") == 1
    assert_once(expected, install)


def test_a_short_datev_maintenance_is_waited_out(install: Install, expected: AtDatev) -> None:
    install.datev_faults(maintenance_burst=3, maintenance_retry_after=1)
    started = time.monotonic()

    result = materialize(install)

    assert clean(result), step_errors(result)
    assert time.monotonic() - started >= 3  # Retry-After: 1 honoured three times
    assert sum(1 for call in datev_calls(install) if call["status"] == 503) == 3
    assert_once(expected, install)


def test_a_long_datev_maintenance_stops_the_run_and_the_next_run_sends_once(
    install: Install, expected: AtDatev
) -> None:
    install.datev_faults(maintenance_burst=4, maintenance_retry_after=0, target="extf-files/import")

    stopped = materialize(install)

    assert not stopped.success
    assert any("(503)" in error for error in step_errors(stopped)), step_errors(stopped)
    assert at_datev(install).extf_uploads == {}

    again = materialize(install)

    assert clean(again), step_errors(again)
    calls = [label(call) for call in datev_calls(install)]
    last_import = len(calls) - 1 - calls[::-1].index(EXTF_IMPORT)
    # The file may have left in the failed run: the next one asks DATEV by Reference-Id before sending.
    assert "GET accounting-extf-files /clients/{client-id}/extf-files/jobs" in calls[:last_import]
    assert_once(expected, install)


@pytest.mark.parametrize("fault", ["error_burst", "drop_burst"])
def test_a_failed_extf_upload_is_sent_once_by_the_next_run(install: Install, expected: AtDatev, fault: str) -> None:
    """A 500 or a dropped connection on the upload: DATEV may or may not have it; nothing is sent blindly."""
    install.datev_faults(**{fault: 1, "error_status": 500, "target": "extf-files/import"})

    first = materialize(install)
    second = materialize(install)

    assert not first.success
    assert clean(second), step_errors(second)
    assert_once(expected, install)


def test_datev_5xx_on_status_reads_is_retried_within_the_run(install: Install, expected: AtDatev) -> None:
    install.datev_faults(error_burst=2, error_status=502, target="extf-files/jobs/")

    result = materialize(install)

    assert clean(result), step_errors(result)
    assert [call["status"] for call in datev_calls(install) if label(call) == JOB_READ][:2] == [502, 502]
    assert_once(expected, install)


def test_an_access_token_expiring_mid_run_is_refreshed_once(
    install: Install, expected: AtDatev, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = DatevApi.upload_document
    uploads = []

    def upload_then_expire(self: DatevApi, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        uploads.append(result)
        if len(uploads) == 2:  # DATEV ends the token's life between two uploads
            install.datev_faults(expire_access_tokens=True)
        return result

    monkeypatch.setattr(DatevApi, "upload_document", upload_then_expire)
    grants_before = token_grants(install)

    result = materialize(install)

    assert clean(result), step_errors(result)
    assert token_grants(install) - grants_before == 1
    assert sum(1 for call in datev_calls(install) if call["status"] == 401) == 1
    assert install.login_state()[0] == "logged_in"
    assert_once(expected, install)


@pytest.mark.parametrize("how", ["revoked", "reused"])
def test_a_refused_refresh_token_asks_for_a_new_login_and_then_goes_through(
    install: Install, expected: AtDatev, how: str
) -> None:
    if how == "revoked":
        install.datev_faults(revoke_refresh_tokens=True, expire_access_tokens=True)
    else:  # a stale copy of the refresh token (e.g. a restored backup) after the token rotated
        with install.as_home():
            store = StateStore.open()
            vault = CredentialsVault(store, actor="test")
            stale = vault.get("default", "datev", "refresh_token")
            assert stale is not None
            datev_tokens_for("default", require_connection("default"), vault).access_token(force_refresh=True)
            rotated = vault.get("default", "datev", "refresh_token")
            assert rotated is not None
            assert rotated.reveal() != stale.reveal()  # DATEV rotated it
            vault.set("default", "datev", "refresh_token", stale.reveal())
            store.dispose()
        install.datev_faults(expire_access_tokens=True)
    sent_before = at_datev(install)

    refused = materialize(install)

    assert not refused.success
    assert any("datev-cin7 datev login" in error for error in step_errors(refused)), step_errors(refused)
    assert install.login_state() == (LOGIN_REQUIRED, REFUSED)
    assert at_datev(install) == sent_before  # nothing went to DATEV for May

    install.log_in_again()
    after_login = materialize(install)

    assert clean(after_login), step_errors(after_login)
    assert install.login_state()[0] == "logged_in"
    assert_once(expected, install)


def test_two_processes_refreshing_at_once_spend_the_refresh_token_once(install: Install, expected: AtDatev) -> None:
    install.datev_faults(expire_access_tokens=True)
    runs: list[Any] = [None, None]

    def run(i: int) -> None:
        runs[i] = run_child(install)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    refused = [c for c in datev_calls(install) if c["endpoint"] == "/token" and c["status"] != 200]
    assert refused == []  # the second process found the first one's fresh token instead of refreshing again
    assert install.login_state()[0] == "logged_in"
    assert all(r.outcome and r.outcome["success"] for r in runs), [r.log for r in runs]
    assert_once(expected, install)


def _the_failed_job() -> str:
    """The Reference-Id of the one failed job in the current home's ledger."""
    store = StateStore.open()
    try:
        with store.session() as session:
            (failed,) = [j.reference_id for j in session.query(DatevJob) if j.status == job_ledger.FAILED]
            return failed
    finally:
        store.dispose()


def test_a_failed_job_is_replayed_once_after_the_cause_is_fixed(install: Install, expected: AtDatev) -> None:
    install.datev_faults(extf_job_failures=1)

    failed = materialize(install)

    (check,) = [e for e in failed.get_asset_check_evaluations() if e.check_name == JOBS_SUCCEEDED]
    assert not check.passed
    assert list(at_datev(install).job_results.values()) == ["failed"]
    with install.as_home():
        replayed = CliRunner().invoke(cli, ["replay", "--job", _the_failed_job()])
        again = CliRunner().invoke(cli, ["replay", "--period", "2026-05"])
    rerun = materialize(install)

    assert replayed.exit_code == 0, replayed.output
    assert again.exit_code == 0, again.output
    assert clean(rerun), step_errors(rerun)
    at = assert_once(expected, install)
    assert sorted(at.job_results.values()) == ["failed", "succeeded"]
    assert sorted(at.extf_uploads.values()) == [1, 1]  # the failed file and its replacement, each once


def test_a_job_datev_fails_for_a_mapping_mistake_goes_once_after_the_mapping_is_fixed(
    install: Install, expected: AtDatev
) -> None:
    """The mapping names Mandant 55030 (a typo) while the connection books into 29098-55003: DATEV fails the
    job (1008834, client mismatch); the mapping is corrected, `replay` sends a new file, and every row is
    booked once, in the succeeded job only."""
    import yaml

    mapping_file = install.home / "mapping-default.yaml"
    correct = mapping_file.read_text("utf-8")
    mistaken = yaml.safe_load(correct)
    mistaken["datev"]["client_number"] = 55030
    mapping_file.write_text(yaml.safe_dump(mistaken, allow_unicode=True, sort_keys=False), "utf-8")

    failed = materialize(install)

    (check,) = [e for e in failed.get_asset_check_evaluations() if e.check_name == JOBS_SUCCEEDED]
    assert not check.passed
    assert "Client (12)" in str(check.metadata)  # DATEV's validation detail names the field
    assert list(at_datev(install).job_results.values()) == ["failed"]
    mapping_file.write_text(correct, "utf-8")
    with install.as_home():
        replayed = CliRunner().invoke(cli, ["replay", "--job", _the_failed_job()])
    rerun = materialize(install)

    assert replayed.exit_code == 0, replayed.output
    assert clean(rerun), step_errors(rerun)
    at = assert_once(expected, install)
    assert sorted(at.job_results.values()) == ["failed", "succeeded"]
    assert sorted(at.extf_uploads.values()) == [1, 1]  # the mistaken file and the corrected one, each once


def test_slow_connections_to_both_services_only_slow_the_run(install: Install, expected: AtDatev) -> None:
    install.datev_faults(latency_seconds=0.15)
    install.cin7_faults(latency_seconds=0.05)
    started = time.monotonic()

    result = materialize(install)

    assert clean(result), step_errors(result)
    datev_calls_made = sum(1 for call in datev_calls(install) if call["api"])
    assert time.monotonic() - started >= 0.15 * datev_calls_made  # the latency really applied
    assert_once(expected, install)


# ##### CIN7


@pytest.mark.parametrize(
    ("status", "retry_after", "burst"),
    [(429, "seconds", 6), (503, "http-date", 6), (429, None, 2), (503, None, 2)],
    ids=["429-retry-after", "503-http-date", "429-bare", "503-bare"],
)
def test_a_cin7_throttling_storm_is_ridden_out(
    tmp_path: Path, expected: AtDatev, status: int, retry_after: str | None, burst: int
) -> None:
    # Without Retry-After the client backs off from 5 s, so the bare storms are shorter.
    with simulated_install(tmp_path, cin7={"throttle_status": status, "retry_after": retry_after}) as install:
        install.cin7_faults(throttle_burst=burst)

        result = materialize(install)

        assert clean(result), step_errors(result)
        assert cin7_outcomes(install).get("throttled") == burst
        assert_once(expected, install)


def test_cin7_5xx_and_dropped_connections_are_retried(install: Install, expected: AtDatev) -> None:
    install.cin7_faults(error_burst=2, error_status=502, drop_burst=2)

    result = materialize(install)

    assert clean(result), step_errors(result)
    outcomes = cin7_outcomes(install)
    assert (outcomes.get("error"), outcomes.get("dropped")) == (2, 2)
    assert_once(expected, install)


# ##### WEBHOOKS


def _new_paid_sale(install: Install) -> dict[str, Any]:
    sale = requests.post(f"{install.cin7_url}/_sim/documents/sale/new/authorise", timeout=30).json()
    sale_id = str(sale["Details"]["SaleID"])
    paid = requests.post(f"{install.cin7_url}/_sim/documents/sale/{sale_id}/pay", timeout=30).json()
    return {"sale": sale, "paid": paid, "sale_id": sale_id.lower(), "number": str(sale["Details"]["InvoiceNumber"])}


def _period_of_today() -> str:
    today = dt.datetime.now(dt.UTC).date()  # the simulator dates new documents by the real clock
    return today.replace(day=1).isoformat()


def _document_rows(at: AtDatev, number: str) -> dict[Any, int]:
    return {row: n for row, n in at.rows.items() if row.document_field_1 == number}


def test_duplicated_and_out_of_order_webhooks_book_each_document_once(install: Install) -> None:
    new = _new_paid_sale(install)
    with install.as_home():
        registered = CliRunner().invoke(cli, ["webhooks", "register", "--url", "http://127.0.0.1:9/"])
        assert registered.exit_code == 0, registered.output
        store = StateStore.open()
        vault = CredentialsVault(store, actor="test")
        receiver = TestClient(build_webhook_app(store, receiver_connections(load_connections(), store, vault)))
        subscriptions = requests.get(
            f"{install.cin7_url}/ExternalApi/v2/webhooks",
            headers={"api-auth-accountid": DEMO_ACCOUNT_ID, "api-auth-applicationkey": DEMO_APPLICATION_KEY},
            timeout=10,
        ).json()["Webhooks"]
        by_type = {s["Type"]: s for s in subscriptions}
        invoice = ("Sale/InvoiceAuthorised", {"SaleTaskID": new["sale_id"], "SaleOrderNumber": "x"})
        payment_type = str(new["paid"]["Event"])
        payment = (payment_type, {"SaleID": new["sale_id"], "DocumentNumber": new["number"]})
        answers = []
        # The payment arrives before the invoice, and Cin7 retries both.
        for event_type, payload in (payment, invoice, payment, invoice, payment):
            headers = {**delivery_headers(by_type[event_type], "Root=1-0-0"), "X-Cin7-Event": event_type}
            answers.append(receiver.post("/webhooks/cin7/default", json=payload, headers=headers).json()["status"])
        with store.session() as session:
            inbox = sorted((e.event_type, e.delivery_count) for e in session.query(InboxEvent))
        sensor = cin7_webhook_inbox_sensor(dg.build_sensor_context(resources={"connector": ConnectorResource()}))
        store.dispose()
    assert answers == ["accepted", "accepted", "duplicate", "duplicate", "duplicate"]
    assert inbox == sorted([(invoice[0], 2), (payment_type, 3)])
    assert isinstance(sensor, dg.SensorResult)
    periods = sorted({str(r.partition_key) for r in sensor.run_requests or []})
    assert periods == [_period_of_today()]

    first = materialize(install, periods[0])
    second = materialize(install, periods[0])

    assert clean(first), step_errors(first)
    assert clean(second), step_errors(second)
    at = at_datev(install)
    rows = _document_rows(at, new["number"])
    assert len(rows) >= 2  # the invoice and its payment
    assert set(rows.values()) == {1}
    assert all(n == 1 for n in at.documents.values())
    assert all(n == 1 for n in at.extf_uploads.values())


def test_a_deactivated_subscription_is_caught_by_the_scheduled_sync(install: Install) -> None:
    with install.as_home():  # the receiver is down for good: every delivery fails
        registered = CliRunner().invoke(cli, ["webhooks", "register", "--url", "http://127.0.0.1:9/"])
    assert registered.exit_code == 0, registered.output
    new = _new_paid_sale(install)
    deadline = time.monotonic() + 60
    while True:
        webhooks = requests.get(
            f"{install.cin7_url}/ExternalApi/v2/webhooks",
            headers={"api-auth-accountid": DEMO_ACCOUNT_ID, "api-auth-applicationkey": DEMO_APPLICATION_KEY},
            timeout=10,
        ).json()["Webhooks"]
        if not next(w for w in webhooks if w["Type"] == "Sale/InvoiceAuthorised")["IsActive"]:
            break  # Cin7 gave up after its retries and deactivated the subscription
        assert time.monotonic() < deadline
        time.sleep(0.5)

    with install.as_home():
        store = StateStore.open()
        with store.session() as session:
            assert session.query(InboxEvent).count() == 0  # no webhook ever arrived
        store.dispose()
        # Against the real definitions, so the partition keys are checked against the job's.
        context = dg.build_schedule_context(
            scheduled_execution_time=dt.datetime.now(dt.UTC), repository_def=definitions.defs().get_repository_def()
        )
        requests_ = list(open_periods_sync_schedule.evaluate_tick(context).run_requests or [])
    periods = [str(r.partition_key) for r in requests_]
    assert _period_of_today() in periods
    for period in periods:
        assert clean(result := materialize(install, period)), step_errors(result)

    at = at_datev(install)
    rows = _document_rows(at, new["number"])
    assert len(rows) >= 2
    assert set(rows.values()) == {1}
    assert all(n == 1 for n in at.documents.values())
