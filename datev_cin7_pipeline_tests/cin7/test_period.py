"""A VAT period is built from the snapshot: authorised and paid documents dated in it, payments by the
day they were paid (with the document they settle), voided documents reported, drafts counted."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from datev_cin7_pipeline.cin7.client import dump_json
from datev_cin7_pipeline.cin7.period import load_period
from datev_cin7_pipeline.cin7.sync import PURCHASE, PURCHASE_PAYMENTS, SALE
from datev_cin7_pipeline.store import StateStore
from datev_cin7_pipeline.store.connections import ensure_connection
from datev_cin7_pipeline.store.snapshots import save_snapshot

OCT = (dt.date(2026, 10, 1), dt.date(2026, 11, 1))


def _invoice(task: str, number: str, date: str, status: str = "AUTHORISED", payments: Any = ()) -> dict[str, Any]:
    return {
        "TaskID": task,
        "InvoiceNumber": number,
        "InvoiceDate": f"{date}T00:00:00",
        "Status": status,
        "Total": 119.0,
        "Tax": 19.0,
        "Payments": list(payments),
        "Lines": [],
    }


def _payment(pid: str, amount: float, date: str) -> dict[str, Any]:
    return {"ID": pid, "Amount": amount, "DatePaid": f"{date}T00:00:00", "Account": "1200", "Reference": "bank"}


def _store(store: StateStore, kind: str, cin7_id: str, body: Any, first: str, last: str) -> int:
    with store.session() as session:
        connection_id = ensure_connection(session, "acme", actor="test")
        save_snapshot(
            session,
            connection_id=connection_id,
            kind=kind,
            cin7_id=cin7_id,
            version="v1",
            first_date=dt.date.fromisoformat(first),
            last_date=dt.date.fromisoformat(last),
            payload=dump_json(body),
        )
    return connection_id


def test_sales_in_a_period(store: StateStore) -> None:
    sale = {
        "ID": "s1",
        "Status": "INVOICED",
        "CustomerID": "c1",
        "Order": {"SaleOrderNumber": "SO-1"},
        "Invoices": [
            _invoice("t1", "INV-1", "2026-10-05", payments=[_payment("p1", 50.0, "2026-10-20")]),
            _invoice(
                "t2",
                "INV-2",
                "2026-09-28",
                "PAID",
                payments=[_payment("p2", 119.0, "2026-10-02"), _payment("p3", 1.0, "2026-09-30")],
            ),
            _invoice("t3", "INV-3", "2026-10-07", "DRAFT"),
            _invoice("t4", "INV-4", "2026-10-08", "VOIDED"),
            _invoice("t5", "INV-5", "2026-11-01"),
        ],
        "CreditNotes": [
            {
                "TaskID": "c1",
                "CreditNoteNumber": "CR-1",
                "CreditNoteDate": "2026-10-30T00:00:00",
                "Status": "AUTHORISED",
                "Total": 10.0,
                "Refunds": [_payment("r1", 10.0, "2026-10-31")],
            }
        ],
    }
    voided_sale = {"ID": "s2", "Status": "VOIDED", "Invoices": [_invoice("t9", "INV-9", "2026-10-03")]}
    connection_id = _store(store, SALE, "s1", sale, "2026-09-28", "2026-11-01")
    _store(store, SALE, "s2", voided_sale, "2026-10-03", "2026-10-03")
    _store(
        store,
        SALE,
        "old",
        {"ID": "old", "Invoices": [_invoice("t0", "INV-0", "2026-08-01")]},
        "2026-08-01",
        "2026-08-01",
    )

    period = load_period(store, connection_id, *OCT)

    assert [(i.invoice_number, i.total) for _, i in period.sale_invoices] == [("INV-1", Decimal("119.0"))]
    assert [n.credit_note_number for _, n in period.sale_credit_notes] == ["CR-1"]
    assert [(p.direction, p.id, p.amount, p.document_number) for p in period.payments] == [
        ("customer_payment", "p1", Decimal("50.0"), "INV-1"),
        ("customer_payment", "p2", Decimal("119.0"), "INV-2"),  # paid in October for a September invoice
        ("customer_refund", "r1", Decimal("10.0"), "CR-1"),
    ]
    assert sorted((v.kind, v.number) for v in period.voided) == [("sale_invoice", "INV-4"), ("sale_invoice", "INV-9")]
    assert dict(period.not_bookable) == {"DRAFT": 1}
    # every sale with activity in October is at hand (for payments of earlier invoices), the August one is not
    assert set(period.sales) == {"s1", "s2"}


def test_purchase_payments_come_embedded_or_from_the_payment_list(store: StateStore) -> None:
    embedded = {
        "ID": "p1",
        "Type": "Simple Purchase",
        "Status": "INVOICED",
        "SupplierID": "sup",
        "Invoice": {**_invoice("", "RE 17/Ä", "2026-10-10"), "Payments": [_payment("x1", 119.0, "2026-10-15")]},
    }
    listed = {
        "ID": "p2",
        "Type": "Advanced Purchase",
        "Status": "INVOICED",
        "SupplierID": "sup",
        "Invoice": [
            {k: v for k, v in _invoice("i1", "A-1", "2026-10-11").items() if k != "Payments"},
            {k: v for k, v in _invoice("i2", "A-2", "2026-10-12").items() if k != "Payments"},
        ],
        "CreditNote": [
            {
                "TaskID": "n1",
                "CreditNoteNumber": "GS-1",
                "CreditNoteDate": "2026-10-13T00:00:00",
                "Status": "AUTHORISED",
            }
        ],
    }
    records = [
        {"ID": "y1", "TaskID": "i2", "Type": "Payment", "Amount": 100.0, "DatePaid": "2026-10-20T00:00:00"},
        {"ID": "y2", "TaskID": "n1", "Type": "Refund", "Amount": 5.0, "DatePaid": "2026-10-21T00:00:00"},
        {"ID": "y3", "TaskID": "i1", "Type": "Payment", "Amount": 7.0, "DatePaid": "2026-11-02T00:00:00"},
    ]
    connection_id = _store(store, PURCHASE, "p1", embedded, "2026-10-10", "2026-10-15")
    _store(store, PURCHASE, "p2", listed, "2026-10-11", "2026-11-02")
    _store(store, PURCHASE_PAYMENTS, "p2", records, "2026-10-20", "2026-11-02")

    period = load_period(store, connection_id, *OCT)

    assert [(p.id, i.task_id, i.invoice_number) for p, i in period.purchase_invoices] == [
        ("p1", "p1", "RE 17/Ä"),
        ("p2", "i1", "A-1"),
        ("p2", "i2", "A-2"),
    ]
    assert [(p.direction, p.id, p.document_number, p.party_id) for p in period.payments] == [
        ("supplier_payment", "x1", "RE 17/Ä", "sup"),
        ("supplier_payment", "y1", "A-2", "sup"),
        ("supplier_refund", "y2", "GS-1", "sup"),
    ]
    assert [n.credit_note_number for _, n in period.purchase_credit_notes] == ["GS-1"]
