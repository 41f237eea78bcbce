"""The booking line: what the booking rules produce and the EXTF and DXSO writers consume.

One line is one row of a DATEV Buchungsstapel (EXTF category 21, format version 13): an amount, the side
relative to `account`, the contra account, the tax key, the document fields. It also remembers which Cin7
document and version it came from, so the ledger can tell a changed document from an unchanged one.
Plain values only: the writers decide how each field is spelled in the file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

Side = Literal["S", "H"]


@dataclass(frozen=True, slots=True)  # 100,000s of them in a big month: no per-line __dict__
class BookingLine:
    # --- the posting -------------------------------------------------------------------------------
    amount: Decimal  # Umsatz: positive, 2 decimals, in `currency`; gross when the account is automatic or a key is set
    side: Side  # Soll/Haben, relative to `account`
    account: int  # Konto
    contra_account: int  # Gegenkonto (ohne BU-Schlüssel)
    document_date: dt.date  # Belegdatum (the file keeps day and month; the batch gives the year)
    document_field_1: str  # Belegfeld 1: ≤36 of A–Z a–z 0–9 $ & % * + - / (the open-item key)
    text: str  # Buchungstext, ≤60
    tax_key: str = ""  # BU-Schlüssel, up to 4 digits; empty on automatic accounts
    currency: str = "EUR"  # WKZ Umsatz
    exchange_rate: Decimal | None = None  # Kurs, set together with base_amount (direction: see the booking rules)
    base_amount: Decimal | None = None  # Basis-Umsatz in EUR
    base_currency: str = ""  # WKZ Basis-Umsatz
    document_field_2: str = ""  # Belegfeld 2, ≤12
    cash_discount: Decimal | None = None  # Skonto (payments only)
    document_link: str = ""  # Beleglink, e.g. 'BEDI "<GUID>"'
    document_infos: tuple[tuple[str, str], ...] = ()  # Beleginfo Art/Inhalt pairs, at most 8
    cost_centre_1: str = ""  # KOST1
    cost_centre_2: str = ""  # KOST2
    eu_vat_id: str = ""  # EU-Land u. UStID (Bestimmung)
    eu_tax_rate: Decimal | None = None  # EU-Steuersatz (Bestimmung)
    supply_date: dt.date | None = None  # Leistungsdatum
    due_date: dt.date | None = None  # Fälligkeit
    reversal: bool = False  # Generalumkehr (GU)
    tax_rate: Decimal | None = None  # Steuersatz
    country: str = ""  # Land
    booking_guid: str = ""  # Buchungs GUID
    lock: bool | None = None  # Festschreibung on this row (None: leave it to the header)

    # --- where it came from (not written to the file) -------------------------------------------------
    source_kind: str = ""  # sale_invoice | sale_credit_note | purchase_invoice | … | customer_payment | …
    source_id: str = ""  # the Cin7 task (invoice/credit note) or payment id
    source_version: str = ""  # the Cin7 document version it was made from
    tax_treatment: str = ""  # the mapping's name for the tax case (for totals per treatment)

    def signed(self) -> Decimal:
        """The amount as seen from `account`: debit positive, credit negative."""
        return self.amount if self.side == "S" else -self.amount


@dataclass(frozen=True)
class BatchHeader:
    """What the EXTF header says about a batch (fields 11–22, 27, 31)."""

    consultant_number: int  # Beraternummer, 1001–9999999
    client_number: int  # Mandantennummer, 1–99999
    fiscal_year_start: dt.date  # WJ-Beginn
    account_length: int  # Sachkontenlänge, 4–8
    period_start: dt.date  # Datum vom
    period_end: dt.date  # Datum bis (inclusive)
    label: str = "Cin7 Core"  # Bezeichnung, ≤30
    dictation_initials: str = ""  # Diktatkürzel, 2 capital letters or empty
    currency: str = "EUR"  # WKZ
    chart: Literal["03", "04"] = "03"  # Sachkontenrahmen
    lock: bool = False  # Festschreibung; 0 lets the tax advisor still correct the bookings
    application_info: str = ""  # Anwendungsinformation, ≤16
    created_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


# --- booking lines as JSON (for the booking ledger) -------------------------------------------------------

_FIELDS = {f.name: str(f.type) for f in dataclasses.fields(BookingLine)}


def line_to_json(line: BookingLine) -> dict[str, Any]:
    """A booking line as JSON-safe values (Decimal and dates as text), for the booking ledger."""
    out: dict[str, Any] = {}
    for name in _FIELDS:
        value = getattr(line, name)
        if isinstance(value, Decimal | dt.date):
            value = str(value) if isinstance(value, Decimal) else value.isoformat()
        elif isinstance(value, tuple):
            value = [list(pair) for pair in value]
        out[name] = value
    return out


def line_from_json(data: Mapping[str, Any]) -> BookingLine:
    values: dict[str, Any] = {}
    for name, kind in _FIELDS.items():
        if name not in data:
            continue
        value = data[name]
        if value is not None:
            if kind.startswith("Decimal"):
                value = Decimal(value)
            elif kind.startswith("dt.date"):
                value = dt.date.fromisoformat(value)
            elif kind.startswith("tuple"):
                value = tuple(tuple(pair) for pair in value)
        values[name] = value
    return BookingLine(**values)
