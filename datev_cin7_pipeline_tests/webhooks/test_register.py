"""Subscriptions end to end: `register` creates what we need in Cin7 (the simulator), with our credentials
and the event header; a subscription Cin7 deactivated after failed deliveries is revived; and an invoice
authorised in Cin7 arrives in our inbox through the real receiver."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from datev_cin7_pipeline.cin7.client import Cin7Client, Cin7Credentials
from datev_cin7_pipeline.cin7.webhook_events import EVENT_HEADER, SUBSCRIBED_EVENTS
from datev_cin7_pipeline.sandbox.cin7 import (
    DEMO_ACCOUNT_ID,
    DEMO_APPLICATION_KEY,
    Cin7SimConfig,
    build_cin7_app,
    demo_dataset,
)
from datev_cin7_pipeline.sandbox.serving import RunningServer, serve_in_thread
from datev_cin7_pipeline.store import Secret, StateStore
from datev_cin7_pipeline.store.connections import ensure_connection
from datev_cin7_pipeline.webhooks.app import ReceiverConnection, WebhookAuth, build_webhook_app
from datev_cin7_pipeline.webhooks.register import register_webhooks

TOKEN = "whk-e2e-Zq1Xw2Ce3Vr4Bt5"
AUTH = WebhookAuth(mode="bearer", secret=Secret(TOKEN))


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not reached within {timeout} s")
        time.sleep(0.05)


@pytest.fixture
def cin7() -> Iterator[RunningServer]:
    config = Cin7SimConfig(
        today=dt.date(2026, 11, 24), calls_per_minute=10_000, webhook_first_delay=0, webhook_retry_delays=(0.05,) * 5
    )
    with serve_in_thread(build_cin7_app(config, demo_dataset(3, dt.date(2026, 11, 24)))) as server:
        yield server


@pytest.fixture
def receiver(store: StateStore) -> Iterator[RunningServer]:
    with store.session() as session:
        connection_id = ensure_connection(session, "acme", actor="test")
    app = build_webhook_app(store, {"acme": ReceiverConnection("acme", connection_id, AUTH)})
    with serve_in_thread(app) as server:
        yield server


def _client(cin7: RunningServer) -> Cin7Client:
    return Cin7Client(
        Cin7Credentials(DEMO_ACCOUNT_ID, Secret(DEMO_APPLICATION_KEY)), base_url=cin7.url + "/ExternalApi/v2/"
    )


def _subscriptions(client: Cin7Client) -> dict[str, Any]:
    return {w["Type"]: w for w in client.get("webhooks")["Webhooks"]}


def test_register_creates_revives_and_leaves_alone(cin7: RunningServer, receiver: RunningServer) -> None:
    client = _client(cin7)
    url = receiver.url + "/webhooks/cin7/acme"

    first = register_webhooks(client, url, AUTH)
    assert first.created == list(SUBSCRIBED_EVENTS)
    subscriptions = _subscriptions(client)
    assert set(subscriptions) == set(SUBSCRIBED_EVENTS)
    for event_type, subscription in subscriptions.items():
        assert subscription["IsActive"]
        assert subscription["ExternalURL"] == url
        assert subscription["ExternalAuthorizationType"] == "bearerauth"
        assert subscription["ExternalBearerToken"] == TOKEN
        assert {"Key": EVENT_HEADER, "Value": event_type} in subscription["ExternalHeaders"]

    again = register_webhooks(client, url, AUTH)
    assert again.unchanged == list(SUBSCRIBED_EVENTS)
    assert not again.created

    disabled = subscriptions["Sale/InvoiceAuthorised"]
    client.request("PUT", "webhooks", body={**disabled, "IsActive": False})
    revived = register_webhooks(client, url, AUTH)
    assert revived.reactivated == ["Sale/InvoiceAuthorised"]
    assert _subscriptions(client)["Sale/InvoiceAuthorised"]["IsActive"]


def test_an_authorised_invoice_arrives_in_the_inbox(
    cin7: RunningServer, receiver: RunningServer, store: StateStore
) -> None:
    client = _client(cin7)
    register_webhooks(client, receiver.url + "/webhooks/cin7/acme", AUTH)
    created = requests.post(f"{cin7.url}/_sim/documents/sale/new/authorise", json={}, timeout=10)
    assert created.status_code == 200, created.text
    sale_id = created.json()["Details"]["SaleID"]

    def arrived() -> list[Any]:
        with store.engine.connect() as connection:
            return connection.execute(
                sa.text("SELECT event_type, document_kind, document_id, status FROM webhook_inbox")
            ).all()

    _wait_for(lambda: bool(arrived()))
    assert arrived() == [("Sale/InvoiceAuthorised", "sale", sale_id, "pending")]
    with store.engine.connect() as connection:
        actions = (
            connection.execute(
                sa.text(
                    "SELECT e.action FROM audit_events e JOIN audit_event_refs r ON r.event_id = e.id "
                    "WHERE r.ref = :ref"
                ),
                {"ref": sale_id},
            )
            .scalars()
            .all()
        )
    assert actions == ["webhook.received"]


def test_cin7_deactivates_after_failed_deliveries_and_register_revives(
    cin7: RunningServer, receiver: RunningServer, store: StateStore
) -> None:
    client = _client(cin7)
    url = receiver.url + "/webhooks/cin7/acme"
    wrong = WebhookAuth(mode="bearer", secret=Secret("an-old-token"))
    register_webhooks(client, url, wrong)  # Cin7 sends a token our receiver no longer accepts
    requests.post(f"{cin7.url}/_sim/documents/sale/new/authorise", json={}, timeout=10)
    _wait_for(lambda: not _subscriptions(client)["Sale/InvoiceAuthorised"]["IsActive"])
    deliveries = requests.get(f"{cin7.url}/_sim/deliveries", timeout=10).json()["Deliveries"]
    attempts = [d for d in deliveries if d["Type"] == "Sale/InvoiceAuthorised"]
    assert [d["Status"] for d in attempts] == [401] * 6  # six tries, then Cin7 disables the subscription
    assert attempts[-1]["Outcome"] == "failed, subscription deactivated"
    with store.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM webhook_inbox")).scalar() == 0

    report = register_webhooks(client, url, AUTH)
    assert "Sale/InvoiceAuthorised" in report.reactivated
    assert _subscriptions(client)["Sale/InvoiceAuthorised"]["ExternalBearerToken"] == TOKEN
