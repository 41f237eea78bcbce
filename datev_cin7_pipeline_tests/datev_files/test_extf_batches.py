"""Splitting into batches (row limit, fiscal and calendar years) and the deterministic names."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from datev_cin7_pipeline.datev.bookings import BookingLine
from datev_cin7_pipeline.datev.extf import (
    MAX_ROWS,
    BatchName,
    ExtfWriteError,
    split_batches,
    tenant_slug,
    validate_extf,
    write_extf,
)
from datev_cin7_pipeline.datev.extf.batches import FILE_NAME_PATTERN, REFERENCE_ID_PATTERN

from .helpers import header, line


def numbered(count: int, day: dt.date = dt.date(2024, 3, 14)) -> list[BookingLine]:
    return [line(document_field_1=f"RE-{n}", document_date=day) for n in range(count)]


def test_split_at_the_row_limit_keeps_order_and_header() -> None:
    lines = numbered(7)
    batches = split_batches(header(), lines, max_rows=3)
    assert [len(b.lines) for b in batches] == [3, 3, 1]
    assert [b.sequence for b in batches] == [1, 2, 3]
    assert [x for b in batches for x in b.lines] == lines
    assert {b.header for b in batches} == {header()}


def test_real_limit_99999() -> None:
    assert MAX_ROWS == 99_999
    batches = split_batches(header(), [line()] * 100_000)
    assert [len(b.lines) for b in batches] == [99_999, 1]
    assert len(split_batches(header(), [line()] * 99_999)) == 1


def test_never_across_a_fiscal_year() -> None:
    """Fiscal year from 1 July: a June–July period becomes two batches, each with its own WJ-Beginn."""
    hdr = header(
        fiscal_year_start=dt.date(2023, 7, 1), period_start=dt.date(2024, 6, 1), period_end=dt.date(2024, 7, 31)
    )
    july, june = line(document_date=dt.date(2024, 7, 2)), line(document_date=dt.date(2024, 6, 28))
    batches = split_batches(hdr, [july, june, july])
    assert [(b.header.fiscal_year_start, b.header.period_start, b.header.period_end) for b in batches] == [
        (dt.date(2023, 7, 1), dt.date(2024, 6, 1), dt.date(2024, 6, 30)),
        (dt.date(2024, 7, 1), dt.date(2024, 7, 1), dt.date(2024, 7, 31)),
    ]
    assert [list(b.lines) for b in batches] == [[june], [july, july]]
    for batch in batches:
        assert validate_extf(write_extf(batch.header, batch.lines)).findings == ()


def test_calendar_year_split_is_optional() -> None:
    hdr = header(
        fiscal_year_start=dt.date(2024, 7, 1), period_start=dt.date(2024, 12, 1), period_end=dt.date(2025, 1, 31)
    )
    lines = [line(document_date=dt.date(2024, 12, 31)), line(document_date=dt.date(2025, 1, 2))]
    assert len(split_batches(hdr, lines)) == 2
    single = split_batches(hdr, lines, split_calendar_year=False)
    assert len(single) == 1
    assert single[0].header == hdr
    assert {f.code for f in validate_extf(write_extf(single[0].header, single[0].lines)).findings} == {"EXTF-H029"}


def test_row_limit_applies_within_each_fiscal_year() -> None:
    hdr = header(
        fiscal_year_start=dt.date(2023, 7, 1), period_start=dt.date(2024, 6, 1), period_end=dt.date(2024, 7, 31)
    )
    lines = numbered(3, dt.date(2024, 6, 3)) + numbered(2, dt.date(2024, 7, 3))
    assert [len(b.lines) for b in split_batches(hdr, lines, max_rows=2)] == [2, 1, 2]


def test_a_line_outside_the_period_is_an_error_not_a_new_batch() -> None:
    with pytest.raises(ExtfWriteError, match="outside the period") as caught:
        split_batches(header(), [line(), line(document_date=dt.date(2024, 4, 1))])
    assert caught.value.line == 2


def test_no_lines_no_batches() -> None:
    assert split_batches(header(), []) == []


def test_names_are_deterministic_and_valid() -> None:
    batch = split_batches(header(), [line()])[0]
    name = BatchName.of("Muster Großhandel GmbH", batch)
    # golden values: a change here renames every future upload, so it must be deliberate
    assert name.file_name() == "EXTF_Muster-Grosshand-d7ac3b9a_20240301_20240331_0001.csv"
    assert name.reference_id() == "cin7-datev_Muster-Grosshand-d7ac3b9a_20240301_20240331_0001"
    assert tenant_slug("Muster Großhandel GmbH") == "Muster-Grosshand-d7ac3b9a"
    assert FILE_NAME_PATTERN.fullmatch(name.file_name())
    assert REFERENCE_ID_PATTERN.fullmatch(name.reference_id())


def test_names_differ_by_tenant_period_sequence_and_revision() -> None:
    base = BatchName("conn-1", dt.date(2024, 3, 1), dt.date(2024, 3, 31), 1)
    variants = [
        base,
        dataclasses.replace(base, tenant="conn-2"),
        dataclasses.replace(base, tenant="Conn 1"),  # folds like conn-1, but the hash tells them apart
        dataclasses.replace(base, period_start=dt.date(2024, 3, 2)),
        dataclasses.replace(base, sequence=2),
        dataclasses.replace(base, revision=1),
    ]
    assert len({v.file_name() for v in variants}) == len(variants)
    assert len({v.reference_id() for v in variants}) == len(variants)


def test_names_stay_within_the_upload_limits() -> None:
    name = BatchName("Ünïcödé " * 40, dt.date(2024, 3, 1), dt.date(2024, 3, 31), 9999, revision=99)
    assert FILE_NAME_PATTERN.fullmatch(name.file_name())
    assert len(name.file_name()) - len("EXTF_.csv") <= 51
    assert REFERENCE_ID_PATTERN.fullmatch(name.reference_id())
    assert BatchName("€€€", dt.date(2024, 3, 1), dt.date(2024, 3, 31), 1).file_name().startswith("EXTF_tenant-")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"tenant": ""}, "tenant"),
        ({"sequence": 0}, "sequence"),
        ({"sequence": 10000}, "sequence"),
        ({"revision": 100}, "revision"),
    ],
)
def test_invalid_names_are_refused(changes: dict[str, Any], message: str) -> None:
    values: dict[str, Any] = {
        "tenant": "t", "period_start": dt.date(2024, 3, 1), "period_end": dt.date(2024, 3, 31), "sequence": 1,
    }  # fmt: skip
    values.update(changes)
    with pytest.raises(ValueError, match=message):
        BatchName(**values)
