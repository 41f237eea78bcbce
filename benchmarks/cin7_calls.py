"""Cin7 calls per document: an initial sync of a period with N documents, then a sync with no changes.

Runs the real client and sync against the simulator over loopback, with the simulator's rate limit and
the client's pacing both set to --calls-per-minute. Printed: calls per sale and per purchase on the
initial sync (goal: at most 1.1 and 2.1), calls of the no-change sync per list endpoint (goal: 1), the
most calls the simulator saw in any 60 s window (must not exceed the limit), and the wall time divided by
the bound the rate limit sets (calls / limit per second; goal: below 1.1).

Purchases are run twice: once with payments embedded in the purchase (as `GET /purchase` shows them),
once without (as the `/purchase/invoice` model documents), which costs a `/purchase/payment` call each.

    .venv/bin/python benchmarks/cin7_calls.py [--sales 300] [--purchases 150] [--calls-per-minute 300]
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from datev_cin7_pipeline.cin7.client import Cin7Client, Cin7Credentials
from datev_cin7_pipeline.cin7.sync import PURCHASE, SALE, Cin7Sync
from datev_cin7_pipeline.sandbox.cin7 import (
    DEMO_ACCOUNT_ID,
    DEMO_APPLICATION_KEY,
    Cin7Dataset,
    Cin7SimConfig,
    build_cin7_app,
    demo_dataset,
)
from datev_cin7_pipeline.sandbox.serving import serve_in_thread
from datev_cin7_pipeline.store import Secret, StateStore
from datev_cin7_pipeline.store.connections import ensure_connection

TODAY = dt.date(2026, 11, 24)
PERIOD = dt.date(2026, 10, 1)
LIST_ENDPOINTS = 8  # me, accounts, tax rules, locations, customers, suppliers, saleList, purchaseList


def _renumber(document: Any, mapping: dict[str, str]) -> Any:
    """A copy with every id replaced consistently (so clones are distinct documents)."""
    if isinstance(document, dict):
        return {key: _renumber(value, mapping) for key, value in document.items()}
    if isinstance(document, list):
        return [_renumber(value, mapping) for value in document]
    if isinstance(document, str) and document in mapping:
        return mapping[document]
    return document


def _ids(document: Any, found: set[str]) -> set[str]:
    if isinstance(document, dict):
        for key, value in document.items():
            if key in ("ID", "TaskID", "SaleID", "PurchaseID") and isinstance(value, str):
                found.add(value)
            _ids(value, found)
    elif isinstance(document, list):
        for value in document:
            _ids(value, found)
    return found


def _in_period(document: Any, day: dt.date, stamp: str) -> Any:
    """Move every document date into the period and mark the document changed at `stamp`."""
    if isinstance(document, dict):
        moved = {}
        for key, value in document.items():
            if key in ("InvoiceDate", "CreditNoteDate", "DatePaid", "SaleOrderDate", "OrderDate") and value:
                moved[key] = f"{day.isoformat()}T00:00:00"
            elif key in ("LastModifiedOn", "LastUpdatedDate", "Updated"):
                moved[key] = stamp
            else:
                moved[key] = _in_period(value, day, stamp)
        return moved
    if isinstance(document, list):
        return [_in_period(value, day, stamp) for value in document]
    return document


def scaled_dataset(sales: int, purchases: int, *, embed_payments: bool) -> Cin7Dataset:
    base = demo_dataset(1, TODAY)
    scaled = copy.copy(base)
    scaled.sales, scaled.purchases, scaled.purchase_payments, scaled.attachments = {}, {}, {}, {}
    live_sales = [s for s in base.sales.values() if s.get("Status") != "VOIDED"]
    for index in range(sales):
        template = live_sales[index % len(live_sales)]
        mapping = {old: str(uuid.uuid4()) for old in _ids(template, set())}
        day = PERIOD + dt.timedelta(days=index % 28)
        sale = _in_period(_renumber(template, mapping), day, f"{day.isoformat()}T10:{index % 60:02d}:00Z")
        scaled.sales[sale["ID"]] = sale
        scaled.attachments[sale["ID"]] = base.attachments.get(template["ID"], {})
    for index in range(purchases):
        template = list(base.purchases.values())[index % len(base.purchases)]
        mapping = {old: str(uuid.uuid4()) for old in _ids(template, set())}
        day = PERIOD + dt.timedelta(days=index % 28)
        purchase = _in_period(_renumber(template, mapping), day, f"{day.isoformat()}T11:{index % 60:02d}:00Z")
        if not embed_payments:
            invoices = purchase.get("Invoice")
            for invoice in invoices if isinstance(invoices, list) else [invoices] if invoices else []:
                invoice.pop("Payments", None)
        scaled.purchases[purchase["ID"]] = purchase
        payments = base.purchase_payments.get(template["ID"])
        if payments is not None:
            scaled.purchase_payments[purchase["ID"]] = _in_period(_renumber(payments, mapping), day, "")
        scaled.attachments[purchase["ID"]] = base.attachments.get(template["ID"], {})
    return scaled


def run(sales: int, purchases: int, limit: int, *, embed_payments: bool) -> dict[str, float]:
    app = build_cin7_app(
        Cin7SimConfig(today=TODAY, calls_per_minute=limit),
        scaled_dataset(sales, purchases, embed_payments=embed_payments),
    )
    with serve_in_thread(app) as server, tempfile.TemporaryDirectory() as folder:
        store = StateStore(f"sqlite:///{Path(folder) / 'state.db'}")
        with store.session() as session:
            connection_id = ensure_connection(session, "bench", actor="benchmark")
        client = Cin7Client(
            Cin7Credentials(DEMO_ACCOUNT_ID, Secret(DEMO_APPLICATION_KEY)),
            base_url=server.url + "/ExternalApi/v2/",
            calls_per_minute=limit,
        )
        sync = Cin7Sync(client, store, connection_id, horizon=PERIOD)
        started = time.perf_counter()
        initial = sync.run()
        wall = time.perf_counter() - started
        per_endpoint = dict(client.stats.per_endpoint)
        again = sync.run()
        summary = app.state.cin7.call_log.summary()
        store.dispose()
    sale_calls = per_endpoint.get("saleList", 0) + per_endpoint.get("sale", 0)
    purchase_calls = sum(
        per_endpoint.get(name, 0)
        for name in ("purchaseList", "purchase", "advanced-purchase", "purchase/payment", "advanced-purchase/payment")
    )
    bound = initial.calls / (limit / 60)
    return {
        "sales": initial.fetched[SALE],
        "purchases": initial.fetched[PURCHASE],
        "calls": initial.calls,
        "calls_per_sale": sale_calls / max(1, initial.fetched[SALE]),
        "calls_per_purchase": purchase_calls / max(1, initial.fetched[PURCHASE]),
        "nochange_calls": again.calls,
        "nochange_per_list": again.calls / LIST_ENDPOINTS,
        "max_in_60s": summary["max_calls_in_any_60s"],
        "throttled": client.stats.throttled,
        "wall": wall,
        "ratio": wall / bound,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sales", type=int, default=300)
    parser.add_argument("--purchases", type=int, default=150)
    parser.add_argument("--calls-per-minute", type=int, default=300)
    args = parser.parse_args()
    results = {}
    for embedded in (True, False):
        label = "payments embedded" if embedded else "payments listed separately"
        result = run(args.sales, args.purchases, args.calls_per_minute, embed_payments=embedded)
        results[embedded] = result
        print(
            f"{label}: {result['sales']:.0f} sales, {result['purchases']:.0f} purchases, {result['calls']:.0f} calls "
            f"in {result['wall']:.1f} s; {result['calls_per_sale']:.3f} calls/sale, "
            f"{result['calls_per_purchase']:.3f} calls/purchase; no-change sync {result['nochange_calls']:.0f} calls "
            f"({result['nochange_per_list']:.2f} per list endpoint); most in any 60 s: {result['max_in_60s']} "
            f"(limit {args.calls_per_minute}); throttled {result['throttled']:.0f}; wall/bound {result['ratio']:.3f}"
        )
    worst_purchase = max(r["calls_per_purchase"] for r in results.values())
    worst_sale = max(r["calls_per_sale"] for r in results.values())
    worst_ratio = max(r["ratio"] for r in results.values())
    most = max(r["max_in_60s"] for r in results.values())
    nochange = max(r["nochange_per_list"] for r in results.values())
    print(
        f"RESULT calls_per_sale={worst_sale:.3f} calls_per_purchase={worst_purchase:.3f} "
        f"nochange_calls_per_list_endpoint={nochange:.2f} max_calls_in_60s={most} limit={args.calls_per_minute} "
        f"wall_to_bound_ratio={worst_ratio:.3f}"
    )
    ok = worst_sale <= 1.1 and worst_purchase <= 2.1 and nochange <= 1 and most <= args.calls_per_minute
    return 0 if ok and worst_ratio < 1.1 else 1


if __name__ == "__main__":
    sys.exit(main())
