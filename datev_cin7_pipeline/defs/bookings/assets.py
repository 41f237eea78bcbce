"""`datev_booking_lines`: the period's Cin7 documents booked with the connection's mapping.

Each run books the period against what already went to DATEV (the booking ledger): unchanged documents
post nothing, changed ones their reversal and new booking, voided ones their reversal. What is left to
post is recorded in the ledger (one row per document version and posting) for `datev_extf_batches`.
"""

from collections import defaultdict
from decimal import Decimal

import dagster as dg

from datev_cin7_pipeline.cin7.period import load_period
from datev_cin7_pipeline.datev.bookings import BookingLine
from datev_cin7_pipeline.defs.cin7.assets import CIN7_ASSETS
from datev_cin7_pipeline.defs.connector import ACTOR, ConnectorResource
from datev_cin7_pipeline.defs.metadata import connection_of, md_table, period_of, totals_table
from datev_cin7_pipeline.defs.partitions import vat_periods
from datev_cin7_pipeline.mapping import book_period, booking_frame, check_mapping, validate_booking_frame
from datev_cin7_pipeline.mapping.frames import unbalanced_documents
from datev_cin7_pipeline.mapping.reconcile import cin7_totals_by_treatment
from datev_cin7_pipeline.mapping.result import open_item_movement, totals_by_treatment
from datev_cin7_pipeline.mapping.reversal import is_reversal
from datev_cin7_pipeline.mapping.stored_registry import StoredPersonalAccountRegistry
from datev_cin7_pipeline.store.ledger import effective_bookings, record_document_booking, supersede_pending

ALL_CODES_MAPPED = "all_codes_mapped"
BOOKINGS_BALANCE = "bookings_balance"
CIN7_TOTALS_RECONCILE = "cin7_totals_reconcile"


@dg.asset(
    partitions_def=vat_periods,
    group_name="bookings",
    kinds={"pandas"},
    pool="booking_ledger",
    deps=list(CIN7_ASSETS),
    check_specs=[
        # Not blocking: a held document is kept out of the lines (and named here); the others still go.
        dg.AssetCheckSpec(
            ALL_CODES_MAPPED,
            asset="datev_booking_lines",
            description="Every Cin7 account, tax rule and cost-centre code the period uses is mapped; "
            "fails (ERROR) naming each held document and its codes.",
        ),
        dg.AssetCheckSpec(
            BOOKINGS_BALANCE,
            asset="datev_booking_lines",
            blocking=True,
            description="Every document's booking lines balance and pass the booking-line schema.",
        ),
        dg.AssetCheckSpec(
            CIN7_TOTALS_RECONCILE,
            asset="datev_booking_lines",
            blocking=True,
            description="Per tax treatment and currency, the bookings equal Cin7's own line totals.",
        ),
    ],
)
def datev_booking_lines(context: dg.AssetExecutionContext, connector: ConnectorResource) -> dg.MaterializeResult:
    """Booking lines still to post for the VAT period, recorded in the booking ledger."""
    start, end = period_of(context)
    with connector.open(connection_of(context)) as conn:
        mapping = conn.mapping()
        period = load_period(conn.store, conn.connection_id, start, end)
        pdfs = conn.period_pdfs(period)
        guids = {f"{doc.kind}:{doc.task_id}": guid for doc, _, guid in pdfs if guid}
        with conn.store.session() as session:
            previous, previous_ids = effective_bookings(session, conn.connection_id, start)
        registry = StoredPersonalAccountRegistry(conn.store, conn.connection_id, actor=ACTOR)
        result = book_period(period, mapping, registry, guids=guids, previous=previous)
        issues = [issue for issue in check_mapping(mapping, period) if issue.severity == "error"]

        by_document: dict[tuple[str, str], list[BookingLine]] = defaultdict(list)
        for line in result.lines:
            by_document[(line.source_kind, line.source_id)].append(line)
        kept: set[int] = set()
        with conn.store.session() as session:
            for key, lines in by_document.items():
                reversal = [line for line in lines if is_reversal(line)]
                booking = [line for line in lines if not is_reversal(line)]
                for kind, part in (("reversal", reversal), ("booking", booking)):
                    if not part:
                        continue
                    row = record_document_booking(
                        session,
                        connection_id=conn.connection_id,
                        period=start,
                        lines=part,
                        kind=kind,
                        total_amount=sum((open_item_movement(line) for line in part), Decimal(0)),
                        reverses_id=previous_ids.get(key) if kind == "reversal" else None,
                        document_guid=guids.get(f"{key[0]}:{key[1]}"),
                        actor=ACTOR,
                    )
                    kept.add(row.id)
            superseded = supersede_pending(session, conn.connection_id, start, kept)

    held_keys = {item.document.key for item in result.held}
    statuses: defaultdict[str, int] = defaultdict(int)
    for total in result.documents:
        statuses[total.status] += 1
    statuses["held"] = len(result.held)

    # --- checks ---------------------------------------------------------------------------------------
    held_rows = [
        (item.document.kind, item.document.number, item.document.source_id, "; ".join(map(str, item.reasons)))
        for item in result.held
    ]
    codes_passed = not issues and not result.held
    frame = booking_frame(result.lines, result.expected_totals())
    failures = validate_booking_frame(frame)
    unbalanced = unbalanced_documents(frame)
    # Effective bookings after this run against Cin7, both without held documents.
    effective: list[BookingLine] = []
    for total in result.documents:
        key = total.document.key
        if key in held_keys:
            continue
        if total.status in ("booked", "rebooked"):
            effective += [line for line in by_document.get(key, []) if not is_reversal(line)]
        elif total.status == "unchanged":
            effective += previous.get(key, [])
    booked: defaultdict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for line in effective:
        if line.tax_treatment:
            booked[(line.tax_treatment, line.currency)] += open_item_movement(line)
    cin7 = cin7_totals_by_treatment((doc for doc, _, _ in pdfs if (doc.kind, doc.task_id) not in held_keys), mapping)
    booked_totals = {key: value for key, value in booked.items() if value}
    differences = [
        (
            treatment,
            currency,
            cin7.get((treatment, currency), Decimal(0)),
            booked_totals.get((treatment, currency), Decimal(0)),
        )
        for treatment, currency in sorted(set(cin7) | set(booked_totals))
    ]
    reconcile_rows = [(t, c, a, b, b - a) for t, c, a, b in differences]
    check_results = [
        dg.AssetCheckResult(
            check_name=ALL_CODES_MAPPED,
            passed=codes_passed,
            severity=dg.AssetCheckSeverity.ERROR,
            description=None
            if codes_passed
            else f"{len(result.held)} document(s) held back, {len(issues)} mapping error(s).",
            metadata={
                "held_documents": md_table(["kind", "number", "Cin7 id", "reasons"], held_rows),
                "mapping_errors": md_table(["code", "where", "message"], [(i.code, i.path, i.message) for i in issues]),
                "codes": sorted({code for item in result.held for code in item.codes} | {i.code for i in issues}),
            },
        ),
        dg.AssetCheckResult(
            check_name=BOOKINGS_BALANCE,
            passed=not failures and not unbalanced,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "failures": md_table(
                    ["check", "column", "row", "value"],
                    [(f.check, f.column, f.index, f.value) for f in failures[:50]],
                ),
                "unbalanced_documents": md_table(["kind", "Cin7 id", "version", "posting"], list(unbalanced)),
            },
        ),
        dg.AssetCheckResult(
            check_name=CIN7_TOTALS_RECONCILE,
            passed=all(a == b for _, _, a, b in differences),
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "per_treatment": md_table(
                    ["tax treatment", "currency", "Cin7", "booked", "difference"], reconcile_rows
                ),
            },
        ),
    ]
    return dg.MaterializeResult(
        metadata={
            "dagster/partition_row_count": len(result.lines),
            "lines_to_post": len(result.lines),
            "documents_booked": statuses["booked"],
            "documents_rebooked": statuses["rebooked"],
            "documents_reversed": statuses["reversed"],
            "documents_unchanged": statuses["unchanged"],
            "documents_held": len(result.held),
            "superseded_unsent_rows": superseded,
            "totals_per_tax_treatment": totals_table(totals_by_treatment(result.lines)),
            "held_documents": md_table(["kind", "number", "Cin7 id", "reasons"], held_rows),
            # The same, for tools (the demo's summary, alerting) that should not parse a table.
            "held_documents_json": dg.MetadataValue.json(
                [{"kind": k, "number": n, "cin7_id": i, "reasons": r} for k, n, i, r in held_rows]
            ),
            "documents": md_table(
                ["kind", "number", "status", "Cin7 total", "booked", "document GUID"],
                [
                    (
                        t.document.kind,
                        t.document.number,
                        t.status,
                        t.cin7_total,
                        t.booked_total,
                        guids.get(f"{t.document.kind}:{t.document.source_id}", ""),
                    )
                    for t in result.documents
                ],
            ),
        },
        check_results=check_results,
    )
