"""`datev-cin7 webhooks register`: make Cin7 deliver the events we need, and revive what it disabled.

Cin7 deactivates a subscription after six failed deliveries without telling anyone; running this again
(or on a schedule) turns it back on. Each subscription carries our authentication and an `X-Cin7-Event`
header naming its event type, because Cin7's thin payloads do not always say which event they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from datev_cin7_pipeline.cin7.client import Cin7Client
from datev_cin7_pipeline.cin7.webhook_events import EVENT_HEADER, SUBSCRIBED_EVENTS
from datev_cin7_pipeline.webhooks.app import WebhookAuth


@dataclass
class RegistrationReport:
    created: list[str] = field(default_factory=list)
    reactivated: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def subscription_body(event_type: str, url: str, auth: WebhookAuth) -> dict[str, Any]:
    headers = [{"Key": EVENT_HEADER, "Value": event_type}]
    body: dict[str, Any] = {
        "Type": event_type,
        "IsActive": True,
        "ExternalURL": url,
        "ExternalAuthorizationType": "noauth",
        "ExternalUserName": "",
        "ExternalPassword": "",
        "ExternalBearerToken": "",
        "ExternalHeaders": headers,
    }
    if auth.mode == "bearer":
        body.update(ExternalAuthorizationType="bearerauth", ExternalBearerToken=auth.secret.reveal())
    elif auth.mode == "basic":
        body.update(
            ExternalAuthorizationType="basicauth", ExternalUserName=auth.username, ExternalPassword=auth.secret.reveal()
        )
    else:
        headers.append({"Key": auth.header_name, "Value": auth.secret.reveal()})
    return body


def register_webhooks(client: Cin7Client, url: str, auth: WebhookAuth) -> RegistrationReport:
    report = RegistrationReport()
    existing = (client.get("webhooks") or {}).get("Webhooks") or []
    for event_type in SUBSCRIBED_EVENTS:
        wanted = subscription_body(event_type, url, auth)
        mine = [w for w in existing if w.get("Type") == event_type and w.get("ExternalURL") == url]
        if not mine:
            client.request("POST", "webhooks", body=wanted)
            report.created.append(event_type)
            continue
        current = mine[0]
        if _same_settings(current, wanted) and current.get("IsActive"):
            report.unchanged.append(event_type)
            continue
        client.request("PUT", "webhooks", body={**wanted, "ID": current["ID"]})
        (report.updated if current.get("IsActive") else report.reactivated).append(event_type)
    return report


def _same_settings(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    keys = ("ExternalAuthorizationType", "ExternalUserName", "ExternalPassword", "ExternalBearerToken")
    headers = {(h.get("Key"), h.get("Value")) for h in current.get("ExternalHeaders") or []}
    return all((current.get(k) or "") == wanted[k] for k in keys) and headers == {
        (h["Key"], h["Value"]) for h in wanted["ExternalHeaders"]
    }
