"""A faithful simulator of DATEV's login and the four accounting APIs the pipeline uses (Starlette).

Typical use in a test:

    clock = FakeClock()
    app = build_datev_app(DatevSimConfig(clock=clock, xsd_folder=REFERENCE / "datev" / "xsd" / "v060"))
    with serve_in_thread(app) as server:
        urls = datev_urls(server.url)   # base URL per API, plus token/authorize/revoke

Only scheme, host and port differ from DATEV's own URLs: `https://accounting-extf-files.api.datev.de/
platform/v3` becomes `<server>/accounting-extf-files/platform/v3` (see `urls`). `app.state.datev` gives
tests the simulator's state; the `/_sim/` admin API gives the same over HTTP.
"""

from datev_cin7_pipeline.sandbox.datev.app import DatevSimulator, all_operations, build_datev_app
from datev_cin7_pipeline.sandbox.datev.capture import MANIFEST, read_manifest
from datev_cin7_pipeline.sandbox.datev.config import (
    DEFAULT_CLIENTS,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_PUBLIC_CLIENT_ID,
    SERVICE_DOCUMENTS,
    SERVICE_DXSO,
    SERVICE_EXTF,
    DatevSimConfig,
    DocumentType,
    Faults,
    FiscalYear,
    OAuthClient,
    SimClient,
)
from datev_cin7_pipeline.sandbox.datev.extf_format import HEADING_COLUMNS, check_extf_file
from datev_cin7_pipeline.sandbox.datev.oauth import s256
from datev_cin7_pipeline.sandbox.datev.state import DatevSimState
from datev_cin7_pipeline.sandbox.datev.urls import datev_url, datev_urls, simulator_url

__all__ = [
    "DEFAULT_CLIENTS",
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_PUBLIC_CLIENT_ID",
    "HEADING_COLUMNS",
    "MANIFEST",
    "SERVICE_DOCUMENTS",
    "SERVICE_DXSO",
    "SERVICE_EXTF",
    "DatevSimConfig",
    "DatevSimState",
    "DatevSimulator",
    "DocumentType",
    "Faults",
    "FiscalYear",
    "OAuthClient",
    "SimClient",
    "all_operations",
    "build_datev_app",
    "check_extf_file",
    "datev_url",
    "datev_urls",
    "read_manifest",
    "s256",
    "simulator_url",
]
