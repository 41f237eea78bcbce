"""Sending to DATEV exactly once: the ledger is written before each step and read before each retry.

- Documents: the intent row is committed, then `PUT …/documents/{guid}` with the deterministic GUID. A
  repeat (after a crash or a lost answer) gets 409, which is success: the PDF is there once.
- EXTF batches: the intent row with its `Reference-Id` is committed, then the file is posted and the job id
  committed at once. DATEV does not deduplicate EXTF files, so when a run finds an intent without a job id
  (a crash between upload and commit), or the connection broke after sending, it looks the job up at DATEV
  by `Reference-Id` and only sends if DATEV has none.
- Jobs are polled with `datev.polling` and their final status, validation details and protocol entries are
  stored; a job still pending is left for the job sensor.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from datev_cin7_pipeline.datev.api import DatevApi, DatevApiError, DatevUnclearError, ExtfJob
from datev_cin7_pipeline.datev.extf.validator import validate_extf
from datev_cin7_pipeline.datev.polling import DEFAULT_SCHEDULE, PollSchedule, wait_for_job
from datev_cin7_pipeline.store import StateStore
from datev_cin7_pipeline.store import jobs as ledger
from datev_cin7_pipeline.store.ledger import record_document_intent

ACTOR = "pipeline"


@dataclass(frozen=True)
class DocumentToSend:
    guid: str
    cin7_document_kind: str
    cin7_document_id: str
    attachment_id: str
    document_version: str
    period: dt.date
    file_name: str
    content: bytes
    document_type: str  # e.g. Rechnungsausgang / Rechnungseingang (from the client's own list)
    note: str = ""


@dataclass(frozen=True)
class BatchToSend:
    period: dt.date
    sequence: int
    file_name: str
    reference_id: str
    content: bytes
    row_count: int


@dataclass(frozen=True)
class JobOutcome:
    reference_id: str
    datev_job_id: str | None
    status: str
    reads: int
    validation_details: Any = None


def send_document(api: DatevApi, store: StateStore, connection_id: int, client_id: str, doc: DocumentToSend) -> str:
    """Upload one PDF once; returns the ledger status (uploaded | already_present)."""
    with store.session() as session:
        record, _ = _document(session, connection_id, doc)
        if record.status in ("uploaded", "already_present"):
            return record.status
    try:
        upload = api.upload_document(
            client_id,
            doc.guid,
            file_name=doc.file_name,
            content=doc.content,
            document_type=doc.document_type,
            note=doc.note,
        )
    except DatevApiError as exc:
        with store.session() as session:
            record, _ = _document(session, connection_id, doc)
            ledger.mark_document(session, record, "failed", actor=ACTOR, error=str(exc))
        raise
    status = "uploaded" if upload.created else "already_present"
    with store.session() as session:
        record, _ = _document(session, connection_id, doc)
        ledger.mark_document(
            session,
            record,
            status,
            actor=ACTOR,
            content_sha256=hashlib.sha256(doc.content).hexdigest(),
            size_bytes=len(doc.content),
        )
    return status


# Refusals that concern every document of the client, not the one sent (FACTS §2): booking the rest without
# their Belege would hide a setup problem, so these stop the step like a login problem does.
CLIENT_WIDE_CODES = frozenset({"#DCO01005", "#DCO01006", "#DCO01010", "#DCO01013", "#DCO01019", "#DCO01231"})


def refused_for_this_document(exc: DatevApiError) -> bool:
    """True when DATEV refused this one document (its file, name, metadata, a duplicate): the others can go.

    False for an unclear send, a login or permission problem, throttling, DATEV unreachable or in
    maintenance, or a refusal of the whole client: those must stop the step."""
    if isinstance(exc, DatevUnclearError) or exc.code in CLIENT_WIDE_CODES:
        return False
    return 400 <= exc.status < 500 and exc.status not in (401, 403, 408, 429)


def record_document_failure(store: StateStore, connection_id: int, doc: DocumentToSend, reason: str) -> None:
    """A document that could not be sent at all (its PDF could not be taken from Cin7): in the ledger as
    failed with the reason, like a refused upload, so it is tried again and never counted as in DATEV."""
    with store.session() as session:
        record, _ = _document(session, connection_id, doc)
        if record.status not in ("uploaded", "already_present"):
            ledger.mark_document(session, record, "failed", actor=ACTOR, error=reason)


def _document(session: Any, connection_id: int, doc: DocumentToSend) -> Any:
    """The ledger row of `doc`, created as "intended" on first sight."""
    return record_document_intent(
        session,
        connection_id=connection_id,
        guid=doc.guid,
        cin7_document_kind=doc.cin7_document_kind,
        cin7_document_id=doc.cin7_document_id,
        attachment_id=doc.attachment_id,
        document_version=doc.document_version,
        period=doc.period,
        file_name=doc.file_name,
        actor=ACTOR,
    )


class ExtfRejected(DatevApiError):
    """Our own validator found errors: the file is not sent (DATEV would refuse it or book it wrongly)."""


def submit_batch(
    api: DatevApi,
    store: StateStore,
    connection_id: int,
    client_id: str,
    batch: BatchToSend,
    *,
    automatic_accounts: frozenset[int] = frozenset(),
) -> str:
    """Validate, then post one EXTF file at most once; returns DATEV's job id."""
    report = validate_extf(batch.content, automatic_accounts=automatic_accounts, filename=batch.file_name)
    if report.errors:
        shown = "; ".join(str(finding) for finding in report.errors[:5])
        more = f" (and {len(report.errors) - 5} more)" if len(report.errors) > 5 else ""
        raise ExtfRejected(f"{batch.file_name} breaks DATEV's rules and was not sent: {shown}{more}", status=0)
    with store.session() as session:
        job = ledger.record_job_intent(
            session,
            connection_id=connection_id,
            api="extf",
            period=batch.period,
            sequence=batch.sequence,
            reference_id=batch.reference_id,
            file_name=batch.file_name,
            file_sha256=hashlib.sha256(batch.content).hexdigest(),
            row_count=batch.row_count,
            actor=ACTOR,
        )
        if job.datev_job_id:
            return job.datev_job_id
        interrupted = job.status == ledger.SENDING
        if not interrupted:
            job.status = ledger.SENDING  # committed before the file leaves: a retry must look first
    if interrupted:
        # An earlier attempt may have reached DATEV before it died: ask before sending again.
        found = api.find_extf_job(client_id, batch.reference_id)
        if found is not None:
            return _remember(store, connection_id, batch.reference_id, found.id, recovered=True)
    try:
        submission = api.submit_extf(
            client_id, filename=batch.file_name, reference_id=batch.reference_id, content=batch.content
        )
    except DatevUnclearError:
        found = api.find_extf_job(client_id, batch.reference_id)
        if found is None:
            raise
        return _remember(store, connection_id, batch.reference_id, found.id, recovered=True)
    return _remember(store, connection_id, batch.reference_id, submission.job_id, recovered=False)


def _remember(store: StateStore, connection_id: int, reference_id: str, job_id: str, *, recovered: bool) -> str:
    with store.session() as session:
        job = ledger.job_by_reference(session, connection_id, reference_id)
        assert job is not None
        ledger.mark_submitted(session, job, job_id, actor=ACTOR, recovered=recovered)
    return job_id


def poll_batch(
    api: DatevApi,
    store: StateStore,
    connection_id: int,
    client_id: str,
    reference_id: str,
    *,
    schedule: PollSchedule = DEFAULT_SCHEDULE,
    retry_after: float | None = None,
    sleep: Any = None,
) -> JobOutcome:
    """Wait (politely) for an EXTF job and record what DATEV says; pending jobs stay for the sensor."""
    with store.session() as session:
        job = ledger.job_by_reference(session, connection_id, reference_id)
        assert job is not None
        assert job.datev_job_id, "poll only jobs DATEV has named"
        if job.status in ledger.FINAL:
            return JobOutcome(reference_id, job.datev_job_id, job.status, 0, job.validation_details)
        job_id = job.datev_job_id
    kwargs: dict[str, Any] = {"schedule": schedule, "retry_after": retry_after}
    if sleep is not None:
        kwargs["sleep"] = sleep
    outcome = wait_for_job(lambda: api.extf_job(client_id, job_id), lambda j: j.finished, **kwargs)
    last: ExtfJob | None = outcome.last
    status = last.result if last is not None and outcome.finished else ledger.PENDING
    with store.session() as session:
        job = ledger.job_by_reference(session, connection_id, reference_id)
        assert job is not None
        ledger.record_status(
            session,
            job,
            status,
            actor=ACTOR,
            reads=outcome.reads,
            result=last.raw if last is not None else None,
            validation_details=last.validation_details if last is not None else None,
            error=_validation_text(last.validation_details) if status == ledger.FAILED and last is not None else None,
        )
    return JobOutcome(reference_id, job_id, status, outcome.reads, last.validation_details if last else None)


def _validation_text(details: Any) -> str:
    if not isinstance(details, dict):
        return "DATEV reported the job as failed."
    parts = [str(details.get("title") or ""), str(details.get("detail") or "")]
    for element in details.get("affected_elements") or []:
        if isinstance(element, dict):
            parts.append(f"{element.get('name')}: {element.get('reason')}")
    return "; ".join(p for p in parts if p) or "DATEV reported the job as failed."


# --- DXSO (Rechnungsdatenservice 1.0) ----------------------------------------------------------------

DXSO_FINAL_STATUS = {2: ledger.SUCCEEDED, 3: ledger.FAILED, 4: ledger.FAILED, 5: ledger.CANCELLED, 6: ledger.FAILED}


@dataclass(frozen=True)
class DxsoPackageToSend:
    period: dt.date
    sequence: int
    reference_id: str  # ours: DATEV's DXSO API has no reference id, the ledger keeps the link
    import_type: str  # accountsReceivableLedgerImport | accountsPayableLedgerImport | cashLedgerImport
    files: tuple[tuple[str, bytes, str], ...]  # (file name, content, media type): document.xml, ledger XMLs, PDFs


def send_dxso_package(
    api: DatevApi, store: StateStore, connection_id: int, client_id: str, package: DxsoPackageToSend
) -> str:
    """Create the job, upload every file (one request each), finalise; each step recorded before the next.

    A run that died after creating the job re-sends the files to the same job (DATEV takes a file it already
    has once) and finalises; a finalised job is never touched again.
    """
    with store.session() as session:
        job = ledger.record_job_intent(
            session,
            connection_id=connection_id,
            api="dxso",
            period=package.period,
            sequence=package.sequence,
            reference_id=package.reference_id,
            file_name=None,
            file_sha256=hashlib.sha256(b"".join(content for _, content, _ in package.files)).hexdigest(),
            row_count=len(package.files),
            actor=ACTOR,
        )
        job_id = job.datev_job_id
        if job_id and job.status != ledger.SENDING:
            return job_id
    if not job_id:
        created = api.create_dxso_job(
            client_id, import_type=package.import_type, accounting_month=package.period.strftime("%Y-%m")
        )
        job_id = str(created["id"])
        with store.session() as session:
            found = ledger.job_by_reference(session, connection_id, package.reference_id)
            assert found is not None
            found.datev_job_id = job_id
            found.status = ledger.SENDING
    for name, content, media_type in package.files:
        api.upload_dxso_file(client_id, job_id, file_name=name, content=content, media_type=media_type)
    api.finalize_dxso_job(client_id, job_id)
    return _remember(store, connection_id, package.reference_id, job_id, recovered=False)


def poll_dxso_package(
    api: DatevApi,
    store: StateStore,
    connection_id: int,
    client_id: str,
    reference_id: str,
    *,
    schedule: PollSchedule = DEFAULT_SCHEDULE,
    sleep: Any = None,
) -> JobOutcome:
    """Wait for a finalised DXSO job; at the end keep DATEV's protocol entries (DATEV drops them after ~2 months)."""
    with store.session() as session:
        job = ledger.job_by_reference(session, connection_id, reference_id)
        assert job is not None
        assert job.datev_job_id, "poll only jobs DATEV has named"
        if job.status in ledger.FINAL:
            return JobOutcome(reference_id, job.datev_job_id, job.status, 0)
        job_id = job.datev_job_id
    kwargs: dict[str, Any] = {"schedule": schedule}
    if sleep is not None:
        kwargs["sleep"] = sleep
    outcome = wait_for_job(lambda: api.dxso_job(client_id, job_id), lambda s: s.finished, **kwargs)
    status = (
        DXSO_FINAL_STATUS.get(outcome.last.status, ledger.PENDING)
        if outcome.finished and outcome.last
        else (ledger.PENDING)
    )
    entries = api.dxso_protocol(client_id, job_id) if status != ledger.PENDING else []
    errors = [str(e.get("text")) for e in entries if str(e.get("type", "")).lower() == "error"]
    with store.session() as session:
        job = ledger.job_by_reference(session, connection_id, reference_id)
        assert job is not None
        ledger.store_protocol(session, job, entries)
        ledger.record_status(
            session,
            job,
            status,
            actor=ACTOR,
            reads=outcome.reads,
            result={"status": outcome.last.status} if outcome.last else None,
            error="; ".join(errors)[:2000] if errors else None,
        )
    return JobOutcome(reference_id, job_id, status, outcome.reads, entries or None)
