"""`datev-cin7 datev login` and `ping --only datev` as a user runs them, against the DATEV simulator: the
login prints the address, the browser's redirect reaches the loopback listener, the tokens are stored;
ping then names the client, its services and document types. A refused login is one sentence."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from datev_cin7_pipeline import settings
from datev_cin7_pipeline.sandbox.datev import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DatevSimConfig, build_datev_app
from datev_cin7_pipeline.sandbox.serving import RunningServer, serve_in_thread
from datev_cin7_pipeline_tests.test_cli import run

SCRIPT = Path(sys.executable).with_name("datev-cin7")


@pytest.fixture(scope="module")
def datev() -> Iterator[RunningServer]:
    with serve_in_thread(build_datev_app(DatevSimConfig())) as server:
        yield server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def configured(datev: RunningServer) -> int:
    assert run("init").code == 0
    port = _free_port()
    path = settings.connections_file_path()
    text = path.read_text()
    text = text.replace("consultant_number: null", "consultant_number: 29098")
    text = text.replace("client_number: null", "client_number: 55003")
    text = text.replace(
        "      route: extf\n",
        f"      route: extf\n      simulator_url: {datev.url}\n      redirect_uri: http://127.0.0.1:{port}/callback\n",
    )
    path.write_text(text)
    stored = run(
        "credentials",
        "set",
        "datev",
        "--client-id",
        DEMO_CLIENT_ID,
        "--client-secret",
        "-",
        stdin=DEMO_CLIENT_SECRET + "\n",
    )
    assert stored.code == 0, stored.err
    return port


def _login() -> subprocess.CompletedProcess[str]:
    process = subprocess.Popen(
        [str(SCRIPT), "datev", "login", "--no-browser", "--timeout", "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "Open this address to sign in with DATEV:"
    url = process.stdout.readline().strip()
    redirect = requests.get(url, allow_redirects=False, timeout=10).headers["Location"]
    requests.get(redirect, timeout=10)  # what the browser does next
    out, err = process.communicate(timeout=30)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def test_login_then_ping(configured: int) -> None:
    assert run("ping", "--only", "datev").err.strip() == (
        "Error: Connection 'default' must log in to DATEV; run `datev-cin7 datev login --connection default`."
    )
    login = _login()
    assert login.returncode == 0, login.stderr
    assert login.stdout.strip() == "Signed in: connection 'default' can now reach DATEV."
    ping = run("ping", "--only", "datev")
    assert ping.code == 0, ping.err
    lines = ping.out.splitlines()
    assert lines[0] == "DATEV: Musterholz GmbH (29098-55003), logged in"
    assert "Buchungsdatenservice" in lines[1]
    assert "Belegbilderservice" in lines[1]
    assert "Rechnungsausgang" in lines[2]
    assert "Rechnungseingang" in lines[2]
    for text in (login.stdout, login.stderr, ping.out, ping.err):
        assert DEMO_CLIENT_SECRET not in text
    listing = run("credentials", "list").out
    assert "refresh_token" in listing
    assert "access_token" in listing


def test_a_revoked_login_is_reported_in_one_sentence(configured: int, datev: RunningServer) -> None:
    assert _login().returncode == 0
    requests.post(
        f"{datev.url}/_sim/faults", json={"revoke_refresh_tokens": True, "expire_access_tokens": True}, timeout=10
    )
    ping = run("ping", "--only", "datev")
    assert ping.code == 1
    assert ping.err.strip() == (
        "Error: Connection 'default' cannot use its DATEV login: DATEV refused the stored login (expired, revoked "
        "or already used); run `datev-cin7 datev login --connection default`."
    )
    again = run("ping", "--only", "datev")
    assert again.err.strip() == (
        "Error: Connection 'default' must log in to DATEV (DATEV refused the stored login (expired, revoked or "
        "already used)); run `datev-cin7 datev login --connection default`."
    )
