"""What a DXSO upload is made of: one job (one ledger kind, one accounting month) holding documents,
each an invoice or credit note with its ledger records ("Belegsätze") and its PDF (FACTS §4, §8).

`records_from_booking_lines` turns the booking lines of one document (as the booking rules make them for
EXTF) into ledger records: the personal-account side becomes `bpAccountNo`, the G/L side `accountNo`,
and the amount gets the sign DXSO wants (positive = invoice, negative = credit note).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final, Literal

from datev_cin7_pipeline.datev.bookings import BookingLine

LedgerKind = Literal["Rechnungsausgang", "Rechnungseingang"]

IMPORT_TYPES: Final[dict[LedgerKind, str]] = {
    "Rechnungsausgang": "accountsReceivableLedgerImport",
    "Rechnungseingang": "accountsPayableLedgerImport",
}
LEDGER_ELEMENTS: Final[dict[LedgerKind, str]] = {
    "Rechnungsausgang": "accountsReceivableLedger",
    "Rechnungseingang": "accountsPayableLedger",
}
DOCUMENT_TYPES: Final[dict[LedgerKind, int]] = {"Rechnungseingang": 1, "Rechnungsausgang": 2}
DEFAULT_FOLDERS: Final[dict[LedgerKind, str]] = {
    "Rechnungsausgang": "Ausgangsrechnungen",
    "Rechnungseingang": "Eingangsrechnungen",
}
FILE_PREFIXES: Final[dict[LedgerKind, str]] = {"Rechnungsausgang": "RA", "Rechnungseingang": "RE"}


@dataclass(frozen=True)
class Party:
    """The customer (Rechnungsausgang) or supplier (Rechnungseingang)."""

    name: str  # customerName / supplierName, ≤50
    city: str = ""  # ≤30
    account: int | None = None  # bpAccountNo: the personal account (debtor or creditor)
    vat_id: str = ""  # vatId, ≤15
    party_id: str = ""  # partyId: customer/supplier number in the source system, ≤15


@dataclass(frozen=True)
class LedgerRecord:
    """One Belegsatz: one G/L account and tax case of the document."""

    amount: Decimal  # gross, 2 decimals, not 0: positive = invoice, negative = credit note
    account: int | None = None  # accountNo: the revenue / expense account (contra account)
    tax_key: str = ""  # buCode, 0–9999; empty on automatic accounts
    tax_rate: Decimal | None = None  # tax, e.g. Decimal("19.00")
    booking_text: str = ""  # bookingText, ≤60
    cost_centre_1: str = ""  # costCategoryId (KOST1), ≤36
    cost_centre_2: str = ""  # costCategoryId2 (KOST2), ≤36
    information: str = ""  # information: a note for the tax consultant, ≤120


@dataclass(frozen=True)
class DxsoDocument:
    """One invoice or credit note: its records, its party and its PDF."""

    kind: LedgerKind
    invoice_id: str  # ≤36 of A–Z a–z 0–9 $ % & * + - / (the open-item key, like Belegfeld 1)
    invoice_date: dt.date
    party: Party
    records: tuple[LedgerRecord, ...]
    pdf: bytes
    pdf_name: str = ""  # file name in the package; default RA_/RE_<invoice id>.pdf
    currency: str = "EUR"
    delivery_date: dt.date | None = None
    due_date: dt.date | None = None
    order_id: str = ""  # ≤30
    exchange_rate: Decimal | None = None  # foreign currency per EUR, ≤6 decimals
    own_vat_id: str = ""
    total: Decimal | None = None  # the document total in the source system; must equal the records' sum
    guid: str = ""  # document GUID (8-4-4-4-12); links the document to its booking in DATEV


@dataclass(frozen=True)
class DxsoJob:
    """Everything one dxso job uploads: one ledger kind, one accounting month (FACTS §4.1)."""

    kind: LedgerKind
    accounting_month: dt.date  # any day of the month
    documents: tuple[DxsoDocument, ...]
    generator_info: str  # the company that made the data, shown as sender in Belege online, ≤40
    generating_system: str = "datev-cin7-pipeline"
    ledger_folder: str = ""  # from the job's ledger_folder_names; default Ausgangs-/Eingangsrechnungen
    account_length: int | None = None  # the client's Sachkontenlänge, for the account range checks
    fiscal_year: tuple[dt.date, dt.date] | None = None  # the client's fiscal year (first and last day)
    consultant_number: int | None = None
    client_number: int | None = None
    repository: tuple[str, ...] = ()  # Belege online storage levels: category, folder, register
    created_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def month(self) -> str:
        return f"{self.accounting_month:%Y-%m}"

    @property
    def folder(self) -> str:
        return self.ledger_folder or DEFAULT_FOLDERS[self.kind]


class RecordConversionError(ValueError):
    """Booking lines that cannot become the ledger records of one DXSO document."""


def records_from_booking_lines(
    lines: Sequence[BookingLine], *, kind: LedgerKind, account_length: int
) -> tuple[int, tuple[LedgerRecord, ...]]:
    """(personal account, records) for the booking lines of one document.

    Every line must book one personal account (Sachkontenlänge + 1 digits) against one G/L account, all
    lines the same personal account, invoice number, date and currency.
    """
    if not lines:
        raise RecordConversionError("a document needs at least one booking line")
    first = lines[0]
    personal: int | None = None
    records = []
    for number, line in enumerate(lines, start=1):
        for name in ("document_field_1", "document_date", "currency"):
            if getattr(line, name) != getattr(first, name):
                raise RecordConversionError(f"line {number}: {name} differs from line 1; one document, one {name}")
        account_is_personal = _is_personal(line.account, account_length)
        contra_is_personal = _is_personal(line.contra_account, account_length)
        if account_is_personal == contra_is_personal:
            raise RecordConversionError(
                f"line {number}: books {line.account} against {line.contra_account}; a ledger record needs exactly "
                "one personal account and one G/L account"
            )
        line_personal = line.account if account_is_personal else line.contra_account
        if personal is not None and line_personal != personal:
            raise RecordConversionError(f"line {number}: personal account {line_personal} differs from {personal}")
        personal = line_personal
        debit_personal = (line.side == "S") == account_is_personal
        positive = debit_personal if kind == "Rechnungsausgang" else not debit_personal
        records.append(
            LedgerRecord(
                amount=line.amount if positive else -line.amount,
                account=line.contra_account if account_is_personal else line.account,
                tax_key=line.tax_key,
                tax_rate=line.tax_rate,
                booking_text=line.text,
                cost_centre_1=line.cost_centre_1,
                cost_centre_2=line.cost_centre_2,
            )
        )
    assert personal is not None
    return personal, tuple(records)


def _is_personal(account: int, account_length: int) -> bool:
    return 10**account_length <= account < 10 ** (account_length + 1)
