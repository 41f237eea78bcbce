"""VAT periods follow German local time: a sale at 00:30 on 1 November in Berlin is a November sale,
although it is still 31 October in UTC."""

from __future__ import annotations

import datetime as dt

import pytest

from datev_cin7_pipeline.periods import partition_key, period_of


@pytest.mark.parametrize(
    ("moment", "quarterly", "expected"),
    [
        (dt.datetime(2026, 10, 31, 23, 30, tzinfo=dt.UTC), False, dt.date(2026, 11, 1)),  # 00:30 CET
        (dt.datetime(2026, 10, 31, 22, 59, tzinfo=dt.UTC), False, dt.date(2026, 10, 1)),
        (dt.datetime(2026, 3, 31, 21, 59, tzinfo=dt.UTC), False, dt.date(2026, 3, 1)),  # 23:59 CEST
        (dt.datetime(2026, 3, 31, 22, 0, tzinfo=dt.UTC), False, dt.date(2026, 4, 1)),  # 00:00 CEST
        (dt.datetime(2026, 12, 31, 23, 0, tzinfo=dt.UTC), False, dt.date(2027, 1, 1)),  # new fiscal year
        (dt.datetime(2026, 11, 15, 12, 0, tzinfo=dt.UTC), True, dt.date(2026, 10, 1)),
        (dt.datetime(2026, 3, 31, 22, 0, tzinfo=dt.UTC), True, dt.date(2026, 4, 1)),
    ],
)
def test_period_of_uses_german_time(moment: dt.datetime, quarterly: bool, expected: dt.date) -> None:
    assert period_of(moment, quarterly=quarterly) == expected
    assert partition_key(expected) == expected.strftime("%Y-%m-01")


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        period_of(dt.datetime(2026, 11, 1, 0, 30))
