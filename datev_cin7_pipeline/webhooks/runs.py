"""Which VAT periods a batch of inbox events touches, and the runs that bring them up to date.

A Cin7 webhook names a document, not a period. A document already in the snapshot touches every period
its booking-relevant dates span (an edited invoice, a payment on an old invoice); any event also touches
the period it arrived in (a new invoice is dated about now) and, early in a month, the previous one
(invoices for last month are still authorised until the VAT return is filed).

Run keys are built from the events (connection, period, newest event id), so a batch evaluated twice (a
sensor tick that died before saving its cursor) asks for the same runs, and a retried webhook, which
only counts up its inbox row, asks for none.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from datev_cin7_pipeline.periods import FIRST_PERIOD, open_periods, period_of, period_start, shift_period
from datev_cin7_pipeline.store import StateStore
from datev_cin7_pipeline.store.inbox import PENDING, events_after
from datev_cin7_pipeline.store.models import Cin7Document, utcnow

LATE_DOCUMENT_DAYS = 10  # the monthly VAT return is due on the 10th: last month is still open until then
DOCUMENT_KINDS = ("sale", "purchase")


@dataclass(frozen=True)
class PeriodRun:
    period: dt.date
    run_key: str
    event_ids: tuple[int, ...]


@dataclass(frozen=True)
class InboxPlan:
    runs: list[PeriodRun]
    cursor: int  # the newest event looked at (also ignored ones), for the sensor's cursor
    events_seen: int


def plan_inbox_runs(
    store: StateStore,
    connection_id: int,
    connection_name: str,
    after_id: int,
    *,
    quarterly: bool = False,
    now: dt.datetime | None = None,
    limit: int = 500,
) -> InboxPlan:
    now = now or utcnow()
    newest_period = period_of(now, quarterly=quarterly)
    first = dt.date.fromisoformat(FIRST_PERIOD)
    by_period: dict[dt.date, list[int]] = defaultdict(list)
    with store.session() as session:
        events = events_after(session, connection_id, after_id, limit)
        spans = _document_spans(session, connection_id, {e.document_id for e in events if e.document_id})
        for event in events:
            if event.status != PENDING:
                continue  # unknown event types are kept in the inbox for the record, not acted on
            periods = set(open_periods(event.first_received_at, quarterly=quarterly, late_days=LATE_DOCUMENT_DAYS))
            span = spans.get(event.document_id or "")
            if span:
                periods |= _periods_between(span[0], span[1], quarterly)
            for period in periods:
                if first <= period <= newest_period:
                    by_period[period].append(event.id)
        cursor = max((event.id for event in events), default=after_id)
    runs = [
        PeriodRun(period, f"inbox:{connection_name}:{period.isoformat()}:{max(ids)}", tuple(sorted(ids)))
        for period, ids in sorted(by_period.items())
    ]
    return InboxPlan(runs, cursor, len(events))


def _document_spans(session: Session, connection_id: int, ids: set[str]) -> dict[str, tuple[dt.date, dt.date]]:
    if not ids:
        return {}
    rows = session.execute(
        select(Cin7Document.cin7_id, Cin7Document.first_date, Cin7Document.last_date).where(
            Cin7Document.connection_id == connection_id,
            Cin7Document.kind.in_(DOCUMENT_KINDS),
            Cin7Document.cin7_id.in_(sorted(ids)),
        )
    )
    return {cin7_id: (start, end) for cin7_id, start, end in rows if start and end}


def _periods_between(start: dt.date, end: dt.date, quarterly: bool) -> set[dt.date]:
    """Every period from the one holding `start` to the one holding `end`."""
    period, last = period_start(start, quarterly=quarterly), period_start(end, quarterly=quarterly)
    periods = set()
    while period <= last:
        periods.add(period)
        period = shift_period(period, 1, quarterly=quarterly)
    return periods


def format_event_ids(ids: Iterable[int]) -> str:
    """Event ids as compact ranges for a run tag: `3-7,9,12-14`."""
    ordered = sorted(set(ids))
    parts: list[str] = []
    start = previous = None
    for value in [*ordered, None]:
        if start is not None and (value is None or value != previous + 1):  # type: ignore[operator]
            parts.append(str(start) if start == previous else f"{start}-{previous}")
            start = None
        if value is not None and start is None:
            start = value
        previous = value
    return ",".join(parts)


def parse_event_ids(text: str) -> list[int]:
    """The inverse of `format_event_ids`; an empty or missing tag is no events."""
    ids: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        low, _, high = part.partition("-")
        ids.extend(range(int(low), int(high or low) + 1))
    return ids
