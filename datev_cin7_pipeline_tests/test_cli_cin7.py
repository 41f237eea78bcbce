"""The Cin7 commands as a user runs them, against the simulator: `ping`, `webhooks register`,
`webhooks serve`, `sandbox export`. Secrets stay out of every output; mistakes are one sentence."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from datev_cin7_pipeline import settings
from datev_cin7_pipeline.sandbox.cin7 import (
    DEMO_ACCOUNT_ID,
    DEMO_APPLICATION_KEY,
    Cin7SimConfig,
    build_cin7_app,
    demo_dataset,
    load_dataset,
)
from datev_cin7_pipeline.sandbox.serving import RunningServer, serve_in_thread
from datev_cin7_pipeline.store import CredentialsVault, StateStore
from datev_cin7_pipeline_tests.test_cli import run

TODAY = dt.date(2026, 11, 24)


@pytest.fixture(scope="module")
def cin7() -> Iterator[RunningServer]:
    app = build_cin7_app(Cin7SimConfig(today=TODAY, calls_per_minute=10_000), demo_dataset(5, TODAY))
    with serve_in_thread(app) as server:
        yield server


@pytest.fixture
def connected(cin7: RunningServer) -> RunningServer:
    assert run("init").code == 0
    path = settings.connections_file_path()
    path.write_text(
        path.read_text().replace("https://inventory.dearsystems.com/ExternalApi/v2/", cin7.url + "/ExternalApi/v2/")
    )
    stored = run(
        "credentials",
        "set",
        "cin7",
        "--account-id",
        DEMO_ACCOUNT_ID,
        "--application-key",
        "-",
        stdin=DEMO_APPLICATION_KEY + "\n",
    )
    assert stored.code == 0, stored.err
    return cin7


def test_ping_reports_company_currency_and_headroom(connected: RunningServer) -> None:
    result = run("ping", "--only", "cin7")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].startswith("Cin7 Core: ")
    assert len(lines[0]) > len("Cin7 Core: ") + 3
    assert "base currency EUR, time zone Europe/Berlin, tax rounding per line" in lines[1]
    assert lines[-1].strip() == "rate limit: 59 of 60 calls/min left for this connection"
    assert DEMO_APPLICATION_KEY not in result.out + result.err


def test_ping_with_wrong_or_missing_keys_is_one_sentence(connected: RunningServer) -> None:
    run("credentials", "set", "cin7", "--account-id", DEMO_ACCOUNT_ID, "--application-key", "wrong-key-71x")
    refused = run("ping", "--only", "cin7")
    assert refused.code == 1
    assert refused.err.strip() == (
        "Error: Cin7 rejected the API keys of connection 'default' (403); check them with "
        "`datev-cin7 credentials set cin7`."
    )
    assert "wrong-key-71x" not in refused.err


def test_ping_without_keys(cin7: RunningServer) -> None:
    assert run("init").code == 0
    result = run("ping", "--only", "cin7")
    assert result.code == 1
    assert result.err.strip() == (
        "Error: Connection 'default' has no Cin7 API keys yet; run `datev-cin7 credentials set cin7 --connection "
        "default`."
    )


def test_webhooks_register_stores_a_secret_and_subscribes(connected: RunningServer) -> None:
    result = run("webhooks", "register", "--url", "https://hooks.example.com/")
    assert result.code == 0, result.err
    assert result.out.splitlines()[0] == (
        "Cin7 delivers to https://hooks.example.com/webhooks/cin7/default (bearer authentication):"
    )
    assert "created: Sale/InvoiceAuthorised" in result.out
    store = StateStore(settings.database_url())
    secret = CredentialsVault(store).get("default", "webhook", "secret")
    store.dispose()
    assert secret is not None
    assert len(secret.reveal()) >= 32
    assert secret.reveal() not in result.out + result.err
    again = run("webhooks", "register", "--url", "https://hooks.example.com/webhooks/cin7/default")
    assert "already active: Sale/InvoiceAuthorised" in again.out


def test_webhooks_register_refuses_plain_http_off_loopback(connected: RunningServer) -> None:
    result = run("webhooks", "register", "--url", "http://hooks.example.com/")
    assert result.code == 2
    assert "use an https:// address (http:// only for loopback)" in result.err


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_webhooks_serve_receives_into_the_inbox(connected: RunningServer) -> None:
    assert run("webhooks", "register", "--url", "https://hooks.example.com").code == 0
    store = StateStore(settings.database_url())
    secret = CredentialsVault(store).get("default", "webhook", "secret")
    assert secret is not None
    port = _free_port()
    script = Path(sys.executable).with_name("datev-cin7")
    server = subprocess.Popen(
        [str(script), "webhooks", "serve", "--port", str(port)],
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                assert server.poll() is None, server.communicate()
                assert time.monotonic() < deadline
                time.sleep(0.1)
        url = f"http://127.0.0.1:{port}/webhooks/cin7/default"
        body = {"SaleID": "0b9f4c1e-2d3a-4b5c-8d7e-6f5a4b3c2d1e"}
        assert requests.post(url, json=body, timeout=5).status_code == 401
        accepted = requests.post(url, json=body, headers={"Authorization": f"Bearer {secret.reveal()}"}, timeout=5)
        assert accepted.status_code == 202
        assert accepted.json()["status"] == "accepted"
    finally:
        server.terminate()
        server.wait(10)
    with store.engine.connect() as connection:
        import sqlalchemy as sa

        assert connection.execute(sa.text("SELECT document_id FROM webhook_inbox")).scalars().all() == [
            "0b9f4c1e-2d3a-4b5c-8d7e-6f5a4b3c2d1e"
        ]
    store.dispose()


def test_sandbox_export_writes_a_folder_the_simulator_serves(tmp_path: Path) -> None:
    folder = tmp_path / "company"
    result = run("sandbox", "export", str(folder), "--seed", "2")
    assert result.code == 0, result.err
    dataset = load_dataset(folder)
    assert result.out.strip() == f"Wrote {len(dataset.sales)} sales and {len(dataset.purchases)} purchases to {folder}."
    assert (folder / "me.json").exists()
    assert any((folder / "attachments").iterdir())
    again = run("sandbox", "export", str(folder))
    assert again.code == 1
    assert "is not empty; choose a new folder." in again.err
