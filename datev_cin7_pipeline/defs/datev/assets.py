"""DATEV: EXTF files of the period, the invoice PDFs, and the EXTF jobs with DATEV's final answer.

Exactly once (DESIGN §6): a batch's file name and Reference-Id come from (connection, period, sequence,
revision); the job intent is recorded with the file before anything is sent, and the booking rows in the
file are linked to it, so a re-run never books them into a second file. Documents use deterministic
GUIDs (409 = already there); the jobs step resumes every unfinished job of the period from its file.
"""

import dataclasses
import datetime as dt
import hashlib
import re

import dagster as dg
from sqlalchemy.orm import Session

from datev_cin7_pipeline.cin7.attachments import PdfDocument, fetch_pdf, safe_file_name
from datev_cin7_pipeline.cin7.errors import Cin7AttachmentError, Cin7RequestError
from datev_cin7_pipeline.cin7.period import load_period
from datev_cin7_pipeline.datev.api import DatevApiError
from datev_cin7_pipeline.datev.bookings import BookingLine, line_from_json
from datev_cin7_pipeline.datev.dxso_route import goes_by_dxso
from datev_cin7_pipeline.datev.extf import BatchName, split_batches, validate_extf, write_extf
from datev_cin7_pipeline.datev.identities import COPY_ATTACHMENT_ID
from datev_cin7_pipeline.datev.pdf_copy import copy_file_name, render_copy
from datev_cin7_pipeline.datev.transfer import (
    BatchToSend,
    DocumentToSend,
    poll_batch,
    record_document_failure,
    refused_for_this_document,
    send_document,
    submit_batch,
)
from datev_cin7_pipeline.defs.cin7.assets import CIN7_ASSETS
from datev_cin7_pipeline.defs.connector import ACTOR, ConnectorResource
from datev_cin7_pipeline.defs.metadata import connection_of, md_table, period_of
from datev_cin7_pipeline.defs.partitions import vat_periods
from datev_cin7_pipeline.store import jobs as job_ledger
from datev_cin7_pipeline.store.ledger import (
    link_bookings_to_job,
    pending_bookings,
    period_jobs,
    revision_for,
    rows_still_on_job,
    settle_bookings_of_job,
)
from datev_cin7_pipeline.store.models import BookingRecord, DocumentRecord

EXTF_RULES_PASS = "extf_files_follow_datev_rules"  # noqa: S105 - a check name
INVOICES_HAVE_PDFS = "booked_invoices_have_pdfs"
PDFS_ACCEPTED = "datev_accepted_the_pdfs"
IN_DATEV = ("uploaded", "already_present")
_BEDI = re.compile(r'^BEDI "([^"]+)"$')
JOBS_SUCCEEDED = "datev_jobs_succeeded"


@dg.asset(
    partitions_def=vat_periods,
    group_name="datev",
    kinds={"datev", "csv"},
    deps=["datev_booking_lines", "datev_documents"],  # a row links only a PDF that is in DATEV by now
    pool="booking_ledger",
    check_specs=[
        dg.AssetCheckSpec(
            EXTF_RULES_PASS,
            asset="datev_extf_batches",
            blocking=True,
            description="Every EXTF file passes DATEV's header and field rules; a failing file is never sent.",
        )
    ],
)
def datev_extf_batches(context: dg.AssetExecutionContext, connector: ConnectorResource) -> dg.MaterializeResult:
    """EXTF Buchungsstapel files of the booking lines not yet in a DATEV job, in
    `<home>/exports/<connection>/<period>/`; each valid file is recorded as a job intent."""
    start, end = period_of(context)
    files: list[tuple[str, str, int, str, str]] = []
    findings: list[tuple[str, str, str, object, object]] = []
    links: list[tuple[str, str, str, str, str]] = []
    without_beleg: list[tuple[str, str, str, str, str, str]] = []
    unlinked: dict[int, tuple[str, str]] = {}  # booking row id → (document GUID, why its link was left out)
    with connector.open(connection_of(context)) as conn:
        mapping = conn.mapping()
        automatic = frozenset(mapping.automatic())
        folder = conn.exports_folder(start)
        with conn.store.session() as session:
            route = conn.settings.datev.route
            rows = [
                row
                for row in pending_bookings(session, conn.connection_id, start)
                if not goes_by_dxso(route, row.kind, row.cin7_document_kind)  # those go in datev_dxso_jobs
            ]
            row_of_line = [(row, line_from_json(item)) for row in rows for item in row.lines]
            if route != "dxso":  # on the DXSO route the PDFs travel in the DXSO jobs, not the document ledger
                row_of_line, unlinked = _without_dangling_links(session, conn.connection_id, row_of_line)
            if row_of_line:
                # The file's creation stamp is when its newest booking was recorded: same rows, same bytes.
                created = max(row.created_at for row in rows).astimezone(dt.UTC)
                header = dataclasses.replace(
                    mapping.datev.batch_header(start, end - dt.timedelta(days=1)), created_at=created
                )
                batches = split_batches(header, [line for _, line in row_of_line])
            else:
                batches = []
            position = 0
            for batch in batches:
                members = row_of_line[position : position + len(batch.lines)]
                position += len(batch.lines)
                content = write_extf(batch.header, batch.lines)
                sha256 = hashlib.sha256(content).hexdigest()
                name = BatchName.of(
                    conn.name, batch, revision_for(session, conn.connection_id, start, batch.sequence, sha256)
                )
                report = validate_extf(content, automatic_accounts=automatic, filename=name.file_name())
                folder.mkdir(parents=True, exist_ok=True)
                (folder / name.file_name()).write_bytes(content)
                findings += [(name.file_name(), f.code, f.message, f.row, f.column) for f in report.errors]
                if not report.ok:
                    files.append((name.file_name(), name.reference_id(), len(batch.lines), "rejected", sha256))
                    continue
                job = job_ledger.record_job_intent(
                    session,
                    connection_id=conn.connection_id,
                    api="extf",
                    period=start,
                    sequence=batch.sequence,
                    reference_id=name.reference_id(),
                    file_name=name.file_name(),
                    file_sha256=sha256,
                    row_count=len(batch.lines),
                    actor=ACTOR,
                )
                in_file = dict.fromkeys(row for row, _ in members)
                link_bookings_to_job(session, job, in_file)
                files.append((name.file_name(), name.reference_id(), len(batch.lines), job.status, sha256))
                links += [
                    (
                        row.cin7_document_kind,
                        row.cin7_document_id,
                        row.kind,
                        (row.document_guid or "") + (" (not linked)" if row.id in unlinked else ""),
                        name.file_name(),
                    )
                    for row in in_file
                ]
                without_beleg += [
                    (row.cin7_document_kind, row.cin7_document_id, row.kind, *unlinked[row.id], name.file_name())
                    for row in in_file
                    if row.id in unlinked
                ]
    return dg.MaterializeResult(
        metadata={
            "dagster/partition_row_count": sum(rows_ for _, _, rows_, _, _ in files),
            "files": md_table(["file", "Reference-Id", "rows", "status", "sha256"], files),
            "file_names": [f[0] for f in files],
            # Which Cin7 document (and its PDF's GUID) went into which file: the thread a Steuerberater pulls.
            "documents_in_files": md_table(["kind", "Cin7 id", "posting", "document GUID", "file"], links[:500]),
            "folder": dg.MetadataValue.path(str(folder)),
            "new_files": len(files),
            # Booked without their Beleg: the PDF never reached DATEV, so no link that DATEV cannot resolve.
            "rows_without_beleg": md_table(
                ["kind", "Cin7 id", "posting", "document GUID", "why", "file"], without_beleg[:500]
            ),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=EXTF_RULES_PASS,
                passed=not findings,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"findings": md_table(["file", "code", "message", "row", "column"], findings[:100])},
            )
        ],
    )


def _without_dangling_links(
    session: Session, connection_id: int, row_of_line: list[tuple[BookingRecord, BookingLine]]
) -> tuple[list[tuple[BookingRecord, BookingLine]], dict[int, tuple[str, str]]]:
    """The lines with every `BEDI` link to a PDF that is not in DATEV (refused, or never sent) left out: such
    a row is booked without Beleg rather than with a link DATEV cannot resolve. The ledger's lines stay as
    they are (the file is derived from them). Also returns, per booking row id, the GUID and why."""
    wanted = {match.group(1) for _, line in row_of_line if (match := _BEDI.match(line.document_link))}
    if not wanted:
        return row_of_line, {}
    states = {
        guid: (status, error or "")
        for guid, status, error in session.query(DocumentRecord.guid, DocumentRecord.status, DocumentRecord.error)
        .filter(DocumentRecord.connection_id == connection_id, DocumentRecord.guid.in_(sorted(wanted)))
        .all()
    }
    kept: list[tuple[BookingRecord, BookingLine]] = []
    unlinked: dict[int, tuple[str, str]] = {}
    for row, line in row_of_line:
        match = _BEDI.match(line.document_link)
        if match:
            status, error = states.get(match.group(1), ("not sent", ""))
            if status not in IN_DATEV:
                unlinked[row.id] = (match.group(1), f"PDF {status}" + (f": {error}" if error else ""))
                line = dataclasses.replace(line, document_link="")
        kept.append((row, line))
    return kept, unlinked


@dg.asset(
    partitions_def=vat_periods,
    group_name="datev",
    kinds={"datev", "pdf"},
    deps=[*CIN7_ASSETS, "datev_booking_lines"],
    pool="datev_api",
    check_specs=[
        dg.AssetCheckSpec(
            INVOICES_HAVE_PDFS,
            asset="datev_documents",
            description="Every booked invoice and credit note has a PDF in Cin7 (WARN: booked without Beleg; "
            "this also lists those whose PDF DATEV did not accept).",
        ),
        dg.AssetCheckSpec(
            PDFS_ACCEPTED,
            asset="datev_documents",
            description="Every PDF due could be taken from Cin7 and DATEV accepted it; one that could not is "
            "listed with the reason, its bookings go without Beleg, and the other documents still go.",
        ),
    ],
)
def datev_documents(context: dg.AssetExecutionContext, connector: ConnectorResource) -> dg.MaterializeResult:
    """The PDFs of the period's booked invoices and credit notes in DATEV Unternehmen Online, each once
    under its deterministic GUID (the booking lines link to it with `BEDI`)."""
    start, end = period_of(context)
    outcomes: list[tuple[str, str, str, str, str]] = []
    missing: list[tuple[str, str, str, str]] = []
    refused: list[tuple[str, str, str, str, str, str]] = []
    with connector.open(connection_of(context)) as conn:
        mapping = conn.mapping()
        period = load_period(conn.store, conn.connection_id, start, end)
        with conn.store.session() as session:
            booked = {
                (kind, cin7_id)
                for kind, cin7_id in session.query(BookingRecord.cin7_document_kind, BookingRecord.cin7_document_id)
                .filter(BookingRecord.connection_id == conn.connection_id, BookingRecord.kind == "booking")
                .distinct()
            }
            done = {
                guid
                for (guid,) in session.query(DocumentRecord.guid).filter(
                    DocumentRecord.connection_id == conn.connection_id,
                    DocumentRecord.status.in_(IN_DATEV),
                )
            }
        candidates = [item for item in conn.period_pdfs(period) if (item[0].kind, item[0].task_id) in booked]
        company_name = period.company.company if period.company else ""
        in_dxso_jobs = conn.settings.datev.route == "dxso"  # the PDFs travel inside the DXSO jobs instead
        uploads_due = any(guid and guid not in done for _, _, guid in candidates) and not in_dxso_jobs
        api = conn.datev() if uploads_due else None
        with conn.cin7() as client:
            for doc, attachment, guid in candidates:
                if attachment is None:
                    # Without a PDF in Cin7 the booking goes without Beleg, or with a marked copy (guid set).
                    missing.append((doc.kind, doc.number, doc.task_id, "copy rendered" if guid else "none"))
                if guid is None:
                    continue
                file_name = attachment.file_name if attachment else copy_file_name(doc)
                if guid in done:
                    outcomes.append((doc.kind, doc.number, file_name, guid, "already_recorded"))
                    continue
                if in_dxso_jobs:
                    outcomes.append((doc.kind, doc.number, file_name, guid, "in DXSO job"))
                    continue
                assert api is not None
                to_send = DocumentToSend(
                    guid=guid,
                    cin7_document_kind=doc.kind,
                    cin7_document_id=doc.task_id,
                    attachment_id=attachment.id if attachment else COPY_ATTACHMENT_ID,
                    document_version=doc.version,
                    period=start,
                    # the name fetch_pdf gives it, so the ledger row is the same whether or not the fetch works
                    file_name=safe_file_name(file_name, fallback=f"{attachment.id}.pdf") if attachment else file_name,
                    content=b"",
                    document_type=mapping.document_types.for_kind(doc.kind),
                    note=f"Cin7 {doc.number}" + ("" if attachment else " (KOPIE aus den Cin7-Daten)"),
                )
                # One document's fault (a bad attachment, a refusal of this file) must not stop the others:
                # it is recorded as failed, listed in the ERROR check, and its bookings go without Beleg.
                # Anything that concerns every document (login, outage, unclear send) still stops the step.
                try:
                    pdf = (
                        fetch_pdf(client, attachment)
                        if attachment
                        else PdfDocument(COPY_ATTACHMENT_ID, file_name, render_copy(doc, company_name))
                    )
                except (Cin7AttachmentError, Cin7RequestError) as exc:
                    record_document_failure(conn.store, conn.connection_id, to_send, str(exc))
                    reason = str(exc)
                else:
                    to_send = dataclasses.replace(to_send, file_name=pdf.file_name, content=pdf.content)
                    try:
                        status = send_document(api, conn.store, conn.connection_id, conn.datev_client_id, to_send)
                    except DatevApiError as exc:
                        if not refused_for_this_document(exc):
                            raise
                        reason = str(exc)  # send_document has recorded it as failed
                    else:
                        outcomes.append((doc.kind, doc.number, pdf.file_name, guid, status))
                        continue
                outcomes.append((doc.kind, doc.number, to_send.file_name, guid, "failed"))
                refused.append((doc.kind, doc.number, doc.task_id, to_send.file_name, guid, reason))
                if attachment is not None:  # a missing one is listed above already
                    missing.append((doc.kind, doc.number, doc.task_id, "none (PDF not accepted)"))
    uploaded = sum(1 for *_, status in outcomes if status == "uploaded")
    in_dxso = sum(1 for *_, status in outcomes if status == "in DXSO job")
    return dg.MaterializeResult(
        metadata={
            "documents": len(outcomes),
            "uploaded_now": uploaded,
            "already_in_datev": len(outcomes) - uploaded - in_dxso - len(refused),
            "sent_in_dxso_jobs": in_dxso,
            "not_accepted": len(refused),
            "without_pdf": len(missing),
            "uploads": md_table(["kind", "number", "file", "document GUID", "status"], outcomes),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=INVOICES_HAVE_PDFS,
                passed=not missing,
                severity=dg.AssetCheckSeverity.WARN,
                description=None
                if not missing
                else f"{len(missing)} booked document(s) go without Beleg (no PDF in Cin7, or DATEV took none).",
                metadata={"without_pdf": md_table(["kind", "number", "Cin7 id", "sent instead"], missing)},
            ),
            dg.AssetCheckResult(
                check_name=PDFS_ACCEPTED,
                passed=not refused,
                severity=dg.AssetCheckSeverity.ERROR,
                description=None
                if not refused
                else f"{len(refused)} PDF(s) did not reach DATEV; their bookings go without Beleg.",
                metadata={
                    "not_accepted": md_table(["kind", "number", "Cin7 id", "file", "document GUID", "reason"], refused)
                },
            ),
        ],
    )


@dg.asset(
    partitions_def=vat_periods,
    group_name="datev",
    kinds={"datev"},
    deps=["datev_extf_batches", "datev_documents"],
    pool="datev_api",
    check_specs=[
        dg.AssetCheckSpec(
            JOBS_SUCCEEDED,
            asset="datev_booking_jobs",
            description="No EXTF job of the period failed at DATEV with rows not yet sent again (pending jobs "
            "are left to the job sensor).",
        )
    ],
)
def datev_booking_jobs(context: dg.AssetExecutionContext, connector: ConnectorResource) -> dg.MaterializeResult:
    """Every EXTF job of the period sent (once) and polled to DATEV's final answer."""
    start, _ = period_of(context)
    rows: list[tuple[str, str, int, str, str, int]] = []
    failed: list[tuple[str, str, str]] = []
    with connector.open(connection_of(context)) as conn:
        with conn.store.session() as session:
            jobs = [
                (job.reference_id, job.file_name, job.sequence, job.row_count, job.status, job.datev_job_id)
                for job in period_jobs(session, conn.connection_id, start)
            ]
        api = conn.datev() if any(status not in job_ledger.FINAL for *_, status, _ in jobs) else None
        folder = conn.exports_folder(start)
        automatic = frozenset(conn.mapping().automatic()) if api else frozenset()
        for reference_id, file_name, sequence, row_count, status, job_id in jobs:
            reads = 0
            if status not in job_ledger.FINAL:
                assert api is not None
                assert file_name is not None
                if not job_id or status == job_ledger.SENDING:
                    content = (folder / file_name).read_bytes()
                    job_id = submit_batch(
                        api,
                        conn.store,
                        conn.connection_id,
                        conn.datev_client_id,
                        BatchToSend(start, sequence, file_name, reference_id, content, row_count or 0),
                        automatic_accounts=automatic,
                    )
                outcome = poll_batch(
                    api, conn.store, conn.connection_id, conn.datev_client_id, reference_id, schedule=conn.poll_schedule
                )
                status, reads = outcome.status, outcome.reads
            with conn.store.session() as session:
                job = job_ledger.job_by_reference(session, conn.connection_id, reference_id)
                assert job is not None
                settle_bookings_of_job(session, job)
                if job.status in (job_ledger.FAILED, job_ledger.CANCELLED):
                    if rows_still_on_job(session, job):
                        failed.append((file_name or "", job.datev_job_id or "", job.error or ""))
                    else:
                        status = f"{job.status}, sent again since"  # a replay took its rows into a new file
            rows.append((file_name or "", reference_id, row_count or 0, job_id or "", status, reads))
    return dg.MaterializeResult(
        metadata={
            "jobs": md_table(["file", "Reference-Id", "rows", "DATEV job id", "status", "status reads"], rows),
            "job_ids": [r[3] for r in rows],
            "succeeded": sum(1 for r in rows if r[4] == job_ledger.SUCCEEDED),
            "failed": len(failed),
            "pending": sum(1 for r in rows if r[4] not in job_ledger.FINAL),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=JOBS_SUCCEEDED,
                passed=not failed,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"failed_jobs": md_table(["file", "DATEV job id", "DATEV says"], failed)},
            )
        ],
    )
