"""Processing a finalized DXSO job: the package index, its ledger files, and the protocol it leaves.

A Rechnungsdatenservice 1.0 upload is a package of single files: `document.xml` (schema Document_v060.xsd)
naming, per document, ledger XMLs ("Belegsatzdaten", Belegverwaltung_online_ledger_import_v060.xsd) and
PDFs (FACTS.md §4, §8). DATEV checks the package asynchronously after finalization and reports in the
protocol entries; the job ends with status 2 (processed), 3 (critical errors, nothing processed) or
4 (processed partially). The simulator does the same with the XSDs from `xsd_folder` (when configured),
plus the consistency rules FACTS §8 names: the consultant/client numbers in document.xml, the ledger type
against the job's import type, the posting month against the job's accounting month, and
`consolidatedAmount` against the sum of the amounts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no type hints; lxml-stubs is not installed

DOCUMENT_NS = "http://xml.datev.de/bedi/tps/document/v06.0"
LEDGER_NS = "http://xml.datev.de/bedi/tps/ledger/v060"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
DOCUMENT_XSD = "Document_v060.xsd"
LEDGER_XSD = "Belegverwaltung_online_ledger_import_v060.xsd"
INDEX_FILE = "document.xml"

LEDGER_IMPORT_TYPES: dict[str, str] = {
    "accountsPayableLedger": "accountsPayableLedgerImport",
    "accountsReceivableLedger": "accountsReceivableLedgerImport",
    "cashLedger": "cashLedgerImport",
    "cashLedgerPayPal": "cashLedgerImport",
}
FILE_EXTENSIONS = ("File", "SEPAFile")


@dataclass(frozen=True)
class Entry:
    """A protocol entry before it gets its time: type (information|warning|error), text, file, context."""

    type: str
    text: str
    filename: str | None = None
    context: str | None = None


@dataclass
class PackageResult:
    status: int = 2
    entries: list[Entry] = field(default_factory=list)

    @property
    def errors(self) -> list[Entry]:
        return [entry for entry in self.entries if entry.type == "error"]


@dataclass(frozen=True)
class JobFrame:
    """What the job says the package must fit."""

    import_type: str | None
    accounting_month: str | None
    consultant_number: int
    client_number: int


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@lru_cache(maxsize=8)
def load_schema(path: Path) -> etree.XMLSchema:
    """An XSD with its imports (resolved relative to the file); cached, the v060 set parses in ~50 ms."""
    return etree.XMLSchema(etree.parse(str(path), _parser()))


def check_package(files: Mapping[str, bytes], frame: JobFrame, xsd_folder: Path | None) -> PackageResult:
    """Check the uploaded files of one job as DATEV's processing would, and return status and protocol."""
    result = PackageResult()
    index = files.get(INDEX_FILE)
    if index is None:
        result.entries.append(Entry("error", "Die Datei document.xml fehlt im Datenpaket.", INDEX_FILE))
        result.status = 3
        return result
    root = _parse(INDEX_FILE, index, xsd_folder / DOCUMENT_XSD if xsd_folder else None, result)
    if root is None or not _header_matches(root, frame, result):
        result.status = 3
        return result
    documents = root.findall(f"{{{DOCUMENT_NS}}}content/{{{DOCUMENT_NS}}}document")
    referenced = {INDEX_FILE}
    good = 0
    for number, document in enumerate(documents, start=1):
        context = f"Beleg {number}" + (f" (GUID {document.get('guid')})" if document.get("guid") else "")
        errors_before = len(result.errors)
        for extension in document.findall(f"{{{DOCUMENT_NS}}}extension"):
            referenced.update(_check_extension(extension, files, frame, xsd_folder, context, result))
        if len(result.errors) == errors_before:
            good += 1
            result.entries.append(Entry("information", "Beleg wurde erfolgreich verarbeitet.", INDEX_FILE, context))
    for name in sorted(set(files) - referenced):
        result.entries.append(Entry("warning", "Die Datei wird in document.xml nicht verwendet.", name))
    if result.errors:
        result.status = 4 if good else 3
    return result


def _parse(name: str, data: bytes, schema_path: Path | None, result: PackageResult) -> etree._Element | None:
    """Parse and (with a schema) validate one XML file; problems become protocol errors."""
    try:
        tree = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        result.entries.append(Entry("error", f"Die Datei ist kein wohlgeformtes XML: {exc}", name))
        return None
    if schema_path is not None:
        schema = load_schema(schema_path)
        if not schema.validate(tree):
            for error in schema.error_log:
                text = f"XML-Schema-Fehler in Zeile {error.line}: {error.message}"
                result.entries.append(Entry("error", text, name))
            return None
    return tree


def _header_matches(root: etree._Element, frame: JobFrame, result: PackageResult) -> bool:
    """consultantNumber / clientNumber in document.xml, if given, must be those of the job's client."""
    header = root.find(f"{{{DOCUMENT_NS}}}header")
    ok = True
    for tag, expected in (("consultantNumber", frame.consultant_number), ("clientNumber", frame.client_number)):
        value = header.findtext(f"{{{DOCUMENT_NS}}}{tag}") if header is not None else None
        if value is not None and value.strip() != str(expected):
            text = f"{tag} {value.strip()} in document.xml passt nicht zum Mandanten {expected}."
            result.entries.append(Entry("error", text, INDEX_FILE))
            ok = False
    return ok


def _check_extension(
    extension: etree._Element,
    files: Mapping[str, bytes],
    frame: JobFrame,
    xsd_folder: Path | None,
    context: str,
    result: PackageResult,
) -> set[str]:
    """Check one `<extension>`; returns the file names it references."""
    kind = (extension.get(XSI_TYPE) or "").rpartition(":")[2]
    if kind in FILE_EXTENSIONS:
        name = extension.get("name") or ""
        if name not in files:
            result.entries.append(Entry("error", f"Die Datei {name} fehlt im Datenpaket.", INDEX_FILE, context))
        return {name}
    if kind not in LEDGER_IMPORT_TYPES:
        return {extension.get("datafile") or ""}
    datafile = extension.get("datafile") or ""
    if frame.import_type and LEDGER_IMPORT_TYPES[kind] != frame.import_type:
        text = f"Die Belegsatzdaten ({kind}) passen nicht zum Importtyp {frame.import_type} der Datenübermittlung."
        result.entries.append(Entry("error", text, INDEX_FILE, context))
    month = next((p.get("value") for p in extension.findall(f"{{{DOCUMENT_NS}}}property") if p.get("key") == "1"), None)
    if frame.accounting_month and month is not None and month != frame.accounting_month:
        text = f"Der Buchungsmonat {month} passt nicht zum Monat {frame.accounting_month} der Datenübermittlung."
        result.entries.append(Entry("error", text, INDEX_FILE, context))
    data = files.get(datafile)
    if data is None:
        result.entries.append(Entry("error", f"Die Datei {datafile} fehlt im Datenpaket.", INDEX_FILE, context))
        return {datafile}
    ledger = _parse(datafile, data, xsd_folder / LEDGER_XSD if xsd_folder else None, result)
    if ledger is not None:
        _check_consolidation(ledger, datafile, context, result)
    return {datafile}


def _check_consolidation(ledger: etree._Element, name: str, context: str, result: PackageResult) -> None:
    """`consolidatedAmount` must equal the sum of the records' amounts (FACTS §8.2)."""
    consolidate = ledger.find(f"{{{LEDGER_NS}}}consolidate")
    if consolidate is None:
        return
    try:
        expected = Decimal(consolidate.get("consolidatedAmount") or "")
        total = sum((Decimal(amount.text or "") for amount in consolidate.iter(f"{{{LEDGER_NS}}}amount")), Decimal(0))
    except InvalidOperation:
        result.entries.append(Entry("error", "Ein Betrag ist keine Zahl.", name, context))
        return
    if total != expected:
        text = f"consolidatedAmount {expected} stimmt nicht mit der Summe der Beträge {total} überein."
        result.entries.append(Entry("error", text, name, context))
