"""The login: authorization code + PKCE, Basic client auth, rotating refresh tokens, expiry by the clock."""

from __future__ import annotations

import base64
import json
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from datev_cin7_pipeline.sandbox.datev import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_PUBLIC_CLIENT_ID,
    OAuthClient,
    s256,
)
from datev_cin7_pipeline_tests.sandbox_datev.conftest import ServeDatev
from datev_cin7_pipeline_tests.sandbox_datev.helpers import ALL_SCOPES, CLIENT, REDIRECT_URI, DatevSim

CLIENTS_PATH = f"/clients/{CLIENT}"


def _exchange(sim: DatevSim, code: str, verifier: str, changes: dict[str, str] | None = None) -> requests.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
    return sim.token({**data, **(changes or {})})


def _api_status(sim: DatevSim, access_token: str) -> int:
    headers = {"Authorization": f"Bearer {access_token}", "X-DATEV-Client-Id": DEMO_CLIENT_ID}
    return requests.get(sim.url("accounting-clients", CLIENTS_PATH), headers=headers, timeout=10).status_code


def _error(answer: requests.Response) -> str:
    return str(answer.json()["error"])


def test_code_with_pkce_gives_tokens_that_open_the_apis(serve: ServeDatev) -> None:
    sim = serve()
    verifier = secrets.token_urlsafe(48)
    answer = _exchange(sim, sim.code(verifier), verifier)
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    tokens = answer.json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 900
    assert tokens["scope"] == ALL_SCOPES
    assert tokens["refresh_token"] != tokens["access_token"]
    _header, claims, signature = tokens["id_token"].split(".")
    payload = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    assert payload["aud"] == DEMO_CLIENT_ID
    assert payload["exp"] - payload["iat"] == 900
    assert signature
    assert _api_status(sim, tokens["access_token"]) == 200


def test_the_redirect_keeps_state_and_the_registered_query(serve: ServeDatev) -> None:
    client = OAuthClient(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, redirect_uris=("http://localhost/cb?tenant=a",))
    sim = serve(oauth_clients=(client,))
    answer = sim.authorize(
        response_type="code",
        client_id=DEMO_CLIENT_ID,
        redirect_uri="http://localhost:40123/cb?tenant=a",  # a loopback URI matches on any port (RFC 8252)
        scope="openid",
        state="a b&c",
        code_challenge=s256("v" * 43),
        code_challenge_method="S256",
    )
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert (location.hostname, location.port, location.path) == ("localhost", 40123, "/cb")
    query = parse_qs(location.query)
    assert query["tenant"] == ["a"]
    assert query["state"] == ["a b&c"]
    assert len(query["code"][0]) >= 32


def test_a_public_client_sends_only_its_id(serve: ServeDatev) -> None:
    sim = serve()
    verifier = secrets.token_urlsafe(48)
    code = sim.code(verifier, client_id=DEMO_PUBLIC_CLIENT_ID)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
        "client_id": DEMO_PUBLIC_CLIENT_ID,
    }
    answer = sim.token(data, auth=None)
    assert answer.status_code == 200, answer.text
    assert answer.json()["token_type"] == "Bearer"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"code_verifier": secrets.token_urlsafe(48)}, "invalid_grant"),
        ({"redirect_uri": "http://127.0.0.1:53682/other"}, "invalid_grant"),
        ({"code": "not-a-code"}, "invalid_grant"),
        ({"code_verifier": "short"}, "invalid_request"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
    ],
    ids=["wrong verifier", "wrong redirect_uri", "unknown code", "malformed verifier", "password grant"],
)
def test_a_bad_code_exchange_is_refused(serve: ServeDatev, change: dict[str, str], error: str) -> None:
    sim = serve()
    verifier = secrets.token_urlsafe(48)
    answer = _exchange(sim, sim.code(verifier), verifier, change)
    assert answer.status_code == 400
    assert _error(answer) == error
    assert answer.json()["error_description"]


def test_a_code_is_single_use_and_its_reuse_revokes_the_tokens(serve: ServeDatev) -> None:
    sim = serve()
    verifier = secrets.token_urlsafe(48)
    code = sim.code(verifier)
    first = _exchange(sim, code, verifier)
    assert first.status_code == 200
    again = _exchange(sim, code, verifier)
    assert (again.status_code, _error(again)) == (400, "invalid_grant")
    assert "already used" in again.json()["error_description"]
    assert _api_status(sim, first.json()["access_token"]) == 401


def test_an_expired_code_is_refused(serve: ServeDatev) -> None:
    sim = serve()
    verifier = secrets.token_urlsafe(48)
    code = sim.code(verifier)
    sim.clock.advance(300)
    answer = _exchange(sim, code, verifier)
    assert (answer.status_code, _error(answer)) == (400, "invalid_grant")


@pytest.mark.parametrize(
    ("auth", "extra", "status", "error"),
    [
        (None, {"client_id": DEMO_CLIENT_ID}, 401, "invalid_client"),
        (None, {"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET}, 401, "invalid_client"),
        ((DEMO_CLIENT_ID, "wrong"), {}, 401, "invalid_client"),
        ((DEMO_CLIENT_ID, DEMO_CLIENT_SECRET), {"client_secret": DEMO_CLIENT_SECRET}, 400, "invalid_request"),
    ],
    ids=["confidential without Basic", "secret in the body", "wrong secret", "two auth methods"],
)
def test_a_confidential_client_must_use_basic_auth(
    serve: ServeDatev, auth: tuple[str, str] | None, extra: dict[str, str], status: int, error: str
) -> None:
    sim = serve()
    verifier = secrets.token_urlsafe(48)
    data = {"grant_type": "authorization_code", "code": sim.code(verifier), "redirect_uri": REDIRECT_URI}
    answer = sim.token({**data, "code_verifier": verifier, **extra}, auth=auth)
    assert (answer.status_code, _error(answer)) == (status, error)
    if status == 401:
        assert answer.headers["WWW-Authenticate"].startswith("Basic")


def test_the_token_endpoint_wants_a_form(serve: ServeDatev) -> None:
    sim = serve()
    answer = requests.post(sim.urls["token"], json={"grant_type": "refresh_token"}, timeout=10)
    assert (answer.status_code, _error(answer)) == (400, "invalid_request")


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": ""}, "invalid_request"),
        ({"code_challenge": ""}, "invalid_request"),
        ({"code_challenge": "too-short"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "openid datev:accounting:everything"}, "invalid_scope"),
    ],
    ids=["plain PKCE", "no method", "no challenge", "malformed challenge", "implicit flow", "unknown scope"],
)
def test_authorize_errors_are_redirected_with_the_state(serve: ServeDatev, changes: dict[str, str], error: str) -> None:
    sim = serve()
    params = {
        "response_type": "code",
        "client_id": DEMO_CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid",
        "state": "s-42",
        "code_challenge": s256(secrets.token_urlsafe(48)),
        "code_challenge_method": "S256",
        **changes,
    }
    answer = sim.authorize(**{key: value for key, value in params.items() if value})
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["error"] == [error]
    assert query["state"] == ["s-42"]
    assert "code" not in query


@pytest.mark.parametrize(
    ("client_id", "redirect_uri", "error"),
    [
        ("unknown-app", REDIRECT_URI, "invalid_client"),
        (DEMO_CLIENT_ID, "https://evil.example/callback", "invalid_request"),
        (DEMO_CLIENT_ID, "http://127.0.0.1:53682/not-registered", "invalid_request"),
        (DEMO_CLIENT_ID, "", "invalid_request"),
    ],
    ids=["unknown client", "non-loopback", "unregistered path", "missing"],
)
def test_untrustworthy_redirects_are_answered_not_followed(
    serve: ServeDatev, client_id: str, redirect_uri: str, error: str
) -> None:
    sim = serve()
    answer = sim.authorize(
        response_type="code",
        client_id=client_id,
        redirect_uri=redirect_uri,
        scope="openid",
        code_challenge=s256("v" * 43),
        code_challenge_method="S256",
    )
    assert answer.status_code == 400
    assert "Location" not in answer.headers
    assert _error(answer) == error


def test_a_registered_https_redirect_works_when_loopback_is_not_enforced(serve: ServeDatev) -> None:
    client = OAuthClient(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, redirect_uris=("https://app.example/cb",))
    sim = serve(oauth_clients=(client,), loopback_redirects_only=False)
    params = {"response_type": "code", "client_id": DEMO_CLIENT_ID, "scope": "openid", "code_challenge_method": "S256"}
    answer = sim.authorize(**params, redirect_uri="https://app.example/cb", code_challenge=s256("v" * 43))
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("https://app.example/cb?code=")
    other_port = sim.authorize(**params, redirect_uri="https://app.example:8443/cb", code_challenge=s256("v" * 43))
    assert other_port.status_code == 400  # only loopback URIs may vary the port


def test_a_declining_user_gives_access_denied(serve: ServeDatev) -> None:
    sim = serve(auto_approve=False)
    answer = sim.authorize(
        response_type="code",
        client_id=DEMO_CLIENT_ID,
        redirect_uri=REDIRECT_URI,
        scope="openid",
        state="x",
        code_challenge=s256("v" * 43),
        code_challenge_method="S256",
    )
    assert parse_qs(urlsplit(answer.headers["Location"]).query)["error"] == ["access_denied"]


def _refresh(sim: DatevSim, refresh_token: str, **extra: str) -> requests.Response:
    return sim.token({"grant_type": "refresh_token", "refresh_token": refresh_token, **extra})


def test_refresh_tokens_rotate_and_a_used_one_is_refused(serve: ServeDatev) -> None:
    sim = serve()
    first = sim.login()
    second = _refresh(sim, first["refresh_token"])
    assert second.status_code == 200
    new = second.json()
    assert new["refresh_token"] != first["refresh_token"]
    assert new["access_token"] != first["access_token"]
    assert new["scope"] == ALL_SCOPES
    assert _api_status(sim, new["access_token"]) == 200
    reused = _refresh(sim, first["refresh_token"])
    assert (reused.status_code, _error(reused)) == (400, "invalid_grant")
    # Reuse looks like theft: the whole family is revoked, the newest tokens included.
    assert _api_status(sim, new["access_token"]) == 401
    assert _error(_refresh(sim, new["refresh_token"])) == "invalid_grant"


def test_without_family_revocation_only_the_used_token_dies(serve: ServeDatev) -> None:
    sim = serve(revoke_family_on_reuse=False)
    first = sim.login()
    new = _refresh(sim, first["refresh_token"]).json()
    assert _refresh(sim, first["refresh_token"]).status_code == 400
    assert _api_status(sim, new["access_token"]) == 200
    assert _refresh(sim, new["refresh_token"]).status_code == 200


def test_a_refresh_may_narrow_but_not_widen_the_scope(serve: ServeDatev) -> None:
    sim = serve()
    tokens = sim.login(scope="openid accounting:clients:read")
    wider = _refresh(sim, tokens["refresh_token"], scope="openid accounting:documents")
    assert (wider.status_code, _error(wider)) == (400, "invalid_scope")
    narrower = _refresh(sim, tokens["refresh_token"], scope="openid")
    assert (narrower.status_code, narrower.json()["scope"]) == (200, "openid")


def test_access_tokens_expire_after_900_seconds_of_the_injected_clock(serve: ServeDatev) -> None:
    sim = serve()
    tokens = sim.login()
    sim.clock.advance(899)
    assert _api_status(sim, tokens["access_token"]) == 200
    sim.clock.advance(1)
    expired = requests.get(
        sim.url("accounting-clients", CLIENTS_PATH),
        headers={"Authorization": f"Bearer {tokens['access_token']}", "X-DATEV-Client-Id": DEMO_CLIENT_ID},
        timeout=10,
    )
    assert expired.status_code == 401
    assert expired.headers["WWW-Authenticate"].startswith("Bearer")
    assert expired.json()["detail"] == "access token invalid or expired"
    renewed = _refresh(sim, tokens["refresh_token"])
    assert renewed.status_code == 200
    assert _api_status(sim, renewed.json()["access_token"]) == 200


@pytest.mark.parametrize(
    ("scope", "lifetime"), [("openid", 11 * 3600), ("openid offline_access", 2 * 365 * 86400)], ids=["11 h", "offline"]
)
def test_refresh_tokens_expire_after_their_lifetime(serve: ServeDatev, scope: str, lifetime: int) -> None:
    sim = serve()
    tokens = sim.login(scope=scope)
    sim.clock.advance(lifetime - 1)
    fresh = _refresh(sim, tokens["refresh_token"])
    assert fresh.status_code == 200
    sim.clock.advance(lifetime)
    stale = _refresh(sim, fresh.json()["refresh_token"])
    assert (stale.status_code, _error(stale)) == (400, "invalid_grant")
    assert "expired" in stale.json()["error_description"]


def test_the_access_token_lifetime_is_configurable(serve: ServeDatev) -> None:
    sim = serve(access_token_seconds=60)
    tokens = sim.login()
    assert tokens["expires_in"] == 60
    sim.clock.advance(60)
    assert _api_status(sim, tokens["access_token"]) == 401


def test_the_expire_tokens_fault_invalidates_every_access_token(sim: DatevSim) -> None:
    answer = sim.admin("faults", {"expire_access_tokens": True})
    assert answer.json()["actions"] == {"expire_access_tokens": 1}
    assert _api_status(sim, sim.tokens["access_token"]) == 401
    renewed = _refresh(sim, sim.tokens["refresh_token"])
    assert _api_status(sim, renewed.json()["access_token"]) == 200


def test_revoked_refresh_tokens_are_refused(sim: DatevSim) -> None:
    assert sim.admin("faults", {"revoke_refresh_tokens": True}).json()["actions"] == {"revoke_refresh_tokens": 1}
    answer = _refresh(sim, sim.tokens["refresh_token"])
    assert (answer.status_code, _error(answer)) == (400, "invalid_grant")


def test_revoke_endpoint_ends_the_session(sim: DatevSim) -> None:
    answer = requests.post(
        sim.urls["revoke"],
        data={"token": sim.tokens["refresh_token"]},
        auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
        timeout=10,
    )
    assert answer.status_code == 200
    assert _api_status(sim, sim.tokens["access_token"]) == 401


def test_discovery_points_at_the_simulator(serve: ServeDatev) -> None:
    sim = serve()
    document = requests.get(sim.urls["openid_configuration"], timeout=10).json()
    assert document["token_endpoint"] == sim.urls["token"]
    assert document["authorization_endpoint"] == sim.urls["authorize"]
    assert document["code_challenge_methods_supported"] == ["S256"]
