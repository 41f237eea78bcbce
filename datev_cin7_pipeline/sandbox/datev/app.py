"""The DATEV simulator as a Starlette app: login, the four APIs behind DATEV's gateway, an admin API.

Every call to `/<api>/<platform|platform-sandbox>/<version>/...` passes, in this order: the jobs that are
due are finished; if the call matches the fault `target`: latency, then a pending fault (dropped
connection, 5xx, 503 maintenance, 429); the Bearer access token (401 when missing, unknown, expired or
revoked); `X-DATEV-Client-Id` (401 when missing, 403 when not the token's app); the operation's scopes
(403 in the API's style); the endpoint; finally, for a successful POST/PUT/DELETE, the
`drop_after_accept` fault. Every call is written to the call log. `/token`, `/authorize`, `/revoke` and
`/.well-known/openid-configuration` are the login endpoints (faults apply to them too).

Admin API (no auth, not logged):
- `GET /_sim/calls` → `{"summary": {..., "status_reads_per_job": {...}}, "calls": [...]}`; `DELETE` clears;
- `GET|POST /_sim/faults` → read or change the fault settings (`config.Faults` fields); the POST also
  takes the actions `expire_access_tokens: true` and `revoke_refresh_tokens: true`;
- `GET /_sim/jobs` → `{"extf": [...], "dxso": [...]}` with simulator-only fields;
- `GET /_sim/documents` → `{"documents": [...]}`; `GET /_sim/manifest` → `{"events": [...]}`.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from datev_cin7_pipeline.sandbox.datev import clients_api, documents_api, dxso_api, extf_api
from datev_cin7_pipeline.sandbox.datev.config import DatevSimConfig
from datev_cin7_pipeline.sandbox.datev.errors import (
    ApiError,
    json_response,
    method_not_allowed,
    missing_scope,
    not_found,
    server_error,
    service_unavailable,
    too_many_requests,
    unauthorized,
    wrong_client_id,
)
from datev_cin7_pipeline.sandbox.datev.oauth import Grant, OAuthServer
from datev_cin7_pipeline.sandbox.datev.routing import Call, Match, Operation, Router
from datev_cin7_pipeline.sandbox.datev.state import DatevSimState
from datev_cin7_pipeline.sandbox.datev.traffic import ACTIONS, CallRecord, Fault, record_as_json
from datev_cin7_pipeline.sandbox.datev.urls import APIS, STAGES, ApiInfo
from datev_cin7_pipeline.sandbox.serving import DropConnection

MUTATING = ("POST", "PUT", "DELETE", "PATCH")
LoginHandler = Callable[[float], Awaitable[Response]]


@dataclass
class DatevSimulator:
    """The running simulator's parts, reachable as `app.state.datev` (tests read the state here)."""

    config: DatevSimConfig
    state: DatevSimState
    router: Router
    oauth: OAuthServer


def all_operations() -> list[Operation]:
    """Every operation of the four APIs (the contract tests compare this table with the OpenAPI documents)."""
    return clients_api.operations() + documents_api.operations() + extf_api.operations() + dxso_api.operations()


def build_datev_app(config: DatevSimConfig | None = None, state: DatevSimState | None = None) -> Starlette:
    """A DATEV simulator; pass `state` to continue with the data of an earlier app (a restart)."""
    config = config or (state.config if state is not None else DatevSimConfig())
    state = state or DatevSimState(config)
    sim = DatevSimulator(config, state, Router(all_operations()), OAuthServer(config, state.tokens))
    gateway = _Gateway(sim)
    admin = _Admin(sim)
    app = Starlette(
        routes=[
            Route("/authorize", gateway.authorize, methods=["GET"]),
            Route("/token", gateway.token, methods=["POST"]),
            Route("/revoke", gateway.revoke, methods=["POST"]),
            Route("/.well-known/openid-configuration", gateway.discovery, methods=["GET"]),
            Route("/_sim/calls", admin.calls, methods=["GET", "DELETE"]),
            Route("/_sim/faults", admin.faults, methods=["GET", "POST"]),
            Route("/_sim/jobs", admin.jobs, methods=["GET"]),
            Route("/_sim/documents", admin.documents, methods=["GET"]),
            Route("/_sim/manifest", admin.manifest, methods=["GET"]),
            Route("/{path:path}", gateway.api, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
        ]
    )
    app.state.datev = sim
    return app


@dataclass(frozen=True)
class _Target:
    """Where a request goes: the API (if any), the operation match, the label for log and faults."""

    api: ApiInfo | None
    match: Match
    endpoint: str
    label: str


class _Gateway:
    """What DATEV's gateway does around the endpoints: faults, authentication, call log."""

    def __init__(self, sim: DatevSimulator) -> None:
        self.sim = sim
        self.state = sim.state

    # --- login endpoints ---------------------------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        async def handle(now: float) -> Response:
            with self.state.lock:
                return self.sim.oauth.authorize(dict(request.query_params), now)

        return await self._login_call(request, "/authorize", handle)

    async def token(self, request: Request) -> Response:
        async def handle(now: float) -> Response:
            body = await request.body()
            with self.state.lock:
                headers = request.headers
                return self.sim.oauth.token(headers.get("content-type", ""), headers.get("authorization"), body, now)

        return await self._login_call(request, "/token", handle)

    async def revoke(self, request: Request) -> Response:
        async def handle(_now: float) -> Response:
            body = await request.body()
            with self.state.lock:
                headers = request.headers
                return self.sim.oauth.revoke(headers.get("content-type", ""), headers.get("authorization"), body)

        return await self._login_call(request, "/revoke", handle)

    async def discovery(self, request: Request) -> Response:
        return JSONResponse(self.sim.oauth.discovery(str(request.base_url).rstrip("/")))

    async def _login_call(self, request: Request, endpoint: str, handle: LoginHandler) -> Response:
        now = self.sim.config.clock()
        request_id = str(uuid.uuid4())
        target = _Target(None, Match(None, {}, True), endpoint, f"{request.method} {endpoint}")
        fault_response = await self._fault(target, request_id)
        if isinstance(fault_response, DropConnection):
            self._log(target, request, now, None, "dropped", request_id)
            return fault_response
        if fault_response is not None:
            response, outcome = fault_response, "fault"
        else:
            response = await handle(now)
            outcome = "ok" if response.status_code < 400 else "error"
        self._log(target, request, now, response.status_code, outcome, request_id)
        return response

    # --- the APIs ----------------------------------------------------------------------------------------

    async def api(self, request: Request) -> Response:
        now = self.sim.config.clock()
        request_id = str(uuid.uuid4())
        target = self._target(request)
        with self.state.lock:
            self.state.jobs.tick(now)
        fault_response = await self._fault(target, request_id)
        if isinstance(fault_response, DropConnection):
            self._log(target, request, now, None, "dropped", request_id)
            return fault_response
        call: Call | None = None
        if fault_response is not None:
            response, outcome = fault_response, "fault"
        else:
            response, outcome, call = await self._serve(request, target, now, request_id)
        accepted = response.status_code < 300 and request.method in MUTATING and fault_response is None
        if accepted and self.state.faults.applies(target.label) and self.state.faults.take_drop_after_accept():
            self._log(target, request, now, None, "dropped after accept", request_id, call)
            return DropConnection()
        self._log(target, request, now, response.status_code, outcome, request_id, call)
        return response

    def _target(self, request: Request) -> _Target:
        segments = request.url.path.lstrip("/").split("/", 3)
        api = APIS.get(segments[0])
        if api is None or len(segments) < 3 or segments[1] not in STAGES or segments[2] != api.version:
            return _Target(None, Match(None, {}, False), request.url.path, f"{request.method} {request.url.path}")
        rest = "/" + (segments[3].rstrip("/") if len(segments) > 3 else "")
        match = self.sim.router.match(api, request.method, rest)
        endpoint = match.operation.template if match.operation else rest
        return _Target(api, match, endpoint, f"{request.method} {api.name} {endpoint}")

    async def _serve(
        self, request: Request, target: _Target, now: float, request_id: str
    ) -> tuple[Response, str, Call | None]:
        """Route, authenticate and run the endpoint: (response, outcome for the log, the call if it ran)."""
        try:
            operation, grant = self._admit(request, target, now, request_id)
        except ApiError as exc:
            return exc.response, exc.outcome, None
        body = await request.body()
        call = Call(
            request_id=request_id,
            api=operation.api,
            method=request.method,
            params=target.match.params,
            query=request.query_params,
            headers=request.headers,
            body=body,
            now=now,
            grant=grant,
            state=self.state,
        )
        with self.state.lock:
            try:
                return operation.handler(call), "ok", call
            except ApiError as exc:
                return exc.response, exc.outcome, call

    def _admit(self, request: Request, target: _Target, now: float, request_id: str) -> tuple[Operation, Grant]:
        """The operation of a known path and method, and the caller's grant; ApiError otherwise."""
        api, operation = target.api, target.match.operation
        if api is None:
            raise ApiError(json_response({"request_id": request_id}, 404), "not found")
        if operation is None:
            if target.match.path_known:
                raise ApiError(method_not_allowed(api, request_id), "method not allowed")
            raise ApiError(not_found(api, request_id), "not found")
        with self.state.lock:
            return operation, self._authenticate(request, api, operation, now, request_id)

    def _authenticate(self, request: Request, api: ApiInfo, operation: Operation, now: float, request_id: str) -> Grant:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(unauthorized(api, request_id, "Bearer access token missing"), "unauthorized")
        grant = self.state.tokens.access(token.strip(), now)
        if grant is None:
            raise ApiError(unauthorized(api, request_id, "access token invalid or expired"), "unauthorized")
        client_id = request.headers.get("x-datev-client-id")
        if not client_id:
            raise ApiError(unauthorized(api, request_id, "X-DATEV-Client-Id header missing"), "unauthorized")
        if client_id != grant.client_id:
            raise ApiError(wrong_client_id(api, request_id), "forbidden")
        missing = [scope for scope in operation.scopes if scope not in grant.scopes]
        if missing and self.sim.config.enforce_scopes:
            raise ApiError(missing_scope(api, missing, request_id), "missing scope")
        return grant

    async def _fault(self, target: _Target, request_id: str) -> Response | None:
        """The injected answer for this call (a DropConnection included), or None to serve it."""
        faults = self.state.faults
        if not faults.applies(target.label):
            return None
        latency = faults.latency()
        if latency:
            await asyncio.sleep(latency)
        fault, settings = faults.take()
        if fault is Fault.DROP:
            return DropConnection()
        if fault is Fault.ERROR:
            return server_error(target.api, settings.error_status, request_id)
        if fault is Fault.MAINTENANCE:
            return service_unavailable(target.api, request_id, settings.maintenance_retry_after)
        if fault is Fault.THROTTLE:
            return too_many_requests(target.api, request_id, settings.throttle_retry_after)
        return None

    def _log(
        self,
        target: _Target,
        request: Request,
        now: float,
        status: int | None,
        outcome: str,
        request_id: str,
        call: Call | None = None,
    ) -> None:
        params = target.match.params
        self.state.calls.record(
            CallRecord(
                time=now,
                method=request.method,
                api=target.api.name if target.api else None,
                endpoint=target.endpoint,
                path=request.url.path,
                status=status,
                outcome=outcome,
                client_id=params.get("client-id"),
                job_id=call.job_id if call else params.get("job-id"),
                status_read=call.status_read if call else False,
                request_id=request_id,
            )
        )


class _Admin:
    """The `/_sim/` endpoints: inspection and fault control for tests and demos."""

    def __init__(self, sim: DatevSimulator) -> None:
        self.sim = sim
        self.state = sim.state

    async def calls(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.state.calls.clear()
            return Response(status_code=204)
        calls = self.state.calls
        return JSONResponse({"summary": calls.summary(), "calls": [record_as_json(r) for r in calls.records()]})

    async def faults(self, request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(self.state.faults.snapshot())
        try:
            changes = json.loads(await request.body() or b"{}")
            if not isinstance(changes, dict):
                raise ValueError("send a JSON object of fault settings")
            done = self._run_actions(changes)
            settings = self.state.faults.update(changes)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({**settings, "actions": done})

    def _run_actions(self, changes: dict[str, Any]) -> dict[str, int]:
        done: dict[str, int] = {}
        for action in ACTIONS:
            if changes.pop(action, False) is True:
                with self.state.lock:
                    tokens = self.state.tokens
                    done[action] = (
                        tokens.expire_access_tokens()
                        if action == "expire_access_tokens"
                        else tokens.revoke_refresh_tokens()
                    )
        return done

    async def jobs(self, _: Request) -> Response:
        with self.state.lock:
            self.state.jobs.tick(self.sim.config.clock())
            body = {
                "extf": [job.admin_json() for job in self.state.jobs.extf.values()],
                "dxso": [job.admin_json() for job in self.state.jobs.dxso.values()],
            }
        return JSONResponse(body)

    async def documents(self, _: Request) -> Response:
        with self.state.lock:
            body = {"documents": [document.admin_json() for document in self.state.documents.values()]}
        return JSONResponse(body)

    async def manifest(self, _: Request) -> Response:
        with self.state.lock:
            self.state.jobs.tick(self.sim.config.clock())
            return JSONResponse({"events": list(self.state.capture.events)})
