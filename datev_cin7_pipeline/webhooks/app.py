"""`POST /webhooks/cin7/{connection}`: Cin7 deliveries into the inbox, committed before we answer.

Order of checks, cheapest first and without telling an outsider more than "no": authentication (401, also
for a connection that does not exist), content type (415), size (413, before reading more than the limit),
JSON and shape (400). Only then is the event written, with its audit entry, in one transaction; the 202
goes out after the commit, so a delivery Cin7 saw accepted is never lost. A retried delivery of the same
event finds its row and only counts up.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from datev_cin7_pipeline.cin7.webhook_events import EVENT_HEADER, WebhookPayloadError, normalise_event
from datev_cin7_pipeline.store import StateStore
from datev_cin7_pipeline.store.inbox import IGNORED, PENDING, InboxReceipt, record_delivery
from datev_cin7_pipeline.store.vault import Secret

MAX_BODY_BYTES = 64 * 1024
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebhookAuth:
    """What a delivery must carry: `mode` bearer | basic | header, checked in constant time."""

    mode: str
    secret: Secret
    username: str = "cin7"
    header_name: str = "X-Webhook-Token"

    def accepts(self, headers: Mapping[str, str]) -> bool:
        if self.mode == "header":
            return _same(headers.get(self.header_name, ""), self.secret.reveal())
        authorization = headers.get("authorization", "")
        scheme, _, credentials = authorization.partition(" ")
        if self.mode == "bearer":
            return scheme.lower() == "bearer" and _same(credentials.strip(), self.secret.reveal())
        if self.mode == "basic" and scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(credentials.strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
            # Both compared, always, so the time taken does not tell which one was wrong.
            return _same(user, self.username) & _same(password, self.secret.reveal())
        return False


@dataclass(frozen=True)
class ReceiverConnection:
    name: str
    connection_id: int
    auth: WebhookAuth


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8"))


def build_webhook_app(
    store: StateStore,
    connections: Mapping[str, ReceiverConnection],
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
    after_commit: Callable[[InboxReceipt], None] | None = None,
) -> Starlette:
    """The receiver. `after_commit` runs between the commit and the answer (tests use it to crash there)."""
    writer = GroupCommitWriter(store, after_commit=after_commit)

    async def receive(request: Request) -> JSONResponse:
        name = request.path_params["connection"]
        connection = connections.get(name)
        if connection is None or not connection.auth.accepts(request.headers):
            log.warning("webhook refused: bad credentials for connection %r", name[:64])
            return _answer(401, "unauthorized", headers={"WWW-Authenticate": "Bearer"})
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            return _answer(415, "unsupported_media_type", "Only application/json is accepted.")
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_body_bytes):
            return _answer(413, "too_large", f"The body must be at most {max_body_bytes} bytes.")
        body = bytearray()
        try:
            async for chunk in request.stream():
                body += chunk
                if len(body) > max_body_bytes:
                    return _answer(413, "too_large", f"The body must be at most {max_body_bytes} bytes.")
        except ClientDisconnect:
            return _answer(400, "incomplete", "The body did not arrive.")
        try:
            payload = json.loads(bytes(body).decode("utf-8"))
            event = normalise_event(payload, request.headers.get(EVENT_HEADER))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return _answer(400, "invalid_json", "The body is not valid UTF-8 JSON.")
        except RecursionError:
            return _answer(400, "invalid_json", "The body is nested too deeply.")
        except WebhookPayloadError as exc:
            return _answer(400, "invalid_event", str(exc))

        receipt = await writer.write(
            Delivery(
                connection_id=connection.connection_id,
                business_key=event.business_key,
                event_type=event.event_type,
                document_kind=event.document_kind,
                document_id=event.document_id,
                payload=payload,
                status=PENDING if event.known or event.document_id else IGNORED,
            )
        )
        outcome = "duplicate" if receipt.duplicate else ("accepted" if event.document_id else "ignored")
        return JSONResponse({"status": outcome, "event_id": receipt.event_id}, status_code=202)

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/webhooks/cin7/{connection}", receive, methods=["POST"]),
            Route("/healthz", health, methods=["GET"]),
        ]
    )


@dataclass(frozen=True)
class Delivery:
    connection_id: int
    business_key: str
    event_type: str
    document_kind: str | None
    document_id: str | None
    payload: Any
    status: str


class GroupCommitWriter:
    """Deliveries that arrive together share one transaction (one fsync); each is answered after it.

    One task drains the queue, so the database sees one writer; a batch that fails is retried one delivery
    at a time, so a single bad row cannot take its neighbours down with it.
    """

    def __init__(
        self, store: StateStore, *, max_batch: int = 128, after_commit: Callable[[InboxReceipt], None] | None = None
    ) -> None:
        self.store = store
        self.max_batch = max_batch
        self.after_commit = after_commit
        self._queue: asyncio.Queue[tuple[Delivery, asyncio.Future[InboxReceipt]]] | None = None
        self._task: asyncio.Task[None] | None = None

    async def write(self, delivery: Delivery) -> InboxReceipt:
        if self._queue is None or self._task is None or self._task.done():
            self._queue = asyncio.Queue()
            self._task = asyncio.create_task(self._drain(self._queue))
        future: asyncio.Future[InboxReceipt] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((delivery, future))
        return await future

    async def _drain(self, queue: asyncio.Queue[tuple[Delivery, asyncio.Future[InboxReceipt]]]) -> None:
        while True:
            batch = [await queue.get()]
            while len(batch) < self.max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                receipts = await run_in_threadpool(self._commit, [delivery for delivery, _ in batch])
            except Exception:
                for delivery, future in batch:
                    try:
                        receipt = (await run_in_threadpool(self._commit, [delivery]))[0]
                    except Exception as exc:
                        future.set_exception(exc)
                    else:
                        future.set_result(receipt)
                continue
            for (_, future), receipt in zip(batch, receipts, strict=True):
                future.set_result(receipt)

    def _commit(self, deliveries: list[Delivery]) -> list[InboxReceipt]:
        with self.store.session() as session:
            receipts = [
                record_delivery(
                    session,
                    connection_id=delivery.connection_id,
                    business_key=delivery.business_key,
                    event_type=delivery.event_type,
                    document_kind=delivery.document_kind,
                    document_id=delivery.document_id,
                    payload=delivery.payload,
                    status=delivery.status,
                    actor="webhook-receiver",
                )
                for delivery in deliveries
            ]
        if self.after_commit is not None:
            for receipt in receipts:
                self.after_commit(receipt)
        return receipts


def _answer(status: int, code: str, message: str = "", headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": code}
    if message:
        body["message"] = message
    return JSONResponse(body, status_code=status, headers=headers)
