"""Write → read is lossless for every field the writer writes; generated valid lines also pass the
validator without errors, in UTF-8 and in Windows-1252."""

from __future__ import annotations

import codecs
import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datev_cin7_pipeline.datev.bookings import BookingLine
from datev_cin7_pipeline.datev.extf import ExtfReadError, read_extf, validate_extf, write_extf

from .helpers import EXTF_SAMPLE, header, line, lines_three, patch_field, valid_file
from .strategies import booking_lines


def without_provenance(booking: BookingLine) -> BookingLine:
    return dataclasses.replace(booking, source_kind="", source_id="", source_version="", tax_treatment="")


@settings(max_examples=200, deadline=None)
@given(st.lists(booking_lines(), min_size=1, max_size=20), st.sampled_from(["utf-8", "cp1252"]))
def test_write_then_read_gives_the_same_lines(lines: list[BookingLine], encoding: str) -> None:
    hdr = header()
    data = write_extf(hdr, lines, encoding="utf-8" if encoding == "utf-8" else "cp1252")
    batch = read_extf(data)
    assert batch.header == hdr
    assert batch.lines == [without_provenance(x) for x in lines]
    report = validate_extf(data)
    assert report.errors == (), [str(f) for f in report.errors]


def test_provenance_is_not_in_the_file() -> None:
    booking = line(source_kind="sale_invoice", source_id="abc-123", source_version="v7", tax_treatment="eu")
    data = write_extf(header(), [booking])
    assert b"abc-123" not in data
    assert read_extf(data).lines == [without_provenance(booking)]


def test_created_at_comes_back_to_the_millisecond_in_german_time() -> None:
    created = dt.datetime(2024, 12, 31, 23, 30, 0, 987654, tzinfo=dt.UTC)
    hdr = read_extf(write_extf(header(created_at=created), [line()])).header
    assert hdr.created_at == created.replace(microsecond=987000)
    assert hdr.created_at.utcoffset() == dt.timedelta(hours=1)


def test_belegdatum_year_comes_from_the_period() -> None:
    hdr = header(
        fiscal_year_start=dt.date(2024, 7, 1), period_start=dt.date(2024, 12, 1), period_end=dt.date(2025, 1, 31)
    )
    lines = [line(document_date=dt.date(2024, 12, 31)), line(document_date=dt.date(2025, 1, 1))]
    assert [x.document_date for x in read_extf(write_extf(hdr, lines)).lines] == [
        dt.date(2024, 12, 31),
        dt.date(2025, 1, 1),
    ]


def test_reading_datevs_sample() -> None:
    data = codecs.BOM_UTF8 + EXTF_SAMPLE.read_bytes().replace(b"\n", b"\r\n")
    batch = read_extf(data)
    assert (batch.header.consultant_number, batch.header.client_number) == (29098, 55003)
    assert batch.header.period_end == dt.date(2024, 8, 31)
    assert len(batch.lines) == 54
    first = batch.lines[0]
    assert (first.amount, first.side, first.account, first.contra_account) == (Decimal("100.18"), "S", 48400, 8401)
    assert first.document_date == dt.date(2024, 1, 31)
    assert first.text == "Test Anzahlung"
    swiss = batch.lines[16]  # line 19 of the file
    assert (swiss.currency, swiss.exchange_rate, swiss.base_amount, swiss.base_currency) == (
        "CHF",
        Decimal("1.240402"),
        Decimal("100.00"),
        "EUR",
    )
    assert batch.lines[-1].reversal is True


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "no header"),
        (patch_field(valid_file(), 1, 3, "16"), "not a Buchungsstapel header"),
        (patch_field(valid_file(), 3, 10, "3104"), "line 3, field 10 'Belegdatum'"),
        (patch_field(valid_file(), 3, 1, "12.5"), "line 3, field 1 'Umsatz"),
        (patch_field(valid_file(), 3, 115, "31022024"), "line 3, field 115 'Leistungsdatum'"),
    ],
)
def test_unreadable_files_name_the_place(data: bytes, message: str) -> None:
    with pytest.raises(ExtfReadError, match=message):
        read_extf(data)


def test_reads_what_the_validator_accepts() -> None:
    data = write_extf(header(), lines_three())
    assert validate_extf(data).findings == ()
    assert len(read_extf(data).lines) == 3
