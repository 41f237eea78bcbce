"""The operations of the four APIs as a table, and what an endpoint gets to see of a call.

Each API module lists its operations with the path template of DATEV's OpenAPI document (so the call log
and the contract tests speak the spec's language) and the OAuth scopes the document's `security` block
requires. Endpoints are plain synchronous functions of a `Call`: the gateway has read the body, checked
the token, and holds the state lock while they run, so they never await and never race.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.datastructures import Headers, QueryParams
from starlette.responses import Response

from datev_cin7_pipeline.sandbox.datev.config import DatevSimConfig, SimClient
from datev_cin7_pipeline.sandbox.datev.oauth import Grant
from datev_cin7_pipeline.sandbox.datev.state import DatevSimState
from datev_cin7_pipeline.sandbox.datev.urls import ApiInfo

CLIENT_ID_PATTERN = re.compile(r"[1-9]\d{3,6}-[1-9]\d{0,4}")
"""`<consultant>-<client>`: 4-7 and 1-5 digits (Accounting Data Exchange's pattern, FACTS §5.1)."""


@dataclass
class Call:
    """One request as an endpoint sees it. Endpoints may set `job_id`/`status_read` for the call log."""

    request_id: str
    api: ApiInfo
    method: str
    params: dict[str, str]
    query: QueryParams
    headers: Headers
    body: bytes
    now: float
    grant: Grant
    state: DatevSimState
    job_id: str | None = None
    status_read: bool = False

    @property
    def config(self) -> DatevSimConfig:
        return self.state.config

    def client(self) -> SimClient | None:
        """The DATEV client named by the `client-id` path segment, if the sandbox user may access it."""
        wanted = self.params.get("client-id", "")
        return next((c for c in self.config.clients if c.id == wanted), None)


Handler = Callable[[Call], Response]


@dataclass(frozen=True)
class Operation:
    api: ApiInfo
    method: str
    template: str
    scopes: tuple[str, ...]
    handler: Handler = field(repr=False, compare=False)

    @property
    def label(self) -> str:
        """How the call log and fault targets name the operation."""
        return f"{self.method} {self.api.name} {self.template}"


@dataclass(frozen=True)
class Match:
    operation: Operation | None
    params: dict[str, str]
    path_known: bool


class Router:
    """Finds the operation for (API, method, path below the version); literal segments win over variables."""

    def __init__(self, operations: list[Operation]) -> None:
        compiled = [(op, *_compile(op.template)) for op in operations]
        # Fewer variables first, so `/documents/stapled` is not taken for `/documents/{document-id}`.
        compiled.sort(key=lambda item: item[0].template.count("{"))
        self._routes = compiled

    def match(self, api: ApiInfo, method: str, path: str) -> Match:
        path_known = False
        for operation, pattern, names in self._routes:
            if operation.api != api:
                continue
            found = pattern.fullmatch(path)
            if found is None:
                continue
            path_known = True
            if operation.method == method:
                return Match(operation, dict(zip(names, found.groups(), strict=True)), True)
        return Match(None, {}, path_known)

    def operations(self) -> list[Operation]:
        return [operation for operation, _, _ in self._routes]


def _compile(template: str) -> tuple[re.Pattern[str], list[str]]:
    names: list[str] = []
    parts: list[str] = []
    for segment in template.strip("/").split("/"):
        if segment.startswith("{") and segment.endswith("}"):
            names.append(segment[1:-1])
            parts.append("([^/]+)")
        else:
            parts.append(re.escape(segment))
    return re.compile("/" + "/".join(parts)), names
