"""A server that echoes the request back in its error text must not get our secrets into exception texts.

Real OAuth servers quote the token they refused; proxies and gateways put the request headers into their
error pages. Whatever such a server writes goes into the exception, and from there into Dagster's event
log and the terminal. Each test here sends known secrets to a server that answers every request with an
error quoting all of the request's headers and body, and checks the exception the product raises.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from datev_cin7_pipeline.cin7.client import Cin7Client, Cin7Credentials
from datev_cin7_pipeline.cin7.errors import Cin7RequestError
from datev_cin7_pipeline.datev.api import DatevApi, DatevApiError
from datev_cin7_pipeline.datev.endpoints import DatevEndpoints
from datev_cin7_pipeline.datev.oauth import DatevAuthError, DatevTokens, OAuthClient
from datev_cin7_pipeline.sandbox.serving import serve_in_thread
from datev_cin7_pipeline.store import CredentialsVault, Secret, StateStore

ACCOUNT_ID = str(uuid.uuid4())


def _echo_text(request: Request, body: bytes) -> str:
    return f"we got headers {dict(request.headers)} and body {body.decode('latin-1')}"


def _echo_app(plain: bool) -> Starlette:
    async def echo(request: Request) -> Response:
        text = _echo_text(request, await request.body())
        path = request.url.path
        if plain:
            return PlainTextResponse(text, status_code=400)
        if "/ExternalApi/" in path:  # Cin7's error model
            return JSONResponse({"ErrorCode": 400, "Exception": text}, status_code=400)
        if path.endswith("/token"):  # RFC 6749 error
            return JSONResponse({"error": "invalid_request", "error_description": text}, status_code=400)
        return JSONResponse(  # DATEV's problem details
            {"type": "https://apps.datev.de/errors/echo", "title": "Bad Request", "detail": text}, status_code=400
        )

    return Starlette(routes=[Route("/{path:path}", echo, methods=["GET", "POST", "PUT"])])


@pytest.fixture(params=["json", "plain"])
def echo_url(request: pytest.FixtureRequest) -> Iterator[str]:
    with serve_in_thread(_echo_app(plain=request.param == "plain")) as server:
        yield server.url


def _assert_nothing_of(secret: str, text: str) -> None:
    assert secret not in text
    assert base64.b64encode(secret.encode()).decode()[4:-4] not in text


def test_cin7_echoing_the_api_key_does_not_put_it_into_the_error(echo_url: str) -> None:
    key = str(uuid.uuid4())
    client = Cin7Client(Cin7Credentials(ACCOUNT_ID, Secret(key)), base_url=f"{echo_url}/ExternalApi/v2/")

    with client, pytest.raises(Cin7RequestError) as raised:
        client.get("me")

    text = str(raised.value) + raised.value.detail
    assert "Cin7 refused" in text
    assert "api-auth-applicationkey" in text  # the echo reached the message: the test is real
    _assert_nothing_of(key, text)


@pytest.fixture
def vault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CredentialsVault]:
    monkeypatch.setenv("DATEV_CIN7_HOME", str(tmp_path / "home"))
    store = StateStore.open()
    try:
        yield CredentialsVault(store)
    finally:
        store.dispose()


def test_a_token_endpoint_echoing_the_refresh_token_and_client_secret_gives_a_clean_error(
    echo_url: str, vault: CredentialsVault
) -> None:
    client_secret, refresh_token = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    vault.set("acme", "datev", "refresh_token", refresh_token)
    vault.set("acme", "datev", "access_token", secrets.token_urlsafe(32))
    vault.set("acme", "datev", "access_token_expires_at", "0")  # long expired: the next call refreshes
    tokens = DatevTokens(
        "acme",
        vault,
        DatevEndpoints.production().on_simulator(echo_url),
        OAuthClient("echo-app", Secret(client_secret)),
    )

    with pytest.raises(DatevAuthError) as raised:
        tokens.access_token()

    text = str(raised.value)
    assert "DATEV's token endpoint answered 400" in text
    if "invalid_request" in text:  # the JSON variant quotes the description
        assert "authorization" in text.lower()
    _assert_nothing_of(refresh_token, text)
    _assert_nothing_of(client_secret, text)


def test_an_api_echoing_the_bearer_token_gives_a_clean_error_and_keeps_no_copy(
    echo_url: str, vault: CredentialsVault
) -> None:
    access_token = secrets.token_urlsafe(32)
    vault.set("acme", "datev", "access_token", access_token)
    vault.set("acme", "datev", "access_token_expires_at", "99999999999")
    vault.set("acme", "datev", "refresh_token", secrets.token_urlsafe(48))
    endpoints = DatevEndpoints.production().on_simulator(echo_url)
    api = DatevApi(DatevTokens("acme", vault, endpoints, OAuthClient("echo-app", Secret("x" * 20))), endpoints)

    with pytest.raises(DatevApiError) as raised:
        api.list_clients()

    error = raised.value
    assert error.status == 400
    kept = f"{error} {error.details}"
    if isinstance(error.details, dict):
        assert "authorization" in kept.lower()
    _assert_nothing_of(access_token, kept)
