"""Builders for headers, booking lines and files, and byte-level patches for breaking a file on purpose.

The reference material (DATEV's sample files and XSDs) is read from `<repo root>/../shared/reference`,
never copied into the repository.
"""

from __future__ import annotations

import codecs
import dataclasses
import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from datev_cin7_pipeline.datev.bookings import BatchHeader, BookingLine
from datev_cin7_pipeline.datev.extf.records import split_fields
from datev_cin7_pipeline.datev.extf.writer import write_extf


def repo_root() -> Path:
    """The folder that holds pyproject.toml."""
    for folder in Path(__file__).resolve().parents:
        if (folder / "pyproject.toml").is_file():
            return folder
    raise AssertionError("pyproject.toml not found above the tests")


REFERENCE = repo_root().parent / "shared" / "reference"
DATEV_SAMPLES = REFERENCE / "datev" / "samples"
EXTF_SAMPLE = DATEV_SAMPLES / "EXTF_Buchungsstapel_fv13_sample.csv"
XSD_DIR = REFERENCE / "datev" / "xsd" / "v060"
BERLIN = ZoneInfo("Europe/Berlin")
CREATED = dt.datetime(2024, 4, 2, 9, 15, 30, 123000, tzinfo=BERLIN)
GUID = "6C1F2B3A-1111-4222-8333-444455556666"


def header(**changes: Any) -> BatchHeader:
    """March 2024 of client 29098-55003, SKR03, Sachkontenlänge 4, fiscal year = calendar year."""
    base = BatchHeader(
        consultant_number=29098,
        client_number=55003,
        fiscal_year_start=dt.date(2024, 1, 1),
        account_length=4,
        period_start=dt.date(2024, 3, 1),
        period_end=dt.date(2024, 3, 31),
        label="Cin7 Core Maerz",
        dictation_initials="CC",
        application_info="cin7-datev 0.1",
        created_at=CREATED,
    )
    return dataclasses.replace(base, **changes)


def line(**changes: Any) -> BookingLine:
    """A sales invoice on automatic revenue account 8400 against debtor 10100, with a Beleglink."""
    base = BookingLine(
        amount=Decimal("1190.00"),
        side="H",
        account=8400,
        contra_account=10100,
        document_date=dt.date(2024, 3, 14),
        document_field_1="RE-2024-0042",
        text="Rechnung Mueller GmbH",
        document_link=f'BEDI "{GUID}"',
    )
    return dataclasses.replace(base, **changes)


def lines_three() -> list[BookingLine]:
    """An invoice, a payment and a credit note: a valid batch with no findings at all."""
    return [
        line(),
        line(
            amount=Decimal("1190.00"),
            side="S",
            account=1200,
            contra_account=10100,
            document_date=dt.date(2024, 3, 28),
            text="Zahlung RE-2024-0042",
        ),
        line(
            amount=Decimal("119.00"),
            side="S",
            document_date=dt.date(2024, 3, 30),
            document_field_1="GS-2024-0007",
            text="Gutschrift zu RE-2024-0042",
        ),
    ]


def valid_file(**line_changes: Any) -> bytes:
    """The three-line batch, with `line_changes` applied to its first line (record line 3)."""
    lines = lines_three()
    lines[0] = dataclasses.replace(lines[0], **line_changes)
    return write_extf(header(), lines)


def text_of(data: bytes) -> str:
    return data.decode("utf-8-sig")


def utf8_file(text: str) -> bytes:
    return codecs.BOM_UTF8 + text.encode("utf-8")


def patch_field(data: bytes, row: int, column: int, raw: str) -> bytes:
    """Replace the raw text (quotes included) of one field of line `row` (1 = header)."""
    lines = text_of(data).split("\r\n")
    fields = split_fields(lines[row - 1])
    assert fields is not None
    fields[column - 1] = raw
    lines[row - 1] = ";".join(fields)
    return utf8_file("\r\n".join(lines))


def patch_line(data: bytes, row: int, new: str) -> bytes:
    lines = text_of(data).split("\r\n")
    lines[row - 1] = new
    return utf8_file("\r\n".join(lines))


def field_of(data: bytes, row: int, column: int) -> str:
    fields = split_fields(text_of(data).split("\r\n")[row - 1])
    assert fields is not None
    return fields[column - 1]
