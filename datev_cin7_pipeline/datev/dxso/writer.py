"""The DXSO writer: `document.xml` (schema Document_v060.xsd) and one ledger import file per document
(Belegverwaltung_online_ledger_import_v060.xsd) beside its PDF (FACTS §8).

What accounting-dxso-jobs needs (FACTS §4.1): one job per ledger kind and accounting month, created
with `{"import_type", "accounting_month"}`; then every file sent **singly** (one multipart request each,
part name `files`), never as a ZIP; then the job is finalised. So the package is a mapping of file name
to bytes (`DxsoPackage.files`, document.xml first); `as_zip` exists only for archiving or a manual
upload in Belege online, and keeps every file at the top level (DATEV refuses folders in ZIPs).

Checks run first (model rules, then the consolidate rules on the written XML), then the XSDs when
schemas are given; any error raises DxsoError with all findings.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import unicodedata
import zipfile
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Final
from zoneinfo import ZoneInfo

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no type hints; lxml-stubs is not installed

from datev_cin7_pipeline.datev.dxso.checks import (
    DOCUMENT_NS,
    LEDGER_NS,
    DxsoError,
    DxsoFinding,
    check_job,
    check_ledger_xml,
)
from datev_cin7_pipeline.datev.dxso.model import (
    DOCUMENT_TYPES,
    FILE_PREFIXES,
    IMPORT_TYPES,
    LEDGER_ELEMENTS,
    DxsoDocument,
    DxsoJob,
    LedgerRecord,
)
from datev_cin7_pipeline.datev.dxso.schema import DOCUMENT_XSD, LEDGER_XSD, DxsoSchemas, schema_errors

XSI: Final = "http://www.w3.org/2001/XMLSchema-instance"
XML_DATA_NOTE: Final = "Kopie nur zur Verbuchung berechtigt nicht zum Vorsteuerabzug"
DOCUMENT_XML: Final = "document.xml"
LOCAL_TIME: Final = ZoneInfo("Europe/Berlin")
_NOT_ALLOWED_IN_NAME: Final = re.compile(r"[^ &()+\-._0-9A-Za-zÀ-ÿ]")
_NOT_PLAIN: Final = re.compile(r"[^0-9A-Za-z]+")


@dataclass(frozen=True)
class DxsoPackage:
    """The files of one dxso job and what the job must be created with."""

    import_type: str  # accountsReceivableLedgerImport | accountsPayableLedgerImport
    accounting_month: str  # YYYY-MM
    files: dict[str, bytes]  # document.xml first, then per document its ledger XML and its PDF

    def job_request(self) -> dict[str, str]:
        """The body of POST /clients/{client-id}/dxso-jobs."""
        return {"import_type": self.import_type, "accounting_month": self.accounting_month}

    def uploads(self) -> list[tuple[str, bytes, str]]:
        """(file name, bytes, content type) in upload order, one POST …/files request each."""
        return [(name, data, _content_type(name)) for name, data in self.files.items()]

    def as_zip(self) -> bytes:
        """A flat, reproducible ZIP of the files (for the archive; the API wants single files)."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in self.files.items():
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, data)
        return buffer.getvalue()


def _content_type(name: str) -> str:
    return "application/pdf" if name.lower().endswith(".pdf") else "application/xml"


def safe_file_name(name: str) -> str:
    """A file name DATEV keeps as it is: NFC, only space & ( ) + - . _ digits, letters and Latin-1 letters
    (others become '_', as DATEV would do), at most 255 characters. Folders in the name are dropped, and
    leading dots: the package is written to disk before it is sent."""
    last_part = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1].lstrip(". ")
    return _NOT_ALLOWED_IN_NAME.sub("_", last_part)[-255:]


def _stems(job: DxsoJob) -> dict[str, str]:
    """Invoice id → file stem: RA_/RE_ plus the id with every other character as '_'; ids that fold to the
    same stem all get a hash of the exact id, so names stay unique and independent of document order."""
    prefix = FILE_PREFIXES[job.kind]
    plain = {
        d.invoice_id: f"{prefix}_{_NOT_PLAIN.sub('_', d.invoice_id).strip('_') or 'document'}" for d in job.documents
    }
    counts: dict[str, int] = {}
    for stem in plain.values():
        counts[stem] = counts.get(stem, 0) + 1
    return {
        invoice_id: stem if counts[stem] == 1 else f"{stem}_{hashlib.sha256(invoice_id.encode()).hexdigest()[:8]}"
        for invoice_id, stem in plain.items()
    }


def file_names(job: DxsoJob) -> list[tuple[DxsoDocument, str, str]]:
    """(document, ledger file name, PDF file name) for every document of the job."""
    stems = _stems(job)
    pdfs = {
        d.invoice_id: safe_file_name(d.pdf_name) if d.pdf_name else f"{stems[d.invoice_id]}.pdf" for d in job.documents
    }
    # Two suppliers' "Rechnung.pdf" in one month must not hold the whole job back: a name used twice gets
    # the document's unique stem in front (it cannot meet the .xml files, a PDF's name ends in .pdf).
    taken = Counter(pdfs.values())
    result = []
    for document in job.documents:
        stem, pdf = stems[document.invoice_id], pdfs[document.invoice_id]
        if taken[pdf] > 1:
            pdf = safe_file_name(f"{stem}_{pdf}")
        result.append((document, f"{stem}.xml", pdf))
    return result


def build_package(job: DxsoJob, *, schemas: DxsoSchemas | None = None) -> DxsoPackage:
    """All files of one dxso job; raises DxsoError when any check (or, with `schemas`, the XSD) fails."""
    named = file_names(job)
    problems = [f for f in check_job(job, _name_users(named)) if f.severity == "error"]
    problems += [
        DxsoFinding("DXSO-D016", f"invoice {d.invoice_id!r}: the PDF file name must end in .pdf", pdf)
        for d, _, pdf in named
        if not pdf.lower().endswith(".pdf")
    ]
    if problems:
        raise DxsoError(problems)
    files: dict[str, bytes] = {DOCUMENT_XML: document_xml(job, named)}
    for document, ledger_name, pdf_name in named:
        files[ledger_name] = ledger_xml(job, document)
        files[pdf_name] = document.pdf
    findings: list[DxsoFinding] = []
    for name, data in files.items():
        if name.endswith(".xml") and name != DOCUMENT_XML:
            findings.extend(check_ledger_xml(data, name))
    if schemas is not None:
        findings.extend(_schema_findings(files, schemas))
    if findings:
        raise DxsoError(findings)
    return DxsoPackage(IMPORT_TYPES[job.kind], job.month, files)


def _name_users(named: list[tuple[DxsoDocument, str, str]]) -> dict[str, list[str]]:
    """Every file name of the package and which documents use it (more than one is a clash)."""
    users: dict[str, list[str]] = {DOCUMENT_XML: ["the package index"]}
    for document, ledger_name, pdf_name in named:
        for name in (ledger_name, pdf_name):
            users.setdefault(name, []).append(repr(document.invoice_id))
    return users


def _schema_findings(files: dict[str, bytes], schemas: DxsoSchemas) -> list[DxsoFinding]:
    findings: list[DxsoFinding] = []
    for name, data in files.items():
        if not name.endswith(".xml"):
            continue
        schema, xsd = (schemas.document, DOCUMENT_XSD) if name == DOCUMENT_XML else (schemas.ledger, LEDGER_XSD)
        findings.extend(DxsoFinding("DXSO-X001", f"{xsd}: {error}", name) for error in schema_errors(schema, data))
    return findings


def _amount(value: Decimal) -> str:
    return f"{value:.2f}"


def _element(parent: etree._Element, name: str, text: str | None) -> None:
    """Append <name>text</name> in the parent's namespace, unless the value is empty."""
    if text:
        child = etree.SubElement(parent, f"{{{etree.QName(parent).namespace}}}{name}")
        child.text = text


def ledger_xml(job: DxsoJob, document: DxsoDocument) -> bytes:
    """The ledger import file ("Belegsatzdaten") of one document."""
    root = etree.Element(f"{{{LEDGER_NS}}}LedgerImport", nsmap={None: LEDGER_NS, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", f"{LEDGER_NS} {LEDGER_XSD}")
    root.set("version", "6.0")
    root.set("generator_info", job.generator_info)
    root.set("generating_system", job.generating_system)
    root.set("xml_data", XML_DATA_NOTE)
    consolidate = etree.SubElement(root, f"{{{LEDGER_NS}}}consolidate")
    consolidate.set("consolidatedAmount", _amount(sum((r.amount for r in document.records), Decimal(0))))
    consolidate.set("consolidatedDate", document.invoice_date.isoformat())
    consolidate.set("consolidatedInvoiceId", document.invoice_id)
    if document.delivery_date is not None:
        consolidate.set("consolidatedDeliveryDate", document.delivery_date.isoformat())
    consolidate.set("consolidatedCurrencyCode", document.currency)
    if document.order_id:
        consolidate.set("consolidatedOrderId", document.order_id)
    for record in document.records:
        _record(consolidate, job, document, record)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _record(parent: etree._Element, job: DxsoJob, document: DxsoDocument, record: LedgerRecord) -> None:
    """One accountsReceivableLedger / accountsPayableLedger, children in the XSD's sequence."""
    element = etree.SubElement(parent, f"{{{LEDGER_NS}}}{LEDGER_ELEMENTS[job.kind]}")
    party = document.party
    values: list[tuple[str, str | None]] = [
        ("date", document.invoice_date.isoformat()),
        ("amount", _amount(record.amount)),
        ("accountNo", None if record.account is None else str(record.account)),
        ("buCode", str(int(record.tax_key)) if record.tax_key else None),
        ("costCategoryId", record.cost_centre_1),
        ("costCategoryId2", record.cost_centre_2),
        ("tax", None if record.tax_rate is None else f"{record.tax_rate:.2f}"),
        ("information", record.information),
        ("currencyCode", document.currency),
        ("invoiceId", document.invoice_id),
        ("bookingText", record.booking_text),
        ("ownVatId", document.own_vat_id),
        ("partyId", party.party_id),
        ("vatId", party.vat_id),
        ("exchangeRate", None if document.exchange_rate is None else f"{document.exchange_rate:.6f}"),
        ("dueDate", None if document.due_date is None else document.due_date.isoformat()),
        ("bpAccountNo", None if party.account is None else str(party.account)),
        ("deliveryDate", None if document.delivery_date is None else document.delivery_date.isoformat()),
        ("orderId", document.order_id),
    ]
    role = "customer" if job.kind == "Rechnungsausgang" else "supplier"
    values += [(f"{role}Name", party.name), (f"{role}City", party.city)]
    for name, text in values:
        _element(element, name, text)


def document_xml(job: DxsoJob, named: list[tuple[DxsoDocument, str, str]]) -> bytes:
    """The package index: one <document> per invoice with its ledger extension and its PDF."""
    root = etree.Element(f"{{{DOCUMENT_NS}}}archive", nsmap={None: DOCUMENT_NS, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", f"{DOCUMENT_NS} {DOCUMENT_XSD}")
    root.set("version", "6.0")
    root.set("generatingSystem", job.generating_system)
    header = etree.SubElement(root, f"{{{DOCUMENT_NS}}}header")
    _element(header, "date", _local_time(job.created_at))
    _element(header, "consultantNumber", None if job.consultant_number is None else str(job.consultant_number))
    _element(header, "clientNumber", None if job.client_number is None else str(job.client_number))
    content = etree.SubElement(root, f"{{{DOCUMENT_NS}}}content")
    for document, ledger_name, pdf_name in named:
        _document(content, job, document, ledger_name, pdf_name)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _document(content: etree._Element, job: DxsoJob, document: DxsoDocument, ledger_name: str, pdf_name: str) -> None:
    element = etree.SubElement(content, f"{{{DOCUMENT_NS}}}document")
    if document.guid:
        element.set("guid", document.guid)
    element.set("type", str(DOCUMENT_TYPES[job.kind]))
    ledger = etree.SubElement(element, f"{{{DOCUMENT_NS}}}extension")
    ledger.set(f"{{{XSI}}}type", LEDGER_ELEMENTS[job.kind])
    ledger.set("datafile", ledger_name)
    for key, value in (("1", job.month), ("3", job.folder)):
        prop = etree.SubElement(ledger, f"{{{DOCUMENT_NS}}}property")
        prop.set("key", key)
        prop.set("value", value)
    pdf = etree.SubElement(element, f"{{{DOCUMENT_NS}}}extension")
    pdf.set(f"{{{XSI}}}type", "File")
    pdf.set("name", pdf_name)
    if job.repository:
        repository = etree.SubElement(element, f"{{{DOCUMENT_NS}}}repository")
        for level, name in enumerate(job.repository[:3], start=1):
            item = etree.SubElement(repository, f"{{{DOCUMENT_NS}}}level")
            item.set("id", str(level))
            item.set("name", name)


def _local_time(moment: dt.datetime) -> str:
    """xsd:dateTime without zone (the XSD forbids one), in German local time."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(LOCAL_TIME).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat()
