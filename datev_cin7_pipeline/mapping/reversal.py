"""Reversals: a document that changed or was voided after it was booked is reversed, then booked anew.

DATEV does not delete a posted booking; a cancellation without a reversal leaves DATEV out of step with
Cin7 (ANCHORS §5.6). Two styles, chosen in the mapping (`reversal.style`):

- `generalumkehr`: the same row with the Generalumkehr flag set (EXTF field 118, FACTS §6.4). Sides,
  accounts and the BU key stay as they were, so DATEV reverses the tax exactly (a reversal must keep the
  original's keys, ANCHORS §5.1).
- `swap`: the same row with S and H exchanged (a plain counter-booking), keys kept as well.

Either way the text starts with "Storno", Belegfeld 1 stays (so the open item is reversed too), and a
Beleginfo "Cin7 Storno" names the Cin7 version that is reversed.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

from datev_cin7_pipeline.datev.bookings import BookingLine
from datev_cin7_pipeline.mapping.fields import booking_text, info

ReversalStyle = Literal["generalumkehr", "swap"]
REVERSAL_INFO = "Cin7 Storno"
MAX_INFOS = 8  # Beleginfo pairs 1–8 (FACTS §6.4 fields 21–36)


def is_reversal(line: BookingLine) -> bool:
    """True for a row that reverses an earlier booking (either style)."""
    return line.reversal or any(kind == REVERSAL_INFO for kind, _ in line.document_infos)


def reversal_line(line: BookingLine, style: ReversalStyle, on: dt.date | None = None) -> BookingLine:
    """The row that cancels `line`, dated `on` (default: the original's date)."""
    infos = (*line.document_infos, info(REVERSAL_INFO, line.source_version or "-"))
    return replace(
        line,
        side=line.side if style == "generalumkehr" else ("H" if line.side == "S" else "S"),
        reversal=(not line.reversal) if style == "generalumkehr" else line.reversal,
        text=booking_text("Storno", line.text),
        document_date=on or line.document_date,
        document_infos=infos[-MAX_INFOS:],
    )


def reversal_lines(
    previous_lines: Sequence[BookingLine], style: ReversalStyle, *, on: dt.date | None = None
) -> list[BookingLine]:
    """The reversal of every previously booked line of a document (pass its last effective booking)."""
    return [reversal_line(line, style, on) for line in previous_lines]


def _posting_key(line: BookingLine) -> BookingLine:
    return replace(line, source_version="")


def same_booking(previous_lines: Sequence[BookingLine], current_lines: Sequence[BookingLine]) -> bool:
    """True if both post exactly the same rows (ignoring the Cin7 version they were made from)."""
    return Counter(map(_posting_key, previous_lines)) == Counter(map(_posting_key, current_lines))


def rebook(
    previous_lines: Sequence[BookingLine],
    current_lines: Sequence[BookingLine] | None,
    style: ReversalStyle,
    *,
    on: dt.date | None = None,
) -> list[BookingLine]:
    """What to post now for a document that was booked before.

    - unchanged booking → nothing;
    - voided or no longer bookable (`current_lines` None or empty) → the reversal;
    - changed → the reversal, then the new booking.
    """
    if current_lines and same_booking(previous_lines, current_lines):
        return []
    reversal = reversal_lines(previous_lines, style, on=on)
    return reversal + list(current_lines or [])
