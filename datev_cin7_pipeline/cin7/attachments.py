"""Invoice PDFs from Cin7 attachments, checked before DATEV ever sees them.

Only the configured Cin7 host is asked (a payload cannot point us elsewhere), only real PDFs are taken,
and only up to DATEV's 20 MB per document. File names from Cin7 are reduced to a plain name, so they
cannot climb out of a folder when the file is saved.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

from datev_cin7_pipeline.cin7.client import DATEV_DOCUMENT_LIMIT_BYTES, Cin7Client, require_pdf
from datev_cin7_pipeline.cin7.errors import Cin7AttachmentError
from datev_cin7_pipeline.cin7.models import Attachment

MAX_FILE_NAME = 100
_UNSAFE = re.compile(r"[^\w.\- ]+")


@dataclass(frozen=True)
class PdfDocument:
    attachment_id: str
    file_name: str
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def is_pdf_attachment(attachment: Attachment) -> bool:
    return attachment.content_type.lower() == "application/pdf" or attachment.file_name.lower().endswith(".pdf")


def fetch_pdf(
    client: Cin7Client, attachment: Attachment, *, max_bytes: int = DATEV_DOCUMENT_LIMIT_BYTES
) -> PdfDocument:
    if not attachment.download_url:
        raise Cin7AttachmentError(f"The attachment {attachment.file_name!r} has no download address.")
    name = safe_file_name(attachment.file_name, fallback=f"{attachment.id}.pdf")
    try:
        content = client.download(attachment.download_url, max_bytes=max_bytes)
    except Cin7AttachmentError as exc:
        # The client's refusals name the host or the limit, not the file: say which one it was.
        raise Cin7AttachmentError(f"{exc} The file is {name!r} (Cin7 attachment {attachment.id}).") from exc
    require_pdf(content, name)
    return PdfDocument(attachment_id=attachment.id, file_name=name, content=content)


def safe_file_name(name: str, *, fallback: str) -> str:
    """A plain file name: no folders, no control characters, composed Unicode, at most 100 characters."""
    base = unicodedata.normalize("NFC", name).replace("\\", "/").split("/")[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = _UNSAFE.sub("_", base).strip(" .")
    if not base:
        base = fallback
    stem, dot, extension = base.rpartition(".")
    if not dot:
        stem, extension = base, ""
    keep = MAX_FILE_NAME - (len(extension) + 1 if extension else 0)
    return (stem[:keep] + ("." + extension if extension else "")) if stem else base[:MAX_FILE_NAME]
