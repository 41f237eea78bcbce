"""File rules shared by accounting-documents and accounting-dxso-jobs: names, types, sizes, content.

DATEV's wording (documents 2.1.12 and dxso-jobs 2.1.7): file names at most 255 characters (#DCO01222);
allowed characters are space, `&()+-._`, `0-9A-Za-z` and the Latin-1 letters `À…ÿ` - "unallowed signs
will be replaced by underscore", and decomposed Unicode is "not supported". So the simulator, like DATEV,
stores a cleaned name rather than refusing the upload (a decomposed `ü` becomes `u_`); it keeps the name
as sent beside it so tests can see that a client sent something DATEV would have changed.
The part's content type must match the extension (#DCO01219) and a PDF must be parseable (#DCO01245).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from datev_cin7_pipeline.sandbox.datev.multipart import parse_header_value

MAX_FILE_NAME_LENGTH = 255
_LATIN1_LETTERS = {chr(code) for code in range(0xC0, 0x100)} - {"×", "÷"}
ALLOWED_NAME_CHARACTERS = (
    set(" &()+-._0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") | _LATIN1_LETTERS
)

MEDIA_TYPES: dict[str, tuple[str, ...]] = {
    "pdf": ("application/pdf",),
    "xml": ("application/xml", "text/xml"),
    "jpg": ("image/jpeg", "image/jpg"),
    "jpeg": ("image/jpeg", "image/jpg"),
    "png": ("image/png",),
    "gif": ("image/gif",),
    "tif": ("image/tiff",),
    "tiff": ("image/tiff",),
    "bmp": ("image/bmp", "image/x-ms-bmp"),
    "csv": ("text/csv", "application/csv", "text/comma-separated-values"),
    "txt": ("text/plain",),
    "rtf": ("application/rtf", "text/rtf"),
    "doc": ("application/msword",),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",),
    "xls": ("application/vnd.ms-excel",),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",),
    "odt": ("application/vnd.oasis.opendocument.text",),
    "ods": ("application/vnd.oasis.opendocument.spreadsheet",),
    "msg": ("application/vnd.ms-outlook",),
    "eml": ("message/rfc822",),
    "zip": ("application/zip", "application/x-zip-compressed"),
}

_MAGIC: dict[str, tuple[bytes, ...]] = {
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
    "gif": (b"GIF87a", b"GIF89a"),
    "tif": (b"II*\x00", b"MM\x00*"),
    "tiff": (b"II*\x00", b"MM\x00*"),
}


@dataclass(frozen=True)
class CleanName:
    """A file name as DATEV stores it, and whether that differs from what was sent."""

    stored: str
    sent: str

    @property
    def changed(self) -> bool:
        return self.stored != self.sent


def clean_file_name(name: str) -> CleanName:
    """Replace every character outside DATEV's white list by `_` (decomposed marks included)."""
    stored = "".join(char if char in ALLOWED_NAME_CHARACTERS else "_" for char in name)
    return CleanName(stored, name)


def is_precomposed(name: str) -> bool:
    return unicodedata.is_normalized("NFC", name)


def extension_of(name: str) -> str:
    """The lower-case extension without the dot ('' when there is none)."""
    stem, dot, extension = name.rpartition(".")
    return extension.lower() if dot and stem else ""


def media_type_matches(extension: str, content_type: str | None) -> bool:
    """Whether a part's declared content type fits the extension (no declared type is taken as fitting)."""
    if not content_type:
        return True
    media_type, _ = parse_header_value(content_type)
    return media_type in MEDIA_TYPES.get(extension, (media_type,))


def media_type_for(extension: str, content_type: str | None) -> str:
    """The media type DATEV reports for the stored file."""
    if content_type:
        return parse_header_value(content_type)[0]
    return MEDIA_TYPES.get(extension, ("application/octet-stream",))[0]


def pdf_is_parseable(data: bytes) -> bool:
    """A PDF header near the start and an end-of-file marker near the end: enough to catch non-PDFs."""
    return b"%PDF-" in data[:1024] and b"%%EOF" in data[-2048:]


def content_matches_extension(extension: str, data: bytes) -> bool:
    """Magic-number check for the image types and XML (other types are not sniffed)."""
    if extension in _MAGIC:
        return data.startswith(_MAGIC[extension])
    if extension == "xml":
        return data.lstrip(b"\xef\xbb\xbf\xff\xfe \t\r\n").startswith((b"<", b"\x00<", b"<\x00"))
    return True
