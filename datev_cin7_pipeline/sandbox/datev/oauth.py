"""DATEV's login as the pipeline meets it: authorization code with PKCE, Basic client auth, rotating refresh.

What is known (FACTS.md §1): authorization code flow with PKCE (S256) on behalf of a DATEV user; the token
endpoint wants HTTP Basic client authentication and answers `401 invalid_client` to credentials in the
body; access tokens last 15 minutes; refresh tokens about 11 hours (2 years with `offline_access`) and
rotate on every use. What is not known - the grace period of a rotated refresh token, the error for a
reused one - follows RFC 6749/6819 and real OpenID providers: a used refresh token is `invalid_grant`
at once, and (configurable) its reuse revokes the whole token family, as a stolen token would require.

The authorize endpoint has no login page: it approves the configured sandbox user straight away (or
denies, with `auto_approve=False`) and redirects with `code` and the caller's `state`. Errors that make
the redirect URI untrustworthy (unknown client, unregistered or non-loopback redirect URI) are answered
with a 400 JSON body instead of a redirect (RFC 6749 §4.1.2.1); all others are redirected.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

from starlette.responses import RedirectResponse, Response

from datev_cin7_pipeline.sandbox.datev.config import SUPPORTED_SCOPES, DatevSimConfig, OAuthClient
from datev_cin7_pipeline.sandbox.datev.errors import json_response

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_PKCE_VALUE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_CHALLENGE = re.compile(r"[A-Za-z0-9\-_]{43}")
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_SIGNING_KEY = b"datev-sandbox-id-token-key"


class OAuthError(Exception):
    """An RFC 6749 error: `error` code, description, HTTP status (400, or 401 for invalid_client)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status

    def response(self) -> Response:
        headers = dict(_NO_STORE)
        if self.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="datev-sandbox"'
        body = {"error": self.error, "error_description": self.description}
        return json_response(body, self.status, "application/json", headers)


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    redirect_uri: str
    challenge: str
    scopes: tuple[str, ...]
    user: str
    nonce: str | None
    expires_at: float
    used: bool = False
    family: str = ""


@dataclass
class Grant:
    """What an access token stands for: the app, the user, the scopes, until when."""

    token: str
    client_id: str
    user: str
    scopes: frozenset[str]
    expires_at: float
    family: str
    revoked: bool = False

    def valid(self, now: float) -> bool:
        return not self.revoked and now < self.expires_at


@dataclass
class RefreshToken:
    token: str
    client_id: str
    user: str
    scopes: tuple[str, ...]
    expires_at: float
    family: str
    used: bool = False
    revoked: bool = False


@dataclass
class TokenStore:
    """Every code and token the simulator issued; the state survives a restart of the app."""

    codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    access_tokens: dict[str, Grant] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    issued: int = 0

    def access(self, token: str, now: float) -> Grant | None:
        """The grant of a valid access token, or None (unknown, expired, revoked)."""
        grant = self.access_tokens.get(token)
        return grant if grant is not None and grant.valid(now) else None

    def expire_access_tokens(self) -> int:
        """Make every access token issued so far invalid (the `expire_access_tokens` fault)."""
        live = [grant for grant in self.access_tokens.values() if not grant.revoked]
        for grant in live:
            grant.revoked = True
        return len(live)

    def revoke_refresh_tokens(self) -> int:
        live = [token for token in self.refresh_tokens.values() if not (token.revoked or token.used)]
        for token in live:
            token.revoked = True
        return len(live)

    def revoke_family(self, family: str) -> None:
        for grant in self.access_tokens.values():
            if grant.family == family:
                grant.revoked = True
        for token in self.refresh_tokens.values():
            if token.family == family:
                token.revoked = True


class OAuthServer:
    """The authorize, token, revoke and discovery endpoints over a `TokenStore`."""

    def __init__(self, config: DatevSimConfig, store: TokenStore) -> None:
        self.config = config
        self.store = store

    # --- authorize -------------------------------------------------------------------------------------

    def authorize(self, params: dict[str, str], now: float) -> Response:
        """`GET /authorize`: approve the sandbox user and redirect with a code, or answer an error."""
        client = self.config.oauth_client(params.get("client_id", ""))
        if client is None:
            return OAuthError("invalid_client", "unknown client_id").response()
        redirect_uri = params.get("redirect_uri", "")
        problem = self._redirect_uri_problem(client, redirect_uri)
        if problem:
            return OAuthError("invalid_request", problem).response()
        state = params.get("state")
        try:
            scopes = self._check_authorize_params(params)
        except OAuthError as exc:
            return _redirect(redirect_uri, {"error": exc.error, "error_description": exc.description}, state)
        if not self.config.auto_approve:
            return _redirect(redirect_uri, {"error": "access_denied", "error_description": "the user declined"}, state)
        code = AuthorizationCode(
            code=secrets.token_urlsafe(32),
            client_id=client.client_id,
            redirect_uri=redirect_uri,
            challenge=params["code_challenge"],
            scopes=scopes,
            user=self.config.sandbox_user,
            nonce=params.get("nonce"),
            expires_at=now + self.config.authorization_code_seconds,
        )
        self.store.codes[code.code] = code
        return _redirect(redirect_uri, {"code": code.code}, state)

    def _redirect_uri_problem(self, client: OAuthClient, redirect_uri: str) -> str | None:
        if not redirect_uri:
            return "redirect_uri is required"
        parts = urlsplit(redirect_uri)
        loopback = (parts.hostname or "") in LOOPBACK_HOSTS
        if self.config.loopback_redirects_only and not loopback:
            return "the sandbox accepts only loopback redirect URIs (127.0.0.1, localhost, ::1)"
        if not any(_same_redirect(redirect_uri, registered) for registered in client.redirect_uris):
            return "redirect_uri is not registered for this client"
        return None

    def _check_authorize_params(self, params: dict[str, str]) -> tuple[str, ...]:
        if params.get("response_type") != "code":
            raise OAuthError("unsupported_response_type", "response_type must be code")
        scopes = tuple(params.get("scope", "").split())
        if not scopes:
            raise OAuthError("invalid_scope", "scope is required")
        unknown = [scope for scope in scopes if not _known_scope(scope)]
        if unknown:
            raise OAuthError("invalid_scope", "unknown scope(s): " + " ".join(unknown))
        challenge = params.get("code_challenge", "")
        if not challenge:
            raise OAuthError("invalid_request", "code_challenge is required (PKCE)")
        if params.get("code_challenge_method") != "S256":
            raise OAuthError("invalid_request", "code_challenge_method must be S256")
        if not _CHALLENGE.fullmatch(challenge):
            raise OAuthError("invalid_request", "code_challenge must be the base64url SHA-256 of the verifier")
        return scopes

    # --- token -----------------------------------------------------------------------------------------

    def token(self, content_type: str, authorization: str | None, body: bytes, now: float) -> Response:
        """`POST /token` (the gateway has read the body): code exchange or refresh, RFC 6749 errors."""
        try:
            form = _read_form(content_type, body)
            client = self._authenticate(authorization, form)
            grant_type = form.get("grant_type", "")
            if grant_type == "authorization_code":
                answer = self._exchange_code(client, form, now)
            elif grant_type == "refresh_token":
                answer = self._refresh(client, form, now)
            elif not grant_type:
                raise OAuthError("invalid_request", "grant_type is required")
            else:
                raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported")
        except OAuthError as exc:
            return exc.response()
        return json_response(answer, 200, "application/json", dict(_NO_STORE))

    def _authenticate(self, authorization: str | None, form: dict[str, str]) -> OAuthClient:
        """HTTP Basic for confidential clients (secrets in the body are refused), `client_id` for public ones."""
        if authorization and authorization[:6].lower() == "basic ":
            client_id, secret = _basic_credentials(authorization[6:])
            client = self.config.oauth_client(client_id)
            if client is None or client.client_secret is None:
                raise OAuthError("invalid_client", "unknown client or not a confidential client", 401)
            if not hmac.compare_digest(secret.encode(), client.client_secret.encode()):
                raise OAuthError("invalid_client", "client authentication failed", 401)
            if "client_secret" in form:
                raise OAuthError("invalid_request", "use exactly one client authentication method")
            if form.get("client_id", client_id) != client_id:
                raise OAuthError("invalid_request", "client_id in the body differs from the authenticated client")
            return client
        if "client_secret" in form:
            raise OAuthError("invalid_client", "client credentials in the request body are not accepted", 401)
        client = self.config.oauth_client(form.get("client_id", ""))
        if client is None:
            raise OAuthError("invalid_client", "client authentication failed", 401)
        if client.confidential:
            raise OAuthError("invalid_client", "a confidential client must authenticate with HTTP Basic", 401)
        return client

    def _exchange_code(self, client: OAuthClient, form: dict[str, str], now: float) -> dict[str, Any]:
        code = self.store.codes.get(form.get("code", ""))
        if code is None or code.client_id != client.client_id:
            raise OAuthError("invalid_grant", "the authorization code is unknown")
        if code.used:
            if self.config.revoke_family_on_reuse and code.family:
                self.store.revoke_family(code.family)
            raise OAuthError("invalid_grant", "the authorization code was already used")
        if now >= code.expires_at:
            raise OAuthError("invalid_grant", "the authorization code has expired")
        if form.get("redirect_uri") != code.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request")
        verifier = form.get("code_verifier", "")
        if not _PKCE_VALUE.fullmatch(verifier):
            raise OAuthError("invalid_request", "code_verifier is missing or malformed")
        if not hmac.compare_digest(s256(verifier), code.challenge):
            raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
        code.used = True
        code.family = secrets.token_hex(8)
        return self._issue(client, code.user, code.scopes, code.family, code.nonce, now)

    def _refresh(self, client: OAuthClient, form: dict[str, str], now: float) -> dict[str, Any]:
        token = self.store.refresh_tokens.get(form.get("refresh_token", ""))
        if token is None or token.client_id != client.client_id:
            raise OAuthError("invalid_grant", "the refresh token is unknown")
        if token.used:
            if self.config.revoke_family_on_reuse:
                self.store.revoke_family(token.family)
            raise OAuthError("invalid_grant", "the refresh token was already used (tokens rotate on every use)")
        if token.revoked:
            raise OAuthError("invalid_grant", "the refresh token was revoked")
        if now >= token.expires_at:
            raise OAuthError("invalid_grant", "the refresh token has expired")
        scopes = token.scopes
        if "scope" in form:
            asked = tuple(form["scope"].split())
            if not set(asked) <= set(token.scopes):
                raise OAuthError("invalid_scope", "a refresh cannot widen the granted scope")
            scopes = asked
        token.used = True
        return self._issue(client, token.user, scopes, token.family, None, now)

    def _issue(
        self, client: OAuthClient, user: str, scopes: tuple[str, ...], family: str, nonce: str | None, now: float
    ) -> dict[str, Any]:
        config = self.config
        access = secrets.token_urlsafe(32)
        refresh = secrets.token_urlsafe(48)
        self.store.access_tokens[access] = Grant(
            access, client.client_id, user, frozenset(scopes), now + config.access_token_seconds, family
        )
        lifetime = config.offline_refresh_token_seconds if "offline_access" in scopes else config.refresh_token_seconds
        self.store.refresh_tokens[refresh] = RefreshToken(
            refresh, client.client_id, user, scopes, now + lifetime, family
        )
        self.store.issued += 1
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": config.access_token_seconds,
            "refresh_token": refresh,
            "id_token": self._id_token(client, user, nonce, now),
            "scope": " ".join(scopes),
        }

    def _id_token(self, client: OAuthClient, user: str, nonce: str | None, now: float) -> str:
        """A JWT shaped like DATEV's (RS256 header, pairwise `sub`); the signature is a dummy HMAC."""
        header = {"alg": "RS256", "kid": "datev-sandbox", "typ": "JWT"}
        claims: dict[str, Any] = {
            "iss": "datev-sandbox",
            "sub": hashlib.sha256(f"{user}|{client.client_id}".encode()).hexdigest()[:32],
            "aud": client.client_id,
            "iat": int(now),
            "exp": int(now) + self.config.access_token_seconds,
        }
        if nonce:
            claims["nonce"] = nonce
        signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
        signature = hmac.new(_SIGNING_KEY, signing_input.encode(), hashlib.sha256).digest()
        return signing_input + "." + _b64(signature)

    # --- revoke and discovery --------------------------------------------------------------------------

    def revoke(self, content_type: str, authorization: str | None, body: bytes) -> Response:
        """RFC 7009: revoke a refresh or access token (always 200 for an authenticated client)."""
        try:
            form = _read_form(content_type, body)
            client = self._authenticate(authorization, form)
        except OAuthError as exc:
            return exc.response()
        value = form.get("token", "")
        refresh = self.store.refresh_tokens.get(value)
        grant = self.store.access_tokens.get(value)
        for owner in (refresh, grant):
            if owner is not None and owner.client_id == client.client_id:
                self.store.revoke_family(owner.family)
        return Response(status_code=200, headers=dict(_NO_STORE))

    def discovery(self, issuer: str) -> dict[str, Any]:
        """An OpenID configuration document pointing at the simulator's endpoints."""
        return {
            "issuer": issuer,
            "authorization_endpoint": issuer + "/authorize",
            "token_endpoint": issuer + "/token",
            "revocation_endpoint": issuer + "/revoke",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
            "scopes_supported": list(SUPPORTED_SCOPES),
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of a verifier (base64url without padding)."""
    return _b64(hashlib.sha256(verifier.encode("ascii")).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _known_scope(scope: str) -> bool:
    return scope in SUPPORTED_SCOPES or re.fullmatch(r"datev:iam:client:\d{4,7}-\d{1,5}", scope) is not None


def _same_redirect(given: str, registered: str) -> bool:
    """Exact match, except that a registered loopback URI matches on any port (RFC 8252 §7.3)."""
    if given == registered:
        return True
    a, b = urlsplit(given), urlsplit(registered)
    if (a.hostname or "") not in LOOPBACK_HOSTS:
        return False
    return (a.scheme, a.hostname, a.path, a.query) == (b.scheme, b.hostname, b.path, b.query)


def _redirect(redirect_uri: str, params: dict[str, str], state: str | None) -> Response:
    if state is not None:
        params = {**params, "state": state}
    parts = urlsplit(redirect_uri)
    query = "&".join(part for part in (parts.query, urlencode(params)) if part)
    return RedirectResponse(urlunsplit(parts._replace(query=query)), status_code=302)


def _read_form(content_type: str, body: bytes) -> dict[str, str]:
    """An application/x-www-form-urlencoded body; repeated parameters are refused (RFC 6749 §3.2)."""
    if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "the token request must be application/x-www-form-urlencoded")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError) as exc:
        raise OAuthError("invalid_request", "the form body cannot be read") from exc
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise OAuthError("invalid_request", f"parameter {name} is repeated")
        form[name] = value
    return form


def _basic_credentials(encoded: str) -> tuple[str, str]:
    """`client_id:client_secret`, each form-urlencoded inside the base64 (RFC 6749 §2.3.1)."""
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError) as exc:
        raise OAuthError("invalid_client", "malformed Basic credentials", 401) from exc
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise OAuthError("invalid_client", "malformed Basic credentials", 401)
    return unquote_plus(client_id), unquote_plus(secret)
