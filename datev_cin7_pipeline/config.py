"""The connections file (`connections.yaml` in the home folder): what each connection talks to.

Secrets never go here (they live encrypted in the state database, see `datev-cin7 credentials`). A typo in
a key is an error, not a silently ignored setting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from pydantic_core import ErrorDetails

from datev_cin7_pipeline import settings
from datev_cin7_pipeline.datev.endpoints import DatevEndpoints
from datev_cin7_pipeline.errors import ConfigError

CIN7_DEFAULT_BASE_URL = "https://inventory.dearsystems.com/ExternalApi/v2/"
CONNECTION_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
ConnectionName = Annotated[str, StringConstraints(pattern=CONNECTION_NAME_PATTERN)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Cin7Settings(_Strict):
    base_url: str = CIN7_DEFAULT_BASE_URL
    # Cin7 allows 60 calls per minute per API application; all runs of a connection share it.
    calls_per_minute: int = Field(60, ge=1, le=6000)
    timeout_seconds: float = Field(30.0, gt=0, le=600)


class DatevSettings(_Strict):
    environment: Literal["production", "sandbox"] = "production"
    consultant_number: int | None = Field(None, ge=1001, le=9999999)  # Beraternummer
    client_number: int | None = Field(None, ge=1, le=99999)  # Mandantennummer
    # confidential: the client id and secret authenticate at the token endpoint (HTTP Basic);
    # public: only the client id is sent, PKCE protects the code.
    client_type: Literal["confidential", "public"] = "confidential"
    # extf: bookings as EXTF Buchungsstapel files; dxso: ledger-import XML with the PDFs.
    route: Literal["extf", "dxso"] = "extf"
    # login.datev.de, or DATEV's newer sign-in service (signin.datev.de) once DATEV switches.
    sign_in: Literal["login", "signin"] = "login"
    # Set to the simulator's root (e.g. http://127.0.0.1:8090) to talk to `datev-cin7 sandbox serve`.
    simulator_url: str | None = None
    # Where DATEV sends the browser back after login; must be registered for the app exactly.
    redirect_uri: str = "http://localhost:8765/callback"
    # Refresh the 15-minute access token when less than this is left.
    refresh_margin_seconds: int = Field(120, ge=10, le=600)
    # How long one run waits for a DATEV job before leaving it to the job sensor.
    job_wait_seconds: int = Field(600, ge=0, le=7200)
    # An invoice without a PDF in Cin7 is booked without Beleg (and warned about); true sends a copy
    # rendered from its Cin7 data instead, marked on every page as a copy.
    render_missing_pdfs: bool = False

    def endpoints(self) -> DatevEndpoints:
        base = DatevEndpoints.sandbox() if self.environment == "sandbox" else DatevEndpoints.production()
        if self.sign_in == "signin":
            base = base.with_next_idp()
        return base.on_simulator(self.simulator_url) if self.simulator_url else base

    @property
    def client_id_path(self) -> str | None:
        """DATEV's id of the client: `<Beraternummer>-<Mandantennummer>`."""
        if self.consultant_number is None or self.client_number is None:
            return None
        return f"{self.consultant_number}-{self.client_number}"


class WebhookSettings(_Strict):
    # How Cin7 proves a delivery is from it (Cin7 does not sign webhooks): bearer token, basic auth, or a
    # custom header. The secret itself is in the vault (`webhooks register` creates it).
    auth: Literal["bearer", "basic", "header"] = "bearer"
    header_name: str = Field("X-Webhook-Token", pattern=r"^[A-Za-z0-9-]{1,64}$")
    username: str = Field("cin7", min_length=1, max_length=64)


class ConnectionSettings(_Strict):
    cin7: Cin7Settings = Cin7Settings()
    datev: DatevSettings = DatevSettings()
    webhooks: WebhookSettings = WebhookSettings()
    vat_period: Literal["monthly", "quarterly"] = "monthly"
    mapping_file: str | None = None

    def mapping_path(self, name: str, home: Path) -> Path:
        return home / (self.mapping_file or f"mapping-{name}.yaml")


class ConnectionsFile(_Strict):
    version: Literal[1] = 1
    connections: dict[ConnectionName, ConnectionSettings] = Field(min_length=1)


def load_connections(path: Path | None = None) -> ConnectionsFile:
    path = path or settings.connections_file_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"There is no connections file at {path}; run `datev-cin7 init` first.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text.") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path} is not valid YAML{where}.") from None
    try:
        return ConnectionsFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        location = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise ConfigError(f"{path}: {location}: {_explain(first)}") from None


def require_connection(name: str, path: Path | None = None) -> ConnectionSettings:
    file = load_connections(path)
    if name not in file.connections:
        known = ", ".join(sorted(file.connections))
        raise ConfigError(
            f"There is no connection {name!r} in {path or settings.connections_file_path()} (known: {known})."
        )
    return file.connections[name]


def served_connections(
    pinned: str | None, path: Path | None = None
) -> tuple[list[str], Literal["monthly", "quarterly"]]:
    """The connections one Dagster code location serves and the VAT period they file by.

    `pinned` (DATEV_CIN7_CONNECTION) serves that connection alone; otherwise every connection of the file,
    which must then file alike (one asset graph has one time partitioning). Without a connections file yet
    (a fresh `dg dev`): the connection "default", monthly.
    """
    try:
        file = load_connections(path)
    except ConfigError:
        if (path or settings.connections_file_path()).exists():
            raise
        return [pinned or "default"], "monthly"
    if pinned is not None:
        found = file.connections.get(pinned)
        return [pinned], found.vat_period if found else "monthly"
    periods = {c.vat_period for c in file.connections.values()}
    if len(periods) > 1:
        raise ConfigError(
            "The connections file mixes monthly and quarterly VAT periods; serve each group from its own code "
            "location with DATEV_CIN7_CONNECTION set."
        )
    return sorted(file.connections), periods.pop()


def _explain(error: ErrorDetails) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown setting (check the spelling)."
    if error["type"] == "string_pattern_mismatch":
        return "connection names use lower-case letters, digits, '-' and '_' (at most 64)."
    return f"{error['msg']}."


def connections_template(name: str) -> str:
    """The documented starter file `datev-cin7 init` writes."""
    return f"""\
# datev-cin7 connections.
#
# One entry per company: a Cin7 Core account paired with one DATEV client. Secrets do not belong here:
# set them with `datev-cin7 credentials set cin7 ...` and `datev-cin7 credentials set datev ...`
# (they are stored encrypted in the state database). Unknown keys are errors, so typos cannot hide.
version: 1
connections:
  {name}:
    cin7:
      # The Cin7 Core API v2 base URL; only the sandbox changes it.
      base_url: {CIN7_DEFAULT_BASE_URL}
      # Calls per rolling minute allowed for this API application (Cin7: 60). Every run shares it.
      calls_per_minute: 60
      timeout_seconds: 30
    datev:
      # production or sandbox (DATEV's sandbox sign-in and API hosts).
      environment: production
      # Beraternummer (1001-9999999) and Mandantennummer (1-99999) of the DATEV client to book into.
      consultant_number: null
      client_number: null
      # confidential (client id + secret) or public (client id only, PKCE).
      client_type: confidential
      # extf (EXTF Buchungsstapel + PDFs to Unternehmen Online) or dxso (ledger-import XML jobs).
      route: extf
      # Invoices without a PDF in Cin7: false books them without Beleg (with a warning); true sends a
      # copy rendered from the Cin7 data, marked as a copy on every page.
      render_missing_pdfs: false
    webhooks:
      # How Cin7 authenticates its deliveries: bearer, basic (user name below) or header (name below).
      auth: bearer
      username: cin7
      header_name: X-Webhook-Token
    # monthly or quarterly VAT periods (Umsatzsteuer-Voranmeldung).
    vat_period: monthly
    # The account and tax mapping for this connection, relative to the home folder.
    mapping_file: mapping-{name}.yaml
"""
