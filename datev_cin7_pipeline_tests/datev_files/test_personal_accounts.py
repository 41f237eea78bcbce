"""The Debitoren/Kreditoren file (category 16, format version 5): header, headings, rows field by field."""

from __future__ import annotations

import codecs
import datetime as dt

import pytest

from datev_cin7_pipeline.datev.extf import (
    PERSONAL_ACCOUNT_HEADING,
    ExtfEncodingError,
    ExtfWriteError,
    PersonalAccount,
    personal_account_problems,
    write_personal_accounts,
)
from datev_cin7_pipeline.datev.extf.records import split_fields

from .helpers import BERLIN, header

# DATEV's example header for this format, as printed in DATEV's format description
DATEV_EXAMPLE_HEADER = (
    '"EXTF";700;16;"Debitoren/Kreditoren";5;20240130140659583;;"RE";"";"";29098;55003;20240101;4;;;"";"";;;;"";'
    ';"";;;"03";;;"";""'
)
CUSTOMER = PersonalAccount(
    account=10100,
    name='Müller "Feinkost" GmbH',
    short_name="MUELLER",
    vat_id="ATU52409200",
    street="Hauptstraße 1",
    postal_code="1010",
    city="Wien",
    country="AT",
    address_addition="z. Hd. Frau Berg; Einkauf",
    phone="+43 1 234567",
    email="einkauf@mueller.example",
)
SUPPLIER_PERSON = PersonalAccount(
    account=70001, name="Papadopoulos", addressee_type="person", first_name="Eleni", vat_id="EL123456789", country="GR"
)


def rows(data: bytes) -> list[list[str]]:
    lines = data.decode("utf-8-sig").split("\r\n")
    assert lines[-1] == ""
    return [split_fields(x) or [] for x in lines[:-1]]


def test_header_equals_datevs_example_for_the_same_values() -> None:
    hdr = header(application_info="", created_at=dt.datetime(2024, 1, 30, 14, 6, 59, 583000, tzinfo=BERLIN))
    data = write_personal_accounts(hdr, [CUSTOMER])
    assert data.startswith(codecs.BOM_UTF8)
    assert rows(data)[0] == split_fields(DATEV_EXAMPLE_HEADER)
    assert data.decode("utf-8-sig").split("\r\n")[0] == DATEV_EXAMPLE_HEADER


def test_headings() -> None:
    data = write_personal_accounts(header(), [CUSTOMER])
    headings = data.decode("utf-8-sig").split("\r\n")[1].split(";")
    assert headings == list(PERSONAL_ACCOUNT_HEADING)
    assert headings[:10] == [
        "Konto", "Name (Adressattyp Unternehmen)", "Unternehmensgegenstand", "Name (Adressattyp natürl. Person)",
        "Vorname (Adressattyp natürl. Person)", "Name (Adressattyp keine Angabe)", "Adressattyp", "Kurzbezeichnung",
        "EU-Land", "EU-UStID",
    ]  # fmt: skip
    assert headings[15:20] == ["Straße", "Postfach", "Postleitzahl", "Ort", "Land"]
    assert len(headings) == 40


def test_company_row_field_by_field() -> None:
    row = rows(write_personal_accounts(header(), [CUSTOMER, SUPPLIER_PERSON]))[2]
    assert len(row) == 40
    expected = {
        1: "10100", 2: '"Müller ""Feinkost"" GmbH"', 3: '""', 4: '""', 5: '""', 6: '""', 7: '"2"', 8: '"MUELLER"',
        9: '"AT"', 10: '"U52409200"', 15: '"STR"', 16: '"Hauptstraße 1"', 17: '""', 18: '"1010"', 19: '"Wien"',
        20: '"AT"', 22: '"z. Hd. Frau Berg; Einkauf"', 26: "", 27: "", 29: '"+43 1 234567"',
        33: '"einkauf@mueller.example"', 40: '""',
    }  # fmt: skip
    assert {n: row[n - 1] for n in expected} == expected


def test_person_row_and_greece() -> None:
    row = rows(write_personal_accounts(header(), [CUSTOMER, SUPPLIER_PERSON]))[3]
    assert row[:10] == ["70001", '""', '""', '"Papadopoulos"', '"Eleni"', '""', '"1"', '""', '"EL"', '"123456789"']
    assert row[19] == '"GR"'
    assert row[14] == '""'  # no street, no Adressart


def test_problems_are_listed_and_refused() -> None:
    bad = PersonalAccount(account=1234, name="x" * 51, vat_id="GR123456789", country="Greece", city="c" * 31)
    problems = personal_account_problems(bad, 4)
    assert len(problems) == 5
    assert any("not a personal account 10000–99999" in p for p in problems)
    assert any("Greece is written EL" in p for p in problems)
    with pytest.raises(ExtfWriteError, match="account 1234"):
        write_personal_accounts(header(), [CUSTOMER, bad])
    assert personal_account_problems(CUSTOMER, 4) == []
    assert personal_account_problems(PersonalAccount(1000100, "X"), 6) == []


def test_cp1252_and_its_clear_error() -> None:
    data = write_personal_accounts(header(), [CUSTOMER], encoding="cp1252")
    assert "Hauptstraße".encode("cp1252") in data
    with pytest.raises(ExtfEncodingError) as caught:
        write_personal_accounts(header(), [CUSTOMER, PersonalAccount(10200, "Łódź Trading")], encoding="cp1252")
    assert (caught.value.line, caught.value.column, caught.value.field) == (2, 2, "Name (Adressattyp Unternehmen)")


def test_control_characters_are_refused() -> None:
    with pytest.raises(ExtfWriteError, match="Straße"):
        write_personal_accounts(header(), [PersonalAccount(10100, "A", street="a\nb")])
