"""The simulator as a Starlette app: Cin7's gateway behaviour around the endpoints, plus an admin API.

Every call under `/ExternalApi/v2/` (any case) and to `/Attachment/Download` passes, in this order:
added latency; a pending fault (dropped connection, then 5xx, then throttling); the two key headers
(403 otherwise); the per-key rate limit; the endpoint. Each call is written to the call log.

Admin API (no keys, no limits, not logged), for tests and demos:
- `GET /_sim/calls`: the call log summary and every call;
- `GET|POST /_sim/faults`: read or change the fault settings (JSON with any of latency_seconds,
  throttle_burst, error_burst, error_status, drop_burst);
- `POST /_sim/documents/{kind}/{id}/{action}`: change a document and fire its webhook (see `actions`);
- `GET /_sim/deliveries`: every webhook delivery attempt.
"""

from __future__ import annotations

import asyncio
import hmac
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from decimal import Decimal
from email.utils import formatdate
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from datev_cin7_pipeline.sandbox.cin7 import jsonio
from datev_cin7_pipeline.sandbox.cin7.actions import ActionError, DocumentActions
from datev_cin7_pipeline.sandbox.cin7.api import ApiCall, ApiError, Cin7Api, Handler, Query
from datev_cin7_pipeline.sandbox.cin7.config import Cin7SimConfig
from datev_cin7_pipeline.sandbox.cin7.dataset import Cin7Dataset
from datev_cin7_pipeline.sandbox.cin7.demo import demo_dataset
from datev_cin7_pipeline.sandbox.cin7.jsonio import DecimalJSONResponse
from datev_cin7_pipeline.sandbox.cin7.store import Cin7Store
from datev_cin7_pipeline.sandbox.cin7.traffic import (
    CallLog,
    CallRecord,
    Fault,
    FaultInjector,
    RateLimiter,
    key_fingerprint,
)
from datev_cin7_pipeline.sandbox.cin7.webhooks import WebhookDispatcher, WebhookRegistry
from datev_cin7_pipeline.sandbox.serving import DropConnection

API_PREFIX = "/externalapi/v2/"
DOWNLOAD_PATH = "/attachment/download"
_BAD_GATEWAY_PAGE = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>"
)


@dataclass
class Cin7Simulator:
    """The running simulator's parts, reachable as `app.state.cin7` (tests read the call log here)."""

    config: Cin7SimConfig
    store: Cin7Store
    call_log: CallLog
    faults: FaultInjector
    limiter: RateLimiter
    webhooks: WebhookRegistry
    dispatcher: WebhookDispatcher
    actions: DocumentActions
    routes: dict[tuple[str, str], tuple[str, Handler]]


def build_cin7_app(config: Cin7SimConfig | None = None, dataset: Cin7Dataset | None = None) -> Starlette:
    """A Cin7 Core simulator serving `dataset` (default: the demo company for the config's seed and today)."""
    config = config or Cin7SimConfig()
    store = Cin7Store(dataset if dataset is not None else demo_dataset(config.seed, config.today))
    webhooks = WebhookRegistry()
    sim = Cin7Simulator(
        config=config,
        store=store,
        call_log=CallLog(),
        faults=FaultInjector(config.faults),
        limiter=RateLimiter(config.calls_per_minute),
        webhooks=webhooks,
        dispatcher=WebhookDispatcher(
            webhooks,
            first_delay=config.webhook_first_delay,
            retry_delays=config.webhook_retry_delays,
            timeout=config.webhook_timeout,
            clock=config.clock,
        ),
        actions=DocumentActions(store, config.clock),
        routes=Cin7Api(store, webhooks).routes(),
    )
    gateway = _Gateway(sim)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await asyncio.to_thread(sim.dispatcher.close)

    app = Starlette(
        routes=[
            Route("/_sim/calls", gateway.calls, methods=["GET"]),
            Route("/_sim/faults", gateway.fault_settings, methods=["GET", "POST"]),
            Route("/_sim/deliveries", gateway.deliveries, methods=["GET"]),
            Route("/_sim/documents/{kind}/{document_id}/{action}", gateway.document_action, methods=["POST"]),
            Route("/{path:path}", gateway.handle, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
        ],
        lifespan=lifespan,
    )
    app.state.cin7 = sim
    return app


def _endpoint_for_log(path: str) -> str:
    """A path without ids, for calls that matched no endpoint (ids in Cin7 paths only appear by mistake)."""
    parts = ["{id}" if len(part) >= 16 or part.isdigit() else part for part in path.strip("/").split("/")]
    return "/".join(parts)


class _Gateway:
    """Request handling around the endpoints: faults, authentication, rate limit, call log, errors."""

    def __init__(self, sim: Cin7Simulator) -> None:
        self.sim = sim
        self.config = sim.config

    # --- Cin7 answers ---

    def error(self, status: int, message: str) -> Response:
        body: Any = {"ErrorCode": status, "Exception": message}
        return DecimalJSONResponse([body] if self.config.error_body_as_list else body, status_code=status)

    def throttled(self, now: float, wait: float) -> Response:
        response = self.error(
            self.config.throttle_status, f"You reached {self.config.calls_per_minute} calls per minute API limit"
        )
        if self.config.retry_after == "seconds":
            response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        elif self.config.retry_after == "http-date":
            response.headers["Retry-After"] = formatdate(now + max(1.0, wait), usegmt=True)
        return response

    def server_error(self, status: int) -> Response:
        if status == 502:
            return Response(_BAD_GATEWAY_PAGE, status_code=502, media_type="text/html")
        return self.error(500, "Internal Server Error")

    # --- the gateway ---

    async def handle(self, request: Request) -> Response:
        now = self.config.clock()
        path = request.url.path.lower().rstrip("/")
        method = request.method.upper()
        name = self._endpoint_name(path, method)
        key = request.headers.get("api-auth-applicationkey")
        fingerprint = key_fingerprint(key) if key else None

        def log(status: int | None, outcome: str) -> None:
            self.sim.call_log.record(CallRecord(now, method, name, status, fingerprint, outcome))

        latency = self.sim.faults.latency()
        if latency:
            await asyncio.sleep(latency)
        fault, error_status = self.sim.faults.take()
        if fault is Fault.DROP:
            log(None, fault.value)
            return DropConnection()
        if fault is Fault.ERROR:
            response, outcome = self.server_error(error_status), fault.value
        elif fault is Fault.THROTTLE:
            response, outcome = self.throttled(now, 1.0), fault.value
        else:
            response, outcome = await self._serve(request, path, method, now)
        log(response.status_code, outcome)
        return response

    def _endpoint_name(self, path: str, method: str) -> str:
        if path == DOWNLOAD_PATH:
            return "Attachment/Download"
        if path.startswith(API_PREFIX):
            found = self.sim.routes.get((method, path[len(API_PREFIX) :]))
            if found is not None:
                return found[0]
        return _endpoint_for_log(path)

    def _authorised(self, request: Request) -> bool:
        account_id = (request.headers.get("api-auth-accountid") or "").strip().lower()
        key = (request.headers.get("api-auth-applicationkey") or "").strip()
        return any(
            account.account_id.lower() == account_id
            and hmac.compare_digest(account.application_key.encode(), key.encode())
            for account in self.config.accounts
        )

    async def _serve(self, request: Request, path: str, method: str, now: float) -> tuple[Response, str]:
        is_api = path.startswith(API_PREFIX)
        is_download = path == DOWNLOAD_PATH and method == "GET"
        if not (is_api or is_download):
            return self.error(404, f"'{request.url.path}' is not an endpoint of the API"), "not found"
        if is_api or self.config.attachment_download_requires_auth:
            if not self._authorised(request):
                return self.error(403, "Incorrect credentials!"), "forbidden"
            key = request.headers["api-auth-applicationkey"].strip()
            wait = self.sim.limiter.admit(key_fingerprint(key), now)
            if wait is not None:
                return self.throttled(now, wait), "throttled"
        if is_download:
            return self._download(Query(request.query_params.multi_items()).text("ID") or "")
        return await self._call_endpoint(request, path[len(API_PREFIX) :], method)

    def _download(self, attachment_id: str) -> tuple[Response, str]:
        found = self.sim.store.attachment(attachment_id)
        if found is None:
            return self.error(404, f"Attachment with ID = '{attachment_id}' not found"), "not found"
        entry, content = found
        media_type = str(entry.get("ContentType") or "application/octet-stream")
        return Response(
            content,
            media_type=media_type,
            headers={"Content-Disposition": f'attachment; filename="{entry["FileName"]}"'},
        ), "ok"

    async def _call_endpoint(self, request: Request, endpoint: str, method: str) -> tuple[Response, str]:
        found = self.sim.routes.get((method, endpoint))
        if found is None:
            if any(known == endpoint for _, known in self.sim.routes):
                return self.error(405, f"The requested resource does not support http method '{method}'."), "error"
            return self.error(404, f"Endpoint '{endpoint}' not found"), "not found"
        body: Any = None
        if method in ("POST", "PUT"):
            try:
                body = jsonio.loads(await request.body())
            except ValueError:
                return self.error(400, "The request body is not valid JSON"), "error"
        call = ApiCall(Query(request.query_params.multi_items()), body, str(request.base_url).rstrip("/"))
        try:
            with self.sim.store.lock:
                result = found[1](call)
                return DecimalJSONResponse(result), "ok"
        except ApiError as exc:
            return self.error(exc.status, exc.message), "error"

    # --- admin API ---

    async def calls(self, _: Request) -> Response:
        return DecimalJSONResponse(
            {
                "Summary": self.sim.call_log.summary(),
                "Calls": [asdict(record) for record in self.sim.call_log.records()],
            }
        )

    async def fault_settings(self, request: Request) -> Response:
        if request.method == "GET":
            return DecimalJSONResponse(self.sim.faults.snapshot())
        try:
            changes = jsonio.loads(await request.body())
            if not isinstance(changes, dict):
                raise ValueError("send a JSON object of fault settings")
            return DecimalJSONResponse(self.sim.faults.update(_plain_numbers(changes)))
        except ValueError as exc:
            return DecimalJSONResponse({"Error": str(exc)}, status_code=400)

    async def deliveries(self, _: Request) -> Response:
        return DecimalJSONResponse({"Deliveries": self.sim.dispatcher.attempts()})

    async def document_action(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = jsonio.loads(raw) if raw.strip() else None
        except ValueError:
            return DecimalJSONResponse({"Error": "the body is not valid JSON"}, status_code=400)
        params = request.path_params
        try:
            result = self.sim.actions.run(params["kind"], params["document_id"], params["action"], body)
        except ActionError as exc:
            return DecimalJSONResponse({"Error": str(exc)}, status_code=exc.status)
        delivered_to = self.sim.dispatcher.publish(result.event_type, result.payload) if result.event_type else 0
        return DecimalJSONResponse(
            {
                "Details": result.details,
                "Event": result.event_type,
                "Payload": result.payload,
                "Subscriptions": delivered_to,
            }
        )


def _plain_numbers(values: dict[str, Any]) -> dict[str, Any]:
    """Fault settings arrive as JSON; Decimal latencies become floats for asyncio.sleep."""
    return {key: float(value) if isinstance(value, Decimal) else value for key, value in values.items()}
