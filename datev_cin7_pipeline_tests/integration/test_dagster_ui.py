"""The Dagster UI, in headless Chromium, shows what an operator needs after a VAT period ran.

One period of the demo company is materialized against both simulators into a persistent Dagster
instance (SQLite under a temporary DAGSTER_HOME); `dagster-webserver` then serves the project's
`workspace.yaml` from that instance, as production does. The browser must see the connector's asset
graph and, on the booking lines' partitions page, the period as materialized by exactly that run with
the booking counts the run reported. Screenshots go to `artifacts/` for a human to look at.

Chromium is Debian's `/usr/bin/chromium` (`.ci/run` installs it); Playwright only drives it and never
downloads a browser of its own. Outside CI a missing Chromium skips the test; in CI it fails it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
import requests
from playwright.sync_api import Browser, Page, expect, sync_playwright

from datev_cin7_pipeline.defs.bookings.assets import datev_booking_lines
from datev_cin7_pipeline.defs.cin7.assets import cin7_documents
from datev_cin7_pipeline.defs.connector import ConnectorResource
from datev_cin7_pipeline.defs.datev.assets import datev_booking_jobs, datev_documents, datev_extf_batches
from datev_cin7_pipeline.sandbox.environment import SandboxOptions, sandbox_environment
from datev_cin7_pipeline_tests.conftest import REPO_ROOT, in_ci
from datev_cin7_pipeline_tests.mapping.support import TODAY, demo

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "artifacts"
LOCATION = "datev_cin7_pipeline"  # location_name in workspace.yaml
PERIOD = "2026-05-01"
ASSETS = [cin7_documents, datev_booking_lines, datev_extf_batches, datev_documents, datev_booking_jobs]

# Generous, bounded waits: on 2 cores the webserver needs ~10 s to load the definitions and each page
# a few seconds to render its first GraphQL answers.
SERVER_START_SECONDS = 180
PAGE_MS = 60_000


# ##### FIXTURES


@dataclass(frozen=True)
class Materialized:
    dagster_home: Path
    run_id: str
    documents_booked: int


@pytest.fixture
def materialized(isolated_home: Path, tmp_path: Path) -> Materialized:
    """One period materialized against the simulators into a persistent SQLite-backed instance."""
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(
        f"storage:\n  sqlite:\n    base_dir: {dagster_home}\ntelemetry:\n  enabled: false\n", "utf-8"
    )
    with (
        sandbox_environment(demo(), SandboxOptions(today=TODAY, capture=tmp_path / "capture")) as environment,
        dg.DagsterInstance.from_config(str(dagster_home)) as instance,
    ):
        assert environment.home == isolated_home
        result = dg.materialize(
            ASSETS,
            partition_key=PERIOD,
            resources={"connector": ConnectorResource(poll_first_delay_seconds=0.05)},
            instance=instance,
            raise_on_error=False,
        )
        assert result.success
        assert instance.get_materialized_partitions(dg.AssetKey("datev_booking_lines")) == {PERIOD}
    (lines,) = [
        event.materialization
        for event in result.get_asset_materialization_events()
        if event.materialization.asset_key == dg.AssetKey("datev_booking_lines")
    ]
    documents_booked = lines.metadata["documents_booked"].value
    assert isinstance(documents_booked, int)
    assert documents_booked > 10
    return Materialized(dagster_home, result.run_id, documents_booked)


@pytest.fixture
def webserver(materialized: Materialized, isolated_home: Path, tmp_path: Path) -> Iterator[str]:
    """The URL of `dagster-webserver` on a free loopback port, serving workspace.yaml from the test's instance."""
    port = _free_port()
    log = tmp_path / "webserver.log"
    env = {**os.environ, "DAGSTER_HOME": str(materialized.dagster_home), "DATEV_CIN7_HOME": str(isolated_home)}
    with log.open("wb") as output:
        # Own session: the webserver starts a code server child, and teardown must end both.
        process = subprocess.Popen(
            [sys.executable, "-m", "dagster_webserver", "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"],
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_serving(process, url, log)
        yield url
    finally:
        _stop(process)


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium, or skip (fail in CI) with the reason."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (Debian package `chromium`; .ci/run installs it)"
        if in_ci():
            pytest.fail(reason + " - CI must run the Dagster UI test")
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture
def browser(chromium: Path) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    # The UI opens a "Join the Dagster community" dialog on localhost that would cover the screenshots;
    # this is the flag its Skip button stores.
    context.add_init_script("window.localStorage.setItem('communityNux', JSON.stringify('1'))")
    context.set_default_timeout(PAGE_MS)
    expect.set_options(timeout=PAGE_MS)  # expect() has its own default of 5 s
    try:
        yield context.new_page()
    finally:
        context.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_serving(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"dagster-webserver exited with {process.returncode}:\n{_tail(log)}")
        try:
            if requests.get(f"{url}/server_info", timeout=5).json().get("dagster_version") == dg.__version__:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    pytest.fail(f"dagster-webserver did not answer within {SERVER_START_SECONDS} s:\n{_tail(log)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    # The webserver's code server child is in the same process group: end both.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text("utf-8", errors="replace").splitlines()[-lines:])


def _screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    path.unlink(missing_ok=True)  # a file left by an earlier run must not pass for this one
    page.screenshot(path=str(path), full_page=True)
    return path


def _assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    assert len(data) > 20_000, f"{path} is only {len(data)} bytes: a blank page?"


# ##### TESTS


def test_the_ui_shows_the_asset_graph_and_the_materialized_period(
    chromium: Path,  # first, so a missing Chromium is reported before the slow setup
    materialized: Materialized,
    webserver: str,
    page: Page,  # last: Playwright's event loop must not be running while Dagster executes the run
) -> None:
    # The datev group's lineage: its three assets and, upstream, the bookings and Cin7 assets.
    page.goto(f"{webserver}/locations/{LOCATION}/asset-groups/datev")
    for asset in ("datev_extf_batches", "datev_documents", "datev_booking_jobs", "datev_booking_lines"):
        expect(page.get_by_text(asset, exact=True).first).to_be_visible()
    expect(page.get_by_text("cin7_sale_invoices", exact=True).first).to_be_visible()
    # Each node the run materialized reports its passing checks: datev_documents has two (PDFs present,
    # PDFs accepted), datev_extf_batches and datev_booking_jobs one each.
    expect(page.get_by_text("2 / 2 Passed")).to_have_count(1)
    expect(page.get_by_text("1 / 1 Passed")).to_have_count(2)
    lineage = _screenshot(page, "dagster-ui-datev-lineage.png")

    # The booking lines' partitions page with the period selected: materialized by our run.
    page.goto(f"{webserver}/assets/datev_booking_lines?view=partitions&partition={PERIOD}")
    expect(page.get_by_text("Materialized (1)", exact=True)).to_be_visible()
    expect(page.get_by_text("Materialized", exact=True)).to_be_visible()  # the selected period's status tag
    expect(page.get_by_text("View all historical events (1)", exact=True)).to_be_visible()
    expect(page.get_by_text(materialized.run_id[:8], exact=True)).to_be_visible()
    booked = page.locator("tr", has=page.get_by_text("documents_booked", exact=True))
    expect(booked).to_have_count(1)
    expect(booked.locator("td").nth(1)).to_have_text(str(materialized.documents_booked))
    partition = _screenshot(page, "dagster-ui-booking-lines-partition.png")

    # A period that never ran must not look materialized (the page really is per partition).
    page.goto(f"{webserver}/assets/datev_booking_lines?view=partitions&partition=2026-04-01")
    expect(page.get_by_text("View all historical events (0)", exact=True)).to_be_visible()
    expect(page.get_by_text("No metadata entries", exact=True)).to_be_visible()
    expect(page.get_by_text("Materialized", exact=True)).to_have_count(0)
    expect(page.get_by_text(materialized.run_id[:8], exact=True)).to_have_count(0)
    expect(page.get_by_text("documents_booked", exact=True)).to_have_count(0)

    for path in (lineage, partition):
        _assert_png(path)
