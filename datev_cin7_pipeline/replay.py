"""Replay: which VAT periods to run again so that what failed is sent again, once the cause is fixed.

Replaying is running the period again. The ledger makes that safe: booking rows of a failed or
cancelled DATEV job no longer count as posted, so the period's next run books those documents into a
new file; rows DATEV accepted are never sent again; PDFs already in DATEV are skipped by their GUID.
This module only finds the periods (by job, document or period), says why, and records the request.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import or_, select

from datev_cin7_pipeline.errors import ConnectorError
from datev_cin7_pipeline.periods import period_start
from datev_cin7_pipeline.store import StateStore
from datev_cin7_pipeline.store import jobs as job_ledger
from datev_cin7_pipeline.store.audit import record_event
from datev_cin7_pipeline.store.models import BookingRecord, Cin7Document, DatevJob, DocumentRecord

REPLAYABLE = frozenset({job_ledger.FAILED, job_ledger.CANCELLED})


class ReplayError(ConnectorError):
    """Nothing to replay for what was named, with the reason."""


@dataclass
class ReplayPlan:
    periods: dict[dt.date, list[str]] = field(default_factory=dict)  # period → why it is run again

    def add(self, period: dt.date, reason: str) -> None:
        self.periods.setdefault(period, []).append(reason)


def plan_replay(
    store: StateStore,
    connection_id: int,
    *,
    job: str | None = None,
    document: str | None = None,
    period: dt.date | None = None,
    quarterly: bool = False,
    actor: str = "cli",
) -> ReplayPlan:
    """The periods to run again for one DATEV job (Reference-Id or DATEV's job id), one Cin7 document (its
    id) or one period; the request is audited. Raises ReplayError when there is nothing to replay."""
    if sum(x is not None for x in (job, document, period)) != 1:
        raise ReplayError("Name exactly one of a DATEV job, a Cin7 document or a period to replay.")
    plan = ReplayPlan()
    with store.session() as session:
        if job is not None:
            found = session.scalar(
                select(DatevJob).where(
                    DatevJob.connection_id == connection_id,
                    or_(DatevJob.reference_id == job, DatevJob.datev_job_id == job),
                )
            )
            if found is None:
                raise ReplayError(f"There is no DATEV job {job!r} for this connection.")
            if found.status not in REPLAYABLE:
                raise ReplayError(
                    f"DATEV job {job} is {found.status}; only failed or cancelled jobs are replayed"
                    + (" (the job sensor finishes pending ones)." if found.status not in job_ledger.FINAL else ".")
                )
            plan.add(found.period, f"DATEV job {found.reference_id} {found.status}: {found.error or 'no detail'}")
            subject = ("datev_job", found.reference_id)
        elif document is not None:
            for row in session.scalars(
                select(BookingRecord).where(
                    BookingRecord.connection_id == connection_id, BookingRecord.cin7_document_id == document
                )
            ):
                plan.add(row.period, f"{row.kind} of Cin7 {row.cin7_document_kind} {document} is {row.status}")
            for upload in session.scalars(
                select(DocumentRecord).where(
                    DocumentRecord.connection_id == connection_id, DocumentRecord.cin7_document_id == document
                )
            ):
                plan.add(upload.period, f"PDF {upload.guid} is {upload.status}")
            if not plan.periods:
                known = session.scalar(
                    select(Cin7Document).where(
                        Cin7Document.connection_id == connection_id, Cin7Document.cin7_id == document
                    )
                )
                if known is None or known.first_date is None:
                    raise ReplayError(
                        f"Cin7 document {document!r} is not known here yet; run its period first."
                    )
                plan.add(
                    period_start(known.first_date, quarterly=quarterly),
                    f"Cin7 {known.kind} {document} was never booked",
                )
            subject = ("cin7_document", document)
        else:
            assert period is not None
            plan.add(period, "period named for replay")
            subject = ("period", period.isoformat())
        record_event(
            session,
            action="replay.requested",
            subject_type=subject[0],
            subject_id=subject[1],
            actor=actor,
            connection_id=connection_id,
            detail={"periods": {p.isoformat(): reasons for p, reasons in sorted(plan.periods.items())}},
            refs=[subject[1]],
        )
    return plan
