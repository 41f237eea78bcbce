"""What booking a period returns: the lines, the documents held back with every reason, and per-document
totals so the caller can reconcile DATEV's bookings with Cin7's documents."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from datev_cin7_pipeline.datev.bookings import BookingLine

# booked: new lines; held: no lines, see `held`; empty: nothing to book (zero total); reversed: booked
# before and now reversed; rebooked: reversed and booked anew; unchanged: booked before, nothing to post.
DocumentStatus = Literal["booked", "held", "empty", "reversed", "rebooked", "unchanged"]


@dataclass(frozen=True)
class HoldReason:
    code: str  # one of the codes in `mapping.issues`
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True)
class DocumentRef:
    """Which Cin7 document: its kind, its task (or payment) id, its sale/purchase, number and version."""

    kind: str  # sale_invoice | sale_credit_note | purchase_invoice | purchase_credit_note | customer_payment | …
    source_id: str
    parent_id: str
    number: str
    version: str

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.source_id


@dataclass(frozen=True)
class HeldDocument:
    """A document that produced no booking line, with all of its reasons (never a silent drop)."""

    document: DocumentRef
    reasons: tuple[HoldReason, ...]

    @property
    def codes(self) -> list[str]:
        return sorted({reason.code for reason in self.reasons})


@dataclass(frozen=True)
class DocumentTotal:
    """A document's Cin7 total next to what was booked, both signed as seen from the open-item account
    (debtor/creditor, the Gegenkonto): debit positive. A sale invoice of 119.00 is +119.00, a payment of it
    −119.00, a supplier invoice −119.00. In the document's currency."""

    document: DocumentRef
    status: DocumentStatus
    currency: str
    cin7_total: Decimal
    booked_total: Decimal


@dataclass
class BookingResult:
    lines: list[BookingLine] = field(default_factory=list)
    held: list[HeldDocument] = field(default_factory=list)
    documents: list[DocumentTotal] = field(default_factory=list)

    def extend(self, other: BookingResult) -> None:
        self.lines.extend(other.lines)
        self.held.extend(other.held)
        self.documents.extend(other.documents)

    def expected_totals(self) -> dict[tuple[str, str, str], Decimal]:
        """(kind, source id, version) → Cin7 total, for `booking_frame(..., totals=...)`."""
        return {
            (total.document.kind, total.document.source_id, total.document.version): total.cin7_total
            for total in self.documents
            if total.status in ("booked", "rebooked")
        }


def open_item_movement(line: BookingLine) -> Decimal:
    """What the line moves on its Gegenkonto (the open-item account), debit positive, reversals inverted."""
    movement = -line.signed()
    return -movement if line.reversal else movement


def base_movement(line: BookingLine) -> Decimal:
    """`open_item_movement` in the base currency (EUR): Basis-Umsatz where given, else the amount."""
    amount = line.base_amount if line.base_amount is not None else line.amount
    movement = amount if line.side == "H" else -amount
    return -movement if line.reversal else movement


def totals_by_treatment(lines: list[BookingLine]) -> dict[str, Decimal]:
    """Σ open-item movement in the base currency per tax treatment (payments under "")."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        totals[line.tax_treatment] += base_movement(line)
    return dict(totals)
