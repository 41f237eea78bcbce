"""Reading a Buchungsstapel back into a BatchHeader and BookingLines.

The inverse of the writer: for every field the writer writes, `read_extf(write_extf(h, lines))` gives the
same values (the provenance fields are not in the file and come back empty; `created_at` comes back to
the millisecond, in German local time). The year of each TTMM Belegdatum is the one that puts the day
inside the header's period. The reader stops at the first problem; `validate_extf` lists them all.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from datev_cin7_pipeline.datev.bookings import BatchHeader, BookingLine, Side
from datev_cin7_pipeline.datev.extf import columns as c
from datev_cin7_pipeline.datev.extf.encoding import decode
from datev_cin7_pipeline.datev.extf.errors import ExtfReadError
from datev_cin7_pipeline.datev.extf.header import read_booking_header
from datev_cin7_pipeline.datev.extf.records import split_lines
from datev_cin7_pipeline.datev.extf.values import parse_decimal, parse_ttmmjjjj, resolve_ttmm

T = TypeVar("T")


@dataclass(frozen=True)
class ExtfBatch:
    header: BatchHeader
    lines: list[BookingLine]


def read_extf(data: bytes) -> ExtfBatch:
    """Parse a Buchungsstapel; raises ExtfReadError naming the line and field that cannot be read."""
    decoded = decode(data)
    if decoded.error:
        raise ExtfReadError(f"the file is not valid {decoded.encoding}: {decoded.error}")
    lines = split_lines(decoded.text).lines
    if len(lines) < 2:
        raise ExtfReadError("the file has no header and heading lines")
    header = read_booking_header(lines[0])
    if lines[1] != c.HEADING_LINE:
        raise ExtfReadError("line 2 is not the column heading line of format version 13")
    bookings = []
    records = csv.reader(lines[2:], delimiter=";", quotechar='"', strict=True)
    number = 2
    try:
        for number, values in enumerate(records, start=3):
            bookings.append(_booking(values, header, number))
    except csv.Error as exc:
        raise ExtfReadError(f"line {number + 1}: {exc}") from exc
    return ExtfBatch(header, bookings)


def _booking(values: list[str], header: BatchHeader, number: int) -> BookingLine:
    if len(values) != c.COLUMN_COUNT:
        raise ExtfReadError(f"line {number} has {len(values)} fields instead of {c.COLUMN_COUNT}")
    try:
        return BookingLine(
            amount=_required(values, c.AMOUNT, parse_decimal),
            side=_required(values, c.SIDE, _side),
            account=_required(values, c.ACCOUNT, int),
            contra_account=_required(values, c.CONTRA_ACCOUNT, int),
            document_date=_required(
                values, c.DOCUMENT_DATE, lambda text: resolve_ttmm(text, header.period_start, header.period_end)
            ),
            document_field_1=values[c.DOCUMENT_FIELD_1 - 1],
            text=values[c.TEXT - 1],
            tax_key=values[c.TAX_KEY - 1],
            currency=values[c.CURRENCY - 1] or header.currency,
            exchange_rate=_optional(values, c.RATE, parse_decimal),
            base_amount=_optional(values, c.BASE_AMOUNT, parse_decimal),
            base_currency=values[c.BASE_CURRENCY - 1],
            document_field_2=values[c.DOCUMENT_FIELD_2 - 1],
            cash_discount=_optional(values, c.CASH_DISCOUNT, parse_decimal),
            document_link=values[c.DOCUMENT_LINK - 1],
            document_infos=_document_infos(values),
            cost_centre_1=values[c.COST_CENTRE_1 - 1],
            cost_centre_2=values[c.COST_CENTRE_2 - 1],
            eu_vat_id=values[c.EU_VAT_ID - 1],
            eu_tax_rate=_optional(values, c.EU_TAX_RATE, parse_decimal),
            supply_date=_optional(values, c.SUPPLY_DATE, parse_ttmmjjjj),
            due_date=_optional(values, c.DUE_DATE, parse_ttmmjjjj),
            reversal=values[c.REVERSAL - 1] == "1",
            tax_rate=_optional(values, c.TAX_RATE, parse_decimal),
            country=values[c.COUNTRY - 1],
            booking_guid=values[c.BOOKING_GUID - 1],
            lock=None if values[c.LOCK - 1] == "" else values[c.LOCK - 1] == "1",
        )
    except _FieldError as exc:
        raise ExtfReadError(f"line {number}, field {exc.column} '{c.column_name(exc.column)}': {exc}") from exc


class _FieldError(ValueError):
    def __init__(self, column: int, message: str) -> None:
        self.column = column
        super().__init__(message)


def _required(values: list[str], column: int, parse: Callable[[str], T]) -> T:
    try:
        return parse(values[column - 1])
    except ValueError as exc:
        raise _FieldError(column, str(exc)) from exc


def _optional(values: list[str], column: int, parse: Callable[[str], T]) -> T | None:
    return _required(values, column, parse) if values[column - 1] else None


def _side(value: str) -> Side:
    if value == "S":
        return "S"
    if value == "H":
        return "H"
    raise ValueError(f"{value!r} is neither S nor H")


def _document_infos(values: list[str]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for index in range(c.DOCUMENT_INFO_PAIRS):
        kind = values[c.DOCUMENT_INFO_FIRST - 1 + 2 * index]
        content = values[c.DOCUMENT_INFO_FIRST + 2 * index]
        if kind or content:
            pairs.append((kind, content))
    return tuple(pairs)
