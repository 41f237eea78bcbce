"""How a simulated DATEV behaves: OAuth clients, the user's DATEV clients, limits, timings, faults.

DATEV documents some behaviour only loosely (FACTS.md §10: token lifetimes, the grace period of a rotated
refresh token, the `.csv` case of EXTF file names). Each such choice is a setting here whose default is the
documented or most likely behaviour, so the pipeline's tests can also run against the stricter variants.
The simulator reads the time only through `clock`, so tests expire tokens and finish jobs without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

Clock = Callable[[], float]
"""Seconds since the epoch; the simulator never reads the time any other way (tests inject a fake)."""

DEMO_CLIENT_ID = "datev-cin7-sandbox-app"
DEMO_CLIENT_SECRET = "sandbox-secret-4f9c2e7a"  # noqa: S105 - a published sandbox credential, not a secret
DEMO_PUBLIC_CLIENT_ID = "datev-cin7-sandbox-public"

SERVICE_DOCUMENTS = "Belegbilderservice"
SERVICE_EXTF = "Buchungsdatenservice"
SERVICE_DXSO = "Rechnungsdatenservice 1.0"
SERVICE_INVOICES_2 = "Rechnungsdatenservice 2.0"

SERVICE_SCOPES: dict[str, tuple[str, ...]] = {
    SERVICE_DOCUMENTS: ("accounting:documents",),
    SERVICE_EXTF: ("datev:accounting:extf-files-import",),
    SERVICE_DXSO: ("accounting:dxso-jobs",),
    SERVICE_INVOICES_2: ("datev:accounting:invoices",),
}
"""The scopes accounting-clients names per service (its example shows the first two pairs)."""

SUPPORTED_SCOPES: tuple[str, ...] = (
    "openid",
    "profile",
    "email",
    "account_id",
    "offline_access",
    "datev:accounting:clients",
    "datev:accounting:extf-files-import",
    "accounting:clients:read",
    "accounting:documents",
    "accounting:dxso-jobs",
    "datev:accounting:exchange",
)
"""Scopes the authorize endpoint grants; `datev:iam:client:<id>` (FACTS §1.3) is accepted as well."""

DUO_NEXT_EXTENSIONS: tuple[str, ...] = ("gif", "jpeg", "jpg", "png", "tif", "tiff", "xml", "pdf")
DUO_NOW_EXTENSIONS: tuple[str, ...] = (
    "bmp",
    "csv",
    "doc",
    "docx",
    "eml",
    "gif",
    "jpeg",
    "jpg",
    "msg",
    "odt",
    "ods",
    "pdf",
    "png",
    "rtf",
    "tif",
    "tiff",
    "txt",
    "xls",
    "xlsx",
    "xml",
)
STAPLE_EXTENSIONS: tuple[str, ...] = ("gif", "jpeg", "jpg", "pdf", "png", "tif", "tiff")


@dataclass(frozen=True)
class OAuthClient:
    """One app registration at DATEV. Without a secret it is a public client (PKCE only)."""

    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    redirect_uris: tuple[str, ...] = ("http://127.0.0.1/callback", "http://localhost/callback")
    display_name: str = "datev-cin7-pipeline"
    vendor: str = "datev-cin7-pipeline"

    @property
    def confidential(self) -> bool:
        return self.client_secret is not None


@dataclass(frozen=True)
class DocumentType:
    """A Belegtyp of a client, as `GET /clients/{id}/document-types` lists it."""

    name: str
    category: str
    debit_credit_identifier: Literal["debit", "credit"] | None = None


DEFAULT_DOCUMENT_TYPES: tuple[DocumentType, ...] = (
    DocumentType("Rechnungseingang", "invoices_received", "debit"),
    DocumentType("Rechnungsausgang", "outgoing_invoices", "credit"),
    DocumentType("Kasse", "other_documents"),
    DocumentType("Sonstige", "other_documents"),
)


@dataclass(frozen=True)
class FiscalYear:
    """One fiscal year of a client with the ledgers (Rechnungseingangs-/-ausgangsbuch, Kassenbuch) it has."""

    start: date
    end: date
    account_length: int = 4
    chart_of_accounts: int = 3
    accounts_payable_ledger: bool = True
    accounts_receivable_ledger: bool = True
    cash_ledger: bool = True


@dataclass(frozen=True)
class SimClient:
    """A DATEV client (Mandant) the sandbox user may access, with the services booked for it.

    `fiscal_years` empty means: the calendar years from two years before the clock's year up to it.
    `duo_version` "DuoNext" is the new Belege online: fewer file types, and no Rechnungsdatenservice 1.0.
    """

    consultant_number: int
    client_number: int
    name: str
    services: tuple[str, ...] = (SERVICE_DOCUMENTS, SERVICE_EXTF, SERVICE_DXSO)
    document_types: tuple[DocumentType, ...] = DEFAULT_DOCUMENT_TYPES
    duo_version: Literal["DuoNow", "DuoNext"] = "DuoNow"
    fiscal_years: tuple[FiscalYear, ...] = ()
    document_management: bool = True
    payable_folder_names: tuple[str, ...] = ("Eingangsrechnungen",)
    receivable_folder_names: tuple[str, ...] = ("Ausgangsrechnungen",)
    cash_ledger_names: tuple[str, ...] = ("Kasse",)

    @property
    def id(self) -> str:
        return f"{self.consultant_number}-{self.client_number}"


DEFAULT_CLIENTS: tuple[SimClient, ...] = (
    SimClient(29098, 55003, "Musterholz GmbH"),
    SimClient(29098, 55004, "Testholz GmbH", services=(SERVICE_DOCUMENTS, SERVICE_DXSO)),
)
"""One client with every service, one without the EXTF service (Buchungsdatenservice)."""


@dataclass
class Faults:
    """Faults on demand. Bursts count down, one unit per affected call; `target` narrows which calls.

    `target` is matched (as a substring) against the call's label, e.g.
    `"POST accounting-extf-files /clients/{client-id}/extf-files/import"` or `"POST /token"`; empty means
    every call except the admin API. The job failures apply to the next jobs accepted.
    """

    latency_seconds: float = 0.0
    target: str = ""
    drop_burst: int = 0
    drop_after_accept_burst: int = 0
    error_burst: int = 0
    error_status: int = 500
    maintenance_burst: int = 0
    maintenance_retry_after: int | None = 30
    throttle_burst: int = 0
    throttle_retry_after: int | None = 1
    extf_job_failures: int = 0
    extf_failure_details: dict[str, Any] | None = None
    dxso_job_failures: int = 0
    dxso_failure_status: int = 3
    dxso_failure_text: str = "Die Verarbeitung wurde wegen eines internen Fehlers abgebrochen."


@dataclass(frozen=True)
class DatevSimConfig:
    """Everything that decides how the simulator answers; the defaults are the documented behaviour."""

    oauth_clients: tuple[OAuthClient, ...] = (
        OAuthClient(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
        OAuthClient(DEMO_PUBLIC_CLIENT_ID),
    )
    sandbox_user: str = "sandbox.user@datev-sim.invalid"
    auto_approve: bool = True
    loopback_redirects_only: bool = True
    access_token_seconds: int = 900
    refresh_token_seconds: int = 11 * 3600
    offline_refresh_token_seconds: int = 2 * 365 * 86400
    authorization_code_seconds: int = 300
    revoke_family_on_reuse: bool = True
    enforce_scopes: bool = True
    clients: tuple[SimClient, ...] = DEFAULT_CLIENTS
    document_max_bytes: int = 20 * 1024 * 1024
    detect_duplicate_files: bool = True
    extf_max_bytes: int = 50 * 1024 * 1024
    extf_max_postings: int = 99_999
    extf_filename_case_sensitive: bool = True
    extf_row_checks: bool = True
    extf_retry_after_seconds: int = 5
    extf_processing_seconds: float = 10.0
    dxso_processing_seconds: float = 10.0
    xsd_folder: Path | None = None
    capture_folder: Path | None = None
    faults: Faults = field(default_factory=Faults)
    clock: Clock = field(default=time.time, repr=False)

    def oauth_client(self, client_id: str) -> OAuthClient | None:
        return next((c for c in self.oauth_clients if c.client_id == client_id), None)
