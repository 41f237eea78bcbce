"""Checking one uploaded file part, as accounting-documents and accounting-dxso-jobs both do.

Order of the checks (first failure wins): file name present (#DCO01252) and not empty (#DCO01233), at most
255 characters (#DCO01222), extension allowed for the client (#DCO01015, or #DCO01215 on "DuoNext"; ZIP
never), not empty (#DCO01004), size at most 20 MB (#DCO01016 / #DCO01216), part content type fits the
extension (#DCO01219), a PDF parseable (#DCO01245), image/XML content fits the extension (#DCO01219).
"""

from __future__ import annotations

from dataclasses import dataclass

from datev_cin7_pipeline.sandbox.datev.capture import sha256_hex
from datev_cin7_pipeline.sandbox.datev.config import SimClient
from datev_cin7_pipeline.sandbox.datev.errors import ApiError, dco
from datev_cin7_pipeline.sandbox.datev.files import (
    MAX_FILE_NAME_LENGTH,
    clean_file_name,
    content_matches_extension,
    extension_of,
    media_type_for,
    media_type_matches,
    pdf_is_parseable,
)
from datev_cin7_pipeline.sandbox.datev.multipart import Part


@dataclass(frozen=True)
class AcceptedFile:
    name: str
    sent_name: str
    data: bytes
    media_type: str
    sha256: str


def refuse(code: str, request_id: str, status: int = 400) -> ApiError:
    return ApiError(dco(status, code, request_id))


def accept_file(
    part: Part, client: SimClient, allowed_extensions: tuple[str, ...], max_bytes: int, request_id: str
) -> AcceptedFile:
    """The file of one part, or ApiError with the code DATEV documents for the first rule it breaks."""
    duo_next = client.duo_version == "DuoNext"
    if part.filename is None:
        raise refuse("DCO01252", request_id)
    if not part.filename:
        raise refuse("DCO01233", request_id)
    if len(part.filename) > MAX_FILE_NAME_LENGTH:
        raise refuse("DCO01222", request_id)
    extension = extension_of(part.filename)
    if extension == "zip" or extension not in allowed_extensions:
        raise refuse("DCO01215" if duo_next else "DCO01015", request_id)
    if not part.data:
        raise refuse("DCO01004", request_id)
    if len(part.data) > max_bytes:
        raise refuse("DCO01216" if duo_next else "DCO01016", request_id)
    if not media_type_matches(extension, part.content_type):
        raise refuse("DCO01219", request_id)
    if extension == "pdf" and not pdf_is_parseable(part.data):
        raise refuse("DCO01245", request_id)
    if not content_matches_extension(extension, part.data):
        raise refuse("DCO01219", request_id)
    name = clean_file_name(part.filename)
    return AcceptedFile(
        name.stored, name.sent, part.data, media_type_for(extension, part.content_type), sha256_hex(part.data)
    )
