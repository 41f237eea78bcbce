"""DATEV sign-in: authorization code with PKCE, and access tokens kept fresh for unattended runs.

- Login (`datev-cin7 datev login`): a PKCE (S256) code flow with a random `state`, the redirect caught on
  a loopback listener, the code exchanged at the token endpoint.
- Client authentication at the token endpoint: HTTP Basic for confidential clients (DATEV rejects a secret
  in the body), only `client_id` in the body for public ones.
- Access tokens live 15 minutes and are refreshed when less than a margin is left. DATEV rotates the
  refresh token on every use, so a refresh happens inside a vault transaction that holds the token rows
  locked: the new pair is committed before the access token is used, and a second process waiting on the
  lock finds a fresh access token instead of spending the old refresh token again (which DATEV would
  answer with `invalid_grant`).
- `invalid_grant` (expired, revoked or reused refresh token) puts the connection into "log in again".
Tokens and secrets are only ever held as `Secret`; nothing here logs them.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets as random_secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from sqlalchemy import update

from datev_cin7_pipeline.datev.endpoints import SCOPES, DatevEndpoints
from datev_cin7_pipeline.errors import ConnectorError
from datev_cin7_pipeline.redaction import redact
from datev_cin7_pipeline.store import CredentialsVault, Secret
from datev_cin7_pipeline.store.audit import record_event
from datev_cin7_pipeline.store.models import Connection, utcnow
from datev_cin7_pipeline.store.vault import VaultTransaction

SERVICE = "datev"
LOGGED_IN = "logged_in"
LOGIN_REQUIRED = "login_required"
REFUSED = "DATEV refused the stored login (expired, revoked or already used)"


class DatevAuthError(ConnectorError):
    """The connection cannot get a DATEV access token; the message says what to do."""


class LoginRequired(DatevAuthError):
    """DATEV refused the stored login; a person has to sign in again."""


@dataclass(frozen=True)
class OAuthClient:
    client_id: str
    client_secret: Secret | None  # None: a public client (PKCE only)

    def __repr__(self) -> str:
        return f"OAuthClient(client_id={self.client_id!r}, confidential={self.client_secret is not None})"

    def token_request(self, form: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        """Body and headers for the token endpoint, with this client's authentication."""
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        if self.client_secret is not None:
            pair = f"{self.client_id}:{self.client_secret.reveal()}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
            return form, headers
        return {**form, "client_id": self.client_id}, headers


@dataclass(frozen=True)
class LoginRequest:
    url: str
    state: str
    verifier: Secret
    redirect_uri: str


def start_login(endpoints: DatevEndpoints, client: OAuthClient, redirect_uri: str) -> LoginRequest:
    verifier = random_secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = random_secrets.token_urlsafe(24)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(SCOPES),
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "nonce": random_secrets.token_urlsafe(16),
        }
    )
    return LoginRequest(f"{endpoints.authorize_url}?{query}", state, Secret(verifier), redirect_uri)


class DatevTokens:
    """Access tokens for one connection, refreshed and rotated safely across processes."""

    def __init__(
        self,
        connection: str,
        vault: CredentialsVault,
        endpoints: DatevEndpoints,
        client: OAuthClient,
        *,
        margin_seconds: float = 120,
        timeout: float = 30,
        clock: Callable[[], float] = time.time,
        http: requests.Session | None = None,
    ) -> None:
        self.connection = connection
        self.vault = vault
        self.endpoints = endpoints
        self.client = client
        self.margin = margin_seconds
        self.timeout = timeout
        self.clock = clock
        self.http = http or requests.Session()
        self.refreshes = 0

    # --- login -------------------------------------------------------------------------------------

    def complete_login(self, request: LoginRequest, callback: dict[str, str]) -> None:
        """Check the redirect's `state`, exchange the code, store the tokens (committed) and the state."""
        if callback.get("error"):
            raise DatevAuthError(
                f"DATEV refused the login: {redact(callback.get('error_description') or callback['error'])}."
            )
        if not random_secrets.compare_digest(callback.get("state", ""), request.state):
            raise DatevAuthError("The login answer does not belong to this login (state mismatch); start again.")
        code = callback.get("code", "")
        if not code:
            raise DatevAuthError("DATEV's login answer carried no authorization code; start again.")
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": request.redirect_uri,
            "code_verifier": request.verifier.reveal(),
        }
        with self.vault.transaction(self.connection, SERVICE) as secrets:
            tokens = self._token_call(form, secrets, refreshing=False)
            assert tokens is not None  # a failed code exchange raises
            self._store(secrets, tokens)
            self._set_state(secrets, LOGGED_IN, None)

    # --- access tokens -----------------------------------------------------------------------------

    def access_token(self, *, force_refresh: bool = False) -> Secret:
        """A token valid for at least the margin; refreshes (once, under the lock) when needed."""
        if not force_refresh:
            found = self._current()
            if found is not None:
                return found
        with self.vault.transaction(self.connection, SERVICE) as secrets:
            if not force_refresh:
                # Another process may have refreshed while we waited for the lock.
                fresh = self._usable(secrets)
                if fresh is not None:
                    return fresh
            refresh_token = secrets.get("refresh_token")
            if refresh_token is None:
                raise LoginRequired(self._login_message("is not logged in to DATEV"))
            tokens = self._token_call(
                {"grant_type": "refresh_token", "refresh_token": refresh_token.reveal()}, secrets, refreshing=True
            )
            if tokens is not None:
                self._store(secrets, tokens)
                self.refreshes += 1
        if tokens is None:  # the "log in again" state is committed now
            raise LoginRequired(self._login_message(f"cannot use its DATEV login: {REFUSED}"))
        # Committed: the rotated refresh token is safe before the new access token goes out.
        return Secret(tokens["access_token"])

    def state(self) -> tuple[str, str | None]:
        """("logged_in" | "login_required" | "not_logged_in", reason)."""
        with self.vault.store.session() as session:
            row = session.query(Connection).filter(Connection.name == self.connection).one_or_none()
            if row is None or row.datev_login_state is None:
                return ("not_logged_in", None)
            return (row.datev_login_state, row.datev_login_reason)

    def _current(self) -> Secret | None:
        with self.vault.transaction(self.connection, SERVICE) as secrets:
            return self._usable(secrets)

    def _usable(self, secrets: VaultTransaction) -> Secret | None:
        token, expires = secrets.get("access_token"), secrets.get("access_token_expires_at")
        if token is None or expires is None:
            return None
        return token if float(expires.reveal()) - self.clock() > self.margin else None

    def _token_call(
        self, form: dict[str, str], secrets: VaultTransaction, *, refreshing: bool
    ) -> dict[str, Any] | None:
        """The token endpoint's answer; None when a refresh was refused and the connection must log in again."""
        body, headers = self.client.token_request(form)
        try:
            response = self.http.post(self.endpoints.token_url, data=body, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise DatevAuthError(
                f"DATEV's token endpoint could not be reached ({type(exc).__name__}); try again later."
            ) from None
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        if response.status_code == 200 and payload.get("access_token") and payload.get("refresh_token"):
            return dict(payload)
        error = str(payload.get("error", "")) if isinstance(payload, dict) else ""
        if error == "invalid_grant" and refreshing:
            for name in ("access_token", "access_token_expires_at", "refresh_token"):
                secrets.delete(name)
            self._set_state(secrets, LOGIN_REQUIRED, REFUSED)
            return None
        if error == "invalid_client" or response.status_code == 401:
            raise DatevAuthError(
                f"DATEV rejected the app's client id or secret of connection {self.connection!r}; check them with "
                "`datev-cin7 credentials set datev`."
            )
        if error == "invalid_grant":
            raise DatevAuthError("DATEV refused the authorization code (expired or already used); log in again.")
        description = redact(str(payload.get("error_description", ""))) if isinstance(payload, dict) else ""
        error = redact(error)
        raise DatevAuthError(
            f"DATEV's token endpoint answered {response.status_code}"
            + (f" ({error}: {description})" if error else "")
            + "; try again later."
        )

    def _store(self, secrets: VaultTransaction, tokens: dict[str, Any]) -> None:
        lifetime = float(tokens.get("expires_in") or 900)
        secrets.set("access_token", tokens["access_token"])
        secrets.set("access_token_expires_at", repr(self.clock() + lifetime))
        secrets.set("refresh_token", tokens["refresh_token"])
        if tokens.get("scope"):
            secrets.set("scope", str(tokens["scope"]))

    def _set_state(self, secrets: VaultTransaction, state: str, reason: str | None) -> None:
        secrets.session.execute(
            update(Connection)
            .where(Connection.id == secrets.connection_id)
            .values(datev_login_state=state, datev_login_reason=reason, datev_login_changed_at=utcnow())
        )
        record_event(
            secrets.session,
            action=f"datev.{state}",
            subject_type="connection",
            subject_id=self.connection,
            actor="datev-session",
            connection_id=secrets.connection_id,
            detail={"reason": reason} if reason else {},
        )

    def _login_message(self, problem: str) -> str:
        return f"Connection {self.connection!r} {problem}; run `datev-cin7 datev login --connection {self.connection}`."


# --- the loopback redirect -------------------------------------------------------------------------


class LoopbackReceiver:
    """Catches DATEV's redirect on 127.0.0.1 and hands its query parameters over (one answer only)."""

    def __init__(self, redirect_uri: str) -> None:
        parts = urlsplit(redirect_uri)
        if parts.hostname not in ("localhost", "127.0.0.1") or not parts.port:
            raise DatevAuthError("The redirect URI for `datev login` must be http://localhost:<port>/<path>.")
        self.path = parts.path or "/"
        self.answer: dict[str, str] | None = None
        self._done = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != receiver.path or receiver._done.is_set():
                    self.send_error(404)
                    return
                receiver.answer = {key: values[0] for key, values in parse_qs(parts.query).items()}
                page = (
                    "Anmeldung abgeschlossen. Sie können dieses Fenster schließen."
                    if "code" in receiver.answer
                    else ("Anmeldung fehlgeschlagen.")
                )
                body = f"<html><body><p>{page}</p></body></html>".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                receiver._done.set()

            def log_message(self, format: str, *args: Any) -> None:  # keep codes out of logs
                return

        self._server = HTTPServer(("127.0.0.1", parts.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> LoopbackReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait(self, timeout: float) -> dict[str, str]:
        if not self._done.wait(timeout):
            raise DatevAuthError(f"No answer from DATEV's login within {int(timeout)} seconds; start again.")
        assert self.answer is not None
        return self.answer


def token_summary(tokens: DatevTokens) -> dict[str, Any]:
    """What `ping` may say about the tokens: state and expiry, never a token."""
    state, reason = tokens.state()
    with tokens.vault.transaction(tokens.connection, SERVICE) as secrets:
        expires = secrets.get("access_token_expires_at")
        has_refresh = secrets.get("refresh_token") is not None
    expires_at = (
        dt.datetime.fromtimestamp(float(expires.reveal()), dt.UTC).isoformat(timespec="seconds") if expires else None
    )
    return {"state": state, "reason": reason, "access_token_expires_at": expires_at, "refresh_token": has_refresh}


__all__ = [
    "DatevAuthError",
    "DatevTokens",
    "LoginRequest",
    "LoginRequired",
    "LoopbackReceiver",
    "OAuthClient",
    "start_login",
    "token_summary",
]
