"""Fixtures for the DATEV simulator tests: a fake clock and simulators served over real HTTP on loopback.

Starting and stopping uvicorn costs about 0.2 s per test, which over ~300 tests would blow the time
budget. So one server runs for the whole session and serves whatever app the current test built: `serve()`
builds a fresh simulator (fresh state, the test's config) and swaps it in. A test that calls `serve()`
twice gets the second app on the same URL - which is how the restart tests model a DATEV that came back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from starlette.types import Receive, Scope, Send

from datev_cin7_pipeline.sandbox.datev import DatevSimConfig, DatevSimState, build_datev_app
from datev_cin7_pipeline.sandbox.serving import serve_in_thread
from datev_cin7_pipeline_tests.sandbox_datev.helpers import XSD_FOLDER, DatevSim, FakeClock

ServeDatev = Callable[..., DatevSim]


class SwappableApp:
    """An ASGI app that forwards each request to the app set last (lifespan is answered here)."""

    def __init__(self) -> None:
        self.app: Callable[[Scope, Receive, Send], object] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].rsplit(".", 1)[1]
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        assert self.app is not None, "no simulator is being served"
        await self.app(scope, receive, send)  # type: ignore[misc]


@pytest.fixture(scope="session")
def shared_server() -> Iterator[tuple[str, SwappableApp]]:
    app = SwappableApp()
    with serve_in_thread(app) as server:
        yield server.url, app


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def serve(clock: FakeClock, shared_server: tuple[str, SwappableApp]) -> Iterator[ServeDatev]:
    """`serve(config=None, state=None, **changes)`: serve a new simulator on the fake clock with the v060 XSDs."""
    url, swappable = shared_server
    sims: list[DatevSim] = []

    def start(config: DatevSimConfig | None = None, state: DatevSimState | None = None, **changes: object) -> DatevSim:
        base = config or DatevSimConfig(clock=clock, xsd_folder=XSD_FOLDER)
        app = build_datev_app(replace(base, **changes) if changes else base, state)  # type: ignore[arg-type]
        swappable.app = app
        sim = DatevSim(url, app, clock)
        sims.append(sim)
        return sim

    yield start
    swappable.app = None
    for sim in sims:
        sim.session.close()


@pytest.fixture
def sim(serve: ServeDatev) -> DatevSim:
    """A simulator with the default clients, logged in with every scope."""
    served = serve()
    served.login()
    return served
