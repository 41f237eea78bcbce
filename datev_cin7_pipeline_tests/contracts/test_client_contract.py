"""Every Cin7 endpoint the connector uses, exercised by the real client against the simulator: each request
we send and each response the simulator returns validates against Cin7's OpenAPI document."""

from __future__ import annotations

import datetime as dt
from typing import Any

import requests

from datev_cin7_pipeline.cin7.attachments import fetch_pdf
from datev_cin7_pipeline.cin7.client import Cin7Client, Cin7Credentials, parse_json
from datev_cin7_pipeline.cin7.models import Sale
from datev_cin7_pipeline.cin7.sync import SALE, Cin7Sync
from datev_cin7_pipeline.sandbox.cin7 import (
    DEMO_ACCOUNT_ID,
    DEMO_APPLICATION_KEY,
    Cin7SimConfig,
    build_cin7_app,
    demo_dataset,
)
from datev_cin7_pipeline.sandbox.serving import serve_in_thread
from datev_cin7_pipeline.store import Secret, StateStore
from datev_cin7_pipeline.store.connections import ensure_connection
from datev_cin7_pipeline.store.snapshots import load_snapshots
from datev_cin7_pipeline.webhooks.app import WebhookAuth
from datev_cin7_pipeline.webhooks.register import register_webhooks
from datev_cin7_pipeline_tests.contracts.cin7_openapi import Cin7Contract, check_requests_exchange

TODAY = dt.date(2026, 11, 24)
ENDPOINTS_WE_USE = {
    "GET /me",
    "GET /ref/account",
    "GET /ref/tax",
    "GET /ref/location",
    "GET /customer",
    "GET /supplier",
    "GET /saleList",
    "GET /sale",
    "GET /purchaseList",
    "GET /purchase",
    "GET /advanced-purchase",
    "GET /purchase/payment",
    "GET /advanced-purchase/payment",
    "GET /webhooks",
    "POST /webhooks",
    "PUT /webhooks",
}


def test_every_endpoint_we_use_matches_the_contract(contract: Cin7Contract, tmp_path: Any) -> None:
    dataset = demo_dataset(4, TODAY)
    # Like the documented /purchase/invoice model, invoices without embedded payments: the client must then
    # read /purchase/payment and /advanced-purchase/payment.
    for purchase in dataset.purchases.values():
        invoices = purchase.get("Invoice")
        for invoice in invoices if isinstance(invoices, list) else [invoices] if invoices else []:
            invoice.pop("Payments", None)
    app = build_cin7_app(Cin7SimConfig(today=TODAY, calls_per_minute=100_000), dataset)
    exercised: set[str] = set()
    problems: list[str] = []

    def check(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if "/externalapi/v2/" not in response.url.lower():
            return  # attachment downloads are not part of the API document
        problems.extend(str(v) for v in check_requests_exchange(response, contract))
        operation = contract.find_operation(response.request.method or "", response.url)
        exercised.add(f"{operation.method.upper()} {operation.path}")

    with serve_in_thread(app) as server:
        client = Cin7Client(
            Cin7Credentials(DEMO_ACCOUNT_ID, Secret(DEMO_APPLICATION_KEY)),
            base_url=server.url + "/ExternalApi/v2/",
            calls_per_minute=100_000,
        )
        client.session.hooks["response"].append(check)
        store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
        with store.session() as session:
            connection_id = ensure_connection(session, "demo", actor="test")
        Cin7Sync(client, store, connection_id, horizon=dt.date(2025, 11, 1)).run()
        auth = WebhookAuth(mode="bearer", secret=Secret("contract-token"))
        register_webhooks(client, "https://hooks.example.com/webhooks/cin7/demo", auth)
        register_webhooks(client, "https://hooks.example.com/webhooks/cin7/demo", auth.__class__("header", auth.secret))
        with store.session() as session:
            sale = Sale.model_validate(parse_json(load_snapshots(session, connection_id, SALE)[0].payload))
        fetch_pdf(client, next(a for a in sale.attachments if a.file_name.endswith(".pdf")))
        store.dispose()

    assert problems == []
    assert exercised >= ENDPOINTS_WE_USE, ENDPOINTS_WE_USE - exercised
