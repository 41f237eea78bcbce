"""accounting-clients v2: the clients the user may access, with the services booked for each.

`GET /clients?filter=consultant_number eq 29098 and client_number eq 55003&skip=&top=` filters only on
those two fields with `eq` and `and` (anything else is 400 `1008828` with DATEV's wording), pages with
`skip`/`top` and sends `Total-Items` and `Link`. `GET /clients/{client-id}` answers 404 for a client the
user cannot access. The pipeline checks here that a client has "Buchungsdatenservice" (EXTF) or
"Belegbilderservice" (documents) before it transfers anything (FACTS §3, §5.1).
"""

from __future__ import annotations

import re

from starlette.responses import Response

from datev_cin7_pipeline.sandbox.datev.config import SimClient
from datev_cin7_pipeline.sandbox.datev.directory import PagingError, client_with_services, read_page
from datev_cin7_pipeline.sandbox.datev.errors import JSON_UTF8, ApiError, json_response, not_found, problem
from datev_cin7_pipeline.sandbox.datev.routing import Call, Operation
from datev_cin7_pipeline.sandbox.datev.urls import CLIENTS_API

SCOPE = "datev:accounting:clients"
INVALID_QUERY = 1008828
FILTER_FIELDS = ("consultant_number", "client_number")
_TERM = re.compile(r"\s*(\S+)\s+(\S+)\s+(\S+)\s*")


class FilterError(ValueError):
    """A filter DATEV refuses; the message is DATEV's reason text."""


def parse_filter(text: str) -> dict[str, int]:
    """`consultant_number eq 29098 and client_number eq 55003` → {field: value}."""
    if re.search(r"\s(or|OR|Or)\s", text):
        raise FilterError('The combination of filters is invalid. Supported logical operator "and"')
    wanted: dict[str, int] = {}
    for term in re.split(r"\s+and\s+", text.strip()):
        match = _TERM.fullmatch(term)
        if match is None:
            raise FilterError("Filter syntax is invalid")
        name, operator, value = match.groups()
        if name not in FILTER_FIELDS:
            raise FilterError(f"Filter parameters are invalid - {name} - is not supported")
        if operator != "eq":
            raise FilterError(f'Filter operators are invalid - {name} - only supports the operator "eq"')
        if not (value.isascii() and value.isdigit() and 1 <= int(value) <= 9_999_999_999):
            raise FilterError(
                f"Filter parameters are invalid - {name} - must be a positive integer from 1 to 9999999999"
            )
        wanted[name] = int(value)
    return wanted


def _matches(client: SimClient, wanted: dict[str, int]) -> bool:
    numbers = {"consultant_number": client.consultant_number, "client_number": client.client_number}
    return all(numbers[name] == value for name, value in wanted.items())


def invalid_query(call: Call, detail: str, name: str, reason: str) -> ApiError:
    affected = [{"name": name, "reason": reason}]
    body = problem(
        400, "Invalid query parameters", call.request_id, code=INVALID_QUERY, detail=detail, affected=affected
    )
    return ApiError(body)


def list_clients(call: Call) -> Response:
    try:
        page = read_page(call.query)
    except PagingError as exc:
        detail = f"Paging parameters are invalid - {exc.name} - must be a positive integer"
        raise invalid_query(call, detail, exc.name, "Must be a positive integer") from exc
    wanted: dict[str, int] = {}
    if "filter" in call.query:
        try:
            wanted = parse_filter(call.query["filter"])
        except FilterError as exc:
            raise invalid_query(call, str(exc), "filter", str(exc)) from exc
    found = [client for client in call.config.clients if _matches(client, wanted)]
    body = [client_with_services(client) for client in found[page.skip : page.skip + page.top]]
    return json_response(body, 200, JSON_UTF8, page.headers(len(found)))


def get_client(call: Call) -> Response:
    client = call.client()
    if client is None:
        raise ApiError(not_found(CLIENTS_API, call.request_id), "not found")
    return json_response(client_with_services(client), 200, JSON_UTF8)


def operations() -> list[Operation]:
    return [
        Operation(CLIENTS_API, "GET", "/clients", (SCOPE,), list_clients),
        Operation(CLIENTS_API, "GET", "/clients/{client-id}", (SCOPE,), get_client),
    ]
