"""A Cin7 client for a configured connection, with its keys from the vault."""

from __future__ import annotations

from datev_cin7_pipeline.cin7.client import Cin7Client, Cin7Credentials
from datev_cin7_pipeline.cin7.pacing import CIN7_WINDOW_SECONDS, SharedWindowPacer
from datev_cin7_pipeline.config import ConnectionSettings
from datev_cin7_pipeline.errors import ConnectorError
from datev_cin7_pipeline.store import CredentialsVault
from datev_cin7_pipeline.store.connections import ensure_connection


def cin7_client_for(name: str, settings: ConnectionSettings, vault: CredentialsVault) -> Cin7Client:
    account_id = vault.get(name, "cin7", "account_id")
    application_key = vault.get(name, "cin7", "application_key")
    if account_id is None or application_key is None:
        raise ConnectorError(
            f"Connection {name!r} has no Cin7 API keys yet; run `datev-cin7 credentials set cin7 --connection {name}`."
        )
    with vault.store.session() as session:
        connection_id = ensure_connection(session, name, actor="pipeline")
    return Cin7Client(
        Cin7Credentials(account_id.reveal(), application_key),
        base_url=settings.cin7.base_url,
        calls_per_minute=settings.cin7.calls_per_minute,
        timeout=settings.cin7.timeout_seconds,
        connection_name=name,
        # Every process of this connection draws on one budget (Cin7 counts per API application).
        pacer=SharedWindowPacer(vault.store, connection_id, settings.cin7.calls_per_minute, CIN7_WINDOW_SECONDS),
    )
