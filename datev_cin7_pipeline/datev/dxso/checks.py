"""Checks of a DXSO job before any XML is written, and of ledger XML files ("consolidate" rules).

DATEV rejects a whole ledger file when its `consolidate` attributes do not match its records (sum,
date, currency, invoice number, delivery date, order number), and the XSDs cannot see that. Both the
model checks (`check_job`) and the XML checks (`check_ledger_xml`) run before XSD validation, so a
violation is reported in plain words with a stable code:

| code | severity | rule |
|---|---|---|
| DXSO-D001 | error | a document has no records, or more than 5000 |
| DXSO-D002 | error | a record amount is 0, has more than 2 decimals, or exceeds 9,999,999,999.99 |
| DXSO-D003 | error | the records do not add up to the document total |
| DXSO-D004 | error | invoice id empty, longer than 36, or with characters other than A–Z a–z 0–9 $ % & * + - / |
| DXSO-D005 | error | invoice date outside the job's accounting month |
| DXSO-D006 | error | invoice date outside the client's fiscal year |
| DXSO-D007 | warning | delivery date after the invoice date (DATEV ignores it) |
| DXSO-D008 | error | booking text longer than 60, or missing on an incoming invoice |
| DXSO-D009 | error | party name empty or longer than 50, or city longer than 30 |
| DXSO-D010 | error | personal account not a debtor (outgoing) / creditor (incoming) account |
| DXSO-D011 | error | G/L account missing or longer than Sachkontenlänge + 1 |
| DXSO-D012 | error | tax key not 0–9999 |
| DXSO-D013 | error | tax rate not 0.00–99.99 with at most 2 decimals |
| DXSO-D014 | error | currency not three capital letters |
| DXSO-D015 | error | the PDF is empty or not a PDF |
| DXSO-D016 | error | a file name is not allowed or appears twice in the job |
| DXSO-D017 | error | VAT id longer than 15 or with characters other than letters, digits, '.', ' ', '_' |
| DXSO-D018 | error | cost centre longer than 36 or with leading/trailing blanks |
| DXSO-D019 | error | information longer than 120 |
| DXSO-D020 | error | order id longer than 30 or with characters other than A–Z a–z 0–9 $ % & * + - . / |
| DXSO-D021 | error | generator_info / generating_system empty or longer than 40 |
| DXSO-D022 | error | no documents, or more than 4999, in one job |
| DXSO-D023 | error | due date before the invoice date |
| DXSO-D024 | error | exchange rate not 0.000001–9999.999999 |
| DXSO-D025 | error | ledger folder name not 1–40 characters, or repository levels not 1–3 of 1–30 characters |
| DXSO-D026 | error | a document's kind differs from the job's |
| DXSO-D027 | error | the same invoice id twice in one job |
| DXSO-D028 | error | the document GUID is not 8-4-4-4-12 hex digits |
| DXSO-C001 | error | consolidatedAmount differs from the sum of the records |
| DXSO-C002 | error | a record's date differs from consolidatedDate |
| DXSO-C003 | error | a record's currency differs from consolidatedCurrencyCode |
| DXSO-C004 | error | a record's invoice id differs from consolidatedInvoiceId |
| DXSO-C005 | error | a record's delivery date differs from consolidatedDeliveryDate |
| DXSO-C006 | error | a record's order id differs from consolidatedOrderId |
| DXSO-C007 | error | the ledger file is not a LedgerImport with one consolidate element |
| DXSO-X001 | error | the file is not valid against DATEV's XSD |
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Protocol

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no type hints; lxml-stubs is not installed

from datev_cin7_pipeline.datev.dxso.model import LEDGER_ELEMENTS, DxsoDocument, DxsoJob, LedgerRecord
from datev_cin7_pipeline.errors import ConnectorError

LEDGER_NS: Final = "http://xml.datev.de/bedi/tps/ledger/v060"
DOCUMENT_NS: Final = "http://xml.datev.de/bedi/tps/document/v06.0"
MAX_RECORDS: Final = 5000
MAX_DOCUMENTS: Final = 4999
_INVOICE_ID: Final = re.compile(r"[a-zA-Z0-9$%&*+\-/]{1,36}")
_ORDER_ID: Final = re.compile(r"[a-zA-Z0-9$%&*+\-./]{1,30}")
_VAT_ID: Final = re.compile(r"[0-9a-zA-Z. _]{1,15}")
_COST_CENTRE: Final = re.compile(r"[\S][\S ]{0,34}[\S]|[\S]")
_CURRENCY: Final = re.compile(r"[A-Z]{3}")
_GUID: Final = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_OPTIONAL_CHILDREN: Final = frozenset({"deliveryDate", "orderId"})
_MAX_AMOUNT: Final = Decimal("9999999999.99")
_CENT: Final = Decimal("0.01")


@dataclass(frozen=True)
class DxsoFinding:
    code: str
    message: str
    file: str = ""  # the file in the job ('' for the job as a whole)
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.code} {self.severity}: {self.file or 'job'}: {self.message}"


class DxsoError(ConnectorError):
    """A DXSO job cannot be built; carries every finding."""

    def __init__(self, findings: list[DxsoFinding]) -> None:
        self.findings = findings
        super().__init__("; ".join(str(f) for f in findings[:5]) + (" …" if len(findings) > 5 else ""))


def _two_places(value: Decimal) -> bool:
    exponent = value.as_tuple().exponent
    return isinstance(exponent, int) and (exponent >= -2 or value == value.quantize(_CENT))


def check_job(job: DxsoJob, names: dict[str, list[str]] | None = None) -> list[DxsoFinding]:
    """Every rule the model can break; `names` maps each package file name to the documents using it."""
    findings: list[DxsoFinding] = []
    if not job.documents or len(job.documents) > MAX_DOCUMENTS:
        findings.append(DxsoFinding("DXSO-D022", f"{len(job.documents)} documents; a job holds 1–{MAX_DOCUMENTS}"))
    for label, value in (("generator_info", job.generator_info), ("generating_system", job.generating_system)):
        if not 1 <= len(value) <= 40:
            findings.append(DxsoFinding("DXSO-D021", f"{label} must have 1–40 characters, not {len(value)}"))
    if not 1 <= len(job.folder) <= 40:
        findings.append(DxsoFinding("DXSO-D025", f"ledger folder {job.folder!r} must have 1–40 characters"))
    if len(job.repository) > 3 or any(not 1 <= len(level) <= 30 for level in job.repository):
        findings.append(DxsoFinding("DXSO-D025", "repository: at most 3 levels of 1–30 characters each"))
    seen: dict[str, int] = {}
    for document in job.documents:
        seen[document.invoice_id] = seen.get(document.invoice_id, 0) + 1
        findings.extend(_check_document(job, document))
    for invoice_id, count in seen.items():
        if count > 1:
            findings.append(DxsoFinding("DXSO-D027", f"invoice {invoice_id!r} appears {count} times in one job"))
    for name, users in (names or {}).items():
        if len(set(users)) > 1:  # one invoice id twice is DXSO-D027 already
            findings.append(DxsoFinding("DXSO-D016", f"file name {name!r} used by {', '.join(users)}", name))
    return findings


def _check_document(job: DxsoJob, document: DxsoDocument) -> list[DxsoFinding]:
    found: list[DxsoFinding] = []

    def fail(code: str, message: str, severity: str = "error") -> None:
        found.append(DxsoFinding(code, f"invoice {document.invoice_id!r}: {message}", severity=severity))

    if document.kind != job.kind:
        fail("DXSO-D026", f"a {document.kind} in a {job.kind} job")
    if not _INVOICE_ID.fullmatch(document.invoice_id):
        fail("DXSO-D004", "the invoice id must be 1–36 of A–Z a–z 0–9 $ % & * + - /")
    _check_dates(job, document, fail)
    if not 1 <= len(document.party.name) <= 50:
        fail("DXSO-D009", f"party name must have 1–50 characters, not {len(document.party.name)}")
    if len(document.party.city) > 30:
        fail("DXSO-D009", f"party city has {len(document.party.city)} characters; at most 30")
    _check_party_account(job, document, fail)
    for label, vat_id in (("vat id", document.party.vat_id), ("own vat id", document.own_vat_id)):
        if vat_id and not _VAT_ID.fullmatch(vat_id):
            fail("DXSO-D017", f"{label} {vat_id!r} is not ≤15 of letters, digits, '.', ' ', '_'")
    if not _CURRENCY.fullmatch(document.currency):
        fail("DXSO-D014", f"currency {document.currency!r} is not three capital letters")
    if document.order_id and not _ORDER_ID.fullmatch(document.order_id):
        fail("DXSO-D020", f"order id {document.order_id!r} is not ≤30 of A–Z a–z 0–9 $ % & * + - . /")
    rate = document.exchange_rate
    if rate is not None and not (Decimal("0.000001") <= rate <= Decimal("9999.999999") and rate == round(rate, 6)):
        fail("DXSO-D024", f"exchange rate {rate} is not 0.000001–9999.999999")
    if document.guid and not _GUID.fullmatch(document.guid):
        fail("DXSO-D028", f"GUID {document.guid!r} is not 8-4-4-4-12 hex digits")
    if not document.pdf.startswith(b"%PDF-"):
        fail("DXSO-D015", "the PDF is empty or does not start with %PDF-")
    _check_records(job, document, fail)
    return found


def _check_dates(job: DxsoJob, document: DxsoDocument, fail: _Fail) -> None:
    day = document.invoice_date
    if (day.year, day.month) != (job.accounting_month.year, job.accounting_month.month):
        fail("DXSO-D005", f"invoice date {day} is outside the accounting month {job.month}")
    if job.fiscal_year is not None and not job.fiscal_year[0] <= day <= job.fiscal_year[1]:
        fail("DXSO-D006", f"invoice date {day} is outside the fiscal year {job.fiscal_year[0]}–{job.fiscal_year[1]}")
    if document.delivery_date is not None and document.delivery_date > day:
        fail(
            "DXSO-D007",
            f"delivery date {document.delivery_date} is after the invoice date; DATEV ignores it",
            "warning",
        )
    if document.due_date is not None and document.due_date < day:
        fail("DXSO-D023", f"due date {document.due_date} is before the invoice date {day}")


def _check_party_account(job: DxsoJob, document: DxsoDocument, fail: _Fail) -> None:
    account = document.party.account
    if account is None:
        return
    length = job.account_length
    if length is None:
        low, high = (10_000, 699_999_999) if job.kind == "Rechnungsausgang" else (70_000, 999_999_999)
    elif job.kind == "Rechnungsausgang":
        low, high = 10**length, 7 * 10**length - 1
    else:
        low, high = 7 * 10**length, 10 ** (length + 1) - 1
    if not low <= account <= high:
        role = "debtor" if job.kind == "Rechnungsausgang" else "creditor"
        fail("DXSO-D010", f"personal account {account} is not a {role} account {low}–{high}")


def _check_records(job: DxsoJob, document: DxsoDocument, fail: _Fail) -> None:
    if not 1 <= len(document.records) <= MAX_RECORDS:
        fail("DXSO-D001", f"{len(document.records)} records; a document holds 1–{MAX_RECORDS}")
    for number, record in enumerate(document.records, start=1):
        _check_record(job, document, record, number, fail)
    total = sum((r.amount for r in document.records), Decimal(0))
    if document.total is not None and total != document.total:
        fail("DXSO-D003", f"the records add up to {total}, the document total is {document.total}")


def _check_record(job: DxsoJob, document: DxsoDocument, record: LedgerRecord, number: int, fail: _Fail) -> None:
    where = f"record {number}"
    if record.amount == 0 or not _two_places(record.amount) or abs(record.amount) > _MAX_AMOUNT:
        fail("DXSO-D002", f"{where}: amount {record.amount} must be non-zero with at most 2 decimals")
    limit = job.account_length + 1 if job.account_length is not None else 9
    if record.account is None or not 1 <= record.account < 10**limit:
        fail("DXSO-D011", f"{where}: G/L account {record.account} missing or longer than {limit} digits")
    if record.tax_key and not (record.tax_key.isdigit() and len(record.tax_key) <= 4):
        fail("DXSO-D012", f"{where}: tax key {record.tax_key!r} is not 0–9999")
    rate = record.tax_rate
    if rate is not None and not (0 <= rate <= Decimal("99.99") and _two_places(rate)):
        fail("DXSO-D013", f"{where}: tax rate {rate} is not 0.00–99.99")
    if len(record.booking_text) > 60 or (not record.booking_text and document.kind == "Rechnungseingang"):
        fail("DXSO-D008", f"{where}: booking text must have at most 60 characters (and is required for payables)")
    for cost_centre in (record.cost_centre_1, record.cost_centre_2):
        if cost_centre and not _COST_CENTRE.fullmatch(cost_centre):
            fail("DXSO-D018", f"{where}: cost centre {cost_centre!r} is longer than 36 or has outer blanks")
    if len(record.information) > 120:
        fail("DXSO-D019", f"{where}: information has {len(record.information)} characters; at most 120")


class _Fail(Protocol):
    """The signature of the `fail` callback."""

    def __call__(self, code: str, message: str, severity: str = "error") -> None: ...


def check_ledger_xml(data: bytes, file: str = "") -> list[DxsoFinding]:
    """The consolidate rules on a ledger import file: the consolidated values must equal every record's."""
    try:
        root = etree.fromstring(data)
    except etree.XMLSyntaxError as exc:
        return [DxsoFinding("DXSO-C007", f"not well-formed XML: {exc}", file)]
    ns = {"l": LEDGER_NS}
    consolidate = root.findall("l:consolidate", ns)
    if root.tag != f"{{{LEDGER_NS}}}LedgerImport" or len(consolidate) != 1:
        return [DxsoFinding("DXSO-C007", "expected <LedgerImport> (ledger v060) with one <consolidate>", file)]
    element = consolidate[0]
    records = [child for child in element if etree.QName(child).localname in (*LEDGER_ELEMENTS.values(), "cashLedger")]
    findings: list[DxsoFinding] = []
    try:
        total = sum((Decimal(_text(r, "amount") or "0") for r in records), Decimal(0))
        consolidated = Decimal(element.get("consolidatedAmount", ""))
    except ArithmeticError:
        return [DxsoFinding("DXSO-C001", "consolidatedAmount or a record amount is not a number", file)]
    if total != consolidated:
        findings.append(
            DxsoFinding("DXSO-C001", f"consolidatedAmount {consolidated} but the records add up to {total}", file)
        )
    pairs = (
        ("DXSO-C002", "consolidatedDate", "date"),
        ("DXSO-C003", "consolidatedCurrencyCode", "currencyCode"),
        ("DXSO-C004", "consolidatedInvoiceId", "invoiceId"),
        ("DXSO-C005", "consolidatedDeliveryDate", "deliveryDate"),
        ("DXSO-C006", "consolidatedOrderId", "orderId"),
    )
    for code, attribute, child in pairs:
        expected = element.get(attribute)
        if expected is None:
            continue
        for number, record in enumerate(records, start=1):
            found = _text(record, child)
            if found is None and child in _OPTIONAL_CHILDREN:
                continue  # not given on the record: nothing to contradict
            if found != expected:
                findings.append(
                    DxsoFinding(code, f"record {number}: {child} {found!r} differs from {attribute} {expected!r}", file)
                )
    return findings


def _text(record: etree._Element, name: str) -> str | None:
    child = record.find(f"{{{LEDGER_NS}}}{name}")
    return None if child is None else (child.text or "")
