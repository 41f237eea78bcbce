"""The DXSO route: invoices and credit notes go to DATEV as ledger-import jobs with their PDFs.

A connection with `datev.route: dxso` sends each booked invoice and credit note as one document of a
DXSO job (one job per ledger and month: Rechnungsausgang for sales, Rechnungseingang for purchases),
its booking lines turned into ledger records and its PDF in the same job, so DATEV files the Beleg with
its booking proposal. What DXSO cannot carry still goes as EXTF: payments (they have no Beleg of their
own) and reversals of earlier bookings. The PDFs of this route are not uploaded separately.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from datev_cin7_pipeline.datev.bookings import BookingLine
from datev_cin7_pipeline.datev.dxso.model import DxsoDocument, DxsoJob, LedgerKind, Party, records_from_booking_lines
from datev_cin7_pipeline.datev.extf.batches import tenant_slug
from datev_cin7_pipeline.mapping.config import MappingConfig

LEDGER_OF_KIND: dict[str, LedgerKind] = {
    "sale_invoice": "Rechnungsausgang",
    "sale_credit_note": "Rechnungsausgang",
    "purchase_invoice": "Rechnungseingang",
    "purchase_credit_note": "Rechnungseingang",
}
SEQUENCE_OF_LEDGER: dict[LedgerKind, int] = {"Rechnungsausgang": 1, "Rechnungseingang": 2}
_SHORT: dict[LedgerKind, str] = {"Rechnungsausgang": "RA", "Rechnungseingang": "RE"}


def goes_by_dxso(route: str, row_kind: str, document_kind: str) -> bool:
    """Whether a booking-ledger row is sent in a DXSO job (else in an EXTF file)."""
    return route == "dxso" and row_kind == "booking" and document_kind in LEDGER_OF_KIND


def dxso_reference_id(tenant: str, period: dt.date, ledger: LedgerKind, revision: int) -> str:
    """Our key for a DXSO job (DATEV's DXSO API has none): tenant, month, ledger and revision."""
    return f"cin7-dxso_{tenant_slug(tenant)}_{period:%Y%m}_{_SHORT[ledger]}_r{revision:02d}"


@dataclass(frozen=True)
class DxsoMember:
    """One booked invoice or credit note with what its DXSO document needs."""

    lines: Sequence[BookingLine]
    pdf: bytes
    pdf_name: str
    guid: str
    party: Party
    due_date: dt.date | None = None
    order_id: str = ""


def dxso_job_for(
    ledger: LedgerKind,
    period: dt.date,
    members: Sequence[DxsoMember],
    mapping: MappingConfig,
    *,
    company_name: str,
    created_at: dt.datetime,
) -> DxsoJob:
    """The DXSO job of one ledger and month; raises RecordConversionError for lines DXSO cannot carry."""
    settings = mapping.datev
    fiscal_start = settings.fiscal_year_start(period)
    fiscal_end = dt.date(fiscal_start.year + 1, fiscal_start.month, 1) - dt.timedelta(days=1)
    documents = []
    for member in members:
        personal, records = records_from_booking_lines(
            member.lines, kind=ledger, account_length=settings.account_length
        )
        first = member.lines[0]
        documents.append(
            DxsoDocument(
                kind=ledger,
                invoice_id=first.document_field_1,
                invoice_date=first.document_date,
                party=dataclasses.replace(member.party, account=personal),
                records=records,
                pdf=member.pdf,
                pdf_name=member.pdf_name,
                currency=first.currency,
                exchange_rate=first.exchange_rate if first.currency != settings.currency else None,
                due_date=member.due_date,
                order_id=member.order_id[:30],
                guid=member.guid,
            )
        )
    return DxsoJob(
        kind=ledger,
        accounting_month=period,
        documents=tuple(documents),
        generator_info=company_name[:40],
        account_length=settings.account_length,
        fiscal_year=(fiscal_start, fiscal_end),
        consultant_number=settings.consultant_number if isinstance(settings.consultant_number, int) else None,
        client_number=settings.client_number if isinstance(settings.client_number, int) else None,
        created_at=created_at,
    )


def party_for(
    kind: str, party_id: str | None, party_name: str, customers: Mapping[str, Any], suppliers: Mapping[str, Any]
) -> Party:
    """The customer or supplier as DXSO names it (name, city, VAT id), from the Cin7 master data."""
    record = (customers if kind.startswith("sale") else suppliers).get(party_id or "")
    address = record.billing_address if record is not None else None
    vat_id = (record.tax_number if record is not None else "").replace(" ", "")
    return Party(
        name=((record.name if record is not None else "") or party_name or "-")[:50],
        city=(address.city if address is not None else "")[:30],
        vat_id=vat_id if len(vat_id) <= 15 else "",  # longer is no VAT id; DXSO would refuse the document
    )
