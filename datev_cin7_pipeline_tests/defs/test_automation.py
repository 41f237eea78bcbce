"""When the pipeline runs: the webhook inbox sensor (cursor, run keys, duplicates, several periods), the
schedules (open periods, month-end reconciliation) and the DATEV job sensor (a job left pending is
finished without a run and its period refreshed)."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml

from datev_cin7_pipeline import definitions, settings
from datev_cin7_pipeline.defs.automation.schedules import (
    closed_period_reconciliation_schedule,
    open_periods_sync_schedule,
)
from datev_cin7_pipeline.defs.automation.sensors import cin7_webhook_inbox_sensor, datev_job_sensor
from datev_cin7_pipeline.defs.bookings.assets import datev_booking_lines
from datev_cin7_pipeline.defs.cin7.assets import INBOX_EVENTS_TAG, cin7_documents
from datev_cin7_pipeline.defs.connector import ConnectorResource
from datev_cin7_pipeline.defs.datev.assets import (
    JOBS_SUCCEEDED,
    datev_booking_jobs,
    datev_documents,
    datev_extf_batches,
)
from datev_cin7_pipeline.periods import open_periods
from datev_cin7_pipeline.sandbox.environment import SandboxOptions, sandbox_environment
from datev_cin7_pipeline.store import StateStore
from datev_cin7_pipeline.store import jobs as job_ledger
from datev_cin7_pipeline.store.connections import ensure_connection
from datev_cin7_pipeline.store.inbox import IGNORED, record_delivery
from datev_cin7_pipeline.store.models import DatevJob, InboxEvent
from datev_cin7_pipeline.store.snapshots import save_snapshot
from datev_cin7_pipeline.webhooks.runs import parse_event_ids
from datev_cin7_pipeline_tests.mapping.support import TODAY, demo

REPOSITORY = definitions.defs().get_repository_def()
BERLIN = dt.timezone(dt.timedelta(hours=2))  # CEST, for readable summer moments


@pytest.fixture
def inbox(isolated_home: Path) -> Iterator[StateStore]:
    home = settings.ensure_home_dir()
    (home / settings.CONNECTIONS_FILE).write_text(yaml.safe_dump({"version": 1, "connections": {"default": {}}}))
    store = StateStore.open()
    yield store
    store.dispose()


def _deliver(
    store: StateStore, document_id: str, received: dt.datetime, event_type: str = "Sale/InvoiceAuthorised"
) -> int:
    with store.session() as session:
        connection_id = ensure_connection(session, "default", actor="test")
        receipt = record_delivery(
            session,
            connection_id=connection_id,
            business_key=f"{event_type}|sale|{document_id}",
            event_type=event_type,
            payload={"SaleID": document_id},
            document_kind="sale",
            document_id=document_id,
        )
        event = session.get(InboxEvent, receipt.event_id)
        assert event is not None
        if receipt.delivery_count == 1:
            event.first_received_at = received
        return receipt.event_id


def _evaluate(cursor: str | None) -> dg.SensorResult:
    context = dg.build_sensor_context(cursor=cursor, resources={"connector": ConnectorResource()})
    result = cin7_webhook_inbox_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def _runs(result: dg.SensorResult) -> dict[str, tuple[str, list[int]]]:
    return {
        str(r.partition_key): (str(r.run_key), parse_event_ids(r.tags[INBOX_EVENTS_TAG]))
        for r in result.run_requests or []
    }


def test_new_events_ask_for_their_periods_with_run_keys_from_the_events(inbox: StateStore) -> None:
    late = _deliver(inbox, "sale-new", dt.datetime(2026, 6, 4, 9, 0, tzinfo=BERLIN))  # early June: May still open
    mid = _deliver(inbox, "sale-mid", dt.datetime(2026, 6, 20, 9, 0, tzinfo=BERLIN))

    result = _evaluate(None)

    assert _runs(result) == {
        "2026-05-01": (f"inbox:default:2026-05-01:{late}", [late]),
        "2026-06-01": (f"inbox:default:2026-06-01:{mid}", [late, mid]),
    }
    assert json.loads(result.cursor or "") == {"default": mid}
    assert {r.tags["datev-cin7/trigger"] for r in result.run_requests or []} == {"webhook"}
    # A tick that died before its cursor was saved asks again for exactly the same runs (Dagster skips them).
    assert _runs(_evaluate(None)) == _runs(result)


def test_a_retried_webhook_makes_no_second_run(inbox: StateStore) -> None:
    first = _deliver(inbox, "sale-1", dt.datetime(2026, 6, 20, 9, 0, tzinfo=BERLIN))
    cursor = _evaluate(None).cursor

    again = _deliver(inbox, "sale-1", dt.datetime(2026, 6, 20, 9, 5, tzinfo=BERLIN))  # Cin7 retries

    assert again == first
    result = _evaluate(cursor)
    assert result.run_requests == []
    assert result.cursor == cursor
    assert json.loads(cursor or "") == {"default": first}
    assert "No new webhook events" in str(result.skip_reason)


def test_a_known_document_asks_for_every_period_its_dates_span(inbox: StateStore) -> None:
    with inbox.session() as session:
        connection_id = ensure_connection(session, "default", actor="test")
        save_snapshot(
            session,
            connection_id=connection_id,
            kind="sale",
            cin7_id="sale-old",
            version="v1",
            payload="{}",
            first_date=dt.date(2026, 2, 27),  # invoiced in February, paid in part in April
            last_date=dt.date(2026, 4, 2),
        )
    event = _deliver(inbox, "sale-old", dt.datetime(2026, 6, 20, 9, 0, tzinfo=BERLIN), "Sale/PartialPaymentReceived")

    runs = _runs(_evaluate(None))

    assert sorted(runs) == ["2026-02-01", "2026-03-01", "2026-04-01", "2026-06-01"]
    assert all(ids == [event] for _, ids in runs.values())


def test_ignored_events_move_the_cursor_but_ask_for_nothing(inbox: StateStore) -> None:
    event = _deliver(inbox, "x", dt.datetime(2026, 6, 20, 9, 0, tzinfo=BERLIN), "Product/Updated")
    with inbox.session() as session:
        row = session.get(InboxEvent, event)
        assert row is not None
        row.status = IGNORED

    result = _evaluate(None)

    assert result.run_requests == []
    assert json.loads(result.cursor or "") == {"default": event}


def test_the_sensor_says_why_it_cannot_run_without_a_connections_file(isolated_home: Path) -> None:
    result = _evaluate(None)

    assert result.run_requests is None or result.run_requests == []
    assert "There is no connections file" in str(result.skip_reason)


def _schedule_requests(schedule: dg.ScheduleDefinition, moment: dt.datetime) -> list[dg.RunRequest]:
    # Evaluated against the real definitions, so the partition keys are checked against the job's.
    context = dg.build_schedule_context(scheduled_execution_time=moment, repository_def=REPOSITORY)
    data = schedule.evaluate_tick(context)
    return list(data.run_requests or [])


def test_the_sync_schedule_covers_the_open_periods() -> None:
    early = _schedule_requests(open_periods_sync_schedule, dt.datetime(2026, 6, 5, 8, 15, tzinfo=BERLIN))
    later = _schedule_requests(open_periods_sync_schedule, dt.datetime(2026, 6, 20, 8, 15, tzinfo=BERLIN))

    assert [r.partition_key for r in early] == ["2026-05-01", "2026-06-01"]
    assert [r.partition_key for r in later] == ["2026-06-01"]
    assert len({r.run_key for r in early + later}) == 3


def test_the_month_end_run_reconciles_the_month_that_ended_in_full() -> None:
    (request,) = _schedule_requests(
        closed_period_reconciliation_schedule, dt.datetime(2026, 7, 1, 3, 30, tzinfo=BERLIN)
    )

    assert request.partition_key == "2026-06-01"
    assert request.run_key == "reconcile:default:2026-06-01"
    assert request.run_config == {"ops": {"cin7_documents": {"config": {"full_period": True}}}}


def test_open_periods_around_the_turn_of_a_quarter() -> None:
    assert open_periods(dt.datetime(2026, 7, 3, 12, tzinfo=BERLIN), quarterly=True) == [
        dt.date(2026, 4, 1),
        dt.date(2026, 7, 1),
    ]
    assert open_periods(dt.datetime(2026, 8, 3, 12, tzinfo=BERLIN), quarterly=True) == [dt.date(2026, 7, 1)]
    # 1 January, 00:30 in Berlin is still 31 December in UTC: the period is German.
    assert open_periods(dt.datetime(2025, 12, 31, 23, 30, tzinfo=dt.UTC)) == [
        dt.date(2025, 12, 1),
        dt.date(2026, 1, 1),
    ]


def test_a_job_left_pending_is_finished_by_the_job_sensor_and_its_period_refreshed(
    isolated_home: Path, tmp_path: Path
) -> None:
    options = SandboxOptions(today=TODAY, capture=tmp_path / "capture", extf_processing_seconds=3)
    with sandbox_environment(demo(), options):
        connections = settings.connections_file_path()
        data = yaml.safe_load(connections.read_text("utf-8"))
        data["connections"]["default"]["datev"]["job_wait_seconds"] = 0  # the run does not wait for DATEV
        connections.write_text(yaml.safe_dump(data), "utf-8")
        assets = [cin7_documents, datev_booking_lines, datev_extf_batches, datev_documents, datev_booking_jobs]
        resources = {"connector": ConnectorResource(poll_first_delay_seconds=0.05)}
        run = dg.materialize(assets, partition_key="2026-05-01", resources=resources)
        store = StateStore.open()
        with store.session() as session:
            (job,) = session.query(DatevJob).all()
            assert job.status == job_ledger.PENDING  # the run asked nothing more and did not wait
        context = dg.build_sensor_context(resources=resources)

        nothing_yet = datev_job_sensor(context)
        assert isinstance(nothing_yet, dg.SensorResult)
        assert nothing_yet.run_requests == []
        with store.session() as session:
            (job,) = session.query(DatevJob).all()
            assert job.status == job_ledger.PENDING
            assert job.next_poll_at is not None  # read again only when the backoff says so
            job.next_poll_at = None
            reference_id = job.reference_id
        deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=20)
        finished = dg.SensorResult(run_requests=[])
        while not finished.run_requests and dt.datetime.now(dt.UTC) < deadline:
            time.sleep(0.5)  # the simulator finishes the job 3 s after accepting it
            with store.session() as session:
                for row in session.query(DatevJob):
                    row.next_poll_at = None
            result = datev_job_sensor(context)
            assert isinstance(result, dg.SensorResult)
            finished = result
        (request,) = finished.run_requests or []
        assert request.partition_key == "2026-05-01"
        assert request.run_key == f"datev-job-final:{reference_id}:succeeded"
        with store.session() as session:
            (job,) = session.query(DatevJob).all()
            assert job.status == job_ledger.SUCCEEDED
        refreshed = dg.materialize([datev_booking_jobs], partition_key="2026-05-01", resources=resources)
        (check,) = [e for e in refreshed.get_asset_check_evaluations() if e.check_name == JOBS_SUCCEEDED]
        assert check.passed
        store.dispose()
    assert run.success
