"""The webhook receiver: only Cin7 with the right credentials gets in, malformed deliveries are refused
with the right 4xx and leave nothing behind, an accepted delivery is committed before the answer, and a
retried delivery is one inbox row with two audit entries. On SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from datev_cin7_pipeline.store import Secret, StateStore
from datev_cin7_pipeline.store.connections import ensure_connection
from datev_cin7_pipeline.webhooks.app import MAX_BODY_BYTES, ReceiverConnection, WebhookAuth, build_webhook_app

TOKEN = "whk-7Qe2rT9yU1iO3pA5sD7fG9hJ"
SALE_ID = "9c4a7f0e-3b1d-4e2a-8f6c-1d2e3f4a5b6c"
URL = "/webhooks/cin7/acme"
BEARER = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass
class Receiver:
    store: StateStore
    client: TestClient
    crashes: list[int] = field(default_factory=list)

    def count(self, sql: str) -> int:
        with self.store.engine.connect() as connection:
            return int(connection.execute(sa.text(sql)).scalar_one())

    def inbox(self) -> list[Any]:
        with self.store.engine.connect() as connection:
            return list(connection.execute(sa.text("SELECT * FROM webhook_inbox ORDER BY id")).mappings())


def _receiver(store: StateStore, auth: WebhookAuth, **kwargs: Any) -> Receiver:
    with store.session() as session:
        connection_id = ensure_connection(session, "acme", actor="test")
    app = build_webhook_app(store, {"acme": ReceiverConnection("acme", connection_id, auth)}, **kwargs)
    return Receiver(store, TestClient(app, raise_server_exceptions=False))


@pytest.fixture
def receiver(store: StateStore) -> Iterator[Receiver]:
    return _receiver(store, WebhookAuth(mode="bearer", secret=Secret(TOKEN)))


def _post(
    receiver: Receiver,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
    url: str = URL,
    method: str = "POST",
) -> Any:
    content = raw if raw is not None else json.dumps(body).encode()
    return receiver.client.request(method, url, content=content, headers=headers if headers is not None else BEARER)


# --- refused deliveries: (name, request, expected status) ------------------------------------------

GOOD = {"SaleTaskID": SALE_ID, "SaleOrderNumber": "SO-00042"}
EVENT = {**BEARER, "X-Cin7-Event": "Sale/InvoiceAuthorised"}


def _nested(depth: int) -> bytes:
    return b'{"SaleID": ' + b"[" * depth + b"]" * depth + b"}"


REFUSED: list[tuple[str, dict[str, Any], int]] = [
    ("no credentials", {"body": GOOD, "headers": {"Content-Type": "application/json"}}, 401),
    ("wrong bearer token", {"body": GOOD, "headers": {**BEARER, "Authorization": "Bearer nope"}}, 401),
    ("token prefix only", {"body": GOOD, "headers": {**BEARER, "Authorization": f"Bearer {TOKEN[:-1]}"}}, 401),
    ("token with extra", {"body": GOOD, "headers": {**BEARER, "Authorization": f"Bearer {TOKEN}x"}}, 401),
    ("empty bearer", {"body": GOOD, "headers": {**BEARER, "Authorization": "Bearer "}}, 401),
    ("basic instead of bearer", {"body": GOOD, "headers": {**BEARER, "Authorization": _basic("cin7", TOKEN)}}, 401),
    (
        "token in another header",
        {"body": GOOD, "headers": {"X-Webhook-Token": TOKEN, "Content-Type": "application/json"}},
        401,
    ),
    ("unknown connection", {"body": GOOD, "url": "/webhooks/cin7/other"}, 401),
    ("connection name injection", {"body": GOOD, "url": "/webhooks/cin7/acme%27--"}, 401),
    ("text/plain", {"body": GOOD, "headers": {**BEARER, "Content-Type": "text/plain"}}, 415),
    ("no content type", {"body": GOOD, "headers": {"Authorization": f"Bearer {TOKEN}"}}, 415),
    ("xml", {"raw": b"<SaleID/>", "headers": {**BEARER, "Content-Type": "application/xml"}}, 415),
    ("form", {"raw": b"SaleID=1", "headers": {**BEARER, "Content-Type": "application/x-www-form-urlencoded"}}, 415),
    ("json look-alike type", {"body": GOOD, "headers": {**BEARER, "Content-Type": "application/jsonx"}}, 415),
    ("oversize declared", {"raw": b"{" + b" " * MAX_BODY_BYTES + b"}"}, 413),
    ("oversize padded JSON", {"body": {**GOOD, "Pad": "x" * MAX_BODY_BYTES}}, 413),
    ("broken JSON", {"raw": b'{"SaleID": '}, 400),
    ("empty body", {"raw": b""}, 400),
    ("JSON array", {"body": [GOOD]}, 400),
    ("JSON string", {"body": "Sale/InvoiceAuthorised"}, 400),
    ("JSON number", {"body": 42}, 400),
    ("JSON null", {"body": None}, 400),
    ("invalid UTF-8", {"raw": b'{"SaleID": "\xff\xfe"}'}, 400),
    ("UTF-16 body", {"raw": json.dumps(GOOD).encode("utf-16")}, 400),
    ("nested too deep", {"raw": _nested(5000)}, 400),
    ("id is SQL", {"body": {"SaleID": "1'; DROP TABLE webhook_inbox; --"}}, 400),
    ("id is a number", {"body": {"SaleID": 12345}}, 400),
    ("id is an object", {"body": {"SaleID": {"$ne": None}}}, 400),
    ("id is a GUID with extra", {"body": {"SaleID": SALE_ID + "0"}}, 400),
    ("id with path", {"body": {"SaleID": "../../etc/passwd"}}, 400),
    ("event header path", {"body": GOOD, "headers": {**BEARER, "X-Cin7-Event": "../../admin"}}, 400),
    ("event type with spaces", {"body": {**GOOD, "Type": "Sale Invoice Authorised"}}, 400),
    ("event type too long", {"body": {**GOOD, "Type": "Sale/" + "A" * 200}}, 400),
    ("NUL in text", {"body": {**GOOD, "SaleOrderNumber": "SO-1\u0000"}}, 400),
    ("NUL in another key", {"body": {**GOOD, "Note": "a\u0000b"}}, 400),
    ("lone surrogate", {"raw": b'{"SaleTaskID": "' + SALE_ID.encode() + b'", "Note": "\\ud800"}'}, 400),
    ("number with control chars", {"body": {**GOOD, "SaleOrderNumber": "SO-1\u202e\u0007"}}, 400),
    ("number too long", {"body": {**GOOD, "SaleOrderNumber": "SO-" + "9" * 100}}, 400),
    ("known event without an id", {"body": {"SaleOrderNumber": "SO-1"}, "headers": EVENT}, 400),
    ("neither type nor id", {"body": {"Hello": "world"}}, 400),
    ("GET", {"raw": b"", "method": "GET"}, 405),
    ("PUT", {"body": GOOD, "method": "PUT"}, 405),
    ("wrong path", {"body": GOOD, "url": "/webhooks/cin7"}, 404),
]


def test_refused_deliveries_get_the_right_status_and_leave_nothing(receiver: Receiver) -> None:
    assert len(REFUSED) >= 30
    wrong = []
    for name, request, status in REFUSED:
        response = _post(receiver, **request)
        if response.status_code != status:
            wrong.append(f"{name}: {response.status_code} (expected {status}) {response.text[:120]}")
        elif status in (400, 413, 415):
            assert response.json()["error"]
            assert TOKEN not in response.text
    assert wrong == []
    assert receiver.count("SELECT count(*) FROM webhook_inbox") == 0
    assert receiver.count("SELECT count(*) FROM audit_events WHERE action LIKE 'webhook.%'") == 0


def test_a_delivery_is_stored_and_a_retry_is_one_row_with_two_audit_entries(receiver: Receiver) -> None:
    first = _post(receiver, GOOD, headers=EVENT)
    again = _post(receiver, GOOD, headers=EVENT)
    assert first.status_code == again.status_code == 202
    assert first.json() == {"status": "accepted", "event_id": 1}
    assert again.json() == {"status": "duplicate", "event_id": 1}
    [row] = receiver.inbox()
    assert row["event_type"] == "Sale/InvoiceAuthorised"
    assert row["document_kind"] == "sale"
    assert row["document_id"] == SALE_ID
    assert row["status"] == "pending"
    assert row["delivery_count"] == 2
    assert row["business_key"] == f"Sale/InvoiceAuthorised|sale|{SALE_ID}|SO-00042"
    stored = row["payload"] if isinstance(row["payload"], dict) else json.loads(row["payload"])
    assert stored == GOOD
    assert receiver.count("SELECT count(*) FROM audit_events WHERE action = 'webhook.received'") == 1
    assert receiver.count("SELECT count(*) FROM audit_events WHERE action = 'webhook.duplicate'") == 1


@pytest.mark.parametrize(
    ("body", "headers", "expected"),
    [
        # the same sale and event under the other key spellings Cin7 uses
        ({"SaleID": SALE_ID.upper(), "SaleOrderNumber": "SO-00042"}, EVENT, ("Sale/InvoiceAuthorised", "pending")),
        # the US spelling a help page uses
        (GOOD, {**BEARER, "X-Cin7-Event": "Sale/InvoiceAuthorized"}, ("Sale/InvoiceAuthorised", "pending")),
        # the type inside the payload
        (
            {"Type": "Purchase/InvoiceAuthorised", "TaskID": SALE_ID, "InvoiceNumber": "RE 17/ÄÖ"},
            BEARER,
            ("Purchase/InvoiceAuthorised", "pending"),
        ),
        # no type at all: the sale id is enough to know what to re-read
        ({"SaleID": SALE_ID}, BEARER, ("Sale/Unknown", "pending")),
        # an event type we do not use: kept, ignored
        ({"ProductID": SALE_ID}, {**BEARER, "X-Cin7-Event": "Product/Updated"}, ("Product/Updated", "ignored")),
    ],
)
def test_accepted_variants_are_normalised(
    receiver: Receiver, body: Any, headers: dict[str, str], expected: tuple[str, str]
) -> None:
    response = _post(receiver, body, headers=headers)
    assert response.status_code == 202
    [row] = receiver.inbox()
    assert (row["event_type"], row["status"]) == expected
    if expected[1] == "pending":
        assert row["document_id"] == SALE_ID


def test_document_numbers_are_stored_in_composed_unicode(receiver: Receiver) -> None:
    decomposed = "RE-Mu\u0308ller/2026"
    _post(
        receiver,
        {"TaskID": SALE_ID, "InvoiceNumber": decomposed},
        headers={**BEARER, "X-Cin7-Event": "Purchase/InvoiceAuthorised"},
    )
    [row] = receiver.inbox()
    assert row["business_key"].endswith("|RE-M\u00fcller/2026")


@pytest.mark.parametrize(
    ("auth", "good", "bad"),
    [
        (
            WebhookAuth(mode="basic", secret=Secret(TOKEN), username="cin7"),
            {"Authorization": _basic("cin7", TOKEN)},
            [
                {"Authorization": _basic("cin7", "wrong")},
                {"Authorization": _basic("other", TOKEN)},
                {"Authorization": "Basic !!!notbase64"},
                {"Authorization": _basic("cin7:" + TOKEN, "")},
            ],
        ),
        (
            WebhookAuth(mode="header", secret=Secret(TOKEN), header_name="X-Webhook-Token"),
            {"X-Webhook-Token": TOKEN},
            [{"X-Webhook-Token": "wrong"}, {"Authorization": f"Bearer {TOKEN}"}, {"X-Other": TOKEN}],
        ),
    ],
)
def test_basic_and_custom_header_authentication(
    store: StateStore, auth: WebhookAuth, good: dict[str, str], bad: list[dict[str, str]]
) -> None:
    receiver = _receiver(store, auth)
    for headers in bad:
        response = _post(receiver, GOOD, headers={**headers, "Content-Type": "application/json"})
        assert response.status_code == 401, headers
    assert _post(receiver, GOOD, headers={**good, "Content-Type": "application/json"}).status_code == 202
    assert len(receiver.inbox()) == 1


def test_a_crash_after_the_commit_loses_nothing(store: StateStore) -> None:
    def crash(_: Any) -> None:
        raise RuntimeError("process died after the commit")

    receiver = _receiver(store, WebhookAuth(mode="bearer", secret=Secret(TOKEN)), after_commit=crash)
    response = _post(receiver, GOOD, headers=EVENT)
    assert response.status_code == 500  # Cin7 sees a failure and will retry…
    fresh = StateStore(store.url)  # …and what was committed is there for every other process
    try:
        with fresh.engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT document_id, status FROM webhook_inbox")).all()
        assert rows == [(SALE_ID, "pending")]
    finally:
        fresh.dispose()
    # the retry is recognised as the same event
    ok = _receiver(store, WebhookAuth(mode="bearer", secret=Secret(TOKEN)))
    assert _post(ok, GOOD, headers=EVENT).json()["status"] == "duplicate"
