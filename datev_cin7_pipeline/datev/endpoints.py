"""Where DATEV lives: sign-in and the four accounting APIs, for production, the sandbox, the newer sign-in
service, or the local simulator. Everything is configuration; nothing here is hard-wired into a call."""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import urlsplit

API_NAMES = ("accounting-clients", "accounting-documents", "accounting-extf-files", "accounting-dxso-jobs")

# Requested at login: the scopes of the APIs we call (FACTS §1.3) plus openid and offline_access, without
# which the refresh token would only live about eleven hours.
SCOPES = (
    "openid",
    "offline_access",
    "datev:accounting:clients",
    "datev:accounting:extf-files-import",
    "accounting:clients:read",
    "accounting:documents",
    "accounting:dxso-jobs",
)


@dataclass(frozen=True)
class DatevEndpoints:
    authorize_url: str
    token_url: str
    accounting_clients: str
    accounting_documents: str
    accounting_extf_files: str
    accounting_dxso_jobs: str

    @classmethod
    def production(cls) -> DatevEndpoints:
        return cls(
            authorize_url="https://login.datev.de/openid/authorize",
            token_url="https://api.datev.de/token",  # noqa: S106 - an address, not a secret
            accounting_clients="https://accounting-clients.api.datev.de/platform/v2",
            accounting_documents="https://accounting-documents.api.datev.de/platform/v2",
            accounting_extf_files="https://accounting-extf-files.api.datev.de/platform/v3",
            accounting_dxso_jobs="https://accounting-dxso-jobs.api.datev.de/platform/v2",
        )

    @classmethod
    def sandbox(cls) -> DatevEndpoints:
        return cls(
            authorize_url="https://login.datev.de/openidsandbox/authorize",
            token_url="https://sandbox-api.datev.de/token",  # noqa: S106 - an address, not a secret
            accounting_clients="https://accounting-clients.api.datev.de/platform-sandbox/v2",
            accounting_documents="https://accounting-documents.api.datev.de/platform-sandbox/v2",
            accounting_extf_files="https://accounting-extf-files.api.datev.de/platform-sandbox/v3",
            accounting_dxso_jobs="https://accounting-dxso-jobs.api.datev.de/platform-sandbox/v2",
        )

    def with_next_idp(self) -> DatevEndpoints:
        """DATEV's newer sign-in service (`datev_idp_next` in the current specs)."""
        realm = "https://signin.datev.de/datevam/oauth2/realms/root/realms/user"
        return replace(self, authorize_url=f"{realm}/authorize", token_url=f"{realm}/access_token")

    def on_simulator(self, root: str) -> DatevEndpoints:
        """The same endpoints on the local simulator: host → `<root>/<first label of the host>/<path>`."""
        root = root.rstrip("/")

        def moved(url: str) -> str:
            parts = urlsplit(url)
            label = (parts.hostname or "").split(".")[0]
            return f"{root}/{label}{parts.path}"

        return DatevEndpoints(
            authorize_url=f"{root}/authorize",
            token_url=f"{root}/token",
            accounting_clients=moved(self.accounting_clients),
            accounting_documents=moved(self.accounting_documents),
            accounting_extf_files=moved(self.accounting_extf_files),
            accounting_dxso_jobs=moved(self.accounting_dxso_jobs),
        )
