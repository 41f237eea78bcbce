"""A Cin7 client for a configured connection, with its keys from the vault."""

from __future__ import annotations

from datev_cin7_pipeline.cin7.client import Cin7Client, Cin7Credentials
from datev_cin7_pipeline.config import ConnectionSettings
from datev_cin7_pipeline.errors import ConnectorError
from datev_cin7_pipeline.store import CredentialsVault


def cin7_client_for(name: str, settings: ConnectionSettings, vault: CredentialsVault) -> Cin7Client:
    account_id = vault.get(name, "cin7", "account_id")
    application_key = vault.get(name, "cin7", "application_key")
    if account_id is None or application_key is None:
        raise ConnectorError(
            f"Connection {name!r} has no Cin7 API keys yet; run `datev-cin7 credentials set cin7 --connection {name}`."
        )
    return Cin7Client(
        Cin7Credentials(account_id.reveal(), application_key),
        base_url=settings.cin7.base_url,
        calls_per_minute=settings.cin7.calls_per_minute,
        timeout=settings.cin7.timeout_seconds,
        connection_name=name,
    )
