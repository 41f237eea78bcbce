"""The EXTF writer: DATEV's heading line and header byte for byte, quoting, encodings, line ends."""

from __future__ import annotations

import codecs
import dataclasses
import datetime as dt
import unicodedata
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings

from datev_cin7_pipeline.datev.extf import (
    HEADING,
    HEADING_LINE,
    ExtfEncodingError,
    ExtfWriteError,
    ExtfWriter,
    write_extf,
    write_extf_file,
)
from datev_cin7_pipeline.datev.extf import columns as c
from datev_cin7_pipeline.datev.extf.encoding import ExtfEncoding
from datev_cin7_pipeline.datev.extf.records import split_fields
from datev_cin7_pipeline.datev.extf.writer import _record, generic_record

from .helpers import BERLIN, EXTF_SAMPLE, GUID, field_of, header, line, lines_three, text_of
from .strategies import booking_lines

DATEV_SAMPLE_HEADER = (
    '"EXTF";700;21;"Buchungsstapel";13;20240130140440439;;"RE";"";"";29098;55003;20240101;4;20240101;20240831;'
    '"Buchungsstapel";"WD";1;0;0;"EUR";;"";;;"03";;;"";""'
)


def sample_lines() -> list[str]:
    return EXTF_SAMPLE.read_text(encoding="utf-8").split("\n")


def test_heading_line_is_datevs_exactly() -> None:
    sample_heading = sample_lines()[1]
    assert tuple(sample_heading.split(";")) == HEADING
    assert len(HEADING) == 125
    assert sample_heading == HEADING_LINE
    written = text_of(write_extf(header(), [line()])).split("\r\n")[1]
    assert written == sample_heading


def test_header_equals_datevs_sample_header_for_the_same_values() -> None:
    assert sample_lines()[0] == DATEV_SAMPLE_HEADER
    hdr = header(
        fiscal_year_start=dt.date(2024, 1, 1),
        period_start=dt.date(2024, 1, 1),
        period_end=dt.date(2024, 8, 31),
        label="Buchungsstapel",
        dictation_initials="WD",
        application_info="",
        created_at=dt.datetime(2024, 1, 30, 14, 4, 40, 439000, tzinfo=BERLIN),
    )
    data = write_extf(hdr, [line(document_date=dt.date(2024, 3, 14))])
    assert text_of(data).split("\r\n")[0] == DATEV_SAMPLE_HEADER


def test_header_field_by_field() -> None:
    created = dt.datetime(2024, 4, 2, 7, 15, 30, 123456, tzinfo=dt.UTC)  # 09:15:30 in Berlin (CEST)
    hdr = header(chart="04", lock=True, currency="EUR", created_at=created, application_info='cin7 "x"')
    fields = split_fields(text_of(write_extf(hdr, [line()])).split("\r\n")[0])
    assert fields == [
        '"EXTF"', "700", "21", '"Buchungsstapel"', "13", "20240402091530123", "", '"RE"', '""', '""',
        "29098", "55003", "20240101", "4", "20240301", "20240331", '"Cin7 Core Maerz"', '"CC"', "1", "0", "1",
        '"EUR"', "", '""', "", "", '"04"', "", "", '""', '"cin7 ""x"""',
    ]  # fmt: skip
    assert len(fields) == 31


def test_record_fields_and_quoting() -> None:
    data = write_extf(
        header(),
        [
            line(
                text='Rechnung "Mu\u0308ller"; Teil 1 – 5 €',  # decomposed ü, quotes, semicolon, dash, euro
                tax_key="9",
                document_field_2="140324",
                cash_discount=Decimal("2.38"),
                cost_centre_1="LAGER",
                eu_vat_id="ATU52409200",
                eu_tax_rate=Decimal("20"),
                supply_date=dt.date(2024, 3, 10),
                due_date=dt.date(2024, 4, 13),
                reversal=True,
                tax_rate=Decimal("19.00"),
                country="AT",
                booking_guid="b1",
                lock=False,
                document_infos=(("Cin7 Kunde", "K-1"),),
            )
        ],
    )
    fields = split_fields(text_of(data).split("\r\n")[2])
    assert fields is not None
    assert len(fields) == 125
    expected = {
        1: "1190,00", 2: '"H"', 3: '"EUR"', 4: "", 5: "", 6: '""', 7: "8400", 8: "10100", 9: '"9"', 10: "1403",
        11: '"RE-2024-0042"', 12: '"140324"', 13: "2,38", 14: '"Rechnung ""Müller""; Teil 1 – 5 €"', 15: "",
        16: '""', 20: f'"BEDI ""{GUID}"""', 21: '"Cin7 Kunde"', 22: '"K-1"', 23: '""', 37: '"LAGER"', 38: '""',
        39: "", 40: '"ATU52409200"', 41: "20,00", 103: '"b1"', 114: "0", 115: "10032024", 116: "", 117: "13042024",
        118: '"1"', 119: "19,00", 120: '"AT"', 125: "",
    }  # fmt: skip
    assert {n: fields[n - 1] for n in expected} == expected
    assert "Mu\u0308ller" not in text_of(data)  # NFC: the decomposed ü is composed


def test_empty_and_default_fields_follow_datevs_types() -> None:
    fields = split_fields(text_of(write_extf(header(), [line(document_link="")])).split("\r\n")[2])
    assert fields is not None
    for number, raw in enumerate(fields, start=1):
        if number in (1, 7, 8, 10) or number in (2, 3, 11, 14):
            continue  # filled
        assert raw == ('""' if number in c.TEXT_COLUMNS else ""), number


def test_decimals_are_exact_with_two_places_at_least() -> None:
    data = write_extf(
        header(),
        [line(amount=Decimal("5"), currency="USD", exchange_rate=Decimal("1.0842"), base_amount=Decimal("4.61"))],
    )
    assert field_of(data, 3, 1) == "5,00"
    assert field_of(data, 3, 4) == "1,0842"
    assert field_of(data, 3, 5) == "4,61"
    assert field_of(write_extf(header(), [line(amount=Decimal("12.345"))]), 3, 1) == "12,345"  # never rounded
    assert field_of(write_extf(header(), [line(amount=Decimal("1E+3"))]), 3, 1) == "1000,00"


def test_beleglink_quotes_are_doubled() -> None:
    assert field_of(write_extf(header(), [line()]), 3, 20) == f'"BEDI ""{GUID}"""'


def test_utf8_with_bom_crlf_and_nfc_by_default() -> None:
    data = write_extf(header(), [line(text="Bu\u0308ro Gro\u00dfhandel €")])
    assert data.startswith(codecs.BOM_UTF8)
    assert data.count(b"\r\n") == 3
    assert data.count(b"\n") == 3
    assert data.endswith(b"\r\n")
    assert "Büro Großhandel €".encode() in data


def test_nfc_can_be_switched_off() -> None:
    data = write_extf(header(), [line(text="Bu\u0308ro")], nfc=False)
    assert "Bu\u0308ro".encode() in data


def test_cp1252_option() -> None:
    data = write_extf(header(label="Cin7 März €"), [line(text="Müller – 5 € „Lager“")], encoding="cp1252")
    assert not data.startswith(codecs.BOM_UTF8)
    assert "Müller – 5 € „Lager“".encode("cp1252") in data
    assert b"M\xfcller \x96 5 \x80" in data
    assert "Cin7 März €".encode("cp1252") in data
    assert data.count(b"\r\n") == 3


def test_cp1252_refuses_a_character_it_cannot_hold() -> None:
    lines = [*lines_three(), line(text="Łódź Trading", document_field_1="RE-9")]
    with pytest.raises(ExtfEncodingError) as caught:
        write_extf(header(), lines, encoding="cp1252")
    error = caught.value
    assert (error.line, error.column, error.field, error.character) == (4, 14, "Buchungstext", "Ł")
    assert "booking line 4" in str(error)
    assert "Buchungstext" in str(error)
    assert "U+0141" in str(error)


def test_cp1252_error_in_the_header_names_the_header_field() -> None:
    with pytest.raises(ExtfEncodingError) as caught:
        write_extf(header(label="Łódź"), [line()], encoding="cp1252")
    assert caught.value.line is None
    assert caught.value.column == 17
    assert caught.value.field == "header Bezeichnung"


def test_control_characters_are_refused_with_line_and_field() -> None:
    with pytest.raises(ExtfWriteError) as caught:
        write_extf(header(), [*lines_three(), line(text="zwei\nZeilen")])
    assert (caught.value.line, caught.value.column) == (4, 14)
    with pytest.raises(ExtfWriteError, match="Bezeichnung"):
        write_extf(header(label="a\tb"), [line()])


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
@pytest.mark.parametrize(
    ("text", "column"),
    [("Ware\x85", 14), ("Ware\x7f", 14), ("a\x1fb", 14), ("\x9f", 14), ("\u00a7 13b\x80", 14), ("x\x00", 14)],
)
def test_every_control_character_is_refused_whatever_else_the_chunk_holds(
    encoding: ExtfEncoding, text: str, column: int
) -> None:
    """C0, DEL and C1 controls (U+0085 and U+009F are two bytes in UTF-8, after a lead byte shared with
    harmless characters such as U+00A7) are refused before anything is encoded."""
    lines = [*lines_three(), line(text="\u00a7 13b \u00b0 \u00a0 ok"), line(text=text)]
    with pytest.raises(ExtfWriteError) as caught:
        write_extf(header(), lines, encoding=encoding)
    assert (caught.value.line, caught.value.column) == (5, column)


@pytest.mark.parametrize("nfc", [True, False])
def test_characters_below_u0300_and_above_are_written_as_given_or_composed(nfc: bool) -> None:
    texts = ["\u00a7 13b \u00b0 \u00a0 \u00bf", "\u0141\u00f3d\u017a \u01c4 \u02c6", "Bu\u0308ro \u2013 \u20ac"]
    data = write_extf(header(), [line(text=text) for text in texts], nfc=nfc)
    for text in texts:
        assert (unicodedata.normalize("NFC", text) if nfc else text).encode() in data


def test_a_date_outside_the_period_is_refused() -> None:
    with pytest.raises(ExtfWriteError, match="outside the batch period") as caught:
        write_extf(header(), [line(), line(document_date=dt.date(2024, 4, 1))])
    assert (caught.value.line, caught.value.column) == (2, 10)


def test_row_limit() -> None:
    with pytest.raises(ExtfWriteError, match="more than 2 booking lines"):
        write_extf(header(), lines_three(), max_rows=2)
    assert write_extf(header(), lines_three(), max_rows=3)


def test_more_than_eight_document_infos_are_refused() -> None:
    with pytest.raises(ExtfWriteError, match="9 Beleginfo pairs"):
        write_extf(header(), [line(document_infos=tuple((f"A{n}", "x") for n in range(9)))])


def test_header_longer_than_1000_characters_is_refused() -> None:
    with pytest.raises(ExtfWriteError, match="1000"):
        write_extf(header(label="x" * 1000), [line()])


def test_streaming_writer_gives_the_same_bytes(tmp_path: Path) -> None:
    lines = [dataclasses.replace(line(), document_field_1=f"RE-{n}") for n in range(12)]
    path = tmp_path / "EXTF_x.csv"
    assert write_extf_file(path, header(), lines) == 12
    assert path.read_bytes() == write_extf(header(), lines)
    with (tmp_path / "chunks.csv").open("wb") as target, ExtfWriter(target, header(), chunk_rows=5) as writer:
        writer.write(lines[:7])
        writer.write(lines[7:])
    assert (tmp_path / "chunks.csv").read_bytes() == path.read_bytes()


def test_a_failed_file_write_leaves_nothing_behind(tmp_path: Path) -> None:
    path = tmp_path / "EXTF_x.csv"
    with pytest.raises(ExtfWriteError):
        write_extf_file(path, header(), [line(), line(text="a\rb")])
    assert list(tmp_path.iterdir()) == []


@settings(max_examples=300, deadline=None)
@given(booking_lines())
def test_template_fast_path_equals_the_generic_record(booking: object) -> None:
    assert isinstance(booking, type(line()))
    hdr = header()
    assert _record(dataclasses.replace(booking, document_infos=()), hdr.period_start, hdr.period_end, 1) == (
        generic_record(dataclasses.replace(booking, document_infos=()), 1)
    )
    # with its Beleginfo pairs (the fast path fills them too)
    assert _record(booking, hdr.period_start, hdr.period_end, 1) == generic_record(booking, 1)


@pytest.mark.parametrize("pairs", range(1, 9))
def test_fast_path_fills_every_number_of_document_infos_like_the_generic_record(pairs: int) -> None:
    hdr = header()
    booking = line(document_infos=tuple((f'Art "{n}"', f"Inhalt; {n}") for n in range(pairs)))
    assert _record(booking, hdr.period_start, hdr.period_end, 1) == generic_record(booking, 1)
