"""Property-based, through the whole accounting core: for generated valid Cin7 documents, the booking lines
written as an EXTF Buchungsstapel pass DATEV's rules (our validator, with the chart's automatic accounts),
and reading the file back gives the same lines, field for field."""

from __future__ import annotations

import dataclasses
import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from datev_cin7_pipeline.datev.bookings import BookingLine
from datev_cin7_pipeline.datev.extf.reader import read_extf
from datev_cin7_pipeline.datev.extf.validator import validate_extf
from datev_cin7_pipeline.datev.extf.writer import write_extf
from datev_cin7_pipeline.mapping import InMemoryPersonalAccountRegistry, book_period
from datev_cin7_pipeline.mapping.config import Chart
from datev_cin7_pipeline_tests.mapping.test_properties import Generated, _period, documents, mapping

# What the file carries of a line; provenance (source_*, tax_treatment) stays in the ledger, not in EXTF.
WRITTEN = [
    f.name for f in dataclasses.fields(BookingLine) if not f.name.startswith("source_") and f.name != "tax_treatment"
]


def _written(line: BookingLine) -> dict[str, object]:
    return {name: getattr(line, name) for name in WRITTEN}


@settings(max_examples=80, deadline=None)
@given(documents(), st.sampled_from(["skr03", "skr04"]), st.sampled_from(["utf-8", "cp1252"]))
def test_booked_documents_make_valid_extf_that_reads_back(doc: Generated, chart: Chart, encoding: str) -> None:
    period = _period(doc)
    config = mapping(chart)
    result = book_period(period, config, InMemoryPersonalAccountRegistry())
    assert result.held == []
    header = dataclasses.replace(
        config.datev.batch_header(period.start, period.end - dt.timedelta(days=1)),
        created_at=dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC),
    )

    data = write_extf(header, result.lines, encoding=encoding)  # type: ignore[arg-type]
    report = validate_extf(data, automatic_accounts=config.automatic(), filename="EXTF_property.csv")

    assert [str(finding) for finding in report.errors] == []
    assert report.rows == len(result.lines)
    batch = read_extf(data)
    assert [_written(line) for line in batch.lines] == [_written(line) for line in result.lines]
    assert batch.header.consultant_number == header.consultant_number
    assert batch.header.period_start == header.period_start
