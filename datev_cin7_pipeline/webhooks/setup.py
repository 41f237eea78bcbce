"""Who may deliver to the receiver: each configured connection with its webhook secret from the vault."""

from __future__ import annotations

import logging

from datev_cin7_pipeline.config import ConnectionsFile
from datev_cin7_pipeline.store import CredentialsVault, StateStore
from datev_cin7_pipeline.store.connections import ensure_connection
from datev_cin7_pipeline.webhooks.app import ReceiverConnection, WebhookAuth

log = logging.getLogger(__name__)
WEBHOOK_SERVICE = "webhook"
WEBHOOK_SECRET = "secret"  # noqa: S105 - the credential's name, not its value


def receiver_connections(
    config: ConnectionsFile, store: StateStore, vault: CredentialsVault
) -> dict[str, ReceiverConnection]:
    """Connections that can receive webhooks (those without a secret yet are left out, and said so)."""
    found: dict[str, ReceiverConnection] = {}
    for name, settings in config.connections.items():
        secret = vault.get(name, WEBHOOK_SERVICE, WEBHOOK_SECRET)
        if secret is None:
            log.warning("connection %r has no webhook secret yet; run `datev-cin7 webhooks register`", name)
            continue
        with store.session() as session:
            connection_id = ensure_connection(session, name, actor="webhook-receiver")
        found[name] = ReceiverConnection(
            name=name,
            connection_id=connection_id,
            auth=WebhookAuth(
                mode=settings.webhooks.auth,
                secret=secret,
                username=settings.webhooks.username,
                header_name=settings.webhooks.header_name,
            ),
        )
    return found
