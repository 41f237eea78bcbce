"""Polling stays far below DATEV's "thirty status reads is inefficient" and lets a slow job go; endpoints
come from configuration and map onto the simulator; the token endpoint sees the right client auth."""

from __future__ import annotations

import base64

import pytest

from datev_cin7_pipeline.datev.api import DatevApiError, check_document_file_name
from datev_cin7_pipeline.datev.endpoints import DatevEndpoints
from datev_cin7_pipeline.datev.oauth import OAuthClient
from datev_cin7_pipeline.datev.polling import PollSchedule, wait_for_job
from datev_cin7_pipeline.store import Secret


class Job:
    """A job that finishes `after` seconds from now, on a fake clock."""

    def __init__(self, after: float) -> None:
        self.after = after
        self.now = 0.0
        self.reads = 0

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def read(self) -> str:
        self.reads += 1
        return "succeeded" if self.now >= self.after else "pending"


@pytest.mark.parametrize(("after", "most_reads"), [(5, 1), (60, 5), (300, 7), (900, 8)])
def test_reads_stay_well_under_ten_for_jobs_of_minutes(after: float, most_reads: int) -> None:
    job = Job(after)
    outcome = wait_for_job(
        job.read,
        lambda r: r == "succeeded",
        schedule=PollSchedule(max_wait=3600),
        retry_after=5,
        sleep=job.sleep,
        rng=lambda: 0.5,
    )
    assert outcome.finished
    assert outcome.last == "succeeded"
    assert outcome.reads == job.reads <= most_reads
    assert outcome.waited - after < max(after, 5)  # noticed within one doubling of the finish


def test_a_job_still_pending_at_the_limit_is_left_for_later() -> None:
    job = Job(10_000)
    outcome = wait_for_job(
        job.read, lambda r: r == "succeeded", schedule=PollSchedule(max_wait=600), sleep=job.sleep, rng=lambda: 0.5
    )
    assert not outcome.finished
    assert outcome.last == "pending"
    assert outcome.waited <= 600
    assert outcome.reads <= 7


def test_the_first_read_waits_for_datevs_retry_after() -> None:
    assert PollSchedule().delay(1, 17.0) == 17.0
    assert PollSchedule().delay(1, None, rng=lambda: 0.5) == 5.0
    assert PollSchedule().delay(3, 17.0, rng=lambda: 0.5) == 20.0
    assert PollSchedule().delay(12, None, rng=lambda: 0.5) == 300.0  # capped
    assert 4.5 <= PollSchedule().delay(1, None, rng=lambda: 0.0) < PollSchedule().delay(1, None, rng=lambda: 1.0) <= 5.5


def test_endpoints_for_every_environment() -> None:
    production = DatevEndpoints.production()
    assert production.token_url == "https://api.datev.de/token"
    assert production.accounting_extf_files == "https://accounting-extf-files.api.datev.de/platform/v3"
    sandbox = DatevEndpoints.sandbox()
    assert sandbox.authorize_url == "https://login.datev.de/openidsandbox/authorize"
    assert sandbox.accounting_documents.endswith("/platform-sandbox/v2")
    nxt = production.with_next_idp()
    assert nxt.token_url == "https://signin.datev.de/datevam/oauth2/realms/root/realms/user/access_token"
    sim = sandbox.on_simulator("http://127.0.0.1:8090/")
    assert sim.accounting_documents == "http://127.0.0.1:8090/accounting-documents/platform-sandbox/v2"
    assert sim.accounting_clients == "http://127.0.0.1:8090/accounting-clients/platform-sandbox/v2"
    assert (sim.token_url, sim.authorize_url) == ("http://127.0.0.1:8090/token", "http://127.0.0.1:8090/authorize")


def test_confidential_clients_use_basic_auth_and_public_ones_only_their_id() -> None:
    confidential = OAuthClient("app-id", Secret("s3cret"))
    body, headers = confidential.token_request({"grant_type": "refresh_token", "refresh_token": "rt"})
    assert body == {"grant_type": "refresh_token", "refresh_token": "rt"}  # never the secret in the body
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"app-id:s3cret").decode()
    public = OAuthClient("app-id", None)
    body, headers = public.token_request({"grant_type": "refresh_token", "refresh_token": "rt"})
    assert body["client_id"] == "app-id"
    assert "Authorization" not in headers
    assert "s3cret" not in repr(confidential)


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("Rechnung INV-00042.pdf", True),
        ("Müller & Söhne (Kopie).pdf", True),
        ("Mu\u0308ller.pdf", False),  # decomposed umlaut
        ("a/b.pdf", False),
        ("INV:1.pdf", False),
        ("x" * 252 + ".pdf", False),
        ("€.pdf", False),
    ],
)
def test_document_file_names_follow_datevs_rules(name: str, ok: bool) -> None:
    if ok:
        check_document_file_name(name)
    else:
        with pytest.raises(DatevApiError):
            check_document_file_name(name)
