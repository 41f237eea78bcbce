"""Webhook subscriptions (the `/webhooks` API) and their delivery, the way Cin7 describes it.

Cin7 posts a thin JSON notification to every active subscription of the event's type, with the
subscription's own authentication (Basic, Bearer, or custom headers; nothing is signed) and an
`x-amzn-trace-id` header. The first attempt comes about a minute after the event, then retries after
5, 10, 15, 20 and 25 more minutes; when all six fail the subscription is deactivated (FACTS.md §8).
The delays are settings so tests can use milliseconds. Deliveries run on one background thread; the
attempts are logged without the credentials that were sent.
"""

from __future__ import annotations

import base64
import heapq
import itertools
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from datev_cin7_pipeline.sandbox.cin7 import jsonio
from datev_cin7_pipeline.sandbox.cin7.config import Clock
from datev_cin7_pipeline.sandbox.cin7.dates import timestamp_from_epoch
from datev_cin7_pipeline.sandbox.cin7.jsonio import JsonObject

MAX_PER_TYPE = 5
AUTH_TYPES = ("noauth", "basicauth", "bearerauth")
# Event type → the Name Cin7 gives the subscription (only Sale/OrderAuthorised's is documented).
EVENT_NAMES = {
    "Sale/Created": "Sale has been created",
    "Sale/QuoteAuthorised": "Sale quote has been authorised",
    "Sale/OrderAuthorised": "Sale order has been authorised",
    "Sale/Voided": "Sale has been voided",
    "Sale/Backordered": "Sale has been backordered",
    "Sale/PickAuthorised": "Sale pick has been authorised",
    "Sale/PackAuthorised": "Sale pack has been authorised",
    "Sale/ShipmentAuthorised": "Sale shipment has been authorised",
    "Sale/InvoiceAuthorised": "Sale invoice has been authorised",
    "Sale/CreditNoteAuthorised": "Sale credit note has been authorised",
    "Sale/Undo": "Sale task has been undone",
    "Sale/PartialPaymentReceived": "Sale partial payment has been received",
    "Sale/FullPaymentReceived": "Sale full payment has been received",
    "Sale/AttachmentAdded": "Sale attachment has been added",
    "Sale/AdditionalAttributesChanged": "Sale additional attributes have been changed",
    "Sale/ShipmentTrackingNumberChanged": "Sale shipment tracking number has been changed",
    "Purchase/OrderAuthorised": "Purchase order has been authorised",
    "Purchase/InvoiceAuthorised": "Purchase invoice has been authorised",
    "Purchase/StockReceivedAuthorised": "Purchase stock received has been authorised",
    "Purchase/CreditNoteAuthorised": "Purchase credit note has been authorised",
    "Purchase/Updated": "Purchase has been updated",
    "Customer/Updated": "Customer has been updated",
    "Supplier/Updated": "Supplier has been updated",
    "Product/Updated": "Product has been updated",
    "Stock/AvailableStockLevelChanged": "Available stock level has been changed",
    "Lead/Updated": "Lead has been updated",
    "Lead/Converted": "Lead has been converted",
    "Opportunity/Authorized": "Opportunity has been authorized",
    "Opportunity/AttachmentAdded": "Opportunity attachment has been added",
    "Opportunity/Voided": "Opportunity has been voided",
    "Opportunity/Converted": "Opportunity has been converted",
    "Task/Overdue": "Task is overdue",
}


class WebhookError(ValueError):
    """A subscription request Cin7 would refuse (answered with 400)."""


class WebhookRegistry:
    """The account's webhook subscriptions, in the shape of `GET /webhooks`."""

    def __init__(self) -> None:
        self._subscriptions: dict[str, JsonObject] = {}
        self._lock = threading.Lock()

    def all(self) -> list[JsonObject]:
        with self._lock:
            return [dict(subscription) for subscription in self._subscriptions.values()]

    def get(self, subscription_id: str) -> JsonObject | None:
        with self._lock:
            found = self._subscriptions.get(subscription_id.lower())
            return dict(found) if found else None

    def create(self, body: Any) -> JsonObject:
        subscription = _validated(body, {"ID": str(uuid.uuid4()), "IsActive": True})
        with self._lock:
            same_type = [s for s in self._subscriptions.values() if s["Type"] == subscription["Type"]]
            if len(same_type) >= MAX_PER_TYPE:
                raise WebhookError(f"There is a limit of {MAX_PER_TYPE} webhooks of the same type")
            self._subscriptions[subscription["ID"].lower()] = subscription
            return dict(subscription)

    def update(self, body: Any) -> JsonObject:
        if not isinstance(body, dict) or not isinstance(body.get("ID"), str):
            raise WebhookError("ID is required")
        with self._lock:
            current = self._subscriptions.get(body["ID"].lower())
            if current is None:
                raise WebhookError(f"Webhook with ID = '{body['ID']}' not found")
            updated = _validated({**current, **body}, {"ID": current["ID"]})
            if updated["Type"] != current["Type"]:
                same_type = [s for s in self._subscriptions.values() if s["Type"] == updated["Type"]]
                if len(same_type) >= MAX_PER_TYPE:
                    raise WebhookError(f"There is a limit of {MAX_PER_TYPE} webhooks of the same type")
            self._subscriptions[current["ID"].lower()] = updated
            return dict(updated)

    def delete(self, subscription_id: str) -> None:
        with self._lock:
            if self._subscriptions.pop(subscription_id.lower(), None) is None:
                raise WebhookError(f"Webhook with ID = '{subscription_id}' not found")

    def active_for(self, event_type: str) -> list[JsonObject]:
        with self._lock:
            return [dict(s) for s in self._subscriptions.values() if s["Type"] == event_type and s["IsActive"]]

    def deactivate(self, subscription_id: str) -> None:
        with self._lock:
            if subscription_id.lower() in self._subscriptions:
                self._subscriptions[subscription_id.lower()]["IsActive"] = False


def _validated(body: Any, fixed: JsonObject) -> JsonObject:
    """A subscription in Cin7's field order, or WebhookError naming what is wrong."""
    if not isinstance(body, dict):
        raise WebhookError("The request body must be a webhook object")
    event_type = body.get("Type")
    if event_type not in EVENT_NAMES:
        raise WebhookError(f"Type '{event_type}' is not a valid webhook type")
    url = body.get("ExternalURL")
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise WebhookError("ExternalURL must be an absolute http(s) URL")
    auth = str(body.get("ExternalAuthorizationType") or "noauth").lower()
    if auth not in AUTH_TYPES:
        raise WebhookError(f"ExternalAuthorizationType must be one of {', '.join(AUTH_TYPES)}")
    if auth == "basicauth" and not (body.get("ExternalUserName") and body.get("ExternalPassword")):
        raise WebhookError("ExternalUserName and ExternalPassword are required for basicauth")
    if auth == "bearerauth" and not body.get("ExternalBearerToken"):
        raise WebhookError("ExternalBearerToken is required for bearerauth")
    headers = body.get("ExternalHeaders") or []
    if not isinstance(headers, list) or not all(
        isinstance(h, dict) and isinstance(h.get("Key"), str) and isinstance(h.get("Value"), str) for h in headers
    ):
        raise WebhookError("ExternalHeaders must be a list of {Key, Value} strings")
    is_active = body.get("IsActive", fixed.get("IsActive", True))
    if not isinstance(is_active, bool):
        raise WebhookError("IsActive must be true or false")
    return {
        "ID": fixed["ID"],
        "Type": event_type,
        "Name": EVENT_NAMES[event_type],
        "IsActive": is_active,
        "ExternalURL": url,
        "ExternalAuthorizationType": auth,
        "ExternalUserName": body.get("ExternalUserName") or "",
        "ExternalPassword": body.get("ExternalPassword") or "",
        "ExternalBearerToken": body.get("ExternalBearerToken") or None,
        "ExternalHeaders": [{"Key": h["Key"], "Value": h["Value"]} for h in headers],
    }


def delivery_headers(subscription: JsonObject, trace_id: str) -> dict[str, str]:
    """The headers Cin7 sends with a delivery: JSON, the trace id, custom headers, then the configured auth."""
    headers = {"Content-Type": "application/json", "x-amzn-trace-id": trace_id}
    headers.update({header["Key"]: header["Value"] for header in subscription["ExternalHeaders"]})
    if subscription["ExternalAuthorizationType"] == "basicauth":
        pair = f"{subscription['ExternalUserName']}:{subscription['ExternalPassword']}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    elif subscription["ExternalAuthorizationType"] == "bearerauth":
        headers["Authorization"] = f"Bearer {subscription['ExternalBearerToken']}"
    return headers


def _trace_id(now: float) -> str:
    """An AWS X-Ray style trace id (`Root=1-<epoch hex>-<24 hex>`), new for every attempt."""
    return f"Root=1-{int(now):08x}-{secrets.token_hex(12)}"


@dataclass(frozen=True)
class _Delivery:
    subscription_id: str
    event_type: str
    payload: JsonObject
    attempt: int


class WebhookDispatcher:
    """Delivers events to subscriptions on a background thread, with Cin7's schedule of retries."""

    def __init__(
        self,
        registry: WebhookRegistry,
        *,
        first_delay: float,
        retry_delays: tuple[float, ...],
        timeout: float,
        clock: Clock,
    ) -> None:
        self._registry = registry
        self._delays = (first_delay, *retry_delays)
        self._timeout = timeout
        self._clock = clock
        self._queue: list[tuple[float, int, _Delivery]] = []
        self._sequence = itertools.count()
        self._attempts: list[JsonObject] = []
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def publish(self, event_type: str, payload: JsonObject) -> int:
        """Schedule the event for every active subscription of its type; returns how many."""
        subscriptions = self._registry.active_for(event_type)
        for subscription in subscriptions:
            self._schedule(_Delivery(subscription["ID"], event_type, payload, 1))
        return len(subscriptions)

    def attempts(self) -> list[JsonObject]:
        with self._condition:
            return list(self._attempts)

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        if self._thread is not None:
            self._thread.join(self._timeout + 1)

    def _schedule(self, delivery: _Delivery) -> None:
        due = time.monotonic() + self._delays[delivery.attempt - 1]
        with self._condition:
            if self._closed:
                return
            heapq.heappush(self._queue, (due, next(self._sequence), delivery))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="cin7-webhooks", daemon=True)
                self._thread.start()
            self._condition.notify_all()

    def _run(self) -> None:
        with requests.Session() as session:
            while (delivery := self._next_due()) is not None:
                self._attempt(session, delivery)

    def _next_due(self) -> _Delivery | None:
        with self._condition:
            while not self._closed:
                if self._queue and self._queue[0][0] <= time.monotonic():
                    return heapq.heappop(self._queue)[2]
                wait = self._queue[0][0] - time.monotonic() if self._queue else None
                self._condition.wait(wait)
            return None

    def _attempt(self, session: requests.Session, delivery: _Delivery) -> None:
        subscription = self._registry.get(delivery.subscription_id)
        now = self._clock()
        entry: JsonObject = {
            "SubscriptionID": delivery.subscription_id,
            "Type": delivery.event_type,
            "Attempt": delivery.attempt,
            "Time": timestamp_from_epoch(now),
            "Payload": delivery.payload,
            "Status": None,
            "Outcome": "skipped",
            "Error": None,
        }
        if subscription is None or not subscription["IsActive"]:
            self._log(entry)
            return
        trace_id = _trace_id(now)
        entry.update(URL=subscription["ExternalURL"], TraceID=trace_id)
        try:
            response = session.post(
                subscription["ExternalURL"],
                data=jsonio.dumps(delivery.payload).encode("utf-8"),
                headers=delivery_headers(subscription, trace_id),
                timeout=self._timeout,
            )
            entry["Status"] = response.status_code
            delivered = 200 <= response.status_code < 300
        except requests.RequestException as exc:
            entry["Error"] = type(exc).__name__
            delivered = False
        entry["Outcome"] = "delivered" if delivered else "failed"
        if not delivered and delivery.attempt < len(self._delays):
            self._schedule(
                _Delivery(delivery.subscription_id, delivery.event_type, delivery.payload, delivery.attempt + 1)
            )
        elif not delivered:
            self._registry.deactivate(delivery.subscription_id)
            entry["Outcome"] = "failed, subscription deactivated"
        self._log(entry)

    def _log(self, entry: JsonObject) -> None:
        with self._condition:
            self._attempts.append(entry)
