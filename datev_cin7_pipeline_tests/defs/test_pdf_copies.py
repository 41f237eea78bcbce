"""An invoice without a PDF in Cin7: booked without Beleg and warned about by default; with
`datev.render_missing_pdfs: true`, a copy rendered from its data goes to DATEV, marked as a copy, and its
booking rows link it; the warning still names the invoice."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import requests
import yaml

from datev_cin7_pipeline import settings
from datev_cin7_pipeline.cin7.models import Sale
from datev_cin7_pipeline.datev.extf import read_extf
from datev_cin7_pipeline.datev.identities import COPY_ATTACHMENT_ID, document_guid
from datev_cin7_pipeline.datev.pdf_copy import COPY_MARK, render_copy
from datev_cin7_pipeline.defs.bookings.assets import datev_booking_lines
from datev_cin7_pipeline.defs.cin7.assets import cin7_documents
from datev_cin7_pipeline.defs.connector import ConnectorResource
from datev_cin7_pipeline.defs.datev.assets import (
    INVOICES_HAVE_PDFS,
    datev_booking_jobs,
    datev_documents,
    datev_extf_batches,
)
from datev_cin7_pipeline.mapping.documents import sale_invoice_document
from datev_cin7_pipeline.sandbox.cin7 import Cin7Dataset
from datev_cin7_pipeline.sandbox.environment import SandboxEnvironment, SandboxOptions, sandbox_environment
from datev_cin7_pipeline_tests.mapping.support import TODAY, demo, master, roundtrip
from datev_cin7_pipeline_tests.sandbox.pdf_check import check_pdf, pdf_text

PERIOD = "2026-05-01"
ASSETS = [cin7_documents, datev_booking_lines, datev_extf_batches, datev_documents, datev_booking_jobs]


def _without_pdf() -> tuple[Cin7Dataset, str, str]:
    """The demo company with one May invoice's PDF removed: (data, sale id, invoice number)."""
    data = copy.deepcopy(demo())
    for sale_id, body in data.sales.items():
        invoices = [i for i in body.get("Invoices", []) if str(i.get("InvoiceDate", "")).startswith("2026-05")]
        if len(invoices) == 1 and not body.get("CreditNotes") and body.get("Attachments"):
            body["Attachments"] = []
            data.attachments.pop(sale_id, None)
            return data, sale_id, invoices[0]["InvoiceNumber"]
    raise AssertionError("no May sale with one invoice and a PDF")


@pytest.fixture(params=[False, True], ids=["booked-without-beleg", "rendered-copy"])
def case(request: pytest.FixtureRequest, isolated_home: Path, tmp_path: Path) -> Iterator[tuple[Any, ...]]:
    data, sale_id, number = _without_pdf()
    with sandbox_environment(data, SandboxOptions(today=TODAY, capture=tmp_path / "capture")) as env:
        if request.param:
            path = settings.connections_file_path()
            connections = yaml.safe_load(path.read_text("utf-8"))
            connections["connections"]["default"]["datev"]["render_missing_pdfs"] = True
            path.write_text(yaml.safe_dump(connections), "utf-8")
        yield env, sale_id, number, request.param


def test_an_invoice_without_pdf_is_warned_about_and_gets_a_marked_copy_only_when_asked(
    case: tuple[SandboxEnvironment, str, str, bool],
) -> None:
    env, sale_id, number, copies = case

    result = dg.materialize(
        ASSETS, partition_key=PERIOD, resources={"connector": ConnectorResource(poll_first_delay_seconds=0.05)}
    )

    (check,) = [e for e in result.get_asset_check_evaluations() if e.check_name == INVOICES_HAVE_PDFS]
    assert not check.passed
    assert check.severity == dg.AssetCheckSeverity.WARN
    table = str(check.metadata["without_pdf"].value)
    assert number in table
    assert ("copy rendered" if copies else "| none |") in table
    documents = requests.get(f"{env.datev_url}/_sim/documents", timeout=10).json()["documents"]
    copies_sent = [d for d in documents if "KOPIE" in str(d.get("file_name") or d.get("filename") or d)]
    assert env.capture is not None
    (extf,) = [
        e
        for e in requests.get(f"{env.datev_url}/_sim/manifest", timeout=10).json()["events"]
        if e["event"] == "upload" and e.get("reference_id")
    ]
    lines = read_extf((env.capture / extf["path"]).read_bytes()).lines
    invoice_lines = [line for line in lines if line.document_field_1 == number]
    assert invoice_lines
    if copies:
        assert len(copies_sent) == 1
        guid = document_guid("default", _task_id(sale_id), COPY_ATTACHMENT_ID)
        # The invoice's rows link the copy (its payment rows share the number and link nothing).
        assert {line.document_link for line in invoice_lines} - {""} == {f'BEDI "{guid}"'}
        (upload,) = [
            e
            for e in requests.get(f"{env.datev_url}/_sim/manifest", timeout=10).json()["events"]
            if e["event"] == "upload" and e.get("guid") == guid
        ]
        content = (env.capture / upload["path"]).read_bytes()
        assert check_pdf(content) == []
        assert COPY_MARK in pdf_text(content)
    else:
        assert copies_sent == []
        assert {line.document_link for line in invoice_lines} == {""}


def _task_id(sale_id: str) -> str:
    sale = Sale.model_validate(roundtrip(demo().sales[sale_id]))
    (invoice,) = [i for i in sale.invoices if i.invoice_date and i.invoice_date.strftime("%Y-%m") == "2026-05"]
    return invoice.task_id


def test_the_copy_shows_the_invoice_data_and_is_marked_on_every_page() -> None:
    m = master()
    body = next(
        b
        for b in demo().sales.values()
        if any(str(i.get("InvoiceDate", "")).startswith("2026-05") for i in b["Invoices"])
    )
    sale = Sale.model_validate(roundtrip(body))
    doc = sale_invoice_document(sale, sale.invoices[0], m.company, m.tax_rules)

    text = pdf_text(render_copy(doc, "Elbe & Isar Großhandel GmbH"))

    assert text.count(COPY_MARK) >= 2
    assert doc.number in text
    assert doc.party_name in text
    assert f"{doc.total:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".") in text
    assert doc.total > Decimal(0)
