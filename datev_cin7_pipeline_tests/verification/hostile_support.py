"""Support for the hostile-input suite: faulty Cin7 documents built from the demo company, one VAT period
materialized against both simulators, and what came out of it read back (metadata, checks, step failures,
what the DATEV simulator accepted).

Every faulty document is a copy of the demo's May invoice INV-00056 (Café Hafenblick, Hamburg, USt 19 %)
with its own ids, number and PDF, changed in exactly one way, so the reason it is held (or how it is
booked) is the answer to that one change.
"""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from datev_cin7_pipeline import settings
from datev_cin7_pipeline.cin7.models import Sale
from datev_cin7_pipeline.datev.bookings import BatchHeader, BookingLine
from datev_cin7_pipeline.datev.extf import read_extf
from datev_cin7_pipeline.defs.bookings.assets import datev_booking_lines
from datev_cin7_pipeline.defs.cin7.assets import cin7_documents
from datev_cin7_pipeline.defs.connector import ConnectorResource
from datev_cin7_pipeline.defs.datev.assets import datev_booking_jobs, datev_documents, datev_extf_batches
from datev_cin7_pipeline.sandbox.cin7 import Cin7Dataset
from datev_cin7_pipeline.sandbox.datev import read_manifest
from datev_cin7_pipeline.sandbox.environment import SandboxOptions, sandbox_environment
from datev_cin7_pipeline_tests.mapping.support import TODAY, demo, roundtrip

PERIOD = "2026-05-01"
ASSETS = [cin7_documents, datev_booking_lines, datev_extf_batches, datev_documents, datev_booking_jobs]
BASE_INVOICE = "INV-00056"
BASE_PURCHASE_INVOICE = "WS/2026/\u00dc-0750"
_NAMESPACE = uuid.UUID("6f1c1d2e-5a7b-4c3d-9e8f-0a1b2c3d4e5f")
JsonObject = dict[str, Any]


def guid(*parts: str) -> str:
    """A stable GUID per case, so failures name the same ids in every run."""
    return str(uuid.uuid5(_NAMESPACE, "|".join(parts)))


def line(
    total: str, tax: str, rule: str = "USt 19%", account: str = "8400", name: str = "Kaffeebohnen Hausmischung 1 kg"
) -> JsonObject:
    return {
        "ProductID": guid("product", name),
        "SKU": "KAF-HAUS-1000",
        "Name": name,
        "Quantity": Decimal(1),
        "Price": Decimal(total),
        "Discount": Decimal(0),
        "Tax": Decimal(tax),
        "Total": Decimal(total),
        "TaxRule": rule,
        "Account": account,
        "Comment": "",
    }


# ##### DATASETS


class HostileData:
    """A deep copy of the demo company to which faulty documents are added."""

    def __init__(self) -> None:
        self.data: Cin7Dataset = copy.deepcopy(demo())
        self._base_id = next(
            sale_id
            for sale_id, body in self.data.sales.items()
            if any(invoice["InvoiceNumber"] == BASE_INVOICE for invoice in body["Invoices"])
        )
        self.pdf = next(iter(self.data.attachments[self._base_id].values()))

    def unique_pdf(self, case: str) -> bytes:
        """The demo's PDF with a trailing comment: DATEV refuses the same bytes a second time (#DCO01253)."""
        return self.pdf + f"\n% hostile case {case}\n".encode()

    def customer(self, name_start: str) -> JsonObject:
        return next(c for c in self.data.customers if c["Name"].startswith(name_start))

    def sale(
        self,
        case: str,
        number: str,
        lines: Sequence[JsonObject] | None = None,
        *,
        day: str = "2026-05-20",
        invoice: Mapping[str, Any] | None = None,
        customer: str | None = None,
        attachments: list[JsonObject] | None = None,
        files: Mapping[str, bytes] | None = None,
        change: Callable[[JsonObject], None] | None = None,
    ) -> str:
        """A sale with one authorised invoice; `attachments`/`files` replace its one good PDF "Beleg.pdf"."""
        body = copy.deepcopy(self.data.sales[self._base_id])
        sale_id = guid("sale", case)
        items = list(lines) if lines is not None else [line("100.00", "19.00")]
        net = sum((item["Total"] for item in items), Decimal(0))
        tax = sum((item["Tax"] for item in items), Decimal(0))
        first = copy.deepcopy(body["Invoices"][0])
        first.update(
            {
                "TaskID": guid("task", case),
                "InvoiceNumber": number,
                "InvoiceDate": f"{day}T00:00:00" if day else None,
                "InvoiceDueDate": "2026-06-30T00:00:00",
                "Status": "AUTHORISED",
                "Lines": items,
                "AdditionalCharges": [],
                "Payments": [],
                "TotalBeforeTax": net,
                "Tax": tax,
                "Total": net + tax,
            }
        )
        first.update(invoice or {})
        body.update(
            {
                "ID": sale_id,
                "Invoices": [first],
                "CreditNotes": [],
                "Fulfilments": [],
                "LastModifiedOn": "2026-05-28T09:00:00Z",
                "Order": {**body["Order"], "SaleOrderNumber": f"SO-{case}"[:40]},
            }
        )
        if customer is not None:
            party = self.customer(customer)
            body.update(
                {
                    "Customer": party["Name"],
                    "CustomerID": party["ID"],
                    "CustomerCurrency": party["Currency"],
                    "TaxRule": party["TaxRule"],
                    "Location": party["Location"],
                }
            )
        if attachments is None:
            attachment_id = guid("attachment", case)
            attachments = [
                {
                    "ID": attachment_id,
                    "ContentType": "application/pdf",
                    "FileName": "Beleg.pdf",
                    "DownloadUrl": f"https://inventory.dearsystems.com/Attachment/Download?ID={attachment_id}",
                }
            ]
            files = {"Beleg.pdf": self.unique_pdf(case)}
        body["Attachments"] = attachments
        if files:
            self.data.attachments[sale_id] = dict(files)
        if change is not None:
            change(body)
        self.data.sales[sale_id] = body
        return sale_id

    def purchase(
        self,
        case: str,
        number: str,
        lines: Sequence[JsonObject],
        *,
        change: Callable[[JsonObject], None] | None = None,
    ) -> str:
        """A simple purchase with one authorised supplier invoice, dated 2026-05-21, with its own PDF."""
        base_id = next(
            purchase_id
            for purchase_id, body in self.data.purchases.items()
            if isinstance(body.get("Invoice"), dict) and body["Invoice"]["InvoiceNumber"] == BASE_PURCHASE_INVOICE
        )
        body = copy.deepcopy(self.data.purchases[base_id])
        purchase_id = guid("purchase", case)
        net = sum((item["Total"] for item in lines), Decimal(0))
        tax = sum((item["Tax"] for item in lines), Decimal(0))
        body["Invoice"].update(
            {
                "InvoiceNumber": number,
                "InvoiceDate": "2026-05-21T00:00:00",
                "Lines": list(lines),
                "AdditionalCharges": [],
                "Payments": [],
                "TotalBeforeTax": net,
                "Tax": tax,
                "Total": net + tax,
            }
        )
        attachment_id = guid("attachment", case)
        body.update(
            {
                "ID": purchase_id,
                "OrderNumber": f"PO-{case}"[:40],
                "LastUpdatedDate": "2026-05-28T09:00:00Z",
                "Attachments": [
                    {
                        "ID": attachment_id,
                        "ContentType": "application/pdf",
                        "FileName": "Rechnung.pdf",
                        "DownloadUrl": f"https://inventory.dearsystems.com/Attachment/Download?ID={attachment_id}",
                    }
                ],
            }
        )
        self.data.attachments[purchase_id] = {"Rechnung.pdf": self.unique_pdf(case)}
        if change is not None:
            change(body)
        self.data.purchases[purchase_id] = body
        return purchase_id

    def pay(self, sale_id: str, amount: str, *, account: str = "1200", day: str = "2026-05-25") -> str:
        """A payment on the sale's invoice (the invoice itself stays good)."""
        invoice = self.data.sales[sale_id]["Invoices"][0]
        payment_id = guid("payment", sale_id)
        invoice["Payments"] = [
            {
                "ID": payment_id,
                "Amount": Decimal(amount),
                "DatePaid": f"{day}T00:00:00",
                "Account": account,
                "CurrencyRate": Decimal(1),
                "Reference": "",
            }
        ]
        invoice["Status"] = "PAID"
        return payment_id


def demo_open_items(month: str) -> set[str]:
    """Cin7 numbers of the demo's own invoices dated in `month` (YYYY-MM) and of those its payments in
    `month` settle: what that period's EXTF file must hold."""
    numbers: set[str] = set()
    for body in demo().sales.values():
        for invoice in Sale.model_validate(roundtrip(body)).invoices:
            if invoice.status.upper() == "VOIDED":
                continue  # voided before it was ever booked: nothing to post, nothing to reverse
            if invoice.invoice_date and invoice.invoice_date.strftime("%Y-%m") == month:
                numbers.add(invoice.invoice_number)
            if any(p.date_paid and p.date_paid.strftime("%Y-%m") == month for p in invoice.payments):
                numbers.add(invoice.invoice_number)
    for body in demo().purchases.values():
        for invoice in [body["Invoice"]] if isinstance(body.get("Invoice"), dict) else body.get("Invoice") or []:
            if str(invoice.get("InvoiceDate", "")).startswith(month):
                numbers.add(invoice["InvoiceNumber"])
            if any(str(p.get("DatePaid", "")).startswith(month) for p in invoice.get("Payments") or []):
                numbers.add(invoice["InvoiceNumber"])
        for record in demo().purchase_payments.get(body["ID"], []):
            if str(record.get("DatePaid", "")).startswith(month) and record.get("InvoiceNumber"):
                numbers.add(record["InvoiceNumber"])
    return numbers


# ##### RUNS


def table(markdown: Any) -> list[dict[str, str]]:
    """The rows of a metadata table (`defs.metadata.md_table`) as dicts; the "—" row of an empty one is none."""
    lines = str(markdown).splitlines()
    if len(lines) < 2:
        return []
    heads = _cells(lines[0])
    rows = [dict(zip(heads, _cells(text), strict=True)) for text in lines[2:]]
    return [row for row in rows if set(row.values()) != {"—"}]


def _cells(text: str) -> list[str]:
    parts = text.strip().removeprefix("|").removesuffix("|").replace("\\|", "\x00").split("|")
    return [part.strip().replace("\x00", "|") for part in parts]


@dataclass
class Check:
    passed: bool
    severity: str
    metadata: dict[str, Any]


@dataclass
class PeriodRun:
    """One materialization of the period and everything a test asserts about it."""

    period: str
    success: bool
    failures: dict[str, str]  # step → the error message (the cause's, which names what went wrong)
    skipped: set[str]
    metadata: dict[str, dict[str, Any]]
    checks: dict[str, Check]
    uploads: list[dict[str, Any]]  # documents DATEV accepted (new in this run)
    extf: list[dict[str, Any]]  # EXTF files DATEV accepted (new in this run)
    lines: list[BookingLine]  # the rows of those EXTF files
    headers: list[BatchHeader]  # their headers
    home: Path  # the connector's home folder (state database, exports)
    capture: Path  # where the DATEV simulator saved what it accepted

    def held(self) -> dict[str, str]:
        """Held documents from the failing `all_codes_mapped` check: number (or Cin7 id) → reasons."""
        check = self.checks.get("all_codes_mapped")
        rows = table(check.metadata["held_documents"]) if check else []
        return {row["number"] or row["Cin7 id"]: row["reasons"] for row in rows}

    def documents(self) -> dict[str, dict[str, str]]:
        """The `documents` table of datev_booking_lines by (kind, number)."""
        rows = table(self.metadata.get("datev_booking_lines", {}).get("documents", ""))
        return {f"{row['kind']}:{row['number']}": row for row in rows}

    def rows_for(self, belegfeld: str) -> list[BookingLine]:
        return [row for row in self.lines if row.document_field_1 == belegfeld]

    def uploaded_file_names(self) -> dict[str, str]:
        return {entry["guid"]: entry["filename"] for entry in self.uploads}


@dataclass
class Environment:
    home: Path
    capture: Path
    cin7_url: str
    datev_url: str
    runs: list[PeriodRun] = field(default_factory=list)


def _messages(error: Any) -> str:
    parts = []
    while error is not None:
        parts.append(error.message.strip())
        error = error.cause
    return " <- ".join(parts)


def materialize(environment: Environment, period: str = PERIOD) -> PeriodRun:
    seen = len(read_manifest(environment.capture))
    result = dg.materialize(
        ASSETS,
        partition_key=period,
        resources={"connector": ConnectorResource(poll_first_delay_seconds=0.05)},
        raise_on_error=False,
    )
    failures: dict[str, str] = {}
    skipped: set[str] = set()
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE" and event.step_key:
            failures[event.step_key] = _messages(event.step_failure_data.error)
        elif event.event_type_value == "STEP_SKIPPED" and event.step_key:
            skipped.add(event.step_key)
    metadata = {
        event.materialization.asset_key.to_user_string(): {
            key: value.value for key, value in event.materialization.metadata.items()
        }
        for event in result.get_asset_materialization_events()
    }
    checks = {
        evaluation.check_name: Check(
            evaluation.passed,
            evaluation.severity.value,
            {key: value.value for key, value in evaluation.metadata.items()},
        )
        for evaluation in result.get_asset_check_evaluations()
    }
    new = [entry for entry in read_manifest(environment.capture)[seen:] if entry["event"] == "upload"]
    uploads = [entry for entry in new if entry.get("guid")]
    extf = [entry for entry in new if entry.get("reference_id")]
    batches = [read_extf((environment.capture / entry["path"]).read_bytes()) for entry in extf]
    lines = [row for batch in batches for row in batch.lines]
    headers = [batch.header for batch in batches]
    run = PeriodRun(
        period,
        result.success,
        failures,
        skipped,
        metadata,
        checks,
        uploads,
        extf,
        lines,
        headers,
        environment.home,
        environment.capture,
    )
    environment.runs.append(run)
    return run


@contextmanager
def hostile_environment(
    data: Cin7Dataset,
    folder: Path,
    *,
    mapping: Callable[[JsonObject], None] | None = None,
) -> Iterator[Environment]:
    """Both simulators with `data`, a fresh home in `folder` connected to them (the suite's fixtures are
    module-scoped, so the per-test home of the project's conftest does not apply here)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(settings.HOME_ENV, str(folder / "home"))
        patch.delenv(settings.DATABASE_URL_ENV, raising=False)
        patch.delenv(settings.SECRET_KEY_ENV, raising=False)
        capture = folder / "capture"
        with sandbox_environment(data, SandboxOptions(today=TODAY, capture=capture)) as sandbox:
            if mapping is not None:
                path = sandbox.home / "mapping-default.yaml"
                content = yaml.safe_load(path.read_text("utf-8"))
                mapping(content)
                path.write_text(yaml.safe_dump(content, allow_unicode=True), "utf-8")
            yield Environment(sandbox.home, capture, sandbox.cin7_url, sandbox.datev_url)


def run_group(
    data: Cin7Dataset, folder: Path, periods: Sequence[str] = (PERIOD,), **options: Any
) -> tuple[Environment, list[PeriodRun]]:
    with hostile_environment(data, folder, **options) as environment:
        runs = [materialize(environment, period) for period in periods]
    return environment, runs


def may(day: int) -> dt.date:
    return dt.date(2026, 5, day)
