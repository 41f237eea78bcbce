"""DATEV's two error-body styles, and the answers every API gives alike (401, 403, 404, 405, 5xx).

accounting-clients and accounting-extf-files answer with RFC 7807 ProblemDetails (`type` =
`http://www.datev.de/hilfe/<code>`, `title`, `detail`, `affected_elements`, `request_id`, `status`) in
`application/json;charset=utf-8`. accounting-documents and accounting-dxso-jobs answer with
`{"error": "#DCO01xxx", "error_description": "restapi.<Name>Fault", "error_uri": ..., "request_id": ...}`
(FACTS.md §1.6). Endpoints raise `ApiError` with a finished response; the gateway sends it.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from datev_cin7_pipeline.sandbox.datev.urls import ApiInfo

JSON_UTF8 = "application/json;charset=utf-8"
"""The media type most 200 answers declare in the specs (spelled as they spell it)."""
PROBLEM_MEDIA_TYPE = JSON_UTF8
DCO_MEDIA_TYPE = "application/json"
HELP_URI = "http://www.datev.de/hilfe/"
DCO_HELP_URI = "https://apps.datev.de/knowledge/help/search?q="

DCO_FAULTS: dict[str, str] = {
    "DCO01001": "InvalidResourceModificationFault",
    "DCO01002": "InvalidDxsoImportTargetFault",
    "DCO01003": "InvalidDxsoJobIdFault",
    "DCO01004": "MultipartUploadFault",
    "DCO01005": "ScopeFault",
    "DCO01006": "InvalidDcoClientIdFault",
    "DCO01007": "InvalidDxsoJobStateFault",
    "DCO01008": "InvalidMessageBodyFault",
    "DCO01010": "InvalidDocumentTypeFault",
    "DCO01012": "KeyConflictFault",
    "DCO01013": "AuthentificationTypeFault",
    "DCO01015": "UnsupportedFileTypeFault",
    "DCO01016": "FileSizeFault",
    "DCO01017": "MissingMandatoryParameterFault",
    "DCO01018": "MissingMandatoryHeaderFault",
    "DCO01020": "ServiceNotAvailableFault",
    "DCO01127": "FileCountFault",
    "DCO01215": "UnsupportedFileTypeDuoNextFault",
    "DCO01216": "FileSizeDuoNextFault",
    "DCO01217": "MetadataParsingFault",
    "DCO01218": "UploadClientParsingFault",
    "DCO01219": "ContentTypeDoesNotMatchFileExtensionFault",
    "DCO01220": "FilesParameterIsMissingFault",
    "DCO01222": "FileNameTooLongFault",
    "DCO01223": "PropertyNoteTooLongFault",
    "DCO01224": "PropertyCategoryNameTooLongFault",
    "DCO01225": "PropertyFolderNameTooLongFault",
    "DCO01226": "PropertyRegisterNameTooLongFault",
    "DCO01227": "PropertyDocumentTypeTooLongFault",
    "DCO01232": "MultipleFilesUploadIsNotSupportedFault",
    "DCO01233": "DataNameIsMissingFault",
    "DCO01234": "WrongUuidFormatFault",
    "DCO01245": "PdfNotParseableFault",
    "DCO01252": "FilenameIsRequiredFault",
    "DCO01253": "DuplicateFileFault",
    "DCO01301": "RDS1UploadNotSupportedFault",
}


class ApiError(Exception):
    """An endpoint's refusal, carrying the finished response (and a short outcome for the call log)."""

    def __init__(self, response: Response, outcome: str = "error") -> None:
        super().__init__(f"{response.status_code} {outcome}")
        self.response = response
        self.outcome = outcome


def json_response(
    body: Any, status: int = 200, media_type: str = DCO_MEDIA_TYPE, headers: dict[str, str] | None = None
) -> Response:
    """JSON as DATEV writes it: UTF-8, umlauts unescaped, null fields left out by the callers."""
    return Response(json.dumps(body, ensure_ascii=False).encode("utf-8"), status, headers, media_type)


def problem(
    status: int,
    title: str,
    request_id: str,
    *,
    code: int | None = None,
    detail: str | None = None,
    affected: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An RFC 7807 body as accounting-clients and accounting-extf-files send it."""
    body: dict[str, Any] = {}
    if code is not None:
        body["type"] = f"{HELP_URI}{code}"
    body["title"] = title
    if detail is not None:
        body["detail"] = detail
    if affected:
        body["affected_elements"] = affected
    body["request_id"] = request_id
    body["status"] = status
    return json_response(body, status, PROBLEM_MEDIA_TYPE, headers)


def dco(status: int, code: str, request_id: str, headers: dict[str, str] | None = None) -> Response:
    """A `#DCO01xxx` body as accounting-documents and accounting-dxso-jobs send it."""
    body = {
        "error": f"#{code}",
        "error_description": f"restapi.{DCO_FAULTS[code]}",
        "error_uri": DCO_HELP_URI + code,
        "request_id": request_id,
    }
    return json_response(body, status, DCO_MEDIA_TYPE, headers)


def request_only(status: int, request_id: str) -> Response:
    """The bare `{"request_id": ...}` of documents/dxso 403 and 404 answers (no access, unknown client)."""
    return json_response({"request_id": request_id}, status, DCO_MEDIA_TYPE)


def unauthorized(api: ApiInfo | None, request_id: str, description: str) -> Response:
    """401 for a missing, unknown or expired access token or a missing X-DATEV-Client-Id.

    The specs document 401 without a body; the simulator adds one in the API's style so a log shows why,
    and RFC 6750's `WWW-Authenticate: Bearer` header.
    """
    headers = {"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{description}"'}
    if api is None or api.problem_details:
        return problem(401, "Unauthorized", request_id, detail=description, headers=headers)
    body = {"error": "invalid_token", "error_description": description, "request_id": request_id}
    return json_response(body, 401, DCO_MEDIA_TYPE, headers)


def wrong_client_id(api: ApiInfo, request_id: str) -> Response:
    """403 when X-DATEV-Client-Id is not the app the access token was issued to."""
    if api.problem_details:
        return problem(403, "Forbidden", request_id, detail="X-DATEV-Client-Id does not match the access token")
    return dco(403, "DCO01006", request_id)


def missing_scope(api: ApiInfo, scopes: list[str], request_id: str) -> Response:
    if api.problem_details:
        detail = "Missing scope(s) are: " + ", ".join(scopes)
        return problem(403, "Missing required scope", request_id, code=1008829, detail=detail)
    return dco(403, "DCO01005", request_id)


def not_found(api: ApiInfo, request_id: str) -> Response:
    if api.problem_details:
        return problem(404, "Not Found", request_id, detail="The specified resource was not found.")
    return request_only(404, request_id)


def method_not_allowed(api: ApiInfo, request_id: str) -> Response:
    if api.problem_details:
        return problem(405, "Method Not Allowed", request_id)
    return json_response({"request_id": request_id}, 405)


def server_error(api: ApiInfo | None, status: int, request_id: str) -> Response:
    """An injected 5xx: a JSON body from the API itself (500), or a gateway's HTML page (502, 504)."""
    if status in (502, 504):
        title = "502 Bad Gateway" if status == 502 else "504 Gateway Time-out"
        page = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
        return Response(page.encode(), status, media_type="text/html")
    if status == 503:
        return service_unavailable(api, request_id, None)
    if api is None or api.problem_details:
        return problem(status, "Internal Server Error", request_id)
    return json_response({"request_id": request_id}, status)


def service_unavailable(api: ApiInfo | None, request_id: str, retry_after: int | None) -> Response:
    """503 maintenance: ProblemDetails, or `#DCO01020 ServiceNotAvailableFault`; `Retry-After` if given."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    if api is None or api.problem_details:
        return problem(503, "Service Unavailable", request_id, headers=headers)
    return dco(503, "DCO01020", request_id, headers)


def too_many_requests(api: ApiInfo | None, request_id: str, retry_after: int | None) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    if api is None or api.problem_details:
        return problem(429, "Too Many Requests", request_id, headers=headers)
    return json_response({"request_id": request_id}, 429, headers=headers)
