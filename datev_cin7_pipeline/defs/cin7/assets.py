"""Cin7 Core documents of a VAT period: one sync pass feeds the four document assets of the design."""

from collections.abc import Iterator
from typing import Any

import dagster as dg

from datev_cin7_pipeline.cin7.period import load_period
from datev_cin7_pipeline.cin7.sync import Cin7Sync
from datev_cin7_pipeline.defs.connector import ACTOR, ConnectorResource
from datev_cin7_pipeline.defs.metadata import connection_of, md_table, period_of
from datev_cin7_pipeline.defs.partitions import vat_periods
from datev_cin7_pipeline.store.inbox import mark_processed
from datev_cin7_pipeline.webhooks.runs import parse_event_ids

INBOX_EVENTS_TAG = "datev-cin7/inbox-events"
CIN7_RECORDS_READABLE = "cin7_records_readable"


class Cin7SyncConfig(dg.Config):
    """`full_period`: re-list everything changed since the period began (the month-end reconciliation)."""

    full_period: bool = False


CIN7_ASSETS = {
    "cin7_reference_data": "Company, chart of accounts, tax rules, locations, customers and suppliers.",
    "cin7_sale_invoices": "Authorised sale invoices dated in the period, or undated ones changed in it.",
    "cin7_purchase_invoices": "Authorised supplier invoices dated in the period, or undated ones changed in it.",
    "cin7_credit_notes": "Authorised sale and supplier credit notes dated in the period.",
    "cin7_payments": "Payments and refunds paid in the period.",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(key, description=text, group_name="cin7", kinds={"cin7"}, partitions_def=vat_periods)
        for key, text in CIN7_ASSETS.items()
    ],
    check_specs=[
        # Not blocking: a document read without its bad field is held by the booking rules; this names the
        # field, and the rows that could not be read at all (those have no other trace).
        dg.AssetCheckSpec(
            CIN7_RECORDS_READABLE,
            asset="cin7_reference_data",
            description="Every Cin7 list row and document this sync read, and every record of the period, parses; "
            "fails (ERROR) naming each record, its number and the field that does not.",
        )
    ],
    name="cin7_documents",
    pool="cin7_api",
    can_subset=False,
)
def cin7_documents(
    context: dg.AssetExecutionContext, config: Cin7SyncConfig, connector: ConnectorResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Brings the local Cin7 snapshot up to date (incremental, `UpdatedSince`) and reports the period.

    Cin7 returns a sale with all of its invoices, credit notes and payments, so one pass produces all of
    these assets; the snapshot in the state database is what the booking step reads. Webhook events that
    asked for this run (tag from the inbox sensor) are marked processed once Cin7 has been re-read.
    """
    start, end = period_of(context)
    with connector.open(connection_of(context)) as conn, conn.cin7() as client:
        sync_run = Cin7Sync(
            client, conn.store, conn.connection_id, horizon=start, actor=ACTOR, full_period=config.full_period
        )
        report = sync_run.run()
        event_ids = parse_event_ids(context.run.tags.get(INBOX_EVENTS_TAG, ""))
        with conn.store.session() as session:
            processed = mark_processed(session, conn.connection_id, event_ids, run_id=context.run.run_id, actor=ACTOR)
        period = load_period(conn.store, conn.connection_id, start, end)
    unreadable = md_table(
        ["kind", "number", "Cin7 id", "problem"],
        [(u.kind, u.number, u.cin7_id, u.problem) for u in dict.fromkeys([*report.unreadable, *period.unreadable])],
    )
    sync: dict[str, Any] = {
        "full_period_pass": config.full_period,
        "webhook_events_processed": processed,
        "cin7_calls": report.calls,
        "unchanged": report.unchanged,
        "skipped_before_horizon": report.skipped_before_horizon,
        "voided": len(report.voided),
        "fetched": md_table(["record kind", "fetched"], sorted(report.fetched.items())),
        "unreadable_records": unreadable,
    }
    yield dg.MaterializeResult(
        asset_key="cin7_reference_data",
        metadata={
            **sync,
            "accounts": len(period.accounts),
            "tax_rules": len(period.tax_rules),
            "customers": len(period.customers),
            "suppliers": len(period.suppliers),
        },
    )
    yield dg.MaterializeResult(
        asset_key="cin7_sale_invoices",
        metadata={
            "dagster/partition_row_count": len(period.sale_invoices),
            "not_bookable_by_status": md_table(["status", "count"], sorted(period.not_bookable.items())),
            "invoices": md_table(
                ["number", "date", "customer", "total", "Cin7 id"],
                [(i.invoice_number, i.invoice_date, s.customer, i.total, i.task_id) for s, i in period.sale_invoices],
            ),
        },
    )
    yield dg.MaterializeResult(
        asset_key="cin7_purchase_invoices",
        metadata={
            "dagster/partition_row_count": len(period.purchase_invoices),
            "invoices": md_table(
                ["number", "date", "supplier", "total", "Cin7 id"],
                [
                    (i.invoice_number, i.invoice_date, p.supplier, i.total, i.task_id)
                    for p, i in period.purchase_invoices
                ],
            ),
        },
    )
    credit_rows = [
        ("sale", n.credit_note_number, n.credit_note_date, s.customer, n.total, n.task_id)
        for s, n in period.sale_credit_notes
    ] + [
        ("purchase", n.credit_note_number, n.credit_note_date, p.supplier, n.total, n.task_id)
        for p, n in period.purchase_credit_notes
    ]
    yield dg.MaterializeResult(
        asset_key="cin7_credit_notes",
        metadata={
            "dagster/partition_row_count": len(credit_rows),
            "credit_notes": md_table(["side", "number", "date", "party", "total", "Cin7 id"], credit_rows),
            "voided_documents": md_table(
                ["kind", "number", "Cin7 id"], [(v.kind, v.number, v.cin7_id) for v in period.voided]
            ),
        },
    )
    yield dg.MaterializeResult(
        asset_key="cin7_payments",
        metadata={
            "dagster/partition_row_count": len(period.payments),
            "payments": md_table(
                ["direction", "date", "amount", "settles", "Cin7 id"],
                [(p.direction, p.date_paid, p.amount, p.document_number, p.id) for p in period.payments],
            ),
        },
    )
    readable = not report.unreadable and not period.unreadable
    yield dg.AssetCheckResult(
        asset_key="cin7_reference_data",
        check_name=CIN7_RECORDS_READABLE,
        passed=readable,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None if readable else "Cin7 records with fields that do not parse; correct them in Cin7.",
        metadata={"unreadable_records": unreadable},
    )
