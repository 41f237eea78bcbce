"""The DATEV side against its simulator over real HTTP: a full PKCE login with nobody at the keyboard,
refresh before expiry with 5-second tokens, rotation, two processes refreshing at once, a reused refresh
token putting the connection into "log in again", and the four APIs with exactly-once uploads: the same
GUID twice is one document, and an EXTF upload whose answer is lost is recovered by Reference-Id without
a second job."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from datev_cin7_pipeline.datev.api import DatevApi, DatevApiError, DatevUnclearError
from datev_cin7_pipeline.datev.endpoints import DatevEndpoints
from datev_cin7_pipeline.datev.oauth import DatevTokens, LoginRequired, LoopbackReceiver, OAuthClient, start_login
from datev_cin7_pipeline.datev.polling import PollSchedule
from datev_cin7_pipeline.datev.transfer import BatchToSend, DocumentToSend, poll_batch, send_document, submit_batch
from datev_cin7_pipeline.sandbox.datev import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_PUBLIC_CLIENT_ID,
    DatevSimConfig,
    build_datev_app,
    read_manifest,
)
from datev_cin7_pipeline.sandbox.serving import RunningServer, serve_in_thread
from datev_cin7_pipeline.store import CredentialsVault, Secret, StateStore
from datev_cin7_pipeline.store.connections import ensure_connection

CLIENT = "29098-55003"
REDIRECT = "http://127.0.0.1:{port}/callback"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@dataclass
class Clock:
    now: float = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC).timestamp()

    def __call__(self) -> float:
        return self.now


@dataclass
class Datev:
    server: RunningServer
    app: Any
    clock: Clock
    endpoints: DatevEndpoints
    capture: Path


@pytest.fixture
def datev(tmp_path: Path) -> Iterator[Datev]:
    clock = Clock()
    capture = tmp_path / "capture"
    config = DatevSimConfig(clock=clock, capture_folder=capture, access_token_seconds=5, extf_processing_seconds=0)
    app = build_datev_app(config)
    with serve_in_thread(app) as server:
        yield Datev(server, app, clock, DatevEndpoints.production().on_simulator(server.url), capture)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tokens(datev: Datev, store: StateStore, *, public: bool = False, margin: float = 2) -> DatevTokens:
    client = (
        OAuthClient(DEMO_PUBLIC_CLIENT_ID, None) if public else OAuthClient(DEMO_CLIENT_ID, Secret(DEMO_CLIENT_SECRET))
    )
    return DatevTokens(
        "acme", CredentialsVault(store), datev.endpoints, client, margin_seconds=margin, clock=datev.clock
    )


def _login(datev: Datev, tokens: DatevTokens) -> None:
    """The whole browser dance, driven by the test: authorize → redirect → loopback → code exchange."""
    redirect = REDIRECT.format(port=_free_port())
    request = start_login(datev.endpoints, tokens.client, redirect)
    with LoopbackReceiver(redirect) as receiver:
        approved = requests.get(request.url, allow_redirects=False, timeout=10)
        assert approved.status_code in (302, 303), approved.text
        location = approved.headers["Location"]
        assert location.startswith(redirect)
        assert "code=" in location
        requests.get(location, timeout=10)  # the browser follows the redirect to our listener
        answer = receiver.wait(5)
    tokens.complete_login(request, answer)


@pytest.mark.parametrize("public", [False, True])
def test_a_full_login_stores_tokens_and_the_state(datev: Datev, store: StateStore, public: bool) -> None:
    tokens = _tokens(datev, store, public=public)
    _login(datev, tokens)
    assert tokens.state() == ("logged_in", None)
    token = tokens.access_token()
    api = DatevApi(tokens, datev.endpoints)
    assert CLIENT in {c["id"] for c in api.list_clients()}
    assert tokens.refreshes == 0
    assert token.reveal()


def test_a_forged_state_is_refused(datev: Datev, store: StateStore) -> None:
    tokens = _tokens(datev, store)
    request = start_login(datev.endpoints, tokens.client, REDIRECT.format(port=1))
    approved = requests.get(request.url, allow_redirects=False, timeout=10)
    code = approved.headers["Location"].split("code=")[1].split("&")[0]
    with pytest.raises(Exception, match="state mismatch"):
        tokens.complete_login(request, {"code": code, "state": "forged"})
    assert tokens.state()[0] == "not_logged_in"


def test_tokens_are_refreshed_before_expiry_and_rotated(datev: Datev, store: StateStore) -> None:
    tokens = _tokens(datev, store, margin=2)
    _login(datev, tokens)
    vault = CredentialsVault(store)
    first_refresh = vault.get("acme", "datev", "refresh_token")
    first = tokens.access_token()
    api = DatevApi(tokens, datev.endpoints)
    seen = set()
    for _ in range(12):  # a "long run" of a minute with 5-second tokens
        datev.clock.now += 5
        api.get_client(CLIENT)
        seen.add(tokens.access_token().reveal())
    assert tokens.refreshes >= 10
    assert len(seen) >= 10
    assert first.reveal() not in seen
    assert vault.get("acme", "datev", "refresh_token") != first_refresh  # rotated and stored


def _refresh_in_process(url: str, token_url: str, barrier: Any, results: Any) -> None:
    """Another process with the same connection wanting a fresh token at the same moment."""
    store = StateStore(url)
    endpoints = DatevEndpoints.production().on_simulator(token_url)
    tokens = DatevTokens(
        "acme",
        CredentialsVault(store),
        endpoints,
        OAuthClient(DEMO_CLIENT_ID, Secret(DEMO_CLIENT_SECRET)),
        margin_seconds=10_000,  # everything looks stale: both want to refresh
    )
    barrier.wait(30)
    try:
        results.put(("ok", tokens.access_token().reveal()))
    except Exception as exc:
        results.put(("error", repr(exc)))
    store.dispose()


def test_two_processes_refreshing_at_once_lose_nothing(datev: Datev, store: StateStore) -> None:
    tokens = _tokens(datev, store)
    _login(datev, tokens)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results: Any = context.Queue()
    workers = [
        context.Process(
            target=_refresh_in_process,
            args=(str(store.url.render_as_string(hide_password=False)), datev.server.url, barrier, results),
        )
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    outcomes = [results.get(timeout=5) for _ in workers]
    assert [kind for kind, _ in outcomes] == ["ok", "ok"], outcomes
    # One refreshed, the other found the fresh token under the lock: the stored refresh token still works.
    assert tokens.state()[0] == "logged_in"
    assert tokens.access_token(force_refresh=True).reveal()


def test_a_reused_refresh_token_means_log_in_again(datev: Datev, store: StateStore) -> None:
    tokens = _tokens(datev, store)
    _login(datev, tokens)
    vault = CredentialsVault(store)
    stale = vault.get("acme", "datev", "refresh_token")
    assert stale is not None
    tokens.access_token(force_refresh=True)  # rotates: the old one is now spent
    vault.set("acme", "datev", "refresh_token", stale)  # e.g. a backup restored over the newer token
    with pytest.raises(LoginRequired) as caught:
        tokens.access_token(force_refresh=True)
    assert str(caught.value) == (
        "Connection 'acme' cannot use its DATEV login: DATEV refused the stored login (expired, revoked or "
        "already used); run `datev-cin7 datev login --connection acme`."
    )
    assert tokens.state() == ("login_required", "DATEV refused the stored login (expired, revoked or already used)")
    assert vault.get("acme", "datev", "refresh_token") is None
    with pytest.raises(LoginRequired, match="is not logged in to DATEV"):
        tokens.access_token()


def test_same_guid_twice_is_one_document(datev: Datev, store: StateStore) -> None:
    tokens = _tokens(datev, store)
    _login(datev, tokens)
    api = DatevApi(tokens, datev.endpoints)
    api.check_access(CLIENT, "Belegbilderservice")
    types = [t["name"] for t in api.document_types(CLIENT)]
    assert "Rechnungsausgang" in types
    with store.session() as session:
        connection_id = ensure_connection(session, "acme", actor="test")
    doc = DocumentToSend(
        guid="0f8a2c1e-5b7d-5e3f-9a1b-2c3d4e5f6a7b",
        cin7_document_kind="sale_invoice",
        cin7_document_id="t1",
        attachment_id="a1",
        document_version="v1",
        period=dt.date(2026, 10, 1),
        file_name="INV-00042.pdf",
        content=PDF,
        document_type="Rechnungsausgang",
    )
    assert send_document(api, store, connection_id, CLIENT, doc) == "uploaded"
    assert send_document(api, store, connection_id, CLIENT, doc) == "uploaded"  # the ledger knows: no call
    assert (
        api.upload_document(
            CLIENT, doc.guid, file_name=doc.file_name, content=PDF, document_type="Rechnungsausgang"
        ).created
        is False
    )  # DATEV says 409
    uploads = [e for e in read_manifest(datev.capture) if e.get("guid") == doc.guid]
    assert len(uploads) == 1


def test_an_extf_upload_whose_answer_is_lost_is_recovered_without_a_second_job(datev: Datev, store: StateStore) -> None:
    tokens = _tokens(datev, store)
    _login(datev, tokens)
    api = DatevApi(tokens, datev.endpoints)
    with store.session() as session:
        connection_id = ensure_connection(session, "acme", actor="test")
    content = _minimal_extf()
    batch = BatchToSend(dt.date(2026, 10, 1), 1, "EXTF_acme_202610_01.csv", "acme-202610-01", content, 1)
    requests.post(f"{datev.server.url}/_sim/faults", json={"drop_after_accept_burst": 1}, timeout=10)
    job_id = submit_batch(api, store, connection_id, CLIENT, batch)
    assert job_id
    again = submit_batch(api, store, connection_id, CLIENT, batch)
    assert again == job_id
    jobs = [job for job in api.extf_jobs(CLIENT) if job.reference_id == "acme-202610-01"]
    assert [job.id for job in jobs] == [job_id]  # exactly one job at DATEV
    outcome = poll_batch(
        api,
        store,
        connection_id,
        CLIENT,
        "acme-202610-01",
        schedule=PollSchedule(first_delay=0.01, max_wait=5),
        sleep=lambda s: None,
    )
    assert outcome.status in ("succeeded", "failed")
    assert outcome.reads <= 3


def _minimal_extf() -> bytes:
    from datev_cin7_pipeline.sandbox.datev import HEADING_COLUMNS

    header = (
        '"EXTF";700;21;"Buchungsstapel";13;20261124090000000;;"RE";"";"";29098;55003;20260101;4;20261001;'
        '20261031;"Cin7 Core";"";1;0;0;"EUR";;"";;;"03";;;"";""'
    )
    heading = ";".join(HEADING_COLUMNS)
    fields = [""] * len(HEADING_COLUMNS)
    fields[:11] = ["119,00", '"S"', '"EUR"', "", "", '""', "10000", "8400", '""', "0510", '"INV-00042"']
    fields[13] = '"Erlös INV-00042"'
    return ("\ufeff" + "\r\n".join([header, heading, ";".join(fields)]) + "\r\n").encode("utf-8")


def test_a_job_datev_failed_is_recorded_with_its_details(datev: Datev, store: StateStore) -> None:
    tokens = _tokens(datev, store)
    _login(datev, tokens)
    api = DatevApi(tokens, datev.endpoints)
    with store.session() as session:
        connection_id = ensure_connection(session, "acme", actor="test")
    requests.post(f"{datev.server.url}/_sim/faults", json={"extf_job_failures": 1}, timeout=10)
    batch = BatchToSend(dt.date(2026, 10, 1), 2, "EXTF_acme_202610_02.csv", "acme-202610-02", _minimal_extf(), 1)
    submit_batch(api, store, connection_id, CLIENT, batch)
    outcome = poll_batch(
        api,
        store,
        connection_id,
        CLIENT,
        "acme-202610-02",
        schedule=PollSchedule(first_delay=0.01, max_wait=5),
        sleep=lambda s: None,
    )
    assert outcome.status == "failed"
    assert outcome.validation_details


def test_errors_name_datevs_code(datev: Datev, store: StateStore) -> None:
    tokens = _tokens(datev, store)
    _login(datev, tokens)
    api = DatevApi(tokens, datev.endpoints)
    with pytest.raises(DatevApiError, match="does not have the service 'Buchungsdatenservice'"):
        api.check_access("29098-55004", "Buchungsdatenservice")
    with pytest.raises(DatevApiError, match="#DCO01010"):
        api.upload_document(
            CLIENT,
            "1f8a2c1e-5b7d-5e3f-9a1b-2c3d4e5f6a7b",
            file_name="x.pdf",
            content=PDF,
            document_type="Keine solche Art",
        )


def test_a_lost_answer_on_a_non_idempotent_call_is_reported_as_unclear(datev: Datev, store: StateStore) -> None:
    tokens = _tokens(datev, store)
    _login(datev, tokens)
    api = DatevApi(tokens, datev.endpoints)
    requests.post(f"{datev.server.url}/_sim/faults", json={"drop_after_accept_burst": 1}, timeout=10)
    with pytest.raises(DatevUnclearError, match="DATEV may have received it"):
        api.submit_extf(CLIENT, filename="EXTF_x.csv", reference_id="x-1", content=_minimal_extf())
    assert api.find_extf_job(CLIENT, "x-1") is not None


def test_threads_refreshing_in_one_process_refresh_once(datev: Datev, store: StateStore) -> None:
    tokens = _tokens(datev, store, margin=2)
    _login(datev, tokens)
    datev.clock.now += 10  # the access token has expired
    found: list[str] = []
    start = threading.Barrier(4)

    def use() -> None:
        start.wait()
        found.append(tokens.access_token().reveal())

    threads = [threading.Thread(target=use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(found)) == 1
    assert tokens.refreshes == 1


def test_every_call_matches_datevs_openapi_documents(datev: Datev, store: StateStore) -> None:
    """Requests our clients send and responses the simulator returns, for every operation we use."""
    from datev_cin7_pipeline_tests.sandbox_datev.datev_contract import attach_contract_checks

    tokens = _tokens(datev, store)
    _login(datev, tokens)
    api = DatevApi(tokens, datev.endpoints)
    violations = attach_contract_checks(api.http, check_request=True)
    seen: list[str] = []
    api.http.hooks["response"].append(lambda r, **_: seen.append(f"{r.request.method} {r.status_code}"))

    api.list_clients()
    api.check_access(CLIENT, "Buchungsdatenservice")
    api.document_types(CLIENT)
    api.allowed_extensions(CLIENT)
    guid = "2f8a2c1e-5b7d-5e3f-9a1b-2c3d4e5f6a7b"
    assert api.upload_document(
        CLIENT, guid, file_name="INV-1.pdf", content=PDF, document_type="Rechnungsausgang"
    ).created
    assert not api.upload_document(
        CLIENT, guid, file_name="INV-1.pdf", content=PDF, document_type="Rechnungsausgang"
    ).created
    submission = api.submit_extf(CLIENT, filename="EXTF_c.csv", reference_id="contract-1", content=_minimal_extf())
    assert api.extf_job(CLIENT, submission.job_id).id == submission.job_id
    assert api.find_extf_job(CLIENT, "contract-1") is not None
    job = api.create_dxso_job(CLIENT, import_type="accountsReceivableLedgerImport", accounting_month="2026-10")
    api.upload_dxso_file(CLIENT, job["id"], file_name="INV-1.pdf", content=PDF, media_type="application/pdf")
    api.cancel_dxso_job(CLIENT, job["id"])
    second = api.create_dxso_job(CLIENT, import_type="accountsReceivableLedgerImport", accounting_month="2026-10")
    api.finalize_dxso_job(CLIENT, second["id"])
    assert api.dxso_job(CLIENT, second["id"]).status >= 1
    api.dxso_protocol(CLIENT, second["id"])

    assert [str(v) for v in violations] == []
    assert "PUT 409" in seen
    assert "POST 202" in seen
    assert "DELETE 204" in seen


def test_a_dxso_package_is_sent_once_and_its_protocol_kept(datev: Datev, store: StateStore) -> None:
    from datev_cin7_pipeline.datev.transfer import DxsoPackageToSend, poll_dxso_package, send_dxso_package
    from datev_cin7_pipeline.store.models import DatevJob, DatevJobProtocolEntry

    tokens = _tokens(datev, store)
    _login(datev, tokens)
    api = DatevApi(tokens, datev.endpoints)
    with store.session() as session:
        connection_id = ensure_connection(session, "acme", actor="test")
    package = DxsoPackageToSend(
        period=dt.date(2026, 10, 1),
        sequence=1,
        reference_id="acme-dxso-202610-1",
        import_type="accountsReceivableLedgerImport",
        files=(("INV-1.pdf", PDF, "application/pdf"),),
    )
    job_id = send_dxso_package(api, store, connection_id, CLIENT, package)
    assert send_dxso_package(api, store, connection_id, CLIENT, package) == job_id  # nothing sent again
    datev.clock.now += 60
    outcome = poll_dxso_package(
        api,
        store,
        connection_id,
        CLIENT,
        package.reference_id,
        schedule=PollSchedule(first_delay=0.01, max_wait=5),
        sleep=lambda s: None,
    )
    assert outcome.status in ("succeeded", "failed")
    with store.session() as session:
        job = session.query(DatevJob).filter_by(reference_id=package.reference_id).one()
        kept = session.query(DatevJobProtocolEntry).filter_by(job_id=job.id).count()
    assert job.status == outcome.status
    assert job.finished_at is not None
    assert kept == len(api.dxso_protocol(CLIENT, job_id))
    dxso_jobs = requests.get(f"{datev.server.url}/_sim/jobs", timeout=10).json()["dxso"]
    assert len(dxso_jobs) == 1  # one job at DATEV for the package, however often it ran


def test_a_file_that_breaks_the_rules_is_never_sent(datev: Datev, store: StateStore) -> None:
    from datev_cin7_pipeline.datev.transfer import ExtfRejected
    from datev_cin7_pipeline.store.models import DatevJob

    tokens = _tokens(datev, store)
    _login(datev, tokens)
    api = DatevApi(tokens, datev.endpoints)
    with store.session() as session:
        connection_id = ensure_connection(session, "acme", actor="test")
    broken = _minimal_extf().replace(b"119,00", b"119.00")
    batch = BatchToSend(dt.date(2026, 10, 1), 3, "EXTF_acme_202610_03.csv", "acme-202610-03", broken, 1)
    calls = api.counter.calls
    with pytest.raises(ExtfRejected, match=r"EXTF_acme_202610_03.csv breaks DATEV's rules and was not sent: EXTF-R002"):
        submit_batch(api, store, connection_id, CLIENT, batch)
    assert api.counter.calls == calls
    with store.session() as session:
        assert session.query(DatevJob).filter_by(reference_id="acme-202610-03").count() == 0
