"""Deterministic document GUIDs (the same PDF is always the same DATEV document), the right PDF for a
document, and booking lines that survive the ledger's JSON unchanged."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from datev_cin7_pipeline.cin7.models import Attachment
from datev_cin7_pipeline.datev.bookings import BookingLine, line_from_json, line_to_json
from datev_cin7_pipeline.datev.identities import document_guid, pdf_for_document


def test_document_guids_are_stable_and_distinct() -> None:
    first = document_guid("acme", "task-1", "att-1")
    assert first == document_guid("acme", "task-1", "att-1")
    assert uuid.UUID(first).version == 5
    assert (
        len(
            {
                first,
                document_guid("acme", "task-1", "att-2"),
                document_guid("other", "task-1", "att-1"),
                document_guid("acme", "task-2", "att-1"),
            }
        )
        == 4
    )


def _attachment(name: str, content_type: str = "application/pdf") -> Attachment:
    return Attachment(id=name, content_type=content_type, file_name=name, download_url="")


def test_the_pdf_of_a_document_is_found_by_its_number() -> None:
    files = [
        _attachment("Rechnung INV-00041.pdf"),
        _attachment("Rechnung INV-00042.pdf"),
        _attachment("foto.jpg", "image/jpeg"),
    ]
    assert pdf_for_document(files, "INV-00042", 2) == files[1]
    assert pdf_for_document(files, "INV-00099", 2) is None
    assert pdf_for_document([_attachment("scan.pdf")], "RE 17/Ä", 1).file_name == "scan.pdf"  # the only one
    assert pdf_for_document([_attachment("scan.pdf")], "RE 17/Ä", 2) is None  # ambiguous: no guess


def test_booking_lines_round_trip_through_json() -> None:
    line = BookingLine(
        amount=Decimal("119.00"),
        side="S",
        account=1200,
        contra_account=10001,
        document_date=dt.date(2026, 10, 5),
        document_field_1="INV-00042",
        text="Zahlung INV-00042",
        tax_key="",
        currency="USD",
        exchange_rate=Decimal("1.084300"),
        base_amount=Decimal("109.75"),
        base_currency="EUR",
        document_infos=(("Cin7 Rechnung", "INV-00042"),),
        supply_date=dt.date(2026, 10, 4),
        reversal=True,
        eu_tax_rate=Decimal("20.00"),
        source_kind="customer_payment",
        source_id="p1",
        source_version="v1",
        tax_treatment="USt 19",
    )
    data = line_to_json(line)
    assert data["amount"] == "119.00"
    assert data["document_date"] == "2026-10-05"
    assert line_from_json(data) == line
