"""Documents Cin7 dates badly, and periods run out of order: an earlier period run after a later one still
gets its documents (for list calls only where the snapshot has them), a field that does not parse holds
one document instead of stopping the sync, and a bookable document without a usable date is taken in the
period it last changed in, so that period's checks name it."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from datev_cin7_pipeline.cin7.client import Cin7Client, Cin7Credentials, dump_json
from datev_cin7_pipeline.cin7.models import Purchase, Sale
from datev_cin7_pipeline.cin7.period import load_period
from datev_cin7_pipeline.cin7.sync import PURCHASE, SALE, Cin7Sync, placed_on, validate_leniently
from datev_cin7_pipeline.sandbox.cin7 import (
    DEMO_ACCOUNT_ID,
    DEMO_APPLICATION_KEY,
    Cin7Dataset,
    Cin7SimConfig,
    build_cin7_app,
    demo_dataset,
)
from datev_cin7_pipeline.sandbox.serving import RunningServer, serve_in_thread
from datev_cin7_pipeline.store import Secret, StateStore
from datev_cin7_pipeline.store.connections import ensure_connection
from datev_cin7_pipeline.store.cursors import read_cursor
from datev_cin7_pipeline.store.models import SyncCursor
from datev_cin7_pipeline.store.snapshots import load_snapshots, save_snapshot
from datev_cin7_pipeline_tests.cin7.test_sync import LIST_ENDPOINTS, TODAY, _authorised_sale_invoices

OCTOBER = dt.date(2026, 10, 1)
JUNE = dt.date(2026, 6, 1)
BAD_SALE = "0f6d1c2e-0000-4000-8000-00000000bad1"


def _month(start: dt.date) -> tuple[dt.date, dt.date]:
    return start, (start + dt.timedelta(days=32)).replace(day=1)


# --- reading a record leniently --------------------------------------------------------------------------


def test_a_field_that_does_not_parse_is_read_as_empty_and_named() -> None:
    raw: dict[str, Any] = {
        "ID": "s1",
        "Order": {"SaleOrderNumber": "SO-1"},
        "LastModifiedOn": "2026-05-28T09:00:00Z",
        "Invoices": [
            {"TaskID": "t1", "InvoiceNumber": "INV-1", "InvoiceDate": "2026-05-02T00:00:00", "Status": "PAID"},
            {"TaskID": "t2", "InvoiceNumber": "INV-2", "InvoiceDate": "20.05.2026", "Status": "AUTHORISED"},
        ],
    }
    sale, problems = validate_leniently(Sale, raw)
    assert sale is not None
    assert [i.invoice_date for i in sale.invoices] == [dt.date(2026, 5, 2), None]
    assert problems == [("INV-2", "Invoices[1].InvoiceDate: not a Cin7 date: '20.05.2026'")]
    assert raw["Invoices"][1]["InvoiceDate"] == "20.05.2026"  # the stored payload keeps what Cin7 sent


def test_a_simple_purchase_invoice_object_is_read_leniently_too() -> None:
    raw = {"ID": "p1", "Invoice": {"InvoiceNumber": "RE-9", "InvoiceDate": "2026-13-45"}, "OrderNumber": "PO-9"}
    purchase, problems = validate_leniently(Purchase, raw)
    assert purchase is not None
    assert purchase.invoices[0].invoice_date is None
    assert [number for number, _ in problems] == ["RE-9"]
    assert problems[0][1].startswith("Invoice[0].InvoiceDate: ")


def test_a_record_without_its_id_cannot_be_read() -> None:
    sale, problems = validate_leniently(Sale, {"ID": None, "Invoices": []})
    assert sale is None
    assert problems == [("", "ID: Input should be a valid string")]


# --- which period a document is taken in -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "bookable", "expected"),
    [
        (dt.date(2026, 5, 20), True, dt.date(2026, 5, 20)),  # its own date
        (dt.date(2026, 7, 1), True, dt.date(2026, 7, 1)),  # entered ahead of its date: still its own
        (dt.date(2023, 1, 10), True, dt.date(2023, 1, 10)),  # an old invoice paid late: its own
        (None, True, dt.date(2026, 5, 28)),  # no date: the day it changed
        (dt.date(2062, 5, 20), True, dt.date(2026, 5, 28)),  # a typo no period will hold
        (dt.date(1, 1, 1), True, dt.date(2026, 5, 28)),  # .NET's empty date
        (None, False, None),  # a draft without a date stays out of every period
        (dt.date(2062, 5, 20), False, dt.date(2062, 5, 20)),
    ],
)
def test_placed_on(day: dt.date | None, bookable: bool, expected: dt.date | None) -> None:
    assert placed_on(day, bookable, dt.date(2026, 5, 28)) == expected


def test_without_a_change_date_a_document_keeps_its_own() -> None:
    assert placed_on(None, True, None) is None


def _invoice(task: str, number: str, day: str | None, status: str = "AUTHORISED", **extra: Any) -> dict[str, Any]:
    return {
        "TaskID": task,
        "InvoiceNumber": number,
        "InvoiceDate": day,
        "Status": status,
        "Total": 119.0,
        "Payments": [],
        **extra,
    }


def test_an_undated_or_misdated_bookable_document_is_taken_in_the_period_it_changed_in(store: StateStore) -> None:
    sale = {
        "ID": "s1",
        "Status": "INVOICED",
        "Order": {"SaleOrderNumber": "SO-1"},
        "LastModifiedOn": "2026-10-31T23:30:00Z",  # already 1 November in Germany
        "Invoices": [
            _invoice("t1", "INV-NODATE", None),
            _invoice("t2", "INV-2062", "2062-10-15T00:00:00"),
            _invoice("t3", "INV-BAD", "15.10.2026"),
            _invoice("t4", "INV-DRAFT", None, "DRAFT"),
            _invoice(
                "t5",
                "INV-OK",
                "2026-10-15T00:00:00",
                "PAID",
                Payments=[{"ID": "p1", "Amount": 119.0, "DatePaid": None, "Account": "1200"}],
            ),
        ],
    }
    with store.session() as session:
        connection_id = ensure_connection(session, "acme", actor="test")
        save_snapshot(
            session,
            connection_id=connection_id,
            kind=SALE,
            cin7_id="s1",
            version="v1",
            first_date=dt.date(2026, 10, 15),
            last_date=dt.date(2026, 11, 1),
            payload=dump_json(sale),
        )

    october = load_period(store, connection_id, *_month(OCTOBER))
    november = load_period(store, connection_id, *_month(dt.date(2026, 11, 1)))

    assert [i.invoice_number for _, i in october.sale_invoices] == ["INV-OK"]
    assert [(i.invoice_number, i.invoice_date) for _, i in november.sale_invoices] == [
        ("INV-NODATE", None),
        ("INV-2062", dt.date(2062, 10, 15)),
        ("INV-BAD", None),
    ]
    # the undated payment of the October invoice is in November too (held there as missing_date)
    assert [(p.id, p.date_paid) for p in november.payments] == [("p1", None)]
    assert october.payments == []
    assert dict(november.not_bookable) == dict(october.not_bookable) == {}  # the undated draft is in neither
    assert [(u.kind, u.number, u.problem) for u in november.unreadable] == [
        ("sale", "INV-BAD", "Invoices[2].InvoiceDate: not a Cin7 date: '15.10.2026'")
    ]


# --- against the simulator --------------------------------------------------------------------------------


def _dataset(with_bad_sale: bool) -> Cin7Dataset:
    data = copy.deepcopy(demo_dataset(11, TODAY))
    if with_bad_sale:
        template = next(s for s in data.sales.values() if s.get("Status") != "VOIDED" and s.get("Invoices"))
        bad = copy.deepcopy(template)
        invoice = bad["Invoices"][0]
        invoice.update(TaskID="0f6d1c2e-0000-4000-8000-00000000bad2", InvoiceNumber="INV-BAD", Status="AUTHORISED")
        invoice.update(InvoiceDate="20.10.2026", Payments=[])
        bad.update(ID=BAD_SALE, LastModifiedOn="2026-10-28T09:00:00Z", Invoices=[invoice], CreditNotes=[])
        data.sales[BAD_SALE] = bad
    return data


@pytest.fixture
def server() -> Iterator[RunningServer]:
    yield from _serve(_dataset(with_bad_sale=False))


@pytest.fixture
def bad_server() -> Iterator[RunningServer]:
    yield from _serve(_dataset(with_bad_sale=True))


def _serve(data: Cin7Dataset) -> Iterator[RunningServer]:
    with serve_in_thread(build_cin7_app(Cin7SimConfig(today=TODAY, calls_per_minute=100_000), data)) as running:
        yield running


def _client(server: RunningServer) -> Cin7Client:
    return Cin7Client(
        Cin7Credentials(DEMO_ACCOUNT_ID, Secret(DEMO_APPLICATION_KEY)),
        base_url=server.url + "/ExternalApi/v2/",
        calls_per_minute=100_000,
    )


def _sync(store: StateStore, client: Cin7Client, horizon: dt.date, **options: Any) -> Any:
    with store.session() as session:
        connection_id = ensure_connection(session, "demo", actor="test")
    return Cin7Sync(client, store, connection_id, horizon=horizon, **options).run(), connection_id


def _cursor(store: StateStore, connection_id: int, name: str) -> str | None:
    with store.session() as session:
        return read_cursor(session, connection_id, name)


def _stored(store: StateStore, connection_id: int, kind: str) -> int:
    with store.session() as session:
        return len(load_snapshots(session, connection_id, kind))


def test_an_earlier_period_after_a_later_one_gets_its_documents(server: RunningServer, store: StateStore) -> None:
    demo = _dataset(with_bad_sale=False)
    client = _client(server)
    first, connection_id = _sync(store, client, OCTOBER)
    assert _cursor(store, connection_id, "saleList.horizon") == "2026-10-01"
    assert load_period(store, connection_id, *_month(JUNE)).sale_invoices == []  # not read yet

    backfill, _ = _sync(store, client, JUNE)
    june = load_period(store, connection_id, *_month(JUNE))
    assert {i.task_id for _, i in june.sale_invoices} == _authorised_sale_invoices(demo, *_month(JUNE))
    assert june.purchase_invoices
    assert june.payments
    assert _cursor(store, connection_id, "saleList.horizon") == "2026-06-01"
    assert _cursor(store, connection_id, "purchaseList.horizon") == "2026-06-01"
    # nothing the October sync read is read again: every stored document was read exactly once
    assert backfill.unchanged > 0
    for kind in (SALE, PURCHASE):
        assert _stored(store, connection_id, kind) == first.fetched[kind] + backfill.fetched[kind]

    # Now covered: June again and October again cost one call per list.
    assert _sync(store, client, JUNE)[0].calls == LIST_ENDPOINTS
    assert _sync(store, client, OCTOBER)[0].calls == LIST_ENDPOINTS


def test_a_snapshot_without_a_recorded_reach_is_listed_once_from_the_horizon(
    server: RunningServer, store: StateStore
) -> None:
    client = _client(server)
    _, connection_id = _sync(store, client, OCTOBER)
    with store.session() as session:  # as a database written before the reach was recorded
        session.execute(sa.delete(SyncCursor).where(SyncCursor.resource.like("%.horizon")))
    again, _ = _sync(store, client, OCTOBER)
    assert again.calls == LIST_ENDPOINTS  # the same lists; every row known or from before the horizon
    assert again.fetched[SALE] == again.fetched[PURCHASE] == 0
    assert _cursor(store, connection_id, "saleList.horizon") == "2026-10-01"


def test_a_document_with_a_bad_date_is_stored_named_and_held_in_its_period(
    bad_server: RunningServer, store: StateStore
) -> None:
    client = _client(bad_server)
    report, connection_id = _sync(store, client, OCTOBER)
    assert report.fetched[SALE] > 1  # the others were read
    problem = "Invoices[0].InvoiceDate: not a Cin7 date: '20.10.2026'"
    assert [(u.kind, u.cin7_id, u.number, u.problem) for u in report.unreadable] == [
        (SALE, BAD_SALE, "INV-BAD", problem)
    ]
    assert _sync(store, client, OCTOBER)[0].calls == LIST_ENDPOINTS  # stored: not read again until it changes

    october = load_period(store, connection_id, *_month(OCTOBER))
    assert ("INV-BAD", None) in {(i.invoice_number, i.invoice_date) for _, i in october.sale_invoices}
    assert [(u.cin7_id, u.number, u.problem) for u in october.unreadable] == [(BAD_SALE, "INV-BAD", problem)]


def test_a_list_row_that_cannot_be_read_is_named_and_listed_again(server: RunningServer, store: StateStore) -> None:
    client = _client(server)
    paginate = client.paginate
    bad_row = {"SaleID": None, "OrderNumber": "SO-NOID", "InvoiceNumber": "INV-NOID", "Updated": "2026-10-20T08:00:00Z"}

    def with_a_bad_row(endpoint: str, list_key: str, params: Any = None, **options: Any) -> Iterator[dict[str, Any]]:
        yield from paginate(endpoint, list_key, params, **options)
        if endpoint == "saleList":
            yield bad_row

    client.paginate = with_a_bad_row  # type: ignore[method-assign]
    report, connection_id = _sync(store, client, OCTOBER)
    assert [(u.kind, u.number, u.problem) for u in report.unreadable] == [
        ("saleList", "INV-NOID", "SaleID: Input should be a valid string (not stored; listed again on the next sync)")
    ]
    assert report.fetched[SALE] > 0
    # the cursor stays before the row, so the next sync lists (and names) it again
    assert _cursor(store, connection_id, "saleList.UpdatedSince") == "2026-10-20T07:59:59.000"
    assert [u.number for u in _sync(store, client, OCTOBER)[0].unreadable] == ["INV-NOID"]
