"""accounting-extf-files v3 (Buchungsdatenservice): upload an EXTF file, then poll its job.

`POST /clients/{client-id}/extf-files/import` with headers `Filename` (required, `EXTF_.{0,51}\\.csv`),
`Reference-Id` and `Client-Application-Version` (optional, `[-0-9A-Za-z_äöüÄÖÜß_. +?;]{0,254}`),
`Content-Type: application/octet-stream` and the raw file. Synchronous refusals, as the spec lists them:
400 `1008835` (client-id path segment), 400 `1008832` (Filename / Reference-Id), 415 (content type),
400 `1008831` (no body), 413 `1008833` (over 50 MB); an unknown client is 404. Everything else is decided by
the job: 202 with `Location` (the job URL, relative to the server URL) and `Retry-After`; the job stays
`pending` for `extf_processing_seconds`, then ends `succeeded` or `failed` with `validation_details`
(1008833/1008834 header checks, 1008838 for a client without "Buchungsdatenservice", the sandbox row rules,
or an injected failure). DATEV does not deduplicate: the same file twice makes two jobs.

`GET .../extf-files/jobs?skip=&top=` lists the client's jobs, newest first (the spec documents no filter,
so a client finds its `Reference-Id` by paging); `GET .../extf-files/jobs/{job-id}` reads one job.
"""

from __future__ import annotations

import re
import uuid

from starlette.responses import Response

from datev_cin7_pipeline.sandbox.datev.capture import safe_part, sha256_hex
from datev_cin7_pipeline.sandbox.datev.config import SERVICE_EXTF
from datev_cin7_pipeline.sandbox.datev.directory import PagingError, read_page
from datev_cin7_pipeline.sandbox.datev.errors import JSON_UTF8, ApiError, json_response, not_found, problem
from datev_cin7_pipeline.sandbox.datev.extf_format import check_extf_file
from datev_cin7_pipeline.sandbox.datev.jobs import MISSING_PERMISSION, ExtfJob
from datev_cin7_pipeline.sandbox.datev.routing import CLIENT_ID_PATTERN, Call, Operation
from datev_cin7_pipeline.sandbox.datev.urls import EXTF_API

SCOPE = "datev:accounting:extf-files-import"
FILENAME_PATTERN = re.compile(r"EXTF_.{0,51}\.csv")
FILENAME_PATTERN_ANY_CASE = re.compile(r"EXTF_.{0,51}\.csv", re.IGNORECASE)
REFERENCE_PATTERN = re.compile(r"[-0-9A-Za-z_äöüÄÖÜß_. +?;]{0,254}")
MISSING_BODY, INVALID_HEADERS, INVALID_FILE, INVALID_PATH = 1008831, 1008832, 1008833, 1008835


def _bad_request(call: Call, code: int, title: str, detail: str, name: str) -> ApiError:
    affected = [{"name": name, "reason": detail}]
    return ApiError(problem(400, title, call.request_id, code=code, detail=detail, affected=affected))


def _check_client_path(call: Call) -> None:
    """400 `1008835` for a malformed client id, 404 for a client the user cannot access."""
    if not CLIENT_ID_PATTERN.fullmatch(call.params["client-id"]):
        detail = "Request-URI contains one or more invalid path segments. Path segment client-id is invalid"
        raise _bad_request(call, INVALID_PATH, "Invalid request URI path", detail, "client-id")
    if call.client() is None:
        raise ApiError(not_found(EXTF_API, call.request_id), "not found")


def _header_value(call: Call, name: str) -> str | None:
    """A header as sent: Starlette decodes header bytes as Latin-1, which is what `requests` encodes with."""
    return call.headers.get(name)


def _check_upload_headers(call: Call) -> tuple[str, str | None, str | None]:
    filename = _header_value(call, "Filename")
    if not filename:
        raise _bad_request(call, INVALID_HEADERS, "Invalid header fields", "Filename is empty", "Filename")
    pattern = FILENAME_PATTERN if call.config.extf_filename_case_sensitive else FILENAME_PATTERN_ANY_CASE
    if not pattern.fullmatch(filename):
        detail = "Filename must conform to following pattern'EXTF_.{0,51}.csv"
        raise _bad_request(call, INVALID_HEADERS, "Invalid header fields", detail, "Filename")
    values: list[str | None] = []
    for name in ("Reference-Id", "Client-Application-Version"):
        value = _header_value(call, name)
        if value is not None and not REFERENCE_PATTERN.fullmatch(value):
            detail = f"{name} must conform to following pattern'[-0-9A-Za-z_äöüÄÖÜß_. +\\\\?;]{{0,254}}"
            raise _bad_request(call, INVALID_HEADERS, "Invalid header fields", detail, name)
        values.append(value)
    return filename, values[0], values[1]


def import_file(call: Call) -> Response:
    _check_client_path(call)
    filename, reference_id, version = _check_upload_headers(call)
    media_type = call.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/octet-stream":
        raise ApiError(problem(415, "Unsupported Media Type", call.request_id))
    if not call.body:
        raise _bad_request(call, MISSING_BODY, "Invalid message-body", "Message body for request is missing", "body")
    if len(call.body) > call.config.extf_max_bytes:
        detail = f"File size exceeds {call.config.extf_max_bytes // (1024 * 1024)} MB"
        affected = [{"name": "body", "reason": detail}]
        raise ApiError(
            problem(413, "Invalid file", call.request_id, code=INVALID_FILE, detail=detail, affected=affected)
        )
    job = _accept(call, filename, reference_id, version)
    headers = {
        "Location": f"/clients/{job.client_id}/extf-files/jobs/{job.id}",
        "Retry-After": str(call.config.extf_retry_after_seconds),
    }
    return Response(status_code=202, headers=headers)


def _accept(call: Call, filename: str, reference_id: str | None, version: str | None) -> ExtfJob:
    client = call.client()
    assert client is not None  # checked by _check_client_path
    config = call.config
    check = check_extf_file(
        call.body, client.id, max_postings=config.extf_max_postings, row_rules=config.extf_row_checks
    )
    final = call.state.faults.take_extf_failure()
    if final is None and SERVICE_EXTF not in client.services:
        final = dict(MISSING_PERMISSION)
    if final is None:
        final = check.details
    oauth_client = config.oauth_client(call.grant.client_id)
    job = ExtfJob(
        id=str(uuid.uuid4()),
        client_id=client.id,
        filename=filename,
        reference_id=reference_id,
        application_version=version,
        display_name=oauth_client.display_name if oauth_client else call.grant.client_id,
        vendor=oauth_client.vendor if oauth_client else call.grant.client_id,
        received_at=call.now,
        due_at=call.now + config.extf_processing_seconds,
        check=check,
        final_details=final,
        size=len(call.body),
        sha256=sha256_hex(call.body),
    )
    call.state.jobs.extf[job.id] = job
    call.job_id = job.id
    call.state.capture.upload(
        call.now,
        EXTF_API.name,
        ("extf", safe_part(client.id), job.id, safe_part(filename)),
        call.body,
        client_id=client.id,
        filename=filename,
        reference_id=reference_id,
        job_id=job.id,
        rows=check.postings,
        encoding=check.encoding,
    )
    call.state.jobs.tick(call.now)
    return job


def list_jobs(call: Call) -> Response:
    _check_client_path(call)
    try:
        page = read_page(call.query)
    except PagingError as exc:
        affected = [{"name": exc.name, "reason": "Must be a positive integer"}]
        detail = "Paging parameters are invalid"
        refusal = problem(
            400, "Invalid query parameters", call.request_id, code=1008828, detail=detail, affected=affected
        )
        raise ApiError(refusal) from exc
    jobs = [job for job in call.state.jobs.extf.values() if job.client_id == call.params["client-id"]]
    jobs.sort(key=lambda job: job.received_at, reverse=True)
    body = [job.as_json() for job in jobs[page.skip : page.skip + page.top]]
    return json_response(body, 200, JSON_UTF8, page.headers(len(jobs)))


def get_job(call: Call) -> Response:
    _check_client_path(call)
    job = call.state.jobs.extf.get(call.params["job-id"])
    call.job_id = call.params["job-id"]
    call.status_read = True
    if job is None or job.client_id != call.params["client-id"]:
        raise ApiError(not_found(EXTF_API, call.request_id), "not found")
    return json_response(job.as_json(), 200, JSON_UTF8)


def operations() -> list[Operation]:
    api, scopes = EXTF_API, (SCOPE,)
    return [
        Operation(api, "POST", "/clients/{client-id}/extf-files/import", scopes, import_file),
        Operation(api, "GET", "/clients/{client-id}/extf-files/jobs", scopes, list_jobs),
        Operation(api, "GET", "/clients/{client-id}/extf-files/jobs/{job-id}", scopes, get_job),
    ]
