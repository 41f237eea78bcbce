"""A connection wired to the two simulators, as a user would set it up against real systems.

Used by `datev-cin7 demo`, the end-to-end benchmark and the integration tests: starts the Cin7 and DATEV
simulators on free loopback ports, writes the connections file and the mapping, stores the sandbox
credentials in the vault and completes the DATEV login (code + PKCE) against the simulator, so the
pipeline runs exactly as it would after `init`, `credentials set`, `datev login` and `mapping init`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import yaml

from datev_cin7_pipeline import settings
from datev_cin7_pipeline.cin7.client import dump_json, parse_json
from datev_cin7_pipeline.cin7.models import Account, Location, TaxRule
from datev_cin7_pipeline.config import require_connection
from datev_cin7_pipeline.datev.connect import datev_tokens_for
from datev_cin7_pipeline.datev.oauth import start_login
from datev_cin7_pipeline.mapping.starter import mapping_starter
from datev_cin7_pipeline.sandbox.cin7 import (
    DEMO_ACCOUNT_ID,
    DEMO_APPLICATION_KEY,
    Cin7Dataset,
    Cin7SimConfig,
    build_cin7_app,
)
from datev_cin7_pipeline.sandbox.datev import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DatevSimConfig, build_datev_app
from datev_cin7_pipeline.sandbox.serving import serve_in_thread
from datev_cin7_pipeline.store import CredentialsVault, StateStore

DEMO_CONSULTANT_NUMBER = 29098
DEMO_CLIENT_NUMBER = 55003

# What the starter file leaves open for the demo company: the decisions its finance team would write in.
_DEMO_DECISIONS: dict[str, dict[str, Any]] = {
    "skr03": {
        "accounts": {"3980": 3400},
        "payment_accounts": {"1210": 1210, "1220": 1220},
    },
    "skr04": {
        "accounts": {"3980": 5400},
        "payment_accounts": {"1210": 1810, "1220": 1820},
    },
}


def demo_mapping(dataset: Cin7Dataset, chart: str = "skr03") -> dict[str, Any]:
    """The completed mapping of the demo company: the starter from its Cin7 data plus its decisions."""
    starter = mapping_starter(
        chart,  # type: ignore[arg-type]
        [Account.model_validate(_as_api(a)) for a in dataset.accounts],
        [TaxRule.model_validate(_as_api(r)) for r in dataset.tax_rules],
        [Location.model_validate(_as_api(loc)) for loc in dataset.locations],
    )
    decisions = {
        **_DEMO_DECISIONS[chart],
        "datev": {"consultant_number": DEMO_CONSULTANT_NUMBER, "client_number": DEMO_CLIENT_NUMBER},
        "cost_centres": {"kost1": {"values": {"Hamburg": "100", "München": "200"}}},
    }
    return _merge(yaml.safe_load(starter), decisions)


@dataclass(frozen=True)
class SandboxOptions:
    cin7_calls_per_minute: int = 6000
    today: dt.date | None = None
    capture: Path | None = None  # where the DATEV simulator saves what it accepted
    mapping_file: Path | None = None  # default: the demo company's completed mapping
    chart: str = "skr03"
    webhook_first_delay: float = 0.5
    extf_processing_seconds: float = 0.0
    dxso_processing_seconds: float = 0.0
    connection: str = "default"
    route: str = "extf"  # how bookings go to DATEV: EXTF files, or DXSO jobs for invoices and credit notes
    xsd_folder: Path | None = None  # DATEV's DXSO XSDs, for the simulator to validate DXSO files with
    # 0: any free port. Documents read earlier carry their attachments' DownloadUrl with this host, and the
    # client downloads only from the configured Cin7 host, so a folder used again keeps its port.
    cin7_port: int = 0


@dataclass
class SandboxEnvironment:
    home: Path
    cin7_url: str  # the simulator's root; the API is under /ExternalApi/v2/
    datev_url: str
    capture: Path | None
    connection: str

    def cin7_calls(self) -> int:
        """API calls the Cin7 simulator served (its own count, including throttled ones)."""
        return int(requests.get(f"{self.cin7_url}/_sim/calls", timeout=10).json()["Summary"]["total_calls"])


@contextmanager
def sandbox_environment(dataset: Cin7Dataset, options: SandboxOptions | None = None) -> Iterator[SandboxEnvironment]:
    """Both simulators running and the current home (`DATEV_CIN7_HOME`) connected to them."""
    options = options or SandboxOptions()
    cin7_app = build_cin7_app(
        Cin7SimConfig(
            today=options.today,
            calls_per_minute=options.cin7_calls_per_minute,
            webhook_first_delay=options.webhook_first_delay,
        ),
        dataset,
    )
    datev_app = build_datev_app(
        DatevSimConfig(
            capture_folder=options.capture,
            extf_processing_seconds=options.extf_processing_seconds,
            dxso_processing_seconds=options.dxso_processing_seconds,
            xsd_folder=options.xsd_folder,
        )
    )
    with ExitStack() as stack:
        cin7 = stack.enter_context(serve_in_thread(cin7_app, port=options.cin7_port))
        datev = stack.enter_context(serve_in_thread(datev_app))
        home = connect_home_to_sandbox(cin7.url, datev.url, dataset, options)
        yield SandboxEnvironment(home, cin7.url, datev.url, options.capture, options.connection)


def connect_home_to_sandbox(cin7_url: str, datev_url: str, dataset: Cin7Dataset, options: SandboxOptions) -> Path:
    """Connections file, mapping, credentials and DATEV login for simulators already running."""
    home = write_sandbox_connection(cin7_url, datev_url, dataset, options)
    name = options.connection
    store = StateStore.open()
    try:
        vault = CredentialsVault(store, actor="sandbox")
        vault.set(name, "cin7", "account_id", DEMO_ACCOUNT_ID)
        vault.set(name, "cin7", "application_key", DEMO_APPLICATION_KEY)
        vault.set(name, "datev", "client_id", DEMO_CLIENT_ID)
        vault.set(name, "datev", "client_secret", DEMO_CLIENT_SECRET)
        tokens = datev_tokens_for(name, require_connection(name), vault)
        # A fresh simulator knows no earlier tokens, so log in every time. Its authorize endpoint approves
        # at once and redirects with the code.
        login = start_login(tokens.endpoints, tokens.client, "http://127.0.0.1/callback")
        redirect = requests.get(login.url, allow_redirects=False, timeout=10).headers["Location"]
        tokens.complete_login(login, {k: v[0] for k, v in parse_qs(urlsplit(redirect).query).items()})
    finally:
        store.dispose()
    return home


def write_sandbox_connection(cin7_url: str, datev_url: str, dataset: Cin7Dataset, options: SandboxOptions) -> Path:
    """The connections file and the mapping for the simulators, without credentials (`credentials set` and
    `datev login` complete it, as they would for real systems)."""
    home = settings.ensure_home_dir()
    name = options.connection
    connections_file = home / settings.CONNECTIONS_FILE
    existing = yaml.safe_load(connections_file.read_text("utf-8")) if connections_file.exists() else None
    connections: dict[str, Any] = existing if isinstance(existing, dict) else {"version": 1}
    connections.setdefault("connections", {})[name] = {
        "cin7": {"base_url": f"{cin7_url}/ExternalApi/v2/", "calls_per_minute": options.cin7_calls_per_minute},
        "datev": {
            "consultant_number": DEMO_CONSULTANT_NUMBER,
            "client_number": DEMO_CLIENT_NUMBER,
            "simulator_url": datev_url,
            "job_wait_seconds": 60,
            "route": options.route,
        },
    }
    connections_file.write_text(yaml.safe_dump(connections, allow_unicode=True), "utf-8")
    mapping_text = (
        options.mapping_file.read_text("utf-8")
        if options.mapping_file
        else yaml.safe_dump(demo_mapping(dataset, options.chart), allow_unicode=True, sort_keys=False)
    )
    (home / f"mapping-{name}.yaml").write_text(mapping_text, "utf-8")
    return home


def _as_api(payload: Any) -> Any:
    return parse_json(dump_json(payload))


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        merged[key] = _merge(merged.get(key) or {}, value) if isinstance(value, dict) else value
    return merged
