"""Clients for DATEV's four accounting APIs: clients, documents, EXTF files and DXSO jobs.

Every call carries the Bearer token and `X-DATEV-Client-Id` (the app's OAuth client id), has a timeout,
retries 503 maintenance and 5xx a bounded number of times honouring `Retry-After`, and refreshes the access
token once on a 401. Errors come back as `DatevApiError` with DATEV's own code (`#DCO01xxx` or `10088xx`)
and a sentence a person can act on. Uploads are never retried blindly: DATEV does not deduplicate EXTF
files, so an unclear failure is resolved by looking the job up by its `Reference-Id`.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import random
import re
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from datev_cin7_pipeline.datev.endpoints import DatevEndpoints
from datev_cin7_pipeline.datev.oauth import DatevTokens
from datev_cin7_pipeline.errors import ConnectorError
from datev_cin7_pipeline.redaction import redact_json

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
MAX_EXTF_BYTES = 50 * 1024 * 1024
SAFE_METHODS = frozenset({"GET", "HEAD"})
# DATEV's file-name rules for documents (FACTS §2): these characters, precomposed, at most 255.
_DOCUMENT_NAME = re.compile(r"^[ &()+\-._0-9A-Za-zÀ-ÖØ-öø-ÿ]{1,255}$")

# What DATEV's document error codes mean, in words a finance team can act on (FACTS §2, §4.3).
DCO_MESSAGES = {
    "#DCO01002": "the client is not set up for this DXSO import",
    "#DCO01003": "the DXSO job id is not valid",
    "#DCO01004": "the upload was not a valid multipart request",
    "#DCO01005": "the login lacks the scope for this request",
    "#DCO01006": "the client id is not valid",
    "#DCO01007": "the DXSO job is already finalised",
    "#DCO01008": "the request body is not valid",
    "#DCO01009": "the client's accounting basic data is not valid",
    "#DCO01010": "the document type is not defined for this client",
    "#DCO01012": "a document with this id already exists",
    "#DCO01013": "the app is not allowed to make this request",
    "#DCO01015": "the file type is not supported",
    "#DCO01016": "the file is larger than 20 MB",
    "#DCO01017": "a required parameter is missing",
    "#DCO01018": "a required header is missing",
    "#DCO01019": "the client has no valid document store (Belegbestand)",
    "#DCO01215": "the client accepts only GIF, JPEG, PNG, TIFF, XML and PDF files",
    "#DCO01216": "the file is larger than 20 MB",
    "#DCO01217": "the metadata could not be read",
    "#DCO01218": "the custom metadata could not be read",
    "#DCO01219": "the content type does not match the file extension",
    "#DCO01220": "no file was sent",
    "#DCO01222": "the file name is longer than 255 characters",
    "#DCO01231": "uploads are not possible while document approval (Belegfreigabe) is active",
    "#DCO01232": "more than 10 files in one stapled upload",
    "#DCO01234": "the document id is not a GUID DATEV accepts",
    "#DCO01243": "a virus was found in the file",
    "#DCO01245": "the PDF could not be read",
    "#DCO01253": "the same file already exists in Belege online",
    "#DCO01301": "the client uses the new Belege online, which takes no DXSO uploads (Rechnungsdatenservice 1.0)",
}


class DatevApiError(ConnectorError):
    def __init__(self, message: str, *, status: int, code: str = "", details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.details = details


class DatevUnclearError(DatevApiError):
    """The connection broke after the request was sent: DATEV may or may not have acted on it."""


@dataclass(frozen=True)
class DocumentUpload:
    guid: str
    created: bool  # False: DATEV already had this GUID (409), which for us is success
    response: Any = None


@dataclass(frozen=True)
class ExtfSubmission:
    job_id: str
    retry_after: float | None


@dataclass(frozen=True)
class ExtfJob:
    id: str
    result: str  # pending | succeeded | failed
    reference_id: str = ""
    filename: str = ""
    number_of_accounting_records: int | None = None
    validation_details: Any = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.result in ("succeeded", "failed")


@dataclass(frozen=True)
class DxsoJobStatus:
    id: str
    status: int  # 0 open … 6 (FACTS §4.2)

    FINISHED = frozenset({2, 3, 4, 5, 6})

    @property
    def finished(self) -> bool:
        return self.status in self.FINISHED


@dataclass
class CallCounter:
    calls: int = 0
    status_reads: dict[str, int] = field(default_factory=dict)


class DatevApi:
    def __init__(
        self,
        tokens: DatevTokens,
        endpoints: DatevEndpoints,
        *,
        timeout: float = 60.0,
        retries: int = 3,
        max_retry_after: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
        http: requests.Session | None = None,
    ) -> None:
        self.tokens = tokens
        self.endpoints = endpoints
        self.timeout = timeout
        self.retries = retries
        self.max_retry_after = max_retry_after
        self.sleep = sleep
        self.http = http or requests.Session()
        self.counter = CallCounter()

    # --- accounting-clients ------------------------------------------------------------------------

    def list_clients(self) -> list[dict[str, Any]]:
        return list(self._paged(self.endpoints.accounting_clients, "/clients"))

    def get_client(self, client_id: str) -> dict[str, Any]:
        return dict(self._json("GET", self.endpoints.accounting_clients, f"/clients/{client_id}"))

    def check_access(self, client_id: str, needed_service: str) -> dict[str, Any]:
        """DATEV requires checking the pair is accessible before any transfer; say clearly when it is not."""
        try:
            client = self.get_client(client_id)
        except DatevApiError as exc:
            if exc.status in (403, 404):
                raise DatevApiError(
                    f"The DATEV login has no access to client {client_id}; ask the tax advisor to grant it.",
                    status=exc.status,
                    code=exc.code,
                ) from None
            raise
        services = {str(s.get("name")) for s in client.get("services") or []}
        if needed_service not in services:
            raise DatevApiError(
                f"DATEV client {client_id} does not have the service {needed_service!r} "
                f"(it has: {', '.join(sorted(services)) or 'none'}); ask the tax advisor to book it.",
                status=403,
            )
        return client

    # --- accounting-documents ----------------------------------------------------------------------

    def document_types(self, client_id: str) -> list[dict[str, Any]]:
        return list(self._json("GET", self.endpoints.accounting_documents, f"/clients/{client_id}/document-types"))

    def allowed_extensions(self, client_id: str) -> list[str]:
        body = self._json("GET", self.endpoints.accounting_documents, f"/clients/{client_id}/duo-version")
        return [str(ext).lower().lstrip(".") for ext in body.get("allowed_file_extensions") or []]

    def upload_document(
        self,
        client_id: str,
        guid: str,
        *,
        file_name: str,
        content: bytes,
        document_type: str,
        note: str = "",
        media_type: str = "application/pdf",
    ) -> DocumentUpload:
        """`PUT …/documents/{guid}`: our deterministic GUID makes a repeat harmless (409 = already there)."""
        check_document_file_name(file_name)
        if len(content) > MAX_DOCUMENT_BYTES:
            raise DatevApiError(f"{file_name} is larger than 20 MB, the most DATEV accepts.", status=400)
        # DATEV refuses decomposed Unicode anywhere in the metadata (#DCO01008); the note holds at most 255
        # characters (FACTS §2), counted after composing.
        metadata = {"document_type": unicodedata.normalize("NFC", document_type)}
        if note:
            metadata["note"] = unicodedata.normalize("NFC", note)[:255]
        files = {
            "file": (file_name, content, media_type),
            "metadata": (None, json.dumps(metadata), "application/json"),
        }
        url = self._url(self.endpoints.accounting_documents, f"/clients/{client_id}/documents/{guid}")
        # Safe to repeat after a broken connection: the same GUID again is a 409, never a second document.
        response = self._send("PUT", url, files=files, unsafe=False, accept=(201, 409))
        if response.status_code == 409:
            return DocumentUpload(guid=guid, created=False)
        return DocumentUpload(guid=guid, created=True, response=_json_or_none(response))

    # --- accounting-extf-files ---------------------------------------------------------------------

    def submit_extf(self, client_id: str, *, filename: str, reference_id: str, content: bytes) -> ExtfSubmission:
        if len(content) > MAX_EXTF_BYTES:
            raise DatevApiError(f"{filename} is larger than 50 MB, the most DATEV accepts.", status=413)
        url = self._url(self.endpoints.accounting_extf_files, f"/clients/{client_id}/extf-files/import")
        response = self._send(
            "POST",
            url,
            data=content,
            headers={
                "Filename": filename,
                "Reference-Id": reference_id,
                "Content-Type": "application/octet-stream",
                "Client-Application-Version": "datev-cin7-pipeline",
            },
            unsafe=True,
            accept=(202,),
        )
        location = response.headers.get("Location", "")
        job_id = location.rstrip("/").rsplit("/", 1)[-1]
        if not job_id:
            raise DatevApiError("DATEV accepted the EXTF file but named no job (no Location header).", status=202)
        return ExtfSubmission(job_id=job_id, retry_after=_retry_after(response))

    def extf_job(self, client_id: str, job_id: str) -> ExtfJob:
        self.counter.status_reads[job_id] = self.counter.status_reads.get(job_id, 0) + 1
        body = self._json("GET", self.endpoints.accounting_extf_files, f"/clients/{client_id}/extf-files/jobs/{job_id}")
        return _extf_job(body)

    def extf_jobs(self, client_id: str) -> Iterator[ExtfJob]:
        for body in self._paged(self.endpoints.accounting_extf_files, f"/clients/{client_id}/extf-files/jobs"):
            yield _extf_job(body)

    def find_extf_job(self, client_id: str, reference_id: str) -> ExtfJob | None:
        """After an unclear failure: did DATEV take the file? (It keeps no duplicate check of its own.)"""
        return next((job for job in self.extf_jobs(client_id) if job.reference_id == reference_id), None)

    # --- accounting-dxso-jobs ----------------------------------------------------------------------

    def create_dxso_job(self, client_id: str, *, import_type: str, accounting_month: str) -> dict[str, Any]:
        url = self._url(self.endpoints.accounting_dxso_jobs, f"/clients/{client_id}/dxso-jobs")
        response = self._send(
            "POST",
            url,
            json_body={"import_type": import_type, "accounting_month": accounting_month},
            unsafe=True,
            accept=(201,),
        )
        return dict(_json_or_none(response) or {})

    def upload_dxso_file(self, client_id: str, job_id: str, *, file_name: str, content: bytes, media_type: str) -> None:
        url = self._url(self.endpoints.accounting_dxso_jobs, f"/clients/{client_id}/dxso-jobs/{job_id}/files")
        self._send("POST", url, files={"files": (file_name, content, media_type)}, unsafe=True, accept=(201,))

    def finalize_dxso_job(self, client_id: str, job_id: str) -> None:
        url = self._url(self.endpoints.accounting_dxso_jobs, f"/clients/{client_id}/dxso-jobs/{job_id}")
        self._send(
            "PUT",
            url,
            data=b'{"ready": "true"}',
            headers={"Content-Type": "application/merge-patch+json"},
            unsafe=False,  # finalising twice is refused by DATEV (#DCO01007), never doubled
            accept=(204,),
        )

    def dxso_job(self, client_id: str, job_id: str) -> DxsoJobStatus:
        self.counter.status_reads[job_id] = self.counter.status_reads.get(job_id, 0) + 1
        body = self._json("GET", self.endpoints.accounting_dxso_jobs, f"/clients/{client_id}/dxso-jobs/{job_id}")
        return DxsoJobStatus(id=str(body.get("id", job_id)), status=int(body.get("status", 0)))

    def dxso_protocol(self, client_id: str, job_id: str) -> list[dict[str, Any]]:
        path = f"/clients/{client_id}/dxso-jobs/{job_id}/protocol-entries"
        return list(self._json("GET", self.endpoints.accounting_dxso_jobs, path) or [])

    def cancel_dxso_job(self, client_id: str, job_id: str) -> None:
        url = self._url(self.endpoints.accounting_dxso_jobs, f"/clients/{client_id}/dxso-jobs/{job_id}")
        self._send("DELETE", url, unsafe=False, accept=(204,))

    # --- plumbing ----------------------------------------------------------------------------------

    def _url(self, base: str, path: str) -> str:
        return base.rstrip("/") + path

    def _json(self, method: str, base: str, path: str, params: Mapping[str, Any] | None = None) -> Any:
        response = self._send(method, self._url(base, path), params=params, unsafe=False)
        return _json_or_none(response)

    def _paged(self, base: str, path: str) -> Iterator[dict[str, Any]]:
        skip, top = 0, 100
        while True:
            response = self._send("GET", self._url(base, path), params={"skip": skip, "top": top}, unsafe=False)
            items = _json_or_none(response) or []
            if isinstance(items, dict):  # some lists come wrapped
                items = next((v for v in items.values() if isinstance(v, list)), [])
            yield from items
            total = response.headers.get("Total-Items", "")
            skip += len(items)
            if not items or len(items) < top or (total.isdigit() and skip >= int(total)):
                return

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: bytes | None = None,
        json_body: Any = None,
        files: Any = None,
        headers: Mapping[str, str] | None = None,
        unsafe: bool,
        accept: tuple[int, ...] = (200,),
    ) -> requests.Response:
        attempts = 0
        refreshed = False
        while True:
            attempts += 1
            token = self.tokens.access_token()
            request_headers = {
                "Authorization": f"Bearer {token.reveal()}",
                "X-DATEV-Client-Id": self.tokens.client.client_id,
                "Accept": "application/json",
                **(headers or {}),
            }
            self.counter.calls += 1
            try:
                response = self.http.request(
                    method,
                    url,
                    params=params,
                    data=data,
                    json=json_body,
                    files=files,
                    headers=request_headers,
                    timeout=self.timeout,
                    allow_redirects=False,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                if unsafe:
                    raise DatevUnclearError(
                        f"The connection to DATEV broke during {method} {_path(url)}; DATEV may have received it.",
                        status=0,
                    ) from exc
                if attempts > self.retries:
                    raise DatevApiError(
                        f"DATEV could not be reached for {method} {_path(url)} after {attempts} attempts.", status=0
                    ) from exc
                self.sleep(_backoff(attempts))
                continue
            status = response.status_code
            if status in accept:
                return response
            if status == 401 and not refreshed:
                refreshed = True
                self.tokens.access_token(force_refresh=True)
                attempts -= 1
                continue
            if status == 503 or (status >= 500 and not unsafe):
                if attempts > self.retries:
                    raise _error(response, method, url)
                wait = _retry_after(response)
                self.sleep(min(wait, self.max_retry_after) if wait is not None else _backoff(attempts))
                continue
            raise _error(response, method, url)


def check_document_file_name(name: str) -> None:
    """DATEV's rules for document file names (FACTS §2): refuse what DATEV would refuse or mangle."""
    if unicodedata.normalize("NFC", name) != name:
        raise DatevApiError(f"The file name {name!r} has decomposed umlauts; DATEV needs them precomposed.", status=400)
    if not _DOCUMENT_NAME.match(name):
        raise DatevApiError(
            f"The file name {name!r} has characters DATEV does not allow or is longer than 255.", status=400
        )


def _extf_job(body: Any) -> ExtfJob:
    return ExtfJob(
        id=str(body.get("id", "")),
        result=str(body.get("result", "")),
        reference_id=str(body.get("reference_id") or ""),
        filename=str(body.get("filename") or ""),
        number_of_accounting_records=body.get("number_of_accounting_records"),
        validation_details=body.get("validation_details"),
        raw=dict(body),
    )


def _json_or_none(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url).split("?")[0]


def _error(response: requests.Response, method: str, url: str) -> DatevApiError:
    body = redact_json(_json_or_none(response))
    status = response.status_code
    code, detail = "", ""
    if isinstance(body, dict):
        if str(body.get("error", "")).startswith("#DCO"):
            code = str(body["error"])
            detail = DCO_MESSAGES.get(code, str(body.get("error_description", "")))
        else:
            code = str(body.get("type", "")).rsplit("/", 1)[-1] if body.get("type") else ""
            detail = str(body.get("detail") or body.get("title") or "")
    if status == 503:
        detail = detail or "DATEV is in maintenance"
    label = f"{code} " if code else ""
    return DatevApiError(
        f"DATEV refused {method} {_path(url)} ({status} {label}".rstrip()
        + ")"
        + (f": {detail}" if detail else "")
        + ".",
        status=status,
        code=code,
        details=body,
    )


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def _backoff(attempt: int) -> float:
    return min(30.0, 2.0 ** (attempt - 1)) * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not crypto
