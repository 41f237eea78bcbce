"""accounting-dxso-jobs v2 (Rechnungsdatenservice 1.0): create a job, upload files singly, finalize, poll.

Lifecycle (FACTS §4): `POST /clients/{id}/dxso-jobs` with `{"import_type", "accounting_month"}` (both or
neither) → 201 `{id, account_length, ledger_folder_names | cash_ledger_names}`; `POST .../{job-id}/files`,
one multipart part `files` per request → 201 `{}`; `PUT .../{job-id}` with
`Content-Type: application/merge-patch+json` and `{"ready": "true"}` → 204, status 1; after
`dxso_processing_seconds` the job ends 2, 3 or 4 (see `dxso_package`) with protocol entries;
`DELETE .../{job-id}` cancels a job that is still open (status 0) and deletes everything (later reads 404).

Refusals: `#DCO01002` (client not set up: no "Rechnungsdatenservice 1.0", no Belege online, no ledger for
the month), `#DCO01301` (client on the new Belege online, "DuoNext"), `#DCO01017` (only one of the two
parameters), `#DCO01008` (unreadable body or wrong content type), `#DCO01003` (unknown job on upload),
`#DCO01007` (job already finalized), `#DCO01001` (`ready` not "true", or a second, different file under a
name already uploaded), plus the file rules of `uploads`. Re-sending the identical file is accepted once.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import date
from typing import Any

from starlette.responses import Response

from datev_cin7_pipeline.sandbox.datev.capture import safe_part
from datev_cin7_pipeline.sandbox.datev.config import SERVICE_DXSO, FiscalYear, SimClient
from datev_cin7_pipeline.sandbox.datev.directory import berlin_date, client_basics, client_summary, fiscal_years
from datev_cin7_pipeline.sandbox.datev.documents_api import allowed_extensions
from datev_cin7_pipeline.sandbox.datev.errors import JSON_UTF8, ApiError, json_response, request_only
from datev_cin7_pipeline.sandbox.datev.jobs import DxsoFile, DxsoJob
from datev_cin7_pipeline.sandbox.datev.multipart import MultipartError, parse_multipart
from datev_cin7_pipeline.sandbox.datev.routing import Call, Operation
from datev_cin7_pipeline.sandbox.datev.uploads import accept_file, refuse
from datev_cin7_pipeline.sandbox.datev.urls import DXSO_API

READ_SCOPE = "accounting:clients:read"
JOBS_SCOPE = "accounting:dxso-jobs"
IMPORT_TYPES = ("accountsPayableLedgerImport", "accountsReceivableLedgerImport", "cashLedgerImport")
_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


def _client(call: Call) -> SimClient:
    client = call.client()
    if client is None:
        raise ApiError(request_only(404, call.request_id), "not found")
    return client


def list_clients(call: Call) -> Response:
    if not call.config.clients:
        raise ApiError(request_only(404, call.request_id), "no clients")
    return json_response([client_summary(c) for c in call.config.clients], 200, JSON_UTF8)


def get_client(call: Call) -> Response:
    return json_response(client_basics(_client(call), berlin_date(call.now)), 200, JSON_UTF8)


def create_job(call: Call) -> Response:
    client = _client(call)
    media_type = call.headers.get("content-type", "").split(";")[0].strip().lower()
    if call.body.strip() and media_type != "application/json":
        raise refuse("DCO01008", call.request_id)
    import_type, month = _creation_info(call)
    if SERVICE_DXSO not in client.services or not client.document_management:
        raise refuse("DCO01002", call.request_id)
    if client.duo_version == "DuoNext":
        raise refuse("DCO01301", call.request_id)
    job = DxsoJob(
        id=uuid.uuid4().hex.upper(),
        client_id=client.id,
        consultant_number=client.consultant_number,
        client_number=client.client_number,
        import_type=import_type,
        accounting_month=month,
        created_at=call.now,
    )
    if import_type is not None and month is not None:
        year = _fiscal_year_for(call, client, import_type, month)
        job.account_length = year.account_length
        if import_type == "cashLedgerImport":
            job.cash_ledger_names = client.cash_ledger_names
        elif import_type == "accountsPayableLedgerImport":
            job.ledger_folder_names = client.payable_folder_names
        else:
            job.ledger_folder_names = client.receivable_folder_names
    call.state.jobs.dxso[job.id] = job
    call.job_id = job.id
    return json_response(job.creation_json(), 201, JSON_UTF8)


def _creation_info(call: Call) -> tuple[str | None, str | None]:
    """`import_type` and `accounting_month` (YYYY-MM): both or neither (#DCO01017), valid (#DCO01008)."""
    if not call.body.strip():
        return None, None
    try:
        info = json.loads(call.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise refuse("DCO01008", call.request_id) from exc
    if not isinstance(info, dict) or set(info) - {"import_type", "accounting_month"}:
        raise refuse("DCO01008", call.request_id)
    import_type, month = info.get("import_type"), info.get("accounting_month")
    if (import_type is None) != (month is None):
        raise refuse("DCO01017", call.request_id)
    if import_type is not None and (import_type not in IMPORT_TYPES or not isinstance(month, str)):
        raise refuse("DCO01008", call.request_id)
    if month is not None and not _MONTH.fullmatch(month):
        raise refuse("DCO01008", call.request_id)
    return import_type, month


def _fiscal_year_for(call: Call, client: SimClient, import_type: str, month: str) -> FiscalYear:
    """The fiscal year holding the month with the needed ledger; DATEV makes the next year (not for cash)."""
    first = date(int(month[:4]), int(month[5:]), 1)
    years = fiscal_years(client, berlin_date(call.now))
    year = next((y for y in years if y.start <= first <= y.end), None)
    if year is None and import_type != "cashLedgerImport":
        previous = max(years, key=lambda y: y.end, default=None)
        if previous is not None and previous.end < first <= date(previous.end.year + 1, previous.end.month, 28):
            year = previous
    if year is None or not _ledger_available(year, import_type):
        raise refuse("DCO01002", call.request_id)
    return year


def _ledger_available(year: FiscalYear, import_type: str) -> bool:
    return {
        "accountsPayableLedgerImport": year.accounts_payable_ledger,
        "accountsReceivableLedgerImport": year.accounts_receivable_ledger,
        "cashLedgerImport": year.cash_ledger,
    }[import_type]


def _job(call: Call, *, unknown_code: str | None = None) -> DxsoJob:
    """The job of the path; unknown → #DCO01003 (uploads) or 404 (everything else)."""
    client = _client(call)
    call.job_id = call.params["job-id"]
    job = call.state.jobs.dxso.get(call.params["job-id"])
    if job is None or job.client_id != client.id:
        if unknown_code:
            raise refuse(unknown_code, call.request_id)
        raise ApiError(request_only(404, call.request_id), "not found")
    return job


def upload_file(call: Call) -> Response:
    job = _job(call, unknown_code="DCO01003")
    if job.status != 0:
        raise refuse("DCO01007", call.request_id)
    client = _client(call)
    try:
        parts = parse_multipart(call.headers.get("content-type", ""), call.body)
    except MultipartError as exc:
        raise refuse("DCO01004", call.request_id) from exc
    file_parts = [part for part in parts if part.name == "files"]
    if len(file_parts) != 1:
        raise refuse("DCO01004", call.request_id)
    accepted = accept_file(
        file_parts[0], client, allowed_extensions(client), call.config.document_max_bytes, call.request_id
    )
    existing = job.files.get(accepted.name)
    if existing is not None:
        if existing.sha256 != accepted.sha256:
            raise refuse("DCO01001", call.request_id)
        return json_response({}, 201)
    job.files[accepted.name] = DxsoFile(
        accepted.name, accepted.sent_name, accepted.media_type, len(accepted.data), accepted.sha256, accepted.data
    )
    job.add_protocol(call.now, "information", "wurde empfangen!", accepted.name, None)
    call.state.capture.upload(
        call.now,
        DXSO_API.name,
        ("dxso", safe_part(client.id), job.id, safe_part(accepted.name)),
        accepted.data,
        client_id=client.id,
        filename=accepted.name,
        sent_filename=accepted.sent_name,
        job_id=job.id,
    )
    return json_response({}, 201)


def finalize(call: Call) -> Response:
    job = _job(call)
    media_type = call.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/merge-patch+json":
        raise refuse("DCO01008", call.request_id)
    try:
        patch: Any = json.loads(call.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise refuse("DCO01008", call.request_id) from exc
    if not isinstance(patch, dict):
        raise refuse("DCO01008", call.request_id)
    if job.status != 0:
        raise refuse("DCO01007", call.request_id)
    if patch.get("ready") != "true":
        raise refuse("DCO01001", call.request_id)
    job.status = 1
    job.finalized_at = call.now
    job.due_at = call.now + call.config.dxso_processing_seconds
    job.forced = call.state.faults.take_dxso_failure()
    call.state.jobs.tick(call.now)
    return Response(status_code=204)


def get_status(call: Call) -> Response:
    job = _job(call)
    call.status_read = True
    return json_response(job.status_json(), 200, JSON_UTF8)


def protocol_entries(call: Call) -> Response:
    job = _job(call)
    return json_response(job.protocol, 200, JSON_UTF8)


def cancel(call: Call) -> Response:
    job = _job(call)
    if job.status != 0:
        raise refuse("DCO01007", call.request_id)
    del call.state.jobs.dxso[job.id]
    call.state.capture.final(call.now, DXSO_API.name, client_id=job.client_id, job_id=job.id, status="cancelled")
    return Response(status_code=204)


def operations() -> list[Operation]:
    api, read, jobs = DXSO_API, (READ_SCOPE,), (JOBS_SCOPE,)
    job = "/clients/{client-id}/dxso-jobs/{job-id}"
    return [
        Operation(api, "GET", "/clients", read, list_clients),
        Operation(api, "GET", "/clients/{client-id}", read, get_client),
        Operation(api, "POST", "/clients/{client-id}/dxso-jobs", jobs, create_job),
        Operation(api, "POST", job + "/files", jobs, upload_file),
        Operation(api, "GET", job, jobs, get_status),
        Operation(api, "PUT", job, jobs, finalize),
        Operation(api, "DELETE", job, jobs, cancel),
        Operation(api, "GET", job + "/protocol-entries", jobs, protocol_entries),
    ]
