"""What a period run leaves behind, in words and files a finance team reads (plain code, no Dagster).

- `reconcile_period`: per tax treatment and currency, Cin7's own totals next to what the booking ledger holds
  for DATEV and what DATEV confirmed (jobs that succeeded), with the difference.
- `capture_uploads`: what a DATEV capture folder (the simulator's `manifest.jsonl`) says was sent.
- `period_jobs_report`: the period's DATEV jobs with their final status, from the job ledger.
- `write_reconciliation`, `write_summary`, `summary_text`: `reconciliation.csv|md`, `summary.json` and the
  short human summary `datev-cin7 demo` prints.

Amounts are Decimals in the document's currency, signed as the open item moves (sales +, supplier
invoices −), the same convention as the `cin7_totals_reconcile` check; JSON gets them as strings.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from datev_cin7_pipeline.cin7.period import load_period
from datev_cin7_pipeline.datev.bookings import line_from_json
from datev_cin7_pipeline.datev.identities import period_pdfs
from datev_cin7_pipeline.mapping.config import MappingConfig
from datev_cin7_pipeline.mapping.reconcile import cin7_totals_by_treatment
from datev_cin7_pipeline.mapping.result import open_item_movement
from datev_cin7_pipeline.store import StateStore
from datev_cin7_pipeline.store import jobs as job_ledger
from datev_cin7_pipeline.store.ledger import period_jobs
from datev_cin7_pipeline.store.models import BookingRecord, Connection, DatevJob

RECONCILIATION_CSV = "reconciliation.csv"
RECONCILIATION_MD = "reconciliation.md"
SUMMARY_JSON = "summary.json"

# --- reconciliation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TreatmentTotals:
    """One tax treatment in one currency: Cin7 → held back → booked for DATEV → confirmed by DATEV."""

    tax_treatment: str
    currency: str
    cin7: Decimal  # Cin7's own line totals of every invoice and credit note of the period
    held: Decimal  # of which in documents held back (mapping gaps): not booked on purpose, named elsewhere
    booked: Decimal  # in the booking ledger and sent (or being sent) to DATEV, net of reversals
    in_datev: Decimal  # of which in EXTF/DXSO jobs DATEV reported as succeeded

    @property
    def expected(self) -> Decimal:
        return self.cin7 - self.held

    @property
    def difference(self) -> Decimal:
        """What DATEV confirmed minus what Cin7 says should be there (0 when everything arrived)."""
        return self.in_datev - self.expected

    @property
    def booked_difference(self) -> Decimal:
        return self.booked - self.expected


COLUMNS = (
    "tax_treatment",
    "currency",
    "cin7_total",
    "held_back",
    "cin7_to_book",
    "booked",
    "datev_succeeded",
    "difference",
)


def connection_id_of(store: StateStore, name: str) -> int | None:
    with store.session() as session:
        return session.scalar(select(Connection.id).where(Connection.name == name))


def reconcile_period(
    store: StateStore,
    connection: str,
    mapping: MappingConfig,
    start: dt.date,
    end: dt.date,
    held: Iterable[tuple[str, str]] = (),
) -> list[TreatmentTotals]:
    """Per (tax treatment, currency) of the period `[start, end)`; `held` are the (kind, Cin7 id) of the
    documents the booking step held back."""
    connection_id = connection_id_of(store, connection)
    if connection_id is None:
        return []
    held_keys = set(held)
    period = load_period(store, connection_id, start, end)
    documents = [doc for doc, _, _ in period_pdfs(period, connection)]
    cin7 = cin7_totals_by_treatment(documents, mapping)
    held_totals = cin7_totals_by_treatment(
        (doc for doc in documents if (doc.kind, doc.task_id) in held_keys), mapping
    )
    booked: defaultdict[tuple[str, str], Decimal] = defaultdict(Decimal)
    confirmed: defaultdict[tuple[str, str], Decimal] = defaultdict(Decimal)
    with store.session() as session:
        rows = session.execute(
            select(BookingRecord.lines, DatevJob.status)
            .join(DatevJob, BookingRecord.job_id == DatevJob.id)
            .where(BookingRecord.connection_id == connection_id, BookingRecord.period == start)
            .order_by(BookingRecord.id)
        ).all()
    for lines, job_status in rows:
        if job_status in (job_ledger.FAILED, job_ledger.CANCELLED):
            continue  # not in DATEV; the rows are booked again by a later job
        for item in lines:
            line = line_from_json(item)
            if not line.tax_treatment:
                continue  # payments: no tax treatment, they settle open items
            movement = open_item_movement(line)  # reversal rows move the other way, so sums are net
            booked[(line.tax_treatment, line.currency)] += movement
            if job_status == job_ledger.SUCCEEDED:
                confirmed[(line.tax_treatment, line.currency)] += movement
    keys = sorted(set(cin7) | {key for key, value in booked.items() if value})
    zero = Decimal(0)
    return [
        TreatmentTotals(
            tax_treatment=treatment,
            currency=currency,
            cin7=cin7.get((treatment, currency), zero),
            held=held_totals.get((treatment, currency), zero),
            booked=booked.get((treatment, currency), zero),
            in_datev=confirmed.get((treatment, currency), zero),
        )
        for treatment, currency in keys
    ]


def _row(total: TreatmentTotals) -> list[str]:
    return [
        total.tax_treatment,
        total.currency,
        *(
            f"{value:.2f}"
            for value in (total.cin7, total.held, total.expected, total.booked, total.in_datev, total.difference)
        ),
    ]


def write_reconciliation(totals: Sequence[TreatmentTotals], folder: Path, title: str) -> tuple[Path, Path]:
    """`reconciliation.csv` (one row per treatment and currency) and `reconciliation.md` (the same table)."""
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = folder / RECONCILIATION_CSV, folder / RECONCILIATION_MD
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(_row(total) for total in totals)
    lines = [
        f"# Reconciliation {title}",
        "",
        "Cin7's own line totals per tax treatment, what was booked for DATEV (net of reversals) and what",
        "DATEV confirmed (jobs that succeeded). Signed as the open item moves: sales +, supplier invoices −.",
        "`difference` = DATEV succeeded − (Cin7 total − held back); 0.00 means everything arrived.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join(" --- " if i < 2 else " ---: " for i in range(len(COLUMNS))) + "|",
    ]
    lines += ["| " + " | ".join(_row(total)) + " |" for total in totals]
    if not totals:
        lines.append("| " + " | ".join(["—"] * len(COLUMNS)) + " |")
    unreconciled = [total for total in totals if total.difference]
    lines += [
        "",
        f"{len(unreconciled)} of {len(totals)} tax treatment(s) with a difference."
        if unreconciled
        else f"All {len(totals)} tax treatment(s) reconcile: Cin7 = booked = DATEV.",
        "",
    ]
    md_path.write_text("\n".join(lines), encoding="utf-8")
    return csv_path, md_path


def read_reconciliation_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# --- what was sent -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaptureCounts:
    """Uploads DATEV accepted, as its capture manifest lists them."""

    documents: int  # document uploads (one file each)
    document_guids: int  # distinct document GUIDs among them
    extf_files: int
    extf_rows: int
    dxso_files: int
    extf_uploads: tuple[Mapping[str, Any], ...]
    dxso_uploads: tuple[Mapping[str, Any], ...]
    job_finals: tuple[Mapping[str, Any], ...]

    @property
    def total(self) -> int:
        return self.documents + self.extf_files + self.dxso_files


def capture_uploads(manifest: Sequence[Mapping[str, Any]]) -> CaptureCounts:
    uploads = [entry for entry in manifest if entry.get("event") == "upload"]
    documents = [entry for entry in uploads if entry.get("guid")]
    extf = [entry for entry in uploads if "extf" in str(entry.get("api")) and not entry.get("guid")]
    dxso = [entry for entry in uploads if "dxso" in str(entry.get("api")) and not entry.get("guid")]
    return CaptureCounts(
        documents=len(documents),
        document_guids=len({str(entry["guid"]).lower() for entry in documents}),
        extf_files=len(extf),
        extf_rows=sum(int(entry.get("rows") or 0) for entry in extf),
        dxso_files=len(dxso),
        extf_uploads=tuple(extf),
        dxso_uploads=tuple(dxso),
        job_finals=tuple(entry for entry in manifest if entry.get("event") == "job_final"),
    )


def period_jobs_report(store: StateStore, connection: str, start: dt.date) -> list[dict[str, Any]]:
    """Every EXTF and DXSO job of the period, oldest first, with its final (or current) status."""
    connection_id = connection_id_of(store, connection)
    if connection_id is None:
        return []
    with store.session() as session:
        return [
            {
                "api": job.api,
                "file": job.file_name,
                "reference_id": job.reference_id,
                "rows": job.row_count,
                "datev_job_id": job.datev_job_id,
                "status": job.status,
                "error": job.error,
            }
            for api in ("extf", "dxso")
            for job in period_jobs(session, connection_id, start, api=api)
        ]


# --- summary -------------------------------------------------------------------------------------


def totals_as_json(totals: Sequence[TreatmentTotals]) -> list[dict[str, str]]:
    return [dict(zip(COLUMNS, _row(total), strict=True)) for total in totals]


def write_summary(summary: Mapping[str, Any], folder: Path) -> Path:
    path = folder / SUMMARY_JSON
    path.write_text(json.dumps(summary, indent=2, ensure_ascii=False, default=_json_default) + "\n", "utf-8")
    return path


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, dt.date | Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else plural or word + 's'}"


def summary_text(summary: Mapping[str, Any]) -> str:
    """The few lines a person reads after a run (everything else is in the files)."""
    extracted = summary["documents_extracted"]
    booking = summary["documents_booked"]
    sent = summary["uploads_this_run"]
    calls = summary["calls"]
    lines = [
        f"Period {summary['period']}: {_plural(extracted['sale_invoices'], 'sale invoice')}, "
        f"{_plural(extracted['purchase_invoices'], 'supplier invoice')}, "
        f"{_plural(extracted['credit_notes'], 'credit note')} and {_plural(extracted['payments'], 'payment')} "
        "extracted from Cin7.",
        f"Booked {_plural(booking['booked'] + booking['rebooked'], 'document')} into "
        f"{_plural(summary['booking_lines'], 'booking line')} "
        f"({booking['unchanged']} unchanged since an earlier run, {booking['reversed']} reversed); "
        f"{booking['held']} held back.",
    ]
    for held in summary["held_documents"]:
        lines.append(f"  held: {held['kind']} {held['number']} ({held['cin7_id']}): {held['reasons']}")
    if summary.get("failure"):
        lines.append(f"The run FAILED: {summary['failure']}")
    if summary["nothing_new"] and not summary.get("failure"):
        lines.append(
            "Nothing new: this run sent nothing to DATEV; everything of the period was sent by an earlier run."
        )
    else:
        lines.append(
            f"Sent to DATEV: {_plural(sent['documents'], 'PDF')}, {_plural(sent['extf_files'], 'EXTF file')} with "
            f"{_plural(sent['extf_rows'], 'row')}"
            + (f", {_plural(sent['dxso_files'], 'DXSO file')}" if sent["dxso_files"] else "")
            + "."
        )
    for job in summary["jobs"]:
        name = f"{job['api'].upper()} job {job['datev_job_id'] or '(not sent)'}"
        lines.append(f"  {name} ({job['file']}, {_plural(job['rows'] or 0, 'row')}): {job['status']}")
    totals = summary["reconciliation"]
    off = [row for row in totals if Decimal(row["difference"])]
    if off:
        lines.append(f"Reconciliation: {len(off)} of {len(totals)} tax treatment(s) differ:")
        lines += [
            f"  {row['tax_treatment']} {row['currency']}: Cin7 {row['cin7_to_book']}, "
            f"DATEV {row['datev_succeeded']}, difference {row['difference']}"
            for row in off
        ]
    else:
        lines.append(f"Reconciliation: Cin7 = booked = DATEV for all {len(totals)} tax treatment(s).")
    lines.append(
        f"Calls: Cin7 {calls['cin7']} ({calls['cin7_downloads']} of them PDF downloads; at most "
        f"{calls['cin7_api_max_in_any_60s']} API calls in any 60 s, limit {calls['cin7_limit_per_minute']}), "
        f"DATEV {calls['datev']} "
        f"(+{calls['datev_login']} for the login); {summary['wall_seconds']:.1f} s."
    )
    return "\n".join(lines)
