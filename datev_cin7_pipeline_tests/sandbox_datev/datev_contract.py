"""Contract checks against DATEV's own OpenAPI documents, for any `requests` exchange with the simulator.

Why: the simulator and, later, the DATEV client are both written from the same reading of the specs. This
helper holds every exchange against DATEV's documents themselves (read in place from
`<repo root>/../shared/reference/datev/openapi/`, never copied), so a wrong status, header or body shape
fails a test instead of reaching production.

How: the simulator URL is mapped back onto DATEV's (`/accounting-documents/platform/v2/...` →
`https://accounting-documents.api.datev.de/platform/v2/...`), which picks the document by the API name and
lets openapi-core match the document's `servers`. Then openapi-core's requests integration validates the
response (documented status, declared media type, body schema, declared headers) and, on request, the
request (path and query parameters, headers incl. `X-DATEV-Client-Id`, body).

One contradiction inside a document is resolved in memory (never in the file): `KNOWN_DEFECTS`.
Limits of the documents, kept as they are (report rather than guess): many error statuses document no
body (e.g. documents' 400/403, extf's 401/404/413), so only their status is checked; a few 2xx answers
show only an `x-example`, no schema (dxso job creation and file upload), so their bodies are not checked;
the oauth2 security schemes are not verified by openapi-core (only the API-key header is).
"""

from __future__ import annotations

import json
import warnings
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import requests
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from datev_cin7_pipeline.sandbox.datev.urls import APIS, datev_url

SPEC_FILES = {
    "accounting-clients": "accounting-clients-2.0.json",
    "accounting-documents": "accounting_documents-2.1.12.json",
    "accounting-extf-files": "accounting_extf-files-3.0.1.json",
    "accounting-dxso-jobs": "accounting_dxso-jobs-2.1.7.json",
}


class ContractViolation(AssertionError):
    """An exchange that does not match DATEV's OpenAPI document; the message names operation and problems."""


def repo_root() -> Path:
    """The folder holding pyproject.toml (the shared reference folder sits beside it)."""
    here = Path(__file__).resolve()
    return next(parent for parent in here.parents if (parent / "pyproject.toml").exists())


def spec_folder() -> Path:
    return repo_root().parent / "shared" / "reference" / "datev" / "openapi"


KNOWN_DEFECTS: tuple[tuple[str, tuple[str, ...], str, str], ...] = (
    (
        "accounting-dxso-jobs",
        ("components", "schemas", "DXSoJobCreationInfo", "properties", "accounting_month"),
        "format",
        "declared `format: date`, but its text and example say YYYY-MM ('2025-05'), which is not a date",
    ),
)
"""Contradictions inside a document, resolved in memory in favour of its prose (api, path, key dropped, why)."""


@cache
def openapi_for(api_name: str) -> OpenAPI:
    """The parsed OpenAPI document of one API, known defects resolved (cached; ~50 ms each)."""
    document = json.loads((spec_folder() / SPEC_FILES[api_name]).read_text("utf-8"))
    for api, path, key, _why in KNOWN_DEFECTS:
        if api == api_name:
            node = document
            for part in path:
                node = node[part]
            node.pop(key)
    # openapi-core reads `application/json` but not the merge-patch type the dxso finalization uses.
    config = Config(extra_media_type_deserializers={"application/merge-patch+json": json.loads})
    return OpenAPI.from_dict(document, config=config)


def api_of(url: str) -> str:
    """The API name a simulator URL belongs to (its first path segment)."""
    name = urlsplit(url).path.lstrip("/").split("/", 1)[0]
    if name not in APIS:
        raise ContractViolation(f"{url} is not below one of the DATEV APIs {sorted(APIS)}")
    return name


def _as_datev_request(prepared: requests.PreparedRequest) -> RequestsOpenAPIRequest:
    copy = prepared.copy()
    copy.url = datev_url(str(prepared.url))
    return RequestsOpenAPIRequest(copy)


def validate_response(response: requests.Response, *, check_request: bool = False) -> None:
    """Raise ContractViolation unless `response` (and, with `check_request`, its request) fits the spec."""
    prepared = response.request
    api = api_of(str(prepared.url))
    openapi = openapi_for(api)
    request = _as_datev_request(prepared)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Unsupported scheme type" for the oauth2 schemes
        problems = [
            _describe(error) for error in openapi.iter_response_errors(request, RequestsOpenAPIResponse(response))
        ]
        if check_request:
            problems += ["request: " + _describe(error) for error in openapi.iter_request_errors(request)]
    if problems:
        where = f"{prepared.method} {datev_url(str(prepared.url))} → {response.status_code}"
        raise ContractViolation(f"{api}: {where} breaks the OpenAPI document:\n- " + "\n- ".join(problems))


def _describe(error: Exception) -> str:
    cause = error.__cause__
    detail = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
    nested = getattr(cause, "schema_errors", None) or getattr(error, "schema_errors", None) or ()
    reasons = "; ".join(getattr(item, "message", str(item)) for item in nested)
    return f"{type(error).__name__}: {error}{detail}" + (f" [{reasons}]" if reasons else "")


def attach_contract_checks(session: requests.Session, *, check_request: bool = False) -> list[ContractViolation]:
    """Check every response a session receives from a DATEV API; violations are collected, not raised.

    Raising inside a response hook would hide the response from the test, so the hook collects and the test
    asserts the list is empty at the end (exchanges with non-API URLs, e.g. `/token`, are skipped).
    """
    violations: list[ContractViolation] = []

    def hook(response: requests.Response, *args: object, **kwargs: object) -> None:
        path = urlsplit(str(response.request.url)).path.lstrip("/")
        if path.split("/", 1)[0] not in APIS:
            return
        try:
            validate_response(response, check_request=check_request)
        except ContractViolation as exc:
            violations.append(exc)

    session.hooks["response"].append(hook)
    return violations
