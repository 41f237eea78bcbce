"""DATEV tokens and API clients for a configured connection, with the app credentials from the vault."""

from __future__ import annotations

from datev_cin7_pipeline.config import ConnectionSettings
from datev_cin7_pipeline.datev.api import DatevApi
from datev_cin7_pipeline.datev.oauth import DatevTokens, OAuthClient
from datev_cin7_pipeline.errors import ConnectorError
from datev_cin7_pipeline.store import CredentialsVault

# The DATEV service each route needs (accounting-clients service names, FACTS §1.3).
SERVICE_FOR_ROUTE = {"extf": "Buchungsdatenservice", "dxso": "Rechnungsdatenservice 1.0"}
DOCUMENT_SERVICE = "Belegbilderservice"


def oauth_client_for(name: str, settings: ConnectionSettings, vault: CredentialsVault) -> OAuthClient:
    client_id = vault.get(name, "datev", "client_id")
    if client_id is None:
        raise ConnectorError(
            f"Connection {name!r} has no DATEV client id yet; run "
            f"`datev-cin7 credentials set datev --connection {name}`."
        )
    secret = vault.get(name, "datev", "client_secret")
    if settings.datev.client_type == "confidential" and secret is None:
        raise ConnectorError(
            f"Connection {name!r} uses a confidential DATEV client but has no client secret; run "
            f"`datev-cin7 credentials set datev --connection {name} --client-secret -`."
        )
    return OAuthClient(client_id.reveal(), secret if settings.datev.client_type == "confidential" else None)


def datev_tokens_for(name: str, settings: ConnectionSettings, vault: CredentialsVault) -> DatevTokens:
    return DatevTokens(
        name,
        vault,
        settings.datev.endpoints(),
        oauth_client_for(name, settings, vault),
        margin_seconds=settings.datev.refresh_margin_seconds,
    )


def datev_api_for(name: str, settings: ConnectionSettings, vault: CredentialsVault) -> DatevApi:
    return DatevApi(datev_tokens_for(name, settings, vault), settings.datev.endpoints())


def require_client_id(name: str, settings: ConnectionSettings) -> str:
    client_id = settings.datev.client_id_path
    if client_id is None:
        raise ConnectorError(
            f"Connection {name!r} has no DATEV consultant and client number; set datev.consultant_number and "
            "datev.client_number in connections.yaml."
        )
    return client_id
