"""Deterministic identities: the DATEV document GUID of a Cin7 document's PDF, and which PDF that is.

The GUID is UUID5 over (tenant, Cin7 document id, attachment id) (DESIGN §6): the same PDF always gets the
same GUID, so DATEV's 409 on a repeated `PUT …/documents/{guid}` makes every upload happen once.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

from datev_cin7_pipeline.cin7.attachments import is_pdf_attachment
from datev_cin7_pipeline.cin7.models import Attachment
from datev_cin7_pipeline.cin7.period import Cin7Period
from datev_cin7_pipeline.mapping.documents import SourceDocument, period_documents

COPY_ATTACHMENT_ID = "rendered-copy"  # the attachment id of a copy rendered from the data (datev/pdf_copy.py)

GUID_NAMESPACE = uuid.UUID("5b0f3c1e-7d4a-5e8b-9c2d-1a6f0e3b7c94")


def document_guid(tenant: str, cin7_document_id: str, attachment_id: str) -> str:
    """The DATEV document GUID: UUID5 over (tenant, Cin7 document id, attachment id) (DESIGN §6)."""
    return str(uuid.uuid5(GUID_NAMESPACE, f"{tenant}\x1f{cin7_document_id}\x1f{attachment_id}"))


def _plain(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", text.lower())


def pdf_for_document(attachments: Sequence[Attachment], number: str, documents_of_parent: int) -> Attachment | None:
    """The PDF attachment of a sale/purchase that is this document's Beleg.

    Cin7 keeps attachments on the sale or purchase, not on the invoice: take the PDF whose file name
    contains the document number; if the parent has a single PDF and a single document, that one.
    """
    pdfs = [a for a in attachments if is_pdf_attachment(a)]
    wanted = _plain(number)
    if wanted:
        named = [a for a in pdfs if wanted in _plain(a.file_name.rsplit(".", 1)[0])]
        if len(named) == 1:
            return named[0]
        if named:
            exact = [a for a in named if _plain(a.file_name.rsplit(".", 1)[0]).endswith(wanted)]
            return exact[0] if exact else named[0]
    if len(pdfs) == 1 and documents_of_parent == 1:
        return pdfs[0]
    return None


def period_pdfs(
    period: Cin7Period, tenant: str, *, rendered_copies: bool = False
) -> list[tuple[SourceDocument, Attachment | None, str | None]]:
    """Every invoice and credit note of the period with its PDF attachment and document GUID (if any).

    With `rendered_copies`, a document without a PDF attachment still has a GUID: that of the marked
    copy rendered from its data (attachment None, GUID set)."""
    found: list[tuple[SourceDocument, Attachment | None, str | None]] = []
    for doc in period_documents(period):
        parent = period.sales.get(doc.parent_id) or period.purchases.get(doc.parent_id)
        attachment = None
        if parent is not None:
            siblings = len(parent.invoices) + len(parent.credit_notes)
            attachment = pdf_for_document(parent.attachments, doc.number, siblings)
        if attachment is not None:
            guid: str | None = document_guid(tenant, doc.task_id, attachment.id)
        else:
            guid = document_guid(tenant, doc.task_id, COPY_ATTACHMENT_ID) if rendered_copies else None
        found.append((doc, attachment, guid))
    return found
