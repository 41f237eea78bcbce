"""accounting-documents v2 (Belegbilderservice): clients, document types, permitted extensions, uploads.

`PUT /clients/{client-id}/documents/{document-id}` is the pipeline's route: a deterministic GUID makes the
upload idempotent, because a GUID already used answers 409 `#DCO01012 KeyConflictFault` (FACTS §2). The
simulator checks, in this order: the client (404 unknown, 403 without "Belegbilderservice"), the GUID
(canonical 8-4-4-4-12 hex, RFC 4122 variant, versions 1-8, else 400 `#DCO01234`), the GUID not yet used
(409), then the multipart body: part `file` (one), optional `metadata` and `custom_metadata` parts holding
JSON objects, then the file rules of `uploads`. `POST .../documents` (DATEV picks the id) and
`PUT .../documents/stapled` (part `files`, up to 10, stapled in order) share the same checks.

A file that is byte-identical to one already stored for the client under the same name and document type
is refused with `#DCO01253 DuplicateFileFault` (Belege online's duplicate check; `detect_duplicate_files`).
The spec has no endpoint to read a document back; `GET /_sim/documents` shows what was stored.
"""

from __future__ import annotations

import json
import re
import unicodedata
import uuid
from typing import Any

from starlette.responses import Response

from datev_cin7_pipeline.sandbox.datev.capture import safe_part
from datev_cin7_pipeline.sandbox.datev.config import (
    DUO_NEXT_EXTENSIONS,
    DUO_NOW_EXTENSIONS,
    SERVICE_DOCUMENTS,
    STAPLE_EXTENSIONS,
    SimClient,
)
from datev_cin7_pipeline.sandbox.datev.directory import berlin_date, client_basics, client_summary
from datev_cin7_pipeline.sandbox.datev.errors import JSON_UTF8, ApiError, json_response, request_only
from datev_cin7_pipeline.sandbox.datev.jobs import iso_berlin
from datev_cin7_pipeline.sandbox.datev.multipart import MultipartError, Part, parse_multipart
from datev_cin7_pipeline.sandbox.datev.routing import Call, Operation
from datev_cin7_pipeline.sandbox.datev.state import StoredDocument, StoredFile
from datev_cin7_pipeline.sandbox.datev.uploads import AcceptedFile, accept_file, refuse
from datev_cin7_pipeline.sandbox.datev.urls import DOCUMENTS_API

READ_SCOPE = "accounting:clients:read"
DOCUMENTS_SCOPE = "accounting:documents"
MAX_STAPLED_FILES = 10
GUID_PATTERN = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}")
METADATA_LIMITS = {
    "document_type": (30, "DCO01227"),
    "note": (255, "DCO01223"),
    "category": (30, "DCO01224"),
    "folder": (30, "DCO01225"),
    "register": (30, "DCO01226"),
}
REPOSITORY_LEVELS = ("category", "folder", "register")


def allowed_extensions(client: SimClient, stapled: bool = False) -> tuple[str, ...]:
    if stapled:
        return STAPLE_EXTENSIONS
    return DUO_NEXT_EXTENSIONS if client.duo_version == "DuoNext" else DUO_NOW_EXTENSIONS


def list_clients(call: Call) -> Response:
    if not call.config.clients:
        raise ApiError(request_only(404, call.request_id), "no clients")
    return json_response([client_summary(c) for c in call.config.clients], 200, JSON_UTF8)


def _client(call: Call, *, needs_service: bool) -> SimClient:
    client = call.client()
    if client is None:
        raise ApiError(request_only(404, call.request_id), "not found")
    if needs_service and SERVICE_DOCUMENTS not in client.services:
        raise ApiError(request_only(403, call.request_id), "no access")
    return client


def get_client(call: Call) -> Response:
    client = _client(call, needs_service=False)
    return json_response(client_basics(client, berlin_date(call.now)))


def document_types(call: Call) -> Response:
    client = _client(call, needs_service=True)
    body = []
    for kind in client.document_types:
        entry = {"name": kind.name, "category": kind.category}
        if kind.debit_credit_identifier:
            entry["debit_credit_identifier"] = kind.debit_credit_identifier
        body.append(entry)
    return json_response(body)


def duo_version(call: Call) -> Response:
    client = _client(call, needs_service=False)
    body = {
        "allowed_file_extensions": list(allowed_extensions(client)),
        "allowed_staple_file_extensions": list(allowed_extensions(client, stapled=True)),
        "staple_logic": "logically",
    }
    return json_response(body)


def put_document(call: Call) -> Response:
    client = _client(call, needs_service=True)
    document_id = call.params["document-id"]
    if not GUID_PATTERN.fullmatch(document_id):
        raise refuse("DCO01234", call.request_id)
    if call.state.document(client.id, document_id) is not None:
        raise ApiError(refuse("DCO01012", call.request_id, 409).response, "conflict")
    return _upload(call, client, document_id, stapled=False, route="put")


def post_document(call: Call) -> Response:
    client = _client(call, needs_service=True)
    return _upload(call, client, str(uuid.uuid4()).upper(), stapled=False, route="post")


def put_stapled(call: Call) -> Response:
    client = _client(call, needs_service=True)
    return _upload(call, client, str(uuid.uuid4()).upper(), stapled=True, route="stapled")


def _upload(call: Call, client: SimClient, document_id: str, *, stapled: bool, route: str) -> Response:
    try:
        parts = parse_multipart(call.headers.get("content-type", ""), call.body)
    except MultipartError as exc:
        raise refuse("DCO01004", call.request_id) from exc
    file_parts = [part for part in parts if part.name == ("files" if stapled else "file")]
    if not file_parts:
        raise refuse("DCO01220", call.request_id)
    if not stapled and len(file_parts) > 1:
        raise refuse("DCO01004", call.request_id)
    if len(file_parts) > MAX_STAPLED_FILES:
        raise refuse("DCO01232", call.request_id)
    metadata = _metadata(call, client, _json_part(parts, "metadata", "DCO01217", call.request_id))
    custom = _custom_metadata(call, _json_part(parts, "custom_metadata", "DCO01218", call.request_id))
    extensions = allowed_extensions(client, stapled)
    limit = call.config.document_max_bytes
    files = [accept_file(part, client, extensions, limit, call.request_id) for part in file_parts]
    if sum(len(f.data) for f in files) > limit:
        raise refuse("DCO01216" if client.duo_version == "DuoNext" else "DCO01016", call.request_id)
    document_type = metadata.get("document_type") or None
    if call.config.detect_duplicate_files and _is_duplicate(call, client, files, document_type):
        raise refuse("DCO01253", call.request_id)
    document = _store(call, client, document_id, files, metadata, custom, route)
    return json_response(document.as_json(), 201)


def _json_part(parts: list[Part], name: str, code: str, request_id: str) -> dict[str, Any] | None:
    found = [part for part in parts if part.name == name]
    if not found:
        return None
    if len(found) > 1:
        raise refuse(code, request_id)
    try:
        value = json.loads(found[0].data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise refuse(code, request_id) from exc
    if not isinstance(value, dict):
        raise refuse(code, request_id)
    return value


def _metadata(call: Call, client: SimClient, value: dict[str, Any] | None) -> dict[str, Any]:
    """`metadata`: known keys only, strings, DATEV's length limits, precomposed text, all three levels or none."""
    if value is None:
        return {}
    if set(value) - set(METADATA_LIMITS) or not all(isinstance(v, str) for v in value.values()):
        raise refuse("DCO01217", call.request_id)
    for key, (limit, code) in METADATA_LIMITS.items():
        if len(value.get(key, "")) > limit:
            raise refuse(code, call.request_id)
    if any(not unicodedata.is_normalized("NFC", text) for text in value.values()):
        raise refuse("DCO01008", call.request_id)
    levels = [bool(value.get(level)) for level in REPOSITORY_LEVELS]
    if any(levels) and not all(levels):
        raise refuse("DCO01217", call.request_id)
    document_type = value.get("document_type", "")
    if document_type and document_type not in {kind.name for kind in client.document_types}:
        raise refuse("DCO01010", call.request_id)
    return value


def _custom_metadata(call: Call, value: dict[str, Any] | None) -> dict[str, Any] | None:
    """`custom_metadata`: `sequence_first_guid` (a GUID) and `sequence_position` (an integer), both optional."""
    if value is None:
        return None
    guid = value.get("sequence_first_guid")
    position = value.get("sequence_position")
    if set(value) - {"sequence_first_guid", "sequence_position"}:
        raise refuse("DCO01218", call.request_id)
    if guid is not None and not (isinstance(guid, str) and GUID_PATTERN.fullmatch(guid)):
        raise refuse("DCO01218", call.request_id)
    if position is not None and (isinstance(position, bool) or not isinstance(position, int)):
        raise refuse("DCO01218", call.request_id)
    return value


def _is_duplicate(call: Call, client: SimClient, files: list[AcceptedFile], document_type: str | None) -> bool:
    fingerprint = [(f.name, f.sha256) for f in files]
    return any(
        document.client_id == client.id
        and document.document_type == document_type
        and [(f.name, f.sha256) for f in document.files] == fingerprint
        for document in call.state.documents.values()
    )


def _store(
    call: Call,
    client: SimClient,
    document_id: str,
    files: list[AcceptedFile],
    metadata: dict[str, Any],
    custom: dict[str, Any] | None,
    route: str,
) -> StoredDocument:
    stored = [
        StoredFile(
            str(uuid.uuid4()).upper(), f.name, f.sent_name, len(f.data), f.sha256, f.media_type, iso_berlin(call.now)
        )
        for f in files
    ]
    document = StoredDocument(
        document_id,
        client.id,
        stored,
        metadata.get("document_type") or None,
        metadata.get("note") or None,
        metadata,
        custom,
        call.now,
        route,
    )
    call.state.documents[(client.id, document_id.lower())] = document
    folder = ("documents", safe_part(client.id), safe_part(document_id.lower()))
    call.state.capture.side_file((*folder, "metadata.json"), {"metadata": metadata, "custom_metadata": custom})
    for index, accepted in enumerate(files):
        call.state.capture.upload(
            call.now,
            DOCUMENTS_API.name,
            (*folder, safe_part(accepted.name)),
            accepted.data,
            client_id=client.id,
            guid=document_id,
            filename=accepted.name,
            sent_filename=accepted.sent_name,
            document_type=document.document_type,
            file_index=index,
        )
    return document


def operations() -> list[Operation]:
    api, read, write = DOCUMENTS_API, (READ_SCOPE,), (DOCUMENTS_SCOPE,)
    return [
        Operation(api, "GET", "/clients", read, list_clients),
        Operation(api, "GET", "/clients/{client-id}", read, get_client),
        Operation(api, "GET", "/clients/{client-id}/document-types", write, document_types),
        Operation(api, "GET", "/clients/{client-id}/duo-version", read, duo_version),
        Operation(api, "POST", "/clients/{client-id}/documents", write, post_document),
        Operation(api, "PUT", "/clients/{client-id}/documents/{document-id}", write, put_document),
        Operation(api, "PUT", "/clients/{client-id}/documents/stapled", write, put_stapled),
    ]
