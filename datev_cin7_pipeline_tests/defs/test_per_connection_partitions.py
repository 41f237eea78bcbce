"""A deployment with several connections: the assets are partitioned by connection × period, a run of one
connection's period books into that connection only, and the inbox sensor asks for each connection's
periods with its own cursor. The partitioning is decided when the definitions load, so each case loads
them in a fresh interpreter against its own home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from datev_cin7_pipeline import settings

SCRIPT = textwrap.dedent(
    """
    import datetime as dt, json, sys
    from pathlib import Path
    import dagster as dg, yaml
    from datev_cin7_pipeline import settings
    from datev_cin7_pipeline.sandbox.environment import SandboxOptions, sandbox_environment
    from datev_cin7_pipeline.store import StateStore
    from datev_cin7_pipeline.store.connections import ensure_connection
    from datev_cin7_pipeline.store.inbox import record_delivery
    from datev_cin7_pipeline.store.models import BookingRecord, Connection, InboxEvent
    from datev_cin7_pipeline_tests.mapping.support import TODAY, demo

    options = SandboxOptions(today=TODAY, capture=Path(sys.argv[1]), connection="isar")
    with sandbox_environment(demo(), options):
        path = settings.connections_file_path()
        data = yaml.safe_load(path.read_text("utf-8"))
        data["connections"]["elbe"] = {"datev": {"consultant_number": 29098, "client_number": 55004}}
        path.write_text(yaml.safe_dump(data), "utf-8")
        store = StateStore.open()
        with store.session() as session:
            for name, sale in (("elbe", "s-1"), ("isar", "s-2"), ("isar", "s-3")):
                event = record_delivery(
                    session, connection_id=ensure_connection(session, name, actor="t"),
                    business_key=f"Sale/InvoiceAuthorised|sale|{sale}", event_type="Sale/InvoiceAuthorised",
                    payload={"SaleID": sale}, document_kind="sale", document_id=sale,
                )
                session.get(InboxEvent, event.event_id).first_received_at = dt.datetime(2026, 6, 20, tzinfo=dt.UTC)

        from datev_cin7_pipeline.definitions import defs
        from datev_cin7_pipeline.defs import partitions
        from datev_cin7_pipeline.defs.automation.sensors import cin7_webhook_inbox_sensor
        from datev_cin7_pipeline.defs.connector import ConnectorResource

        job = defs().resolve_job_def("vat_period_job")
        sensor = cin7_webhook_inbox_sensor(
            dg.build_sensor_context(resources={"connector": ConnectorResource()})
        )
        from datev_cin7_pipeline.defs.bookings.assets import datev_booking_lines
        from datev_cin7_pipeline.defs.cin7.assets import cin7_documents
        from datev_cin7_pipeline.defs.datev import assets as datev_assets

        result = dg.materialize(
            [cin7_documents, datev_booking_lines, datev_assets.datev_extf_batches, datev_assets.datev_documents,
             datev_assets.datev_booking_jobs],
            partition_key=dg.MultiPartitionKey({"connection": "isar", "period": "2026-05-01"}),
            resources={"connector": ConnectorResource(poll_first_delay_seconds=0.05)},
        )
        with store.session() as session:
            booked = {
                name: session.query(BookingRecord).join(Connection, Connection.id == BookingRecord.connection_id)
                .filter(Connection.name == name).count()
                for name in ("elbe", "isar")
            }
        print(json.dumps({
            "served": partitions.SERVED_CONNECTIONS,
            "dimensions": sorted(d.name for d in job.partitions_def.partitions_defs),
            "requests": sorted(
                [r.partition_key.keys_by_dimension["connection"], r.partition_key.keys_by_dimension["period"],
                 r.run_key] for r in sensor.run_requests
            ),
            "cursor": json.loads(sensor.cursor),
            "success": result.success,
            "booked": booked,
        }))
    """
)


def test_several_connections_are_partitioned_and_run_apart(isolated_home: Path, tmp_path: Path) -> None:
    env = {**os.environ, settings.HOME_ENV: str(isolated_home)}
    env.pop(settings.CONNECTION_ENV, None)

    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "capture")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["served"] == ["elbe", "isar"]
    assert report["dimensions"] == ["connection", "period"]
    assert report["requests"] == [
        ["elbe", "2026-06-01", "inbox:elbe:2026-06-01:1"],
        ["isar", "2026-06-01", "inbox:isar:2026-06-01:3"],
    ]
    assert report["cursor"] == {"elbe": 1, "isar": 3}
    assert report["success"] is True
    assert report["booked"]["elbe"] == 0
    assert report["booked"]["isar"] > 10


QUARTERLY_SCRIPT = textwrap.dedent(
    """
    import datetime as dt, json
    import dagster as dg
    from datev_cin7_pipeline.definitions import defs
    from datev_cin7_pipeline.defs.automation.schedules import open_periods_sync_schedule

    repository = defs().get_repository_def()
    job = defs().resolve_job_def("vat_period_job")
    keys = job.partitions_def.get_partition_keys(current_time=dt.datetime(2026, 11, 24, tzinfo=dt.UTC))
    moment = dt.datetime(2026, 10, 5, 8, 15, tzinfo=dt.UTC)
    requests = open_periods_sync_schedule.evaluate_tick(
        dg.build_schedule_context(scheduled_execution_time=moment, repository_def=repository)
    ).run_requests
    print(json.dumps({"last_keys": keys[-3:], "requested": [r.partition_key for r in requests]}))
    """
)


def test_a_quarterly_filer_is_partitioned_by_quarter(isolated_home: Path) -> None:
    isolated_home.mkdir(parents=True, exist_ok=True)
    (isolated_home / settings.CONNECTIONS_FILE).write_text(
        "version: 1\nconnections:\n  default:\n    vat_period: quarterly\n", "utf-8"
    )
    env = {**os.environ, settings.HOME_ENV: str(isolated_home)}
    env.pop(settings.CONNECTION_ENV, None)

    done = subprocess.run(
        [sys.executable, "-c", QUARTERLY_SCRIPT], env=env, capture_output=True, text=True, timeout=120, check=False
    )

    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["last_keys"] == ["2026-04-01", "2026-07-01", "2026-10-01"]
    # Early October: the third quarter's return is still open, and the fourth quarter has begun.
    assert report["requested"] == ["2026-07-01", "2026-10-01"]
