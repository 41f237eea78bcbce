"""Cutting booking lines into upload-sized batches, and naming them.

One batch is one client and one period (DATEV recommends a file per posting period). A batch never
crosses a fiscal year: the Belegdatum keeps only day and month and DATEV takes the year from the batch,
and DATEV's header check rejects a period outside the fiscal year. By default it also never crosses a
calendar year (DATEV message #REW04404 as cited by third-party validators, ANCHORS §5.10), which only
matters for fiscal years that do not start on 1 January. A batch holds at most 99,999 rows (the
accounting-extf-files limit).

File names and Reference-Ids are derived only from (tenant, period, batch sequence), so the pipeline can
record them before uploading and, after an unclear failure, find the job again by `reference_id`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from datev_cin7_pipeline.datev.bookings import BatchHeader, BookingLine
from datev_cin7_pipeline.datev.extf import columns as c
from datev_cin7_pipeline.datev.extf.errors import ExtfWriteError
from datev_cin7_pipeline.datev.extf.values import add_months, fiscal_year_of

FILE_NAME_PATTERN: Final = re.compile(r"EXTF_.{0,51}\.csv")
REFERENCE_ID_PATTERN: Final = re.compile(r"[-0-9A-Za-z_äöüÄÖÜß. +?;]{0,254}")
_SLUG_CHARS: Final = 16
_NOT_SLUG: Final = re.compile(r"[^A-Za-z0-9]+")
_GERMAN: Final = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"})


@dataclass(frozen=True)
class Batch:
    """The lines of one EXTF file and the header that describes them."""

    header: BatchHeader
    lines: tuple[BookingLine, ...]
    sequence: int  # 1-based, in the order split_batches returns the batches


def split_batches(
    header: BatchHeader,
    lines: Iterable[BookingLine],
    *,
    max_rows: int = c.MAX_ROWS,
    split_calendar_year: bool = True,
) -> list[Batch]:
    """Cut the lines of one client and period into batches; the lines keep their order.

    Each batch gets the header with its own fiscal-year start and the period narrowed to the part of the
    original period that lies in that fiscal (and calendar) year. A line outside the header's period is an
    error, never silently moved to another batch.
    """
    if max_rows < 1:
        raise ValueError("max_rows must be at least 1")
    groups: dict[tuple[dt.date, dt.date], list[BookingLine]] = {}
    segments: dict[dt.date, tuple[dt.date, dt.date]] = {}  # dates repeat: compute each one's segment once
    for number, line in enumerate(lines, start=1):
        day = line.document_date
        segment = segments.get(day)
        if segment is not None:
            groups[segment].append(line)
            continue
        if not header.period_start <= day <= header.period_end:
            raise ExtfWriteError(
                f"Belegdatum {line.document_date:%d.%m.%Y} lies outside the period "
                f"{header.period_start:%d.%m.%Y}–{header.period_end:%d.%m.%Y}",
                line=number,
                column=c.DOCUMENT_DATE,
                field=c.column_name(c.DOCUMENT_DATE),
            )
        segment = segments[day] = _segment(day, header, split_calendar_year)
        groups.setdefault(segment, []).append(line)
    batches: list[Batch] = []
    for (start, end), members in sorted(groups.items()):
        part = dataclasses.replace(
            header,
            fiscal_year_start=fiscal_year_of(start, header.fiscal_year_start),
            period_start=start,
            period_end=end,
        )
        for offset in range(0, len(members), max_rows):
            chunk = tuple(members[offset : offset + max_rows])
            batches.append(Batch(header=part, lines=chunk, sequence=len(batches) + 1))
    return batches


def _segment(day: dt.date, header: BatchHeader, split_calendar_year: bool) -> tuple[dt.date, dt.date]:
    """The part of the header's period that shares `day`'s fiscal year (and calendar year)."""
    fiscal_start = fiscal_year_of(day, header.fiscal_year_start)
    start = max(header.period_start, fiscal_start)
    end = min(header.period_end, add_months(fiscal_start, 12) - dt.timedelta(days=1))
    if split_calendar_year:
        start = max(start, dt.date(day.year, 1, 1))
        end = min(end, dt.date(day.year, 12, 31))
    return start, end


@dataclass(frozen=True)
class BatchName:
    """The identity of one uploaded file: tenant (the connection), period and sequence number.

    `revision` is 0 for the first upload of a batch; a corrected re-export of the same batch gets a new
    revision, so its Reference-Id differs from the one DATEV already has.
    """

    tenant: str
    period_start: dt.date
    period_end: dt.date
    sequence: int
    revision: int = 0

    def __post_init__(self) -> None:
        if not self.tenant:
            raise ValueError("the tenant must not be empty")
        if not 1 <= self.sequence <= 9999:
            raise ValueError("the batch sequence must be 1..9999")
        if not 0 <= self.revision <= 99:
            raise ValueError("the revision must be 0..99")

    @classmethod
    def of(cls, tenant: str, batch: Batch, revision: int = 0) -> BatchName:
        return cls(tenant, batch.header.period_start, batch.header.period_end, batch.sequence, revision)

    def _stem(self) -> str:
        revision = f"r{self.revision:02d}" if self.revision else ""
        return (
            f"{tenant_slug(self.tenant)}_{self.period_start:%Y%m%d}_{self.period_end:%Y%m%d}_{self.sequence:04d}"
            f"{revision}"
        )

    def file_name(self) -> str:
        """`EXTF_<tenant>-<hash>_<from>_<to>_<sequence>.csv`, at most 51 characters between EXTF_ and .csv."""
        name = f"EXTF_{self._stem()}.csv"
        assert FILE_NAME_PATTERN.fullmatch(name), name
        return name

    def reference_id(self) -> str:
        """The Reference-Id header for the upload (allowed characters of accounting-extf-files)."""
        reference = f"cin7-datev_{self._stem()}"
        assert REFERENCE_ID_PATTERN.fullmatch(reference), reference
        return reference


def tenant_slug(tenant: str) -> str:
    """A file-name-safe, unique short form of the tenant: ASCII letters and digits plus a hash of the
    exact tenant, so two tenants never share a name even when their letters fold alike."""
    german = tenant.translate(_GERMAN)
    folded = unicodedata.normalize("NFKD", german).encode("ascii", "ignore").decode("ascii")
    letters = _NOT_SLUG.sub("-", folded).strip("-")[:_SLUG_CHARS].strip("-") or "tenant"
    digest = hashlib.sha256(tenant.encode("utf-8")).hexdigest()[:8]
    return f"{letters}-{digest}"
