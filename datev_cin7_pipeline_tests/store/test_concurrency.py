"""Several processes write the state store at once (Dagster runs, the webhook receiver): nothing is lost,
nothing is doubled, on SQLite and on PostgreSQL.

Two worker processes start together and each record the same stream of webhook deliveries (so every
event arrives twice, racing) plus their own and shared bookings. Afterwards every event is one inbox row
with a delivery count of exactly 2, every booking exists once, and every delivery was audited.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
from decimal import Decimal

import sqlalchemy as sa

from datev_cin7_pipeline.store import StateStore, inbox, ledger
from datev_cin7_pipeline.store.connections import ensure_connection

EVENTS = 150
SHARED_BOOKINGS = 40
OWN_BOOKINGS = 40
PERIOD = dt.date(2026, 10, 1)


def _worker(url: str, worker: int, barrier: multiprocessing.synchronize.Barrier, errors: multiprocessing.Queue) -> None:
    try:
        store = StateStore(url)
        barrier.wait(60)
        for number in range(EVENTS):
            with store.session() as session:
                connection_id = ensure_connection(session, "acme", actor=f"worker-{worker}")
                inbox.record_delivery(
                    session,
                    connection_id=connection_id,
                    business_key=f"Sale/Authorised:SALE-{number}",
                    event_type="Sale/Authorised",
                    document_id=f"SALE-{number}",
                    payload={"SaleID": f"SALE-{number}", "from": worker},
                )
            ids = [f"SHARED-{number}"] if number < SHARED_BOOKINGS else []
            ids += [f"OWN-{worker}-{number}"] if number < OWN_BOOKINGS else []
            for document_id in ids:
                with store.session() as session:
                    connection_id = ensure_connection(session, "acme", actor=f"worker-{worker}")
                    ledger.record_booking(
                        session,
                        connection_id=connection_id,
                        cin7_document_kind="sale_invoice",
                        cin7_document_id=document_id,
                        document_version="2026-10-05T10:00:00Z",
                        period=PERIOD,
                        lines=[{"konto": 8400, "umsatz": "119.00"}],
                        total_amount=Decimal("119.00"),
                        actor=f"worker-{worker}",
                    )
        store.dispose()
    except Exception as exc:
        errors.put(repr(exc))
        raise


def test_two_processes_writing_inbox_and_ledger_lose_nothing(store: StateStore, database_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    errors: multiprocessing.Queue = context.Queue()
    workers = [context.Process(target=_worker, args=(database_url, n, barrier, errors)) for n in (1, 2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(300)
    assert errors.empty(), errors.get()
    assert [worker.exitcode for worker in workers] == [0, 0]

    with store.engine.connect() as connection:

        def scalar(sql: str) -> int:
            return int(connection.execute(sa.text(sql)).scalar_one())

        assert scalar("SELECT count(*) FROM connections") == 1
        assert scalar("SELECT count(*) FROM webhook_inbox") == EVENTS
        assert scalar("SELECT count(*) FROM webhook_inbox WHERE delivery_count = 2") == EVENTS
        assert scalar("SELECT count(DISTINCT business_key) FROM webhook_inbox") == EVENTS
        assert scalar("SELECT count(*) FROM audit_events WHERE action = 'webhook.received'") == EVENTS
        assert scalar("SELECT count(*) FROM audit_events WHERE action = 'webhook.duplicate'") == EVENTS
        assert scalar("SELECT count(*) FROM booking_ledger") == SHARED_BOOKINGS + 2 * OWN_BOOKINGS
        assert scalar("SELECT count(*) FROM booking_ledger WHERE cin7_document_id LIKE 'SHARED-%'") == SHARED_BOOKINGS
        assert scalar("SELECT count(*) FROM audit_events WHERE action = 'booking.recorded'") == (
            SHARED_BOOKINGS + 2 * OWN_BOOKINGS
        )
        assert scalar("SELECT count(*) FROM audit_events WHERE action = 'connection.created'") == 1
