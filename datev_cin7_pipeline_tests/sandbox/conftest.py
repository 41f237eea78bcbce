"""Fixtures for the simulator tests: the demo data for a fixed day, a fake clock, served simulators."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from datev_cin7_pipeline.sandbox.cin7 import Cin7Dataset, Cin7SimConfig, build_cin7_app, demo_dataset
from datev_cin7_pipeline.sandbox.serving import serve_in_thread
from datev_cin7_pipeline_tests.sandbox.helpers import TODAY, FakeClock, Sim


@pytest.fixture(scope="session")
def demo() -> Cin7Dataset:
    """The demo data for seed 0 and TODAY (tests must not change it; the app works on a copy)."""
    return demo_dataset(0, TODAY)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def serve() -> Iterator[Callable[..., Sim]]:
    """Start simulators for a test: `serve(config, dataset)`; all are stopped afterwards."""
    servers = []

    def start(config: Cin7SimConfig | None = None, dataset: Cin7Dataset | None = None) -> Sim:
        app = build_cin7_app(config or Cin7SimConfig(today=TODAY), dataset)
        server = serve_in_thread(app)
        servers.append(server)
        return Sim(server.url, app)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def sim(serve: Callable[..., Sim], demo: Cin7Dataset, clock: FakeClock) -> Sim:
    """The demo company served with fast webhooks and a fake clock."""
    config = Cin7SimConfig(today=TODAY, clock=clock, webhook_first_delay=0, webhook_retry_delays=(0.02,) * 5)
    return serve(config, demo)
