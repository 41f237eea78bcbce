"""Webhook subscriptions, admin actions that fire events, and Cin7-style delivery with retries."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from datev_cin7_pipeline.sandbox.cin7 import Cin7Dataset, Cin7SimConfig
from datev_cin7_pipeline.sandbox.serving import serve_in_thread
from datev_cin7_pipeline_tests.sandbox.helpers import HEADERS, TODAY, FakeClock, Sim, wait_until


@dataclass
class Receiver:
    """A tiny webhook endpoint that records what it got and answers with `status`."""

    url: str
    status: int = 200
    received: list[tuple[dict[str, str], Any]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    async def hook(request: Request) -> Response:
        state.received.append((dict(request.headers), await request.json()))
        return PlainTextResponse("ok", status_code=state.status)

    with serve_in_thread(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as server:
        state.url = server.url + "/hook"
        yield state


def _subscribe(sim: Sim, event: str, url: str, **auth: Any) -> dict[str, Any]:
    body = {"Type": event, "ExternalURL": url, "IsActive": True, "ExternalAuthorizationType": "noauth", **auth}
    response = sim.session.post(sim.api + "webhooks", json=body, headers=HEADERS, timeout=10)
    assert response.status_code == 200, response.text
    [subscription] = response.json()["Webhooks"]
    return dict(subscription)


def test_subscriptions_are_managed_like_cin7(sim: Sim) -> None:
    created = _subscribe(
        sim,
        "Sale/OrderAuthorised",
        "https://hooks.example/a",
        ExternalAuthorizationType="basicauth",
        ExternalUserName="Hello",
        ExternalPassword="123",
        ExternalHeaders=[{"Key": "Key", "Value": "123"}],
    )
    assert created["Name"] == "Sale order has been authorised"
    assert re.fullmatch(r"[0-9a-f-]{36}", created["ID"])
    listed = sim.get("webhooks").json()["Webhooks"]
    assert listed == [created]
    changed = {**created, "IsActive": False, "ExternalURL": "https://hooks.example/b"}
    updated = sim.session.put(sim.api + "webhooks", json=changed, headers=HEADERS, timeout=10).json()["Webhooks"][0]
    assert (updated["IsActive"], updated["ExternalURL"]) == (False, "https://hooks.example/b")
    deleted = sim.session.delete(sim.api + "webhooks", params={"ID": created["ID"]}, headers=HEADERS, timeout=10)
    assert deleted.json() == {"Webhooks": []}
    assert sim.get("webhooks").json()["Webhooks"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"Type": "Sale/Exploded", "ExternalURL": "https://hooks.example"},
        {"Type": "Sale/Voided", "ExternalURL": "not a url"},
        {"Type": "Sale/Voided", "ExternalURL": "https://hooks.example", "ExternalAuthorizationType": "bearerauth"},
        {"Type": "Sale/Voided", "ExternalURL": "https://hooks.example", "ExternalAuthorizationType": "oauth"},
    ],
    ids=["unknown type", "bad url", "bearer without token", "unknown auth"],
)
def test_invalid_subscriptions_are_refused(sim: Sim, body: dict[str, Any]) -> None:
    response = sim.session.post(sim.api + "webhooks", json=body, headers=HEADERS, timeout=10)
    assert response.status_code == 400
    assert set(response.json()) == {"ErrorCode", "Exception"}


def test_at_most_five_subscriptions_of_one_type(sim: Sim) -> None:
    for number in range(5):
        _subscribe(sim, "Sale/Voided", f"https://hooks.example/{number}")
    body = {"Type": "Sale/Voided", "ExternalURL": "https://hooks.example/6"}
    refused = sim.session.post(sim.api + "webhooks", json=body, headers=HEADERS, timeout=10)
    assert refused.status_code == 400
    assert "limit of 5" in refused.json()["Exception"]
    _subscribe(sim, "Sale/Created", "https://hooks.example/other-type")


def test_an_authorised_invoice_is_delivered_with_bearer_auth(sim: Sim, receiver: Receiver, clock: FakeClock) -> None:
    _subscribe(
        sim,
        "Sale/InvoiceAuthorised",
        receiver.url,
        ExternalAuthorizationType="bearerauth",
        ExternalBearerToken="s3cret",
        ExternalHeaders=[{"Key": "X-Verify", "Value": "abc"}],
    )
    _subscribe(sim, "Sale/Voided", receiver.url)  # another type: must not fire
    before = sim.get("saleList").json()["Total"]
    result = sim.admin("documents/sale/new/authorise").json()
    assert result["Event"] == "Sale/InvoiceAuthorised"
    assert result["Subscriptions"] == 1
    sale_id = result["Details"]["SaleID"]
    wait_until(lambda: len(receiver.received) == 1)
    headers, payload = receiver.received[0]
    assert payload == {"SaleTaskID": sale_id, "SaleOrderNumber": result["Details"]["SaleOrderNumber"]}
    assert headers["authorization"] == "Bearer s3cret"
    assert headers["x-verify"] == "abc"
    assert headers["content-type"] == "application/json"
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24}", headers["x-amzn-trace-id"])
    sale = sim.get("sale", ID=sale_id).json()
    assert sale["Invoices"][0]["Status"] == "AUTHORISED"
    assert sale["Invoices"][0]["InvoiceNumber"] == result["Details"]["InvoiceNumber"]
    assert sim.session.get(sale["Attachments"][0]["DownloadUrl"], timeout=10).content.startswith(b"%PDF-")
    assert sim.get("saleList").json()["Total"] == before + 1
    assert sim.get("saleList", UpdatedSince="2025-06-15T11:59:59Z").json()["SaleList"][0]["SaleID"] == sale_id
    time.sleep(0.1)
    assert len(receiver.received) == 1


def test_a_failing_receiver_gets_six_attempts_then_the_subscription_is_deactivated(
    sim: Sim, receiver: Receiver
) -> None:
    receiver.status = 500
    subscription = _subscribe(
        sim,
        "Sale/Voided",
        receiver.url,
        ExternalAuthorizationType="basicauth",
        ExternalUserName="cin7",
        ExternalPassword="pw",
    )
    sale_id = sim.admin("documents/sale/new/authorise").json()["Details"]["SaleID"]
    assert sim.admin(f"documents/sale/{sale_id}/void").json()["Event"] == "Sale/Voided"
    wait_until(lambda: len(sim.session.get(sim.root + "/_sim/deliveries", timeout=10).json()["Deliveries"]) == 6)
    deliveries = sim.session.get(sim.root + "/_sim/deliveries", timeout=10).json()["Deliveries"]
    assert [d["Attempt"] for d in deliveries] == [1, 2, 3, 4, 5, 6]
    assert all(d["Status"] == 500 for d in deliveries)
    assert deliveries[-1]["Outcome"] == "failed, subscription deactivated"
    assert len(receiver.received) == 6
    assert receiver.received[0][0]["authorization"] == "Basic " + base64.b64encode(b"cin7:pw").decode()
    assert len({headers["x-amzn-trace-id"] for headers, _ in receiver.received}) == 6
    [stored] = sim.get("webhooks").json()["Webhooks"]
    assert (stored["ID"], stored["IsActive"]) == (subscription["ID"], False)
    assert "pw" not in str(deliveries)


def test_an_unreachable_receiver_is_retried_too(sim: Sim) -> None:
    with serve_in_thread(Starlette()) as gone:
        url = gone.url + "/hook"
    _subscribe(sim, "Purchase/InvoiceAuthorised", url)
    result = sim.admin("documents/purchase/new/authorise", {"InvoiceNumber": "RE/2025/Ö-1"}).json()
    assert result["Payload"] == {"TaskID": result["Details"]["PurchaseID"], "InvoiceNumber": "RE/2025/Ö-1"}
    wait_until(lambda: len(sim.app.state.cin7.dispatcher.attempts()) == 6)
    assert {attempt["Error"] for attempt in sim.app.state.cin7.dispatcher.attempts()} == {"ConnectionError"}
    assert sim.get("webhooks").json()["Webhooks"][0]["IsActive"] is False


def test_the_first_attempt_waits_for_the_configured_delay(
    serve: Callable[..., Sim], demo: Cin7Dataset, receiver: Receiver
) -> None:
    sim = serve(Cin7SimConfig(today=TODAY, webhook_first_delay=0.4), demo)
    _subscribe(sim, "Sale/InvoiceAuthorised", receiver.url)
    started = time.monotonic()
    sim.admin("documents/sale/new/authorise")
    wait_until(lambda: len(receiver.received) == 1)
    assert time.monotonic() - started >= 0.4


def test_payments_credit_notes_and_voids(sim: Sim, receiver: Receiver, clock: FakeClock) -> None:
    for event in ("Sale/PartialPaymentReceived", "Sale/FullPaymentReceived", "Sale/CreditNoteAuthorised"):
        _subscribe(sim, event, receiver.url)
    created = sim.admin("documents/sale/new/authorise", {"Lines": [{"SKU": "MES-KOC-20", "Quantity": 2}]}).json()
    sale_id, invoice_number = created["Details"]["SaleID"], created["Details"]["InvoiceNumber"]
    total = sim.get("sale", ID=sale_id).json()["Invoices"][0]["Total"]
    assert total == 116.62  # 2 × 49.00 + 19 % VAT
    clock.advance(60)
    partial = sim.admin(f"documents/sale/{sale_id}/pay", {"Amount": 16.62}).json()
    assert partial["Event"] == "Sale/PartialPaymentReceived"
    assert partial["Payload"] == {"SaleID": sale_id, "DocumentNumber": invoice_number}
    row = sim.get("saleList", Search=invoice_number).json()["SaleList"][0]
    assert (row["CombinedPaymentStatus"], row["PaidAmount"], row["Updated"]) == (
        "PARTIALLY PAID",
        16.62,
        "2025-06-15T12:01:00Z",
    )
    assert sim.admin(f"documents/sale/{sale_id}/pay").json()["Event"] == "Sale/FullPaymentReceived"
    assert sim.get("sale", ID=sale_id).json()["Invoices"][0]["Status"] == "PAID"
    assert sim.admin(f"documents/sale/{sale_id}/pay").status_code == 400  # nothing open
    assert sim.admin(f"documents/sale/{sale_id}/void").status_code == 400  # paid sales are not voided
    credit = sim.admin(f"documents/sale/{sale_id}/credit", {"Share": 0.5}).json()
    assert credit["Payload"] == {"SaleID": sale_id, "SaleOrderNumber": created["Details"]["SaleOrderNumber"]}
    notes = sim.get("sale/creditnote", SaleID=sale_id).json()["CreditNotes"]
    assert [(n["CreditNoteNumber"], n["Total"], n["Status"]) for n in notes] == [
        (credit["Details"]["CreditNoteNumber"], 58.31, "AUTHORISED")
    ]
    attachments = sim.get("sale/attachment", SaleID=sale_id).json()["Lines"]
    assert [a["FileName"] for a in attachments] == [
        f"{invoice_number}.pdf",
        f"{credit['Details']['CreditNoteNumber']}.pdf",
    ]
    wait_until(lambda: len(receiver.received) == 3)
    payment_payload = {"SaleID": sale_id, "DocumentNumber": invoice_number}
    assert [payload for _, payload in receiver.received] == [payment_payload, payment_payload, credit["Payload"]]


def test_purchase_payments_change_data_without_an_event(sim: Sim) -> None:
    created = sim.admin("documents/purchase/new/authorise").json()["Details"]
    paid = sim.admin(f"documents/purchase/{created['PurchaseID']}/pay", {"Amount": 10}).json()
    assert paid["Event"] is None
    payments = sim.get("purchase/payment", TaskID=created["PurchaseID"]).json()
    assert [(p["Amount"], p["TaskID"], p["Type"]) for p in payments] == [(10, created["PurchaseID"], "Payment")]
    row = sim.get("purchaseList", Search=created["InvoiceNumber"]).json()["PurchaseList"][0]
    assert row["CombinedPaymentStatus"] == "PARTIALLY PAID"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("documents/sale/new/pay", 400),
        ("documents/sale/00000000-0000-0000-0000-000000000000/pay", 404),
        ("documents/invoice/new/authorise", 404),
        ("documents/sale/new/explode", 404),
    ],
)
def test_bad_admin_actions_are_refused(sim: Sim, path: str, status: int) -> None:
    assert sim.admin(path).status_code == status
