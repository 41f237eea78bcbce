"""The hand-written PDFs are structurally valid, print German text, and break into pages."""

from __future__ import annotations

import re
from datetime import date

from datev_cin7_pipeline.sandbox.pdf import simple_pdf
from datev_cin7_pipeline_tests.sandbox.pdf_check import check_pdf, pdf_text


def test_a_pdf_is_well_formed_and_holds_its_text() -> None:
    data = simple_pdf(
        "Rechnung INV-00001", ["Größe: 3 (Stück)", "Summe: 1.234,56 €", r"Pfad C:\temp"], created=date(2025, 1, 31)
    )
    assert data.startswith(b"%PDF-1.4")
    assert data.endswith(b"%%EOF")
    assert check_pdf(data) == []
    text = pdf_text(data)
    assert "Rechnung INV-00001" in text
    assert "Größe: 3 (Stück)" in text
    assert "Summe: 1.234,56 €" in text
    assert r"Pfad C:\temp" in text
    assert b"/CreationDate (D:20250131000000Z)" in data


def test_long_documents_get_several_pages() -> None:
    data = simple_pdf("Liste", [f"Zeile {number}" for number in range(150)])
    assert check_pdf(data) == []
    assert b"/Count 3" in data
    assert "Zeile 149" in pdf_text(data)
    assert "Seite 3 von 3" in pdf_text(data)


def test_the_check_notices_a_damaged_file() -> None:
    data = simple_pdf("Kaputt", ["x"])
    shifted = data.replace(b"1 0 obj", b"1 0 obj ", 1)
    table_at = data.index(b"xref\n0 ")
    assert check_pdf(shifted) == [f"no xref table at offset {table_at}"]
    length = re.search(rb"/Length (\d+)", data)
    assert length is not None
    lie = int(length[1]) - 1 if int(length[1]) % 10 else int(length[1]) + 1  # same number of digits
    wrong_length = data.replace(length[0], b"/Length %d" % lie, 1)
    assert check_pdf(wrong_length) == [f"a stream says /Length {lie} but holds {int(length[1])} bytes"]


def test_output_is_deterministic() -> None:
    assert simple_pdf("A", ["b"], created=date(2025, 2, 1)) == simple_pdf("A", ["b"], created=date(2025, 2, 1))
