"""`book_period`: a VAT period's Cin7 documents as DATEV booking lines, with reversals of what changed.

The caller (the Dagster asset) passes the period from `cin7.period.load_period`, the connection's
mapping, its personal-account registry, the GUIDs of uploaded documents, and, for documents that were
booked before, their last effective booking lines (`previous`, keyed by (source_kind, source_id)). A
document that was booked before is reversed and booked anew if its booking changed, left alone if not,
and reversed alone if it is no longer bookable in the period (voided, undone, re-dated). A document that
is held keeps its previous booking until its gap is fixed.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal

from datev_cin7_pipeline.cin7.period import Cin7Period
from datev_cin7_pipeline.datev.bookings import BookingLine
from datev_cin7_pipeline.mapping.config import MappingConfig
from datev_cin7_pipeline.mapping.documents import Parent
from datev_cin7_pipeline.mapping.registry import PersonalAccountRegistry
from datev_cin7_pipeline.mapping.result import (
    BookingResult,
    DocumentRef,
    DocumentStatus,
    DocumentTotal,
    open_item_movement,
)
from datev_cin7_pipeline.mapping.reversal import ReversalStyle, rebook, reversal_lines
from datev_cin7_pipeline.mapping.rules import book_period_documents

DocumentKey = tuple[str, str]  # (source_kind, source_id)


def book_period(
    period: Cin7Period,
    mapping: MappingConfig,
    accounts: PersonalAccountRegistry,
    *,
    guids: Mapping[str, str] | None = None,
    parents: Mapping[str, Parent] | None = None,
    previous: Mapping[DocumentKey, Sequence[BookingLine]] | None = None,
) -> BookingResult:
    """Book every authorised invoice, credit note and payment of `period`.

    - `guids`: document GUID per Cin7 task id (or per `"<kind>:<task id>"`, needed for a simple
      purchase whose invoice and credit note share the purchase's id) → `Beleglink BEDI "<guid>"`.
    - `parents`: sales and purchases by id beyond those of the period's own documents, so a payment of an
      earlier period's invoice finds its currency, open item and cash discount.
    - `previous`: the last booking of documents booked before (see the module docstring).
    """
    current = book_period_documents(period, mapping, accounts, guids=guids, parents=parents)
    if not previous:
        return current
    return _with_reversals(current, previous, mapping.reversal.style, period)


def _with_reversals(
    current: BookingResult,
    previous: Mapping[DocumentKey, Sequence[BookingLine]],
    reversal_style: ReversalStyle,
    period: Cin7Period,
) -> BookingResult:
    by_document: dict[DocumentKey, list[BookingLine]] = defaultdict(list)
    for line in current.lines:
        by_document[(line.source_kind, line.source_id)].append(line)
    held = {item.document.key for item in current.held}
    result = BookingResult(held=list(current.held))
    for total in current.documents:
        key = total.document.key
        before = previous.get(key)
        if before is None or key in held:
            result.lines.extend(by_document.get(key, []))
            result.documents.append(total)
            continue
        on = _inside(before[0].document_date, period)
        posted = rebook(before, by_document.get(key, []), reversal_style, on=on)
        result.lines.extend(posted)
        status: DocumentStatus = "unchanged" if not posted else "rebooked" if key in by_document else "reversed"
        result.documents.append(
            DocumentTotal(total.document, status, total.currency, total.cin7_total, total.booked_total)
        )
    seen = {total.document.key for total in current.documents}
    for key, before in previous.items():
        if key in seen or not before:
            continue
        reversal = reversal_lines(before, reversal_style, on=_inside(before[0].document_date, period))
        result.lines.extend(reversal)
        result.documents.append(_reversed_total(key, before, reversal))
    return result


def _inside(day: dt.date, period: Cin7Period) -> dt.date:
    """The reversal's date: the original's if it lies in the period, else the nearest day of the period
    (DATEV refuses a row dated outside its batch)."""
    last = period.end - dt.timedelta(days=1)
    return min(max(day, period.start), last)


def _reversed_total(key: DocumentKey, before: Sequence[BookingLine], reversal: Sequence[BookingLine]) -> DocumentTotal:
    first = before[0]
    ref = DocumentRef(key[0], key[1], "", first.document_field_1, first.source_version)
    booked = sum((open_item_movement(line) for line in reversal), Decimal(0))
    return DocumentTotal(ref, "reversed", first.currency, Decimal(0), booked)
