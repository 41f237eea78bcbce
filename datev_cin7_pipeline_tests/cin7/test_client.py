"""The Cin7 client against the simulator over real HTTP: paging, `UpdatedSince`, every throttling variant,
5xx, dropped connections, bad keys and Cin7's error bodies, each with the behaviour the issue promises.
The simulator and the client share one fake clock, so a throttled minute passes without waiting; every
exchange is checked against Cin7's OpenAPI document."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from datev_cin7_pipeline.cin7.attachments import fetch_pdf
from datev_cin7_pipeline.cin7.client import Cin7Client, Cin7Credentials, RetryPolicy
from datev_cin7_pipeline.cin7.errors import (
    Cin7AttachmentError,
    Cin7AuthError,
    Cin7RequestError,
    Cin7UnavailableError,
)
from datev_cin7_pipeline.cin7.models import Attachment, Sale, SaleListRow
from datev_cin7_pipeline.cin7.pacing import RollingWindowPacer
from datev_cin7_pipeline.sandbox.cin7 import (
    DEMO_ACCOUNT_ID,
    DEMO_APPLICATION_KEY,
    Cin7Dataset,
    Cin7SimConfig,
    Faults,
    build_cin7_app,
    demo_dataset,
)
from datev_cin7_pipeline.sandbox.serving import serve_in_thread
from datev_cin7_pipeline.store import Secret
from datev_cin7_pipeline_tests.contracts.cin7_openapi import ContractViolation, attach_contract_checks

TODAY = dt.date(2026, 11, 24)


@dataclass
class SharedClock:
    """One clock for simulator and client: when the client "sleeps", the simulator's minute passes too."""

    now: float = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC).timestamp()
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@dataclass
class Harness:
    base_url: str
    app: Any
    clock: SharedClock
    violations: list[list[ContractViolation]] = field(default_factory=list)

    @property
    def calls(self) -> Any:
        return self.app.state.cin7.call_log

    def client(self, *, calls_per_minute: int = 60, key: str = DEMO_APPLICATION_KEY, **kwargs: Any) -> Cin7Client:
        client = Cin7Client(
            Cin7Credentials(DEMO_ACCOUNT_ID, Secret(key)),
            base_url=self.base_url,
            pacer=RollingWindowPacer(calls_per_minute, clock=self.clock, sleep=self.clock.sleep),
            sleep=self.clock.sleep,
            wall_clock=self.clock,
            jitter=lambda: 0.5,
            **kwargs,
        )
        self.violations.append(attach_contract_checks(client.session))
        return client


@pytest.fixture(scope="module")
def demo() -> Cin7Dataset:
    return demo_dataset(7, TODAY)


@pytest.fixture
def harness_factory(demo: Cin7Dataset) -> Iterator[Callable[..., Harness]]:
    servers = []

    def start(**config: Any) -> Harness:
        clock = SharedClock()
        app = build_cin7_app(Cin7SimConfig(today=TODAY, clock=clock, **config), demo)
        server = serve_in_thread(app)
        servers.append(server)
        return Harness(server.url + "/ExternalApi/v2/", app, clock)

    yield start
    for server in servers:
        server.stop()


def _contract_clean(harness: Harness) -> None:
    """Every request the client sent and every answer it got matched Cin7's OpenAPI document."""
    assert [str(v) for found in harness.violations for v in found] == []


def test_paging_walks_every_page_and_stops_at_total(harness_factory: Callable[..., Harness]) -> None:
    harness = harness_factory()
    client = harness.client()
    everything = list(client.paginate("saleList", "SaleList"))
    total = len(everything)
    assert total > 20
    before = client.stats.calls
    paged = list(client.paginate("saleList", "SaleList", limit=7))
    assert [row["SaleID"] for row in paged] == [row["SaleID"] for row in everything]
    assert client.stats.calls - before == math.ceil(total / 7)
    _contract_clean(harness)


def test_updated_since_returns_only_later_changes(harness_factory: Callable[..., Harness]) -> None:
    harness = harness_factory()
    client = harness.client()
    rows = [SaleListRow.model_validate(r) for r in client.paginate("saleList", "SaleList")]
    stamps = sorted(r.updated for r in rows if r.updated)
    cut = stamps[len(stamps) // 2]
    later = [
        SaleListRow.model_validate(r)
        for r in client.paginate("saleList", "SaleList", {"UpdatedSince": cut.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]})
    ]
    assert later
    assert all(r.updated is not None and r.updated >= cut for r in later)
    # Cin7 does not say whether "since" includes the instant itself; our sync steps back a second either way.
    strictly_after = {r.sale_id for r in rows if r.updated and r.updated > cut}
    at_or_after = {r.sale_id for r in rows if r.updated and r.updated >= cut}
    assert strictly_after <= {r.sale_id for r in later} <= at_or_after
    assert len(later) < len(rows)
    _contract_clean(harness)


@pytest.mark.parametrize(
    ("status", "retry_after"),
    [(429, None), (503, None), (429, "seconds"), (503, "seconds"), (429, "http-date"), (503, "http-date")],
)
def test_throttling_is_ridden_out_in_every_variant(
    harness_factory: Callable[..., Harness], status: int, retry_after: str | None
) -> None:
    harness = harness_factory(calls_per_minute=3, throttle_status=status, retry_after=retry_after)
    client = harness.client(calls_per_minute=100)  # deliberately more than the server allows
    announced: list[str] = []
    client.session.hooks["response"].append(
        lambda response, **_: (
            announced.append(response.headers.get("Retry-After", "")) if response.status_code == status else None
        )
    )
    for _ in range(7):
        assert client.get("me")["Currency"] == "EUR"
    assert client.stats.throttled == len(announced) > 0
    outcomes = harness.calls.summary()["calls_per_outcome"]
    assert sum(outcomes.values()) == 7 + len(announced)
    if retry_after is None:
        assert announced == [""] * len(announced)
        # exponential back-off from 5 s, jitter pinned to the middle: 3.75, 7.5, 15 …
        assert harness.clock.slept[:2] == [3.75, 7.5][: len(harness.clock.slept[:2])]
    elif retry_after == "seconds":
        assert harness.clock.slept == [float(value) for value in announced]  # exactly what the server asked
    else:
        assert len(harness.clock.slept) == len(announced)
        assert all(wait >= 1 for wait in harness.clock.slept)  # an HTTP date, resolved on the shared clock
    _contract_clean(harness)


def test_the_pacer_keeps_the_client_under_the_limit(harness_factory: Callable[..., Harness]) -> None:
    harness = harness_factory(calls_per_minute=5)
    client = harness.client(calls_per_minute=5)
    for _ in range(12):
        client.get("me")
    assert client.stats.throttled == 0
    assert harness.calls.summary()["max_calls_in_any_60s"] == 5
    assert sum(harness.clock.slept) >= 120 - 1  # 12 calls at 5 a minute need two full waits


def test_server_errors_are_retried_a_bounded_number_of_times(harness_factory: Callable[..., Harness]) -> None:
    harness = harness_factory(faults=Faults(error_burst=2, error_status=502))
    client = harness.client(retry=RetryPolicy(transient_retries=3))
    assert client.get("me")["Currency"] == "EUR"
    assert client.stats.calls == 3
    assert client.stats.retried == 2

    broken = harness_factory(faults=Faults(error_burst=50))
    failing = broken.client(retry=RetryPolicy(transient_retries=3))
    with pytest.raises(Cin7UnavailableError, match=r"Cin7 failed GET me with 500 after 4 attempts"):
        failing.get("me")
    assert failing.stats.calls == 4


def test_dropped_connections_are_retried_for_reads(harness_factory: Callable[..., Harness]) -> None:
    harness = harness_factory(faults=Faults(drop_burst=2))
    client = harness.client()
    assert client.get("me")["Currency"] == "EUR"
    assert client.stats.calls == 3

    broken = harness_factory(faults=Faults(drop_burst=50))
    failing = broken.client(retry=RetryPolicy(transient_retries=2))
    with pytest.raises(Cin7UnavailableError, match="Cin7 could not be reached for GET me after 3 attempts"):
        failing.get("me")


def test_bad_keys_are_a_clear_error_without_the_key(harness_factory: Callable[..., Harness]) -> None:
    harness = harness_factory()
    client = harness.client(key="not-the-key-3b9f", connection_name="acme")
    with pytest.raises(Cin7AuthError) as caught:
        client.get("me")
    assert str(caught.value).startswith("Cin7 rejected the API keys of connection 'acme' (403)")
    assert "not-the-key" not in str(caught.value)
    assert client.stats.calls == 1  # a refused key is not retried


@pytest.mark.parametrize("as_list", [False, True])
def test_cin7_error_bodies_end_up_in_the_error(harness_factory: Callable[..., Harness], as_list: bool) -> None:
    harness = harness_factory(error_body_as_list=as_list)
    client = harness.client()
    with pytest.raises(Cin7RequestError) as caught:
        client.get("saleList", {"Limit": 5000})
    error = caught.value
    assert error.status == 400
    assert error.error_code is not None
    assert "Limit" in error.detail
    assert str(error).startswith(f"Cin7 refused GET saleList (400, error {error.error_code}): ")
    assert client.stats.calls == 1


def _first_pdf(client: Cin7Client) -> tuple[Sale, Attachment]:
    for row in client.paginate("saleList", "SaleList"):
        sale = Sale.model_validate(client.get("sale", {"ID": row["SaleID"]}))
        for attachment in sale.attachments:
            if attachment.file_name.lower().endswith(".pdf"):
                return sale, attachment
    raise AssertionError("the demo company has no PDF attachment")


def test_attachments_come_only_from_the_cin7_host_and_only_as_pdfs(harness_factory: Callable[..., Harness]) -> None:
    harness = harness_factory()
    client = harness.client()
    sale, attachment = _first_pdf(client)
    pdf = fetch_pdf(client, attachment)
    assert pdf.content.startswith(b"%PDF-")
    assert pdf.content.rstrip().endswith(b"%%EOF")
    assert pdf.file_name.endswith(".pdf")
    assert "/" not in pdf.file_name

    calls = client.stats.calls
    elsewhere = attachment.model_copy(update={"download_url": "https://attacker.example/Attachment/Download?ID=1"})
    with pytest.raises(Cin7AttachmentError, match="only fetched from the configured Cin7 host"):
        fetch_pdf(client, elsewhere)
    same_host_other_port = attachment.model_copy(
        update={"download_url": attachment.download_url.replace(harness.base_url.split("/")[2], "127.0.0.1:1")}
    )
    with pytest.raises(Cin7AttachmentError, match="only fetched from the configured Cin7 host"):
        fetch_pdf(client, same_host_other_port)
    assert client.stats.calls == calls  # refused before any request went out

    with pytest.raises(Cin7AttachmentError, match="larger than 0 MB"):
        fetch_pdf(client, attachment, max_bytes=100)
    assert sale.id


def test_a_non_pdf_attachment_is_refused(harness_factory: Callable[..., Harness], demo: Cin7Dataset) -> None:
    harness = harness_factory()
    client = harness.client()
    _, attachment = _first_pdf(client)
    sim = harness.app.state.cin7
    # Replace the stored bytes with a JPEG that calls itself a PDF.
    for files in sim.store.data.attachments.values():
        for name in list(files):
            files[name] = b"\xff\xd8\xff\xe0 not a pdf"
    with pytest.raises(Cin7AttachmentError, match="is not a PDF"):
        fetch_pdf(client, attachment)
