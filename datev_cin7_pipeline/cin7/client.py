"""The Cin7 Core API v2 client: one paced `requests.Session` per connection.

Every call carries the two key headers and a timeout, waits for a slot in the rolling rate window, and is
sorted by outcome (after MeltanoLabs/tap-github): 2xx is returned; 429 and 503 mean "slow down" (honour
`Retry-After`, else back off exponentially with jitter, and hold back every thread); other 5xx and
dropped connections are retried a bounded number of times; 403 and the remaining 4xx are fatal with a
clear message. Retries pass through the pacer too, so they count against the limit like any call.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import requests

from datev_cin7_pipeline import __version__
from datev_cin7_pipeline.cin7.errors import (
    Cin7AttachmentError,
    Cin7AuthError,
    Cin7Error,
    Cin7RequestError,
    Cin7UnavailableError,
)
from datev_cin7_pipeline.cin7.pacing import CIN7_WINDOW_SECONDS, Pacer, RollingWindowPacer
from datev_cin7_pipeline.config import CIN7_DEFAULT_BASE_URL
from datev_cin7_pipeline.redaction import redact
from datev_cin7_pipeline.store.vault import Secret

MAX_PAGE_SIZE = 1000
DATEV_DOCUMENT_LIMIT_BYTES = 20 * 1024 * 1024  # DATEV Unternehmen Online refuses larger documents
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def parse_json(content: bytes | str) -> Any:
    """JSON with every non-integer number as `Decimal`, so money never passes through a float."""
    return json.loads(content, parse_float=Decimal)


def dump_json(value: Any) -> str:
    """The inverse of `parse_json`: every Decimal is written as the exact JSON number it holds."""
    parts: list[str] = []
    _encode(value, parts)
    return "".join(parts)


def _encode(value: Any, out: list[str]) -> None:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} cannot be written as JSON")
        out.append(format(value, "f"))
    elif value is None or isinstance(value, bool | int | float | str):
        out.append(json.dumps(value, ensure_ascii=False, allow_nan=False))
    elif isinstance(value, dict):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            out.append(("," if index else "") + json.dumps(str(key), ensure_ascii=False) + ":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")


@dataclass(frozen=True)
class Cin7Credentials:
    account_id: str
    application_key: Secret

    def __repr__(self) -> str:
        return f"Cin7Credentials(account_id={self.account_id!r}, application_key=Secret('********'))"


@dataclass
class RetryPolicy:
    """How long to keep trying; the defaults ride out a throttled minute and a short outage."""

    throttle_retries: int = 8
    transient_retries: int = 4
    base_delay: float = 1.0
    throttle_base_delay: float = 5.0
    max_delay: float = 60.0
    max_retry_after: float = 300.0


@dataclass
class CallStats:
    calls: int = 0
    throttled: int = 0
    retried: int = 0
    # Cin7 does not document rate-limit headers; if one arrives, we keep what it said.
    server_remaining: int | None = None
    per_endpoint: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, endpoint: str) -> None:
        with self._lock:
            self.calls += 1
            self.per_endpoint[endpoint] = self.per_endpoint.get(endpoint, 0) + 1


@dataclass(frozen=True)
class DownloadedFile:
    file_name: str
    content: bytes
    content_type: str


class Cin7Client:
    def __init__(
        self,
        credentials: Cin7Credentials,
        *,
        base_url: str = CIN7_DEFAULT_BASE_URL,
        calls_per_minute: int = 60,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        pacer: Pacer | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        wall_clock: Callable[[], float] = time.time,
        connection_name: str = "default",
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self._origin = _origin(self.base_url)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.pacer: Pacer = pacer or RollingWindowPacer(calls_per_minute, CIN7_WINDOW_SECONDS, sleep=sleep)
        self.stats = CallStats()
        self.connection_name = connection_name
        self._sleep = sleep
        self._jitter = jitter
        self._wall_clock = wall_clock  # only for Retry-After given as an HTTP date
        # Public so tests and tools can add response hooks (e.g. contract checks); never log its headers.
        self.session = requests.Session()
        self.session.headers.update(
            {
                "api-auth-accountid": credentials.account_id,
                "api-auth-applicationkey": credentials.application_key.reveal(),
                "Accept": "application/json",
                "User-Agent": f"datev-cin7-pipeline/{__version__}",
            }
        )

    def __repr__(self) -> str:
        return f"Cin7Client(base_url={self.base_url!r}, connection={self.connection_name!r})"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Cin7Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- calls -------------------------------------------------------------------------------------

    def get(self, endpoint: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", endpoint, params=params)

    def request(self, method: str, endpoint: str, *, params: Mapping[str, Any] | None = None, body: Any = None) -> Any:
        """One API call, paced and retried; returns the parsed JSON (None for an empty 2xx)."""
        response = self._send(method, self.base_url + endpoint.lstrip("/"), endpoint, params=params, body=body)
        if not response.content:
            return None
        try:
            return parse_json(response.content)
        except ValueError:
            raise Cin7Error(f"Cin7 answered {method} {endpoint} with something that is not JSON.") from None

    def paginate(
        self, endpoint: str, list_key: str, params: Mapping[str, Any] | None = None, *, limit: int = MAX_PAGE_SIZE
    ) -> Iterator[dict[str, Any]]:
        """Every row of a list endpoint, page by page (`Page`, `Limit`, `Total`)."""
        page = 1
        while True:
            body = self.get(endpoint, {**(params or {}), "Page": page, "Limit": limit}) or {}
            rows = body.get(list_key) or []
            yield from rows
            total = body.get("Total")
            if len(rows) < limit or (isinstance(total, int | Decimal) and page * limit >= total):
                return
            page += 1

    def download(self, url: str, *, max_bytes: int = DATEV_DOCUMENT_LIMIT_BYTES) -> bytes:
        """Fetch an attachment's bytes, only from the configured Cin7 host and never more than `max_bytes`."""
        if _origin(url) != self._origin:
            raise Cin7AttachmentError(
                f"Refused to download an attachment from {_origin(url) or 'an invalid URL'}: attachments are only "
                f"fetched from the configured Cin7 host {self._origin}."
            )
        response = self._send("GET", url, "Attachment/Download", params=None, body=None, stream=True)
        try:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_content(chunk_size=256 * 1024):
                size += len(chunk)
                if size > max_bytes:
                    raise Cin7AttachmentError(
                        f"The attachment is larger than {max_bytes // (1024 * 1024)} MB, the most DATEV accepts "
                        "for one document."
                    )
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            response.close()

    # --- the retry loop ----------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        endpoint: str,
        *,
        params: Mapping[str, Any] | None,
        body: Any,
        stream: bool = False,
    ) -> requests.Response:
        label = f"{method} {endpoint.split('?')[0]}"
        throttles = transients = 0
        while True:
            self.pacer.acquire()
            self.stats.count(endpoint.split("?")[0])
            try:
                response = self.session.request(
                    method,
                    url,
                    params=dict(params) if params else None,
                    data=dump_json(body).encode() if body is not None else None,
                    headers={"Content-Type": "application/json"} if body is not None else None,
                    timeout=self.timeout,
                    allow_redirects=False,
                    stream=stream,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                if method not in SAFE_METHODS:
                    # The server may have acted on it; the caller must look before sending again.
                    raise Cin7UnavailableError(
                        f"The connection to Cin7 failed during {label}; it may or may not have been applied."
                    ) from exc
                transients += 1
                if transients > self.retry.transient_retries:
                    raise Cin7UnavailableError(
                        f"Cin7 could not be reached for {label} after {transients} attempts ({type(exc).__name__})."
                    ) from exc
                self._back_off(transients, self.retry.base_delay)
                continue

            status = response.status_code
            remaining = response.headers.get("X-RateLimit-Remaining", "")
            if remaining.isdigit():
                self.stats.server_remaining = int(remaining)
            if 200 <= status < 300:
                return response
            if status in (429, 503):
                throttles += 1
                self.stats.throttled += 1
                if throttles > self.retry.throttle_retries:
                    raise Cin7UnavailableError(
                        f"Cin7 kept throttling {label} ({status}) after {throttles} attempts; try again later."
                    )
                wait = self._retry_after(response)
                if wait is None:
                    wait = self._backoff_delay(throttles, self.retry.throttle_base_delay)
                self.pacer.pause(wait)  # every thread of this client waits, not just this one
                self.stats.retried += 1
                continue
            if status >= 500:
                transients += 1
                if transients > self.retry.transient_retries:
                    raise Cin7UnavailableError(f"Cin7 failed {label} with {status} after {transients} attempts.")
                self._back_off(transients, self.retry.base_delay)
                continue
            raise self._fatal(response, label)

    def _back_off(self, attempt: int, base: float) -> None:
        self.stats.retried += 1
        self._sleep(self._backoff_delay(attempt, base))

    def _backoff_delay(self, attempt: int, base: float) -> float:
        ceiling = min(self.retry.max_delay, base * 2 ** (attempt - 1))
        return ceiling * (0.5 + self._jitter() / 2)  # "equal jitter": never zero, never in lockstep

    def _retry_after(self, response: requests.Response) -> float | None:
        value = response.headers.get("Retry-After", "").strip()
        if not value:
            return None
        try:
            seconds = float(value)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            if when.tzinfo is None:
                when = when.replace(tzinfo=dt.UTC)
            seconds = when.timestamp() - self._wall_clock()
        return min(max(seconds, 0.0), self.retry.max_retry_after)

    def _fatal(self, response: requests.Response, label: str) -> Cin7Error:
        status = response.status_code
        if status == 403:
            return Cin7AuthError(
                f"Cin7 rejected the API keys of connection {self.connection_name!r} (403); check them with "
                "`datev-cin7 credentials set cin7`."
            )
        if status == 401:
            return Cin7AuthError(f"Cin7 rejected the API keys of connection {self.connection_name!r} (401).")
        if 300 <= status < 400:
            return Cin7Error(f"Cin7 redirected {label} ({status}); redirects are not followed.")
        error_code, detail = _error_details(response)
        code = f", error {error_code}" if error_code is not None else ""
        text = f": {detail}" if detail else ""
        return Cin7RequestError(
            f"Cin7 refused {label} ({status}{code}){text}", status=status, error_code=error_code, detail=detail
        )


def _error_details(response: requests.Response) -> tuple[int | None, str]:
    """Cin7's error model `{ErrorCode, Exception}`, alone or in a list; else the first line of text."""
    try:
        body = parse_json(response.content)
    except ValueError:
        text = redact(response.text).strip().splitlines()
        return None, (text[0][:300] if text else "")
    items = body if isinstance(body, list) else [body]
    codes = [item.get("ErrorCode") for item in items if isinstance(item, dict)]
    messages = [str(item.get("Exception", "")).strip() for item in items if isinstance(item, dict)]
    code = next((int(c) for c in codes if isinstance(c, int | Decimal)), None)
    return code, redact("; ".join(m for m in messages if m))[:500]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return ""
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower(), 0)
    return f"{parts.scheme.lower()}://{parts.hostname.lower()}:{port}"


def require_pdf(content: bytes, file_name: str) -> None:
    """DATEV files the PDF as the Beleg: refuse anything that only calls itself one."""
    if not content.lstrip()[:5] == b"%PDF-":
        raise Cin7AttachmentError(f"The attachment {file_name!r} is not a PDF.")
