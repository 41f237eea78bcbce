"""`datev-cin7 sandbox serve --connect NAME`: the simulators run and the home is set up against them, so
`ping` reaches both sides at once (the starting point for `dg dev` against the sandbox)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from datev_cin7_pipeline import settings


def test_serve_with_connect_sets_up_a_home_that_pings_both_simulators(isolated_home: Path) -> None:
    env = {**os.environ, settings.HOME_ENV: str(isolated_home)}
    cli = [sys.executable, "-m", "datev_cin7_pipeline.cli"]
    server = subprocess.Popen(
        [*cli, "sandbox", "serve", "--cin7-port", "0", "--datev-port", "0", "--connect", "default"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 90
        assert server.stdout is not None
        while time.monotonic() < deadline:
            line = server.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "now uses both simulators" in line:
                break
        assert any("Connection 'default'" in line for line in lines), "".join(lines)

        ping = subprocess.run([*cli, "ping"], env=env, capture_output=True, text=True, timeout=120)

        assert ping.returncode == 0, ping.stdout + ping.stderr
        assert "Elbe & Isar Großhandel GmbH" in ping.stdout
        assert "29098-55003" in ping.stdout
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
