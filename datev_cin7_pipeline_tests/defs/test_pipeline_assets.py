"""The pipeline's assets for one VAT period, materialized against both simulators over real HTTP.

A finance team relies on three things here: every booked invoice's PDF reaches DATEV once and the
period's bookings arrive as one EXTF job with exactly the booked rows; materializing the same period
again sends nothing new; and a document whose Cin7 tax rule is not mapped is held back, named with its
code in a failing check, and kept out of the EXTF file while the rest of the period still goes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from datev_cin7_pipeline.cin7.models import Sale
from datev_cin7_pipeline.datev.extf import read_extf
from datev_cin7_pipeline.defs.bookings.assets import ALL_CODES_MAPPED, datev_booking_lines
from datev_cin7_pipeline.defs.cin7.assets import cin7_documents
from datev_cin7_pipeline.defs.connector import ConnectorResource
from datev_cin7_pipeline.defs.datev.assets import datev_booking_jobs, datev_documents, datev_extf_batches
from datev_cin7_pipeline.sandbox.datev import read_manifest
from datev_cin7_pipeline.sandbox.environment import SandboxOptions, sandbox_environment
from datev_cin7_pipeline.store import StateStore
from datev_cin7_pipeline.store.audit import history
from datev_cin7_pipeline_tests.mapping.support import TODAY, demo, demo_mapping_dict, roundtrip

PERIOD = "2026-05-01"
ASSETS = [cin7_documents, datev_booking_lines, datev_extf_batches, datev_documents, datev_booking_jobs]


# ##### FIXTURES


@dataclass
class Sandbox:
    home: Path
    capture: Path

    def materialize(self) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            ASSETS,
            partition_key=PERIOD,
            resources={"connector": ConnectorResource(poll_first_delay_seconds=0.05)},
            raise_on_error=False,
        )

    def write_mapping(self, mapping: dict[str, Any]) -> None:
        (self.home / "mapping-default.yaml").write_text(yaml.safe_dump(mapping, allow_unicode=True), "utf-8")

    def manifest(self) -> list[dict[str, Any]]:
        return read_manifest(self.capture)


@pytest.fixture
def sandbox(isolated_home: Path, tmp_path: Path) -> Iterator[Sandbox]:
    capture = tmp_path / "capture"
    with sandbox_environment(demo(), SandboxOptions(today=TODAY, capture=capture)) as environment:
        box = Sandbox(environment.home, capture)
        assert yaml.safe_load((box.home / "mapping-default.yaml").read_text("utf-8")) == demo_mapping_dict("skr03")
        yield box


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    (materialization,) = [
        event.materialization
        for event in result.get_asset_materialization_events()
        if event.materialization.asset_key == dg.AssetKey(asset)
    ]
    return {key: value.value for key, value in materialization.metadata.items()}


def _check(result: dg.ExecuteInProcessResult, name: str) -> dg.AssetCheckEvaluation:
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return evaluation


def _uploads(manifest: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    key = "guid" if kind == "documents" else "reference_id"
    return [entry for entry in manifest if entry["event"] == "upload" and entry.get(key)]


def _may_sale(rule_count: int = 1) -> tuple[str, str]:
    """A May sale invoice whose tax rule no other May document uses: (invoice number, tax rule)."""
    usage: dict[str, set[str]] = {}
    invoices: dict[str, set[str]] = {}
    for body in demo().sales.values():
        sale = Sale.model_validate(roundtrip(body))
        for invoice in sale.invoices:
            if invoice.invoice_date and invoice.invoice_date.strftime("%Y-%m") == "2026-05":
                rules = {line.tax_rule for line in [*invoice.lines, *invoice.additional_charges]}
                invoices[invoice.invoice_number] = rules
                for rule in rules:
                    usage.setdefault(rule, set()).add(invoice.invoice_number)
    for rule, numbers in sorted(usage.items()):
        if len(numbers) == rule_count:
            return next(iter(numbers)), rule
    raise AssertionError(f"no May tax rule used by exactly {rule_count} invoice: {usage}")


# ##### TESTS


def test_a_period_goes_to_datev_once_and_again_sends_nothing(sandbox: Sandbox) -> None:
    first = sandbox.materialize()

    assert first.success
    lines = _metadata(first, "datev_booking_lines")
    assert lines["documents_held"] == 0
    assert lines["documents_booked"] > 10
    assert "USt 19" in lines["totals_per_tax_treatment"]
    assert all(evaluation.passed for evaluation in first.get_asset_check_evaluations())
    manifest = sandbox.manifest()
    documents = _uploads(manifest, "documents")
    assert documents
    assert len({entry["guid"] for entry in documents}) == len(documents)  # each PDF once
    assert len(documents) == _metadata(first, "datev_documents")["uploaded_now"]
    (extf,) = _uploads(manifest, "extf")
    assert extf["rows"] == lines["lines_to_post"]
    jobs = _metadata(first, "datev_booking_jobs")
    assert jobs["job_ids"] == [extf["job_id"]]
    assert jobs["succeeded"] == 1
    (file_name,) = _metadata(first, "datev_extf_batches")["file_names"]
    in_files = str(_metadata(first, "datev_extf_batches")["documents_in_files"])
    assert all(f"| {entry['guid']} | {file_name} |" in in_files for entry in documents)  # Cin7 id → GUID → file
    exported = sandbox.home / "exports" / "default" / "2026-05-01" / file_name
    assert exported.read_bytes() == (sandbox.capture / extf["path"]).read_bytes()
    booked = read_extf(exported.read_bytes())
    linked = {row.document_link for row in booked.lines if row.document_link}
    assert linked == {f'BEDI "{entry["guid"]}"' for entry in documents}  # every row links an uploaded PDF
    store = StateStore.open()
    with store.session() as session:  # `audit show <GUID>`: the document's way into DATEV, step by step
        trail = [event.action for event in history(session, documents[0]["guid"])]
    store.dispose()
    steps = ["booking.recorded", "document.uploaded", "booking.batched", "datev.job_submitted", "datev.job_succeeded"]
    seen = [action for action in trail if action in steps]
    assert sorted(seen) == sorted(steps)  # each step once (PDF upload and batching may come in either order)
    assert (seen[0], seen[-2:]) == ("booking.recorded", ["datev.job_submitted", "datev.job_succeeded"])

    second = sandbox.materialize()

    assert second.success
    assert sandbox.manifest()[: len(manifest)] == manifest
    assert _uploads(sandbox.manifest(), "documents") == documents
    assert _uploads(sandbox.manifest(), "extf") == [extf]
    again = _metadata(second, "datev_booking_lines")
    assert again["lines_to_post"] == 0
    assert again["documents_unchanged"] == lines["documents_booked"]
    assert _metadata(second, "datev_extf_batches")["new_files"] == 0
    assert _metadata(second, "datev_documents")["uploaded_now"] == 0
    assert _metadata(second, "datev_booking_jobs")["job_ids"] == [extf["job_id"]]


def test_an_unmapped_tax_rule_holds_its_document_back_and_names_the_code(sandbox: Sandbox) -> None:
    number, rule = _may_sale()
    mapping = demo_mapping_dict("skr03")
    del mapping["tax_rules"][rule]
    sandbox.write_mapping(mapping)

    result = sandbox.materialize()

    check = _check(result, ALL_CODES_MAPPED)
    assert not check.passed
    assert check.severity == dg.AssetCheckSeverity.ERROR
    held = str(check.metadata["held_documents"].value)
    assert number in held
    assert rule in held
    assert check.metadata["codes"].value
    lines = _metadata(result, "datev_booking_lines")
    assert lines["documents_held"] == 1
    (extf,) = _uploads(sandbox.manifest(), "extf")
    assert extf["rows"] == lines["lines_to_post"]
    booked = read_extf((sandbox.capture / extf["path"]).read_bytes())
    # Its payment still settles the open item; the invoice's own rows (linked to its PDF) are absent.
    assert not [row for row in booked.lines if row.document_field_1 == number and row.document_link]
    assert number not in str(_metadata(result, "datev_documents")["uploads"])
    assert result.success  # the held document does not stop the rest of the period
    (held_entry,) = lines["held_documents_json"]
    assert held_entry["number"] == number
    assert rule in held_entry["reasons"]

    sandbox.write_mapping(demo_mapping_dict("skr03"))  # the gap is fixed
    fixed = sandbox.materialize()

    again = _metadata(fixed, "datev_booking_lines")
    assert (again["documents_held"], again["documents_booked"]) == (0, 1)
    first_file, second_file = _uploads(sandbox.manifest(), "extf")
    assert first_file == extf
    late = read_extf((sandbox.capture / second_file["path"]).read_bytes())
    assert {row.document_field_1 for row in late.lines} == {number}  # only the held invoice, now with its PDF
    assert all(row.document_link.startswith("BEDI") for row in late.lines)
