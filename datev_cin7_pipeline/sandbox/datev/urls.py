"""Where each DATEV API lives on the simulator, and how a real DATEV URL maps to it and back.

A DATEV base URL maps to the simulator by replacing scheme and host with the simulator's and putting the
host's first label in front of the path: `https://accounting-documents.api.datev.de/platform/v2` becomes
`http://127.0.0.1:N/accounting-documents/platform/v2`. Both stages of every OpenAPI document's `servers`
(`/platform/...` and `/platform-sandbox/...`) are served, on the same data. The pipeline therefore needs
only a different base URL per API, never a different code path.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

DATEV_DOMAIN = "api.datev.de"


@dataclass(frozen=True)
class ApiInfo:
    """One of the four DATEV APIs: its host label, version segment, and error-body style."""

    name: str
    version: str
    problem_details: bool  # RFC 7807 bodies (clients, extf) or DATEV's `#DCO01xxx` bodies (documents, dxso)

    def datev_base(self, sandbox: bool = False) -> str:
        stage = "platform-sandbox" if sandbox else "platform"
        return f"https://{self.name}.{DATEV_DOMAIN}/{stage}/{self.version}"


CLIENTS_API = ApiInfo("accounting-clients", "v2", problem_details=True)
DOCUMENTS_API = ApiInfo("accounting-documents", "v2", problem_details=False)
EXTF_API = ApiInfo("accounting-extf-files", "v3", problem_details=True)
DXSO_API = ApiInfo("accounting-dxso-jobs", "v2", problem_details=False)
APIS: dict[str, ApiInfo] = {api.name: api for api in (CLIENTS_API, DOCUMENTS_API, EXTF_API, DXSO_API)}
STAGES = ("platform", "platform-sandbox")

TOKEN_PATH = "/token"  # noqa: S105 - a URL path
AUTHORIZE_PATH = "/authorize"
REVOKE_PATH = "/revoke"
DISCOVERY_PATH = "/.well-known/openid-configuration"


def datev_urls(server_root: str, *, sandbox: bool = False) -> dict[str, str]:
    """The simulator's base URL of each API (keyed by API name) plus `token`, `authorize`, `revoke`, `issuer`.

    `server_root` is e.g. `RunningServer.url`; `sandbox=True` gives the `platform-sandbox` stage.
    """
    root = server_root.rstrip("/")
    stage = "platform-sandbox" if sandbox else "platform"
    urls = {name: f"{root}/{name}/{stage}/{api.version}" for name, api in APIS.items()}
    urls.update(
        token=root + TOKEN_PATH,
        authorize=root + AUTHORIZE_PATH,
        revoke=root + REVOKE_PATH,
        issuer=root,
        openid_configuration=root + DISCOVERY_PATH,
    )
    return urls


def simulator_url(datev_url: str, server_root: str) -> str:
    """Map a real DATEV API URL (any path below the base URL) onto the simulator."""
    parts = urlsplit(datev_url)
    host = parts.hostname or ""
    label, _, domain = host.partition(".")
    if domain != DATEV_DOMAIN or label not in APIS:
        raise ValueError(f"{datev_url!r} is not a URL of one of the simulated DATEV APIs")
    root = urlsplit(server_root.rstrip("/"))
    return urlunsplit((root.scheme, root.netloc, f"/{label}{parts.path}", parts.query, parts.fragment))


def datev_url(simulator_url_: str) -> str:
    """Map a simulator URL back onto the real DATEV URL (what contract checks compare with the spec)."""
    parts = urlsplit(simulator_url_)
    label, _, rest = parts.path.lstrip("/").partition("/")
    if label not in APIS:
        raise ValueError(f"{simulator_url_!r} is not below one of the simulated DATEV APIs")
    return urlunsplit(("https", f"{label}.{DATEV_DOMAIN}", "/" + rest, parts.query, parts.fragment))
