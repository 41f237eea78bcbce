"""Cin7 webhook deliveries, normalised: which event, which document to re-read, and a key for duplicates.

Cin7's payloads are thin and their keys vary by event (`SaleID`, `SaleTaskID`, `TaskID`, `PurchaseID`, …).
A webhook is only a trigger: it marks a document to re-read from the API, nothing is booked from it. So the
normaliser is strict about shape (ids must look like Cin7 ids, strings must be clean text) and tolerant
about content (an event type it does not know is kept as "ignored", not refused).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

EVENT_HEADER = "X-Cin7-Event"  # set on each subscription through ExternalHeaders by `webhooks register`

# Event type → the kind of document it tells us to re-read.
EVENT_DOCUMENT_KIND: dict[str, str] = {
    "Sale/InvoiceAuthorised": "sale",
    "Sale/CreditNoteAuthorised": "sale",
    "Sale/PartialPaymentReceived": "sale",
    "Sale/FullPaymentReceived": "sale",
    "Sale/Voided": "sale",
    "Sale/Undo": "sale",
    "Purchase/InvoiceAuthorised": "purchase",
    "Purchase/CreditNoteAuthorised": "purchase",
    "Purchase/Updated": "purchase",
    "Customer/Updated": "customer",
    "Supplier/Updated": "supplier",
}
SUBSCRIBED_EVENTS = tuple(EVENT_DOCUMENT_KIND)

# Where each kind's id can be found, in order of preference (the keys vary by event).
_ID_KEYS: dict[str, tuple[str, ...]] = {
    "sale": ("SaleID", "SaleTaskID", "ID", "TaskID"),
    "purchase": ("PurchaseID", "TaskID", "PurchaseTaskID", "ID"),
    "customer": ("CustomerID", "ID"),
    "supplier": ("SupplierID", "ID"),
}
_NUMBER_KEYS = ("InvoiceNumber", "DocumentNumber", "SaleOrderNumber", "PurchaseOrderNumber", "OrderNumber")
_TYPE_KEYS = ("Type", "EventType", "WebhookType", "Event")
_EVENT_TYPE = re.compile(r"^[A-Za-z]{2,40}/[A-Za-z]{2,60}$")
_CIN7_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
MAX_NUMBER_LENGTH = 64


class WebhookPayloadError(ValueError):
    """The delivery is malformed; the message says what, for the 400 answer."""


@dataclass(frozen=True)
class WebhookEvent:
    event_type: str
    document_kind: str | None
    document_id: str | None
    document_number: str | None
    known: bool

    @property
    def business_key(self) -> str:
        """Same event delivered again → same key (Cin7 retries; its trace id changes, this does not)."""
        return "|".join(
            [self.event_type, self.document_kind or "-", self.document_id or "-", self.document_number or "-"]
        )


def normalise_event(payload: Any, header_event_type: str | None = None) -> WebhookEvent:
    if not isinstance(payload, dict):
        raise WebhookPayloadError("The body must be a JSON object.")
    _require_clean_text(payload)
    event_type = _event_type(payload, header_event_type)
    kind = EVENT_DOCUMENT_KIND.get(event_type) if event_type else None
    if event_type and kind is None:
        return WebhookEvent(event_type, None, None, _document_number(payload), known=False)
    kinds = [kind] if kind else [k for k in _ID_KEYS if any(key in payload for key in _ID_KEYS[k][:2])]
    for candidate in kinds:
        document_id = _document_id(payload, candidate)
        if document_id:
            return WebhookEvent(
                event_type or f"{candidate.capitalize()}/Unknown",
                candidate,
                document_id,
                _document_number(payload),
                known=bool(event_type),
            )
    if event_type:
        raise WebhookPayloadError(
            f"A {event_type} event must name the document (one of {', '.join(_ID_KEYS[kind or 'sale'])})."
        )
    raise WebhookPayloadError("The event names neither its type nor a Cin7 document id.")


def _event_type(payload: Mapping[str, Any], header_value: str | None) -> str | None:
    candidates = [header_value] if header_value else []
    candidates += [payload[key] for key in _TYPE_KEYS if isinstance(payload.get(key), str)]
    for value in candidates:
        value = value.strip()
        if not _EVENT_TYPE.match(value):
            raise WebhookPayloadError("The event type is not a Cin7 event type like 'Sale/InvoiceAuthorised'.")
        # Cin7 spells "Authorised"; a help page uses "Authorized": treat both alike.
        return value.replace("Authorized", "Authorised") if value != "Opportunity/Authorized" else value
    return None


def _document_id(payload: Mapping[str, Any], kind: str) -> str | None:
    for key in _ID_KEYS[kind]:
        value = payload.get(key)
        if value in (None, ""):
            continue
        if not isinstance(value, str) or not _CIN7_ID.match(value.strip()):
            raise WebhookPayloadError(f"{key} is not a Cin7 id (a GUID).")
        return value.strip().lower()
    return None


def _document_number(payload: Mapping[str, Any]) -> str | None:
    for key in _NUMBER_KEYS:
        value = payload.get(key)
        if value in (None, ""):
            continue
        if not isinstance(value, str | int):
            raise WebhookPayloadError(f"{key} must be text.")
        text = unicodedata.normalize("NFC", str(value).strip())
        if len(text) > MAX_NUMBER_LENGTH or any(unicodedata.category(ch)[0] == "C" for ch in text):
            raise WebhookPayloadError(f"{key} is too long or holds control characters.")
        return text
    return None


def _require_clean_text(value: Any, depth: int = 0) -> None:
    """No NUL, no lone surrogates anywhere: they cannot be stored as text and have no business here."""
    if depth > 32:
        raise WebhookPayloadError("The body is nested too deeply.")
    if isinstance(value, str):
        if "\x00" in value:
            raise WebhookPayloadError("The body holds a NUL character.")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise WebhookPayloadError("The body holds text that is not valid Unicode.") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _require_clean_text(key, depth + 1)
            _require_clean_text(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _require_clean_text(item, depth + 1)
