"""Syncing the demo company from the simulator into the snapshot: everything in range arrives, a sync with
no changes costs one call per list endpoint, a change costs exactly one more detail call, a voided
document is reported, a crash in the middle loses nothing, and the periods built from the snapshot match
what Cin7 holds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from datev_cin7_pipeline.cin7.client import Cin7Client, Cin7Credentials, parse_json
from datev_cin7_pipeline.cin7.models import Sale, parse_calendar_date
from datev_cin7_pipeline.cin7.period import load_period
from datev_cin7_pipeline.cin7.sync import PURCHASE, SALE, Cin7Sync
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
from datev_cin7_pipeline.store.snapshots import load_snapshots
from datev_cin7_pipeline_tests.contracts.cin7_openapi import attach_contract_checks

TODAY = dt.date(2026, 11, 24)
HORIZON = dt.date(2026, 9, 1)
LIST_ENDPOINTS = 8  # me, accounts, tax rules, locations, customers, suppliers, saleList, purchaseList


@pytest.fixture(scope="module")
def demo() -> Cin7Dataset:
    return demo_dataset(11, TODAY)


@pytest.fixture
def server(demo: Cin7Dataset) -> Iterator[RunningServer]:
    app = build_cin7_app(Cin7SimConfig(today=TODAY, calls_per_minute=100_000, webhook_first_delay=0), demo)
    with serve_in_thread(app) as running:
        running.app = app  # type: ignore[attr-defined]
        yield running


def _client(server: RunningServer) -> Cin7Client:
    return Cin7Client(
        Cin7Credentials(DEMO_ACCOUNT_ID, Secret(DEMO_APPLICATION_KEY)),
        base_url=server.url + "/ExternalApi/v2/",
        calls_per_minute=100_000,
    )


def _sync(store: StateStore, client: Cin7Client) -> Any:
    with store.session() as session:
        connection_id = ensure_connection(session, "demo", actor="test")
    return Cin7Sync(client, store, connection_id, horizon=HORIZON).run(), connection_id


def _authorised_sale_invoices(demo: Cin7Dataset, start: dt.date, end: dt.date) -> set[str]:
    """Straight from the simulator's raw data, not through our models."""
    found = set()
    for sale in demo.sales.values():
        for invoice in sale.get("Invoices") or []:
            day = parse_calendar_date(invoice.get("InvoiceDate"))
            if (
                sale.get("Status") != "VOIDED"
                and invoice.get("Status") in ("AUTHORISED", "PAID")
                and day
                and start <= day < end
            ):
                found.add(invoice["TaskID"])
    return found


def test_initial_sync_then_no_change_then_one_change(
    server: RunningServer, store: StateStore, demo: Cin7Dataset
) -> None:
    client = _client(server)
    violations = attach_contract_checks(client.session)

    first, connection_id = _sync(store, client)
    sales, purchases = first.fetched[SALE], first.fetched[PURCHASE]
    assert sales > 10
    assert purchases > 5
    detail_calls = sum(
        n for endpoint, n in client.stats.per_endpoint.items() if endpoint in ("sale", "purchase", "advanced-purchase")
    )
    assert detail_calls == sales + purchases  # one detail call per document, never more
    payment_calls = sum(n for e, n in client.stats.per_endpoint.items() if e.endswith("/payment"))
    assert payment_calls <= purchases
    assert first.calls == client.stats.calls

    again, _ = _sync(store, client)
    assert again.calls == LIST_ENDPOINTS
    assert again.fetched[SALE] == again.fetched[PURCHASE] == 0

    # A payment in Cin7 changes one sale: the next sync reads exactly that one.
    with store.session() as session:
        a_sale = load_snapshots(session, connection_id, SALE)[0].cin7_id
    paid = requests.post(f"{server.url}/_sim/documents/sale/{a_sale}/pay", json={"Amount": 1}, timeout=10)
    assert paid.status_code == 200, paid.text
    third, _ = _sync(store, client)
    assert third.fetched[SALE] == 1
    assert third.fetched[PURCHASE] == 0
    assert third.calls == LIST_ENDPOINTS + 1
    assert [str(v) for v in violations] == []


def test_a_voided_sale_is_reported(server: RunningServer, store: StateStore) -> None:
    client = _client(server)
    _, connection_id = _sync(store, client)
    with store.session() as session:
        sales = [Sale.model_validate(parse_json(e.payload)) for e in load_snapshots(session, connection_id, SALE)]
    sale_id = next(s.id for s in sales if s.status != "VOIDED" and not any(i.payments for i in s.invoices))
    voided = requests.post(f"{server.url}/_sim/documents/sale/{sale_id}/void", timeout=10)
    assert voided.status_code == 200, voided.text
    report, _ = _sync(store, client)
    assert [(v.kind, v.parent_id) for v in report.voided] == [("sale", sale_id)]


def test_a_crash_in_the_middle_loses_nothing(server: RunningServer, store: StateStore, tmp_path: Path) -> None:
    reference = StateStore(f"sqlite:///{tmp_path / 'reference.db'}")
    complete, _ = _sync(reference, _client(server))  # how much a clean run reads
    reference.dispose()
    client = _client(server)
    fetched = 0
    original_get = client.get

    def dying_get(endpoint: str, params: Any = None) -> Any:
        nonlocal fetched
        if endpoint == "sale":
            fetched += 1
            if fetched == 5:
                raise RuntimeError("killed")
        return original_get(endpoint, params)

    client.get = dying_get  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="killed"):
        _sync(store, client)
    with store.session() as session:
        connection_id = ensure_connection(session, "demo", actor="test")
        assert len(load_snapshots(session, connection_id, SALE)) == 4  # committed one by one

    client.get = original_get  # type: ignore[method-assign]
    rerun, _ = _sync(store, client)
    assert rerun.fetched[SALE] == complete.fetched[SALE] - 4  # the rest, and nothing twice
    with store.session() as session:
        assert len(load_snapshots(session, connection_id, SALE)) == complete.fetched[SALE]


def test_periods_from_the_snapshot_match_cin7(server: RunningServer, store: StateStore, demo: Cin7Dataset) -> None:
    _, connection_id = _sync(store, _client(server))
    october = (dt.date(2026, 10, 1), dt.date(2026, 11, 1))
    period = load_period(store, connection_id, *october)
    assert {invoice.task_id for _, invoice in period.sale_invoices} == _authorised_sale_invoices(demo, *october)
    assert period.company is not None
    assert period.company.currency == "EUR"
    assert {"Hamburg", "München"} <= set(period.locations)
    assert period.purchase_invoices, "the demo company buys every month"
    assert all(p.date_paid >= october[0] and p.date_paid < october[1] for p in period.payments)
    assert all(isinstance(p.amount, Decimal) for p in period.payments)
    for sale, invoice in period.sale_invoices:
        assert (
            invoice.total
            == sum((line.total + line.tax for line in [*invoice.lines, *invoice.additional_charges]), Decimal(0))
            or sale.tax_calculation == "Inclusive"
        )
