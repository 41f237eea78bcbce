"""Amounts survive JSON exactly; Cin7 dates are read with 0 to 7 fractional digits, with or without Z."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from datev_cin7_pipeline.sandbox.cin7 import jsonio
from datev_cin7_pipeline.sandbox.cin7.dates import format_document_date, format_timestamp, parse_cin7_datetime
from datev_cin7_pipeline.sandbox.cin7.money import document_totals, line_amounts


def test_decimals_round_trip_digit_for_digit() -> None:
    text = '{"Total": 119.00, "Tax": 0.1, "Quantity": 3, "Rate": 1.0392, "Name": "Müller & Söhne", "X": null}'
    value = jsonio.loads(text)
    assert value["Total"] == Decimal("119.00")
    assert isinstance(value["Quantity"], int)
    assert jsonio.dumps(value) == text.replace(": ", ":").replace(", ", ",")
    assert jsonio.loads(jsonio.dumps(value, indent=2)) == value


def test_json_refuses_what_is_not_json() -> None:
    with pytest.raises(ValueError, match="not a JSON number"):
        jsonio.loads('{"a": NaN}')
    with pytest.raises(ValueError, match="not a JSON number"):
        jsonio.dumps(Decimal("Infinity"))
    with pytest.raises(TypeError):
        jsonio.dumps({"when": date(2025, 1, 1)})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2017-11-22T00:00:00", datetime(2017, 11, 22, tzinfo=UTC)),
        ("2018-04-19T04:03:06.52Z", datetime(2018, 4, 19, 4, 3, 6, 520000, tzinfo=UTC)),
        ("2017-11-28T05:08:30.6407568Z", datetime(2017, 11, 28, 5, 8, 30, 640756, tzinfo=UTC)),
        ("2025-01-31T10:00:00Z", datetime(2025, 1, 31, 10, tzinfo=UTC)),
        ("2025-01-31", datetime(2025, 1, 31, tzinfo=UTC)),
        ("2025-01-31T10:00", datetime(2025, 1, 31, 10, tzinfo=UTC)),
    ],
)
def test_cin7_dates_are_read(text: str, expected: datetime) -> None:
    assert parse_cin7_datetime(text) == expected


@pytest.mark.parametrize("text", ["31.01.2025", "2025-01-31T10:00:00.12345678Z", "2025-13-01", "yesterday"])
def test_other_dates_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a date"):
        parse_cin7_datetime(text)


def test_dates_are_written_in_cin7_style() -> None:
    assert format_timestamp(datetime(2025, 1, 31, 10, 0, 0, tzinfo=UTC)) == "2025-01-31T10:00:00Z"
    assert format_timestamp(datetime(2018, 4, 19, 4, 3, 6, 520000, tzinfo=UTC)) == "2018-04-19T04:03:06.52Z"
    assert format_document_date(date(2017, 11, 22)) == "2017-11-22T00:00:00"


def test_line_amounts_follow_the_tax_mode() -> None:
    assert line_amounts(Decimal(3), Decimal("18.90"), Decimal(10), Decimal(7), inclusive=False) == (
        Decimal("51.03"),
        Decimal("3.57"),
    )
    assert line_amounts(Decimal(1), Decimal("119.00"), Decimal(0), Decimal(19), inclusive=True) == (
        Decimal("119.00"),
        Decimal("19.00"),
    )
    lines = [{"Total": Decimal("119.00"), "Tax": Decimal("19.00")}, {"Total": Decimal("10.70"), "Tax": Decimal("0.70")}]
    assert document_totals(lines, inclusive=True) == (Decimal("110.00"), Decimal("19.70"), Decimal("129.70"))
    assert document_totals(lines, inclusive=False) == (Decimal("129.70"), Decimal("19.70"), Decimal("149.40"))
