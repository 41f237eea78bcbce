"""`datev_dxso_jobs`: invoices and credit notes as DXSO ledger-import jobs, for connections on the DXSO route.

Exactly once as for EXTF: the package is written to the exports folder and the job intent recorded with
its booking rows before anything is sent; an unfinished job is resumed from its folder (`send_dxso_package`
re-sends to the same DATEV job); a failed job's rows are booked into a new revision on the next run.
"""

import hashlib
import json
from collections import defaultdict
from pathlib import Path

import dagster as dg

from datev_cin7_pipeline.cin7.attachments import PdfDocument, fetch_pdf
from datev_cin7_pipeline.cin7.errors import Cin7AttachmentError, Cin7RequestError
from datev_cin7_pipeline.cin7.models import Attachment
from datev_cin7_pipeline.cin7.period import load_period
from datev_cin7_pipeline.datev.bookings import line_from_json
from datev_cin7_pipeline.datev.dxso import DxsoError, build_package
from datev_cin7_pipeline.datev.dxso.model import IMPORT_TYPES, LedgerKind, RecordConversionError
from datev_cin7_pipeline.datev.dxso_route import (
    LEDGER_OF_KIND,
    SEQUENCE_OF_LEDGER,
    DxsoMember,
    dxso_job_for,
    dxso_reference_id,
    goes_by_dxso,
    party_for,
)
from datev_cin7_pipeline.datev.identities import COPY_ATTACHMENT_ID
from datev_cin7_pipeline.datev.pdf_copy import copy_file_name, render_copy
from datev_cin7_pipeline.datev.transfer import DxsoPackageToSend, poll_dxso_package, send_dxso_package
from datev_cin7_pipeline.defs.cin7.assets import CIN7_ASSETS
from datev_cin7_pipeline.defs.connector import ACTOR, ConnectorResource
from datev_cin7_pipeline.defs.metadata import connection_of, md_table, period_of
from datev_cin7_pipeline.defs.partitions import vat_periods
from datev_cin7_pipeline.mapping.documents import SourceDocument
from datev_cin7_pipeline.store import jobs as job_ledger
from datev_cin7_pipeline.store.ledger import (
    link_bookings_to_job,
    pending_bookings,
    period_jobs,
    revision_for,
    rows_still_on_job,
    settle_bookings_of_job,
)
from datev_cin7_pipeline.store.models import BookingRecord, DatevJobProtocolEntry

DXSO_JOBS_SUCCEEDED = "datev_dxso_jobs_succeeded"
PACKAGE_INDEX = "package.json"  # our own file in the package folder: import type and upload order


@dg.asset(
    partitions_def=vat_periods,
    group_name="datev",
    kinds={"datev", "xml"},
    deps=[*CIN7_ASSETS, "datev_booking_lines"],
    pool="datev_api",
    check_specs=[
        dg.AssetCheckSpec(
            DXSO_JOBS_SUCCEEDED,
            asset="datev_dxso_jobs",
            description="Every DXSO document of the period is built and accepted: no job failed with rows not "
            "sent again, no error in DATEV's protocol, no document held back.",
        )
    ],
)
def datev_dxso_jobs(context: dg.AssetExecutionContext, connector: ConnectorResource) -> dg.MaterializeResult:
    """DXSO jobs (Rechnungsausgang, Rechnungseingang) of the period's booked invoices and credit notes with
    their PDFs, sent once and polled to DATEV's answer; empty unless the connection uses `route: dxso`."""
    start, end = period_of(context)
    held: list[tuple[str, str, str]] = []
    rows_out: list[tuple[str, str, int, str, str, int]] = []
    problems: list[tuple[str, str, str]] = []
    with connector.open(connection_of(context)) as conn:
        route = conn.settings.datev.route
        if route != "dxso":
            return dg.MaterializeResult(
                metadata={"route": route, "dxso_jobs": 0},
                check_results=[
                    dg.AssetCheckResult(
                        check_name=DXSO_JOBS_SUCCEEDED,
                        passed=True,
                        description=f"The connection sends bookings by {route.upper()}; no DXSO jobs.",
                    )
                ],
            )
        mapping = conn.mapping()
        period = load_period(conn.store, conn.connection_id, start, end)
        documents: dict[tuple[str, str], tuple[SourceDocument, Attachment | None, str | None]] = {
            (doc.kind, doc.task_id): (doc, att, guid) for doc, att, guid in conn.period_pdfs(period)
        }
        folder = conn.exports_folder(start)
        with conn.store.session() as session:
            pending = [
                (row.id, row.cin7_document_kind, row.cin7_document_id, [line_from_json(x) for x in row.lines])
                for row in pending_bookings(session, conn.connection_id, start)
                if goes_by_dxso(route, row.kind, row.cin7_document_kind)
            ]
            created_at = max((r.created_at for r in pending_bookings(session, conn.connection_id, start)), default=None)
        company = period.company.company if period.company else ""
        groups: dict[LedgerKind, list[tuple[int, DxsoMember]]] = defaultdict(list)
        if pending:
            with conn.cin7() as client:
                for row_id, kind, doc_id, lines in pending:
                    found = documents.get((kind, doc_id))
                    doc, attachment, guid = found if found else (None, None, None)
                    if doc is None or guid is None:
                        held.append((kind, doc_id, "no PDF in Cin7; a DXSO document needs its Beleg"))
                        continue
                    try:  # without a PDF in Cin7, the marked copy (guid set only when configured)
                        pdf = (
                            fetch_pdf(client, attachment)
                            if attachment
                            else PdfDocument(COPY_ATTACHMENT_ID, copy_file_name(doc), render_copy(doc, company))
                        )
                    except (Cin7AttachmentError, Cin7RequestError) as exc:
                        # This document's fault only: held (its rows wait, the check names it), the others go.
                        held.append((kind, doc_id, f"its PDF cannot be taken: {exc}"))
                        continue
                    party = party_for(kind, doc.party_id, doc.party_name, period.customers, period.suppliers)
                    member = DxsoMember(lines, pdf.content, pdf.file_name, guid, party, doc.due_date, doc.order_number)
                    groups[LEDGER_OF_KIND[kind]].append((row_id, member))
        for ledger, members in sorted(groups.items()):
            try:
                assert created_at is not None
                package = build_package(
                    dxso_job_for(
                        ledger, start, [m for _, m in members], mapping, company_name=company, created_at=created_at
                    )
                )
            except (DxsoError, RecordConversionError) as error:
                held += [(ledger, str(row_id), str(error)) for row_id, _ in members]
                continue
            sha256 = hashlib.sha256(b"".join(package.files.values())).hexdigest()
            with conn.store.session() as session:
                sequence = SEQUENCE_OF_LEDGER[ledger]
                revision = revision_for(session, conn.connection_id, start, sequence, sha256, api="dxso")
                reference_id = dxso_reference_id(conn.name, start, ledger, revision)
                _write_package(folder / reference_id, package.import_type, package.files)
                job = job_ledger.record_job_intent(
                    session,
                    connection_id=conn.connection_id,
                    api="dxso",
                    period=start,
                    sequence=sequence,
                    reference_id=reference_id,
                    file_name=reference_id,
                    file_sha256=sha256,
                    row_count=len(package.files),
                    actor=ACTOR,
                )
                link_bookings_to_job(session, job, [session.get_one(BookingRecord, row_id) for row_id, _ in members])

        with conn.store.session() as session:
            jobs = [
                (j.reference_id, j.sequence, j.status, j.datev_job_id)
                for j in period_jobs(session, conn.connection_id, start, api="dxso")
            ]
        api = conn.datev() if any(status not in job_ledger.FINAL for _, _, status, _ in jobs) else None
        for reference_id, sequence, status, job_id in jobs:
            reads = 0
            if status not in job_ledger.FINAL:
                assert api is not None
                if not job_id or status in (job_ledger.INTENDED, job_ledger.SENDING):
                    import_type, files = _read_package(folder / reference_id)
                    job_id = send_dxso_package(
                        api,
                        conn.store,
                        conn.connection_id,
                        conn.datev_client_id,
                        DxsoPackageToSend(start, sequence, reference_id, import_type, files),
                    )
                outcome = poll_dxso_package(
                    api, conn.store, conn.connection_id, conn.datev_client_id, reference_id, schedule=conn.poll_schedule
                )
                status, reads = outcome.status, outcome.reads
            with conn.store.session() as session:
                found_job = job_ledger.job_by_reference(session, conn.connection_id, reference_id)
                assert found_job is not None
                job = found_job
                settle_bookings_of_job(session, job)
                errors = [
                    entry.text or entry.code or "error"
                    for entry in session.query(DatevJobProtocolEntry).filter(DatevJobProtocolEntry.job_id == job.id)
                    if (entry.severity or "").lower() == "error"
                ]
                if job.status in (job_ledger.FAILED, job_ledger.CANCELLED) and not rows_still_on_job(session, job):
                    status = f"{job.status}, sent again since"
                elif job.status in (job_ledger.FAILED, job_ledger.CANCELLED) or errors:
                    problems.append((reference_id, job.datev_job_id or "", "; ".join(errors) or job.error or ""))
            rows_out.append(
                (
                    reference_id,
                    IMPORT_TYPES_BY_SEQUENCE.get(sequence, ""),
                    job.row_count or 0,
                    job_id or "",
                    status,
                    reads,
                )
            )
    passed = not problems and not held
    return dg.MaterializeResult(
        metadata={
            "route": "dxso",
            "dxso_jobs": md_table(
                ["Reference", "import type", "files", "DATEV job id", "status", "status reads"], rows_out
            ),
            "job_ids": [r[3] for r in rows_out],
            "succeeded": sum(1 for r in rows_out if r[4] == job_ledger.SUCCEEDED),
            "held_back": md_table(["kind", "Cin7 id", "reason"], held),
            "folder": dg.MetadataValue.path(str(folder)),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=DXSO_JOBS_SUCCEEDED,
                passed=passed,
                severity=dg.AssetCheckSeverity.ERROR,
                description=None if passed else f"{len(problems)} job(s) with errors, {len(held)} document(s) held.",
                metadata={
                    "problems": md_table(["Reference", "DATEV job id", "DATEV says"], problems),
                    "held_back": md_table(["kind", "Cin7 id", "reason"], held),
                },
            )
        ],
    )


IMPORT_TYPES_BY_SEQUENCE = {SEQUENCE_OF_LEDGER[ledger]: IMPORT_TYPES[ledger] for ledger in SEQUENCE_OF_LEDGER}


def _write_package(folder: Path, import_type: str, files: dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    index = {"import_type": import_type, "files": list(files)}
    (folder / PACKAGE_INDEX).write_text(json.dumps(index, indent=2), "utf-8")


def _read_package(folder: Path) -> tuple[str, tuple[tuple[str, bytes, str], ...]]:
    index = json.loads((folder / PACKAGE_INDEX).read_text("utf-8"))
    files = tuple(
        (name, (folder / name).read_bytes(), "application/pdf" if name.lower().endswith(".pdf") else "application/xml")
        for name in index["files"]
    )
    return index["import_type"], files
