"""`datev-cin7 demo`, as a new user runs it: twice on a fresh folder, through the command line.

What it pins down: the first run sends every invoice and credit note PDF of the period to DATEV once and one
EXTF file whose rows are the booking lines; `summary.json` says exactly what the DATEV capture shows; the
reconciliation has no difference for any tax treatment and agrees with Cin7's own document totals; the run
is recorded in the demo's own Dagster instance. The second run with the same folder sends nothing and says
so. Own data and mapping work, a mapping gap holds documents back with their reasons, and every mistake
ends in one sentence and exit code 1, before anything is written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from click.testing import CliRunner

from datev_cin7_pipeline import settings
from datev_cin7_pipeline.cli import main
from datev_cin7_pipeline.datev.extf import read_extf
from datev_cin7_pipeline.definitions import defs
from datev_cin7_pipeline.reports import read_reconciliation_csv
from datev_cin7_pipeline.sandbox.cin7 import Cin7Dataset, demo_dataset, write_data_folder
from datev_cin7_pipeline.sandbox.datev import read_manifest
from datev_cin7_pipeline.sandbox.environment import demo_mapping

SCRIPT = Path(sys.executable).with_name("datev-cin7")

# ##### FIXTURES


@dataclass
class DemoRun:
    code: int
    out: str
    err: str
    summary: dict[str, Any]
    manifest: list[dict[str, Any]]
    reconciliation: list[dict[str, str]]
    extf: dict[str, bytes]  # <out>/extf/ after the run
    capture: dict[str, bytes]  # <out>/datev-capture/ after the run (the next run replaces it)


def _snapshot(out: Path, code: int, stdout: str, stderr: str) -> DemoRun:
    return DemoRun(
        code=code,
        out=stdout,
        err=stderr,
        summary=json.loads((out / "summary.json").read_text("utf-8")),
        manifest=read_manifest(out / "datev-capture"),
        reconciliation=read_reconciliation_csv(out / "reconciliation.csv"),
        extf={path.name: path.read_bytes() for path in sorted((out / "extf").glob("*"))},
        capture={
            str(path.relative_to(out / "datev-capture")): path.read_bytes()
            for path in sorted((out / "datev-capture").rglob("*"))
            if path.is_file()
        },
    )


def _run_script(out: Path, *args: str) -> DemoRun:
    """The installed console script in a subprocess, with a user's own settings that must stay untouched."""
    env = {
        **os.environ,
        settings.HOME_ENV: str(out.parent / "users-home"),
        "DAGSTER_HOME": str(out.parent / "users-dagster-home"),
    }
    completed = subprocess.run(
        [str(SCRIPT), "demo", "--out", str(out), *args], capture_output=True, text=True, env=env, timeout=240
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return _snapshot(out, completed.returncode, completed.stdout, completed.stderr)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoRun, DemoRun]:
    out = tmp_path_factory.mktemp("demo") / "datev-cin7-demo"
    first = _run_script(out)
    second = _run_script(out)
    return out, first, second


def _uploads(manifest: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [entry for entry in manifest if entry["event"] == "upload"]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if value else []


def _period_documents(dataset: Cin7Dataset, period: str) -> list[tuple[str, str, str, Decimal]]:
    """(kind, number, currency, total signed as the open item moves) of every bookable invoice and credit
    note dated in the period, read straight from Cin7's JSON (independent of the pipeline's code)."""
    found: list[tuple[str, str, str, Decimal]] = []
    for sale in dataset.sales.values():
        currency = sale["CustomerCurrency"]
        for invoice in _as_list(sale.get("Invoices")):
            if invoice["Status"] != "VOIDED" and invoice["InvoiceDate"][:7] == period:
                found.append(("sale_invoice", invoice["InvoiceNumber"], currency, Decimal(invoice["Total"])))
        for note in _as_list(sale.get("CreditNotes")):
            if note["Status"] == "AUTHORISED" and note["CreditNoteDate"][:7] == period:
                found.append(("sale_credit_note", note["CreditNoteNumber"], currency, -Decimal(note["Total"])))
    for purchase in dataset.purchases.values():
        currency = purchase["SupplierCurrency"]
        for invoice in _as_list(purchase.get("Invoice")):
            if invoice["Status"] in ("AUTHORISED", "PAID") and invoice["InvoiceDate"][:7] == period:
                found.append(("purchase_invoice", invoice["InvoiceNumber"], currency, -Decimal(invoice["Total"])))
        for note in _as_list(purchase.get("CreditNote")):
            if note["Status"] in ("AUTHORISED", "PAID") and note["CreditNoteDate"][:7] == period:
                found.append(("purchase_credit_note", note["CreditNoteNumber"], currency, Decimal(note["Total"])))
    return found


def _least_used_tax_rule(dataset: Cin7Dataset, numbers: set[str]) -> tuple[str, set[str]]:
    """The tax rule the fewest of these documents use, and the numbers of those that use it."""
    usage: defaultdict[str, set[str]] = defaultdict(set)
    for parent in [*dataset.sales.values(), *dataset.purchases.values()]:
        for key in ("Invoices", "CreditNotes", "Invoice", "CreditNote"):
            for document in _as_list(parent.get(key)):
                number = document.get("InvoiceNumber") or document.get("CreditNoteNumber")
                if number in numbers:
                    for line in [*document.get("Lines", []), *document.get("AdditionalCharges", [])]:
                        usage[line["TaxRule"]].add(number)
    return min(usage.items(), key=lambda item: (len(item[1]), item[0]))


def _last_complete_month(day: dt.date) -> str:
    return (day.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")


# ##### TESTS: two runs on a fresh folder


def test_the_first_run_sends_every_pdf_once_and_one_extf_file_with_the_booking_lines(
    two_runs: tuple[Path, DemoRun, DemoRun],
) -> None:
    out, first, _ = two_runs
    summary = first.summary
    as_of = dt.date.fromisoformat(json.loads((out / "state" / "demo.json").read_text("utf-8"))["data_as_of"])
    assert summary["period"] == _last_complete_month(as_of)  # the default period
    assert summary["success"] is True
    expected = _period_documents(demo_dataset(0, as_of), summary["period"])
    assert expected

    uploads = _uploads(first.manifest)
    pdfs = [entry for entry in uploads if entry["guid"]]
    extf = [entry for entry in uploads if entry["api"] and "extf" in entry["api"]]
    assert len(pdfs) == len({entry["guid"] for entry in pdfs}) == len(expected)  # each document once
    attachments = {
        hashlib.sha256(content).hexdigest()
        for files in demo_dataset(0, as_of).attachments.values()
        for content in files.values()
    }
    assert {entry["sha256"] for entry in pdfs} <= attachments  # byte for byte Cin7's PDFs
    assert summary["documents_uploaded"]["this_run"] == summary["uploads_this_run"]["documents"] == len(pdfs)

    (upload,) = extf
    assert upload["rows"] == summary["booking_lines"] == summary["uploads_this_run"]["extf_rows"] > 0
    captured = first.capture[upload["path"]]
    assert first.extf == {upload["filename"]: captured}  # <out>/extf/ holds the file as uploaded
    assert len(read_extf(captured).lines) == summary["booking_lines"]
    (job,) = summary["jobs"]
    (final,) = [entry for entry in first.manifest if entry["event"] == "job_final"]
    assert (job["datev_job_id"], job["status"], job["rows"]) == (final["job_id"], "succeeded", final["rows"])
    assert final["status"] == "succeeded"

    documents = summary["documents_extracted"]
    assert documents["sale_invoices"] == sum(1 for kind, *_ in expected if kind == "sale_invoice")
    assert documents["purchase_invoices"] == sum(1 for kind, *_ in expected if kind == "purchase_invoice")
    assert summary["documents_booked"]["booked"] == documents["total"]  # invoices, credit notes, payments
    assert summary["documents_booked"]["held"] == 0
    assert summary["held_documents"] == []
    assert summary["nothing_new"] is False
    assert all(check["passed"] for check in summary["checks"])
    assert summary["calls"]["cin7"] > 0
    assert summary["calls"]["cin7_limit_per_minute"] == 600
    assert 0 < summary["calls"]["cin7_api_max_in_any_60s"] <= summary["calls"]["cin7_max_in_any_60s"] <= 600
    assert summary["calls"]["cin7_downloads"] == len(pdfs)  # each PDF read from Cin7 once
    assert summary["calls"]["cin7_throttled"] == 0  # the client paces itself below the simulator's limit
    # Every DATEV call of the run: one per PDF, the EXTF upload, and at least one status read.
    assert summary["calls"]["datev"] >= len(pdfs) + 2
    assert "600 calls/min" in first.out
    assert first.err == ""  # no Dagster log noise, no warnings


def test_the_reconciliation_has_no_difference_and_agrees_with_cin7s_documents(
    two_runs: tuple[Path, DemoRun, DemoRun],
) -> None:
    out, first, _ = two_runs
    rows = first.reconciliation
    assert len(rows) >= 3
    for row in rows:
        assert row["difference"] == "0.00", row
        assert row["held_back"] == "0.00", row
        assert row["cin7_total"] == row["booked"] == row["datev_succeeded"], row
    assert first.summary["reconciliation"] == rows
    assert first.summary["reconciled"] is True
    # Per currency, the treatments add up to Cin7's own invoice and credit-note totals.
    as_of = dt.date.fromisoformat(first.summary["data_as_of"])
    cin7: defaultdict[str, Decimal] = defaultdict(Decimal)
    for _, _, currency, total in _period_documents(demo_dataset(0, as_of), first.summary["period"]):
        cin7[currency] += total
    reconciled: defaultdict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        reconciled[row["currency"]] += Decimal(row["datev_succeeded"])
    assert dict(reconciled) == {currency: total for currency, total in cin7.items() if total}
    markdown = (out / "reconciliation.md").read_text("utf-8")
    assert f"All {len(rows)} tax treatment(s) reconcile" in markdown
    assert all(f"| {row['tax_treatment']} | {row['currency']} | {row['cin7_total']} |" in markdown for row in rows)


def test_the_run_is_in_the_demos_own_dagster_instance(two_runs: tuple[Path, DemoRun, DemoRun]) -> None:
    out, first, second = two_runs
    assert not (out.parent / "users-home").exists()  # the user's own settings were never touched
    assert not (out.parent / "users-dagster-home").exists()
    key = first.summary["partition_key"]
    expected_assets = {asset.to_user_string() for asset in defs().resolve_all_asset_keys()}
    assert set(first.summary["dagster"]["assets_materialized"]) == expected_assets
    with dg.DagsterInstance.from_config(str(out / "state" / "dagster")) as instance:
        runs = instance.get_runs()
        run_ids = {first.summary["dagster"]["run_id"], second.summary["dagster"]["run_id"]}
        assert {run.run_id for run in runs} == run_ids
        assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs)
        assert all(run.tags["dagster/partition"] == key for run in runs)
        for asset in expected_assets:
            event = instance.get_latest_materialization_event(dg.AssetKey.from_user_string(asset))
            assert event is not None
            assert event.run_id == second.summary["dagster"]["run_id"]
            assert event.dagster_event is not None
            assert event.dagster_event.partition == key


def test_the_second_run_sends_nothing_and_says_so(two_runs: tuple[Path, DemoRun, DemoRun]) -> None:
    out, first, second = two_runs
    summary = second.summary
    assert summary["success"] is True
    assert _uploads(second.manifest) == []
    assert (out / "datev-capture" / "manifest.jsonl").read_text("utf-8") == ""
    assert summary["nothing_new"] is True
    assert summary["uploads_this_run"] == {
        "documents": 0,
        "document_guids": 0,
        "extf_files": 0,
        "extf_rows": 0,
        "dxso_files": 0,
    }
    assert "Nothing new" in second.out
    assert summary["booking_lines"] == 0
    assert summary["documents_uploaded"]["this_run"] == 0
    assert summary["documents_uploaded"]["already_in_datev"] == first.summary["documents_uploaded"]["this_run"]
    assert summary["documents_booked"]["unchanged"] == first.summary["documents_booked"]["booked"]
    assert summary["jobs"] == first.summary["jobs"]  # the first run's job, still the only one
    assert second.extf == first.extf
    assert second.reconciliation == first.reconciliation
    assert summary["calls"]["datev"] == 0
    assert 0 < summary["calls"]["cin7"] < first.summary["calls"]["cin7"]  # only the incremental lists


# ##### TESTS: own data and mapping


def test_own_data_and_mapping_hold_back_what_the_mapping_does_not_cover(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    today = dt.date(2026, 6, 15)
    dataset = demo_dataset(3, today)
    period = "2026-05"
    documents = _period_documents(dataset, period)
    rule, held_numbers = _least_used_tax_rule(dataset, {number for _, number, _, _ in documents})
    mapping = demo_mapping(dataset)
    del mapping["tax_rules"][rule]
    data, mapping_file = tmp_path / "cin7-data", tmp_path / "mapping.yaml"
    write_data_folder(dataset, data)
    mapping_file.write_text(yaml.safe_dump(mapping, allow_unicode=True), "utf-8")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "users-dagster-home"))
    out = tmp_path / "out"

    result = CliRunner().invoke(
        main, ["demo", "--out", str(out), "--period", period, "--cin7-data", str(data), "--mapping", str(mapping_file)]
    )

    assert result.exit_code == 0, result.output
    assert os.environ["DAGSTER_HOME"] == str(tmp_path / "users-dagster-home")  # given back after the run
    run = _snapshot(out, result.exit_code, result.output, "")
    summary = run.summary
    assert summary["data"] == f"Cin7 data folder {data.resolve()}"
    assert {held["number"] for held in summary["held_documents"]} == held_numbers
    assert all(rule in held["reasons"] for held in summary["held_documents"])
    assert summary["documents_booked"]["held"] == len(held_numbers)
    pdfs = [entry for entry in _uploads(run.manifest) if entry["guid"]]
    assert len(pdfs) == len(documents) - len(held_numbers)  # held invoices are not sent
    rows = {row["tax_treatment"]: row for row in run.reconciliation}
    held_rows = [row for row in rows.values() if row["held_back"] != "0.00"]
    assert held_rows
    assert all(row["difference"] == "0.00" for row in rows.values())  # what is held is named, not missing
    assert all(Decimal(row["datev_succeeded"]) == Decimal(row["cin7_to_book"]) for row in rows.values())
    assert all(f" {number} (" in result.output for number in held_numbers)  # named in the printed summary


# ##### TESTS: mistakes


@pytest.fixture
def runner_out(tmp_path: Path) -> tuple[CliRunner, Path]:
    return CliRunner(), tmp_path / "out"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # a month that does not exist
        (["--period", "2026-13"], "--period must be a month written YYYY-MM, e.g. 2026-05, not '2026-13'."),
        # a name instead of the number
        (["--period", "May"], "--period must be a month written YYYY-MM, e.g. 2026-05, not 'May'."),
        # after the open month: Dagster has no such partition
        (["--period", "2099-01"], "--period 2099-01 is not a VAT period of the pipeline"),
        # before the first period
        (["--period", "2023-12"], "--period 2023-12 is not a VAT period of the pipeline"),
    ],
)
def test_a_bad_period_is_one_sentence(runner_out: tuple[CliRunner, Path], args: list[str], message: str) -> None:
    runner, out = runner_out
    result = runner.invoke(main, ["demo", "--out", str(out), *args])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {message}")
    assert result.output.count("\n") == 1
    assert not out.exists()


def test_a_missing_data_folder_is_one_sentence(runner_out: tuple[CliRunner, Path], tmp_path: Path) -> None:
    runner, out = runner_out
    result = runner.invoke(main, ["demo", "--out", str(out), "--cin7-data", str(tmp_path / "nowhere")])
    assert result.exit_code == 1
    assert result.output == f"Error: The Cin7 data folder {tmp_path / 'nowhere'} does not exist.\n"
    assert not out.exists()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        # not YAML at all
        ("datev: [29098, 55003\n", "not valid YAML"),
        # YAML, but not a mapping file
        ("version: 1\nfoo: 1\n", "'datev' is required"),
    ],
)
def test_a_broken_mapping_file_is_one_sentence(
    runner_out: tuple[CliRunner, Path], tmp_path: Path, text: str, problem: str
) -> None:
    runner, out = runner_out
    path = tmp_path / "mapping.yaml"
    path.write_text(text, "utf-8")
    result = runner.invoke(main, ["demo", "--out", str(out), "--mapping", str(path)])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: The mapping file {path} is not a valid mapping: ")
    assert problem in result.output
    assert result.output.count("\n") == 1
    assert not out.exists()


def test_a_folder_that_holds_something_else_is_refused(runner_out: tuple[CliRunner, Path]) -> None:
    runner, out = runner_out
    out.mkdir()
    (out / "notes.txt").write_text("mine", "utf-8")
    result = runner.invoke(main, ["demo", "--out", str(out)])
    assert result.exit_code == 1
    refusal = f"{out} is not empty and holds no earlier demo; choose a new or empty --out folder."
    assert result.output == f"Error: {refusal}\n"
    assert sorted(path.name for path in out.iterdir()) == ["notes.txt"]


def test_a_taken_port_of_an_earlier_demo_is_one_sentence(runner_out: tuple[CliRunner, Path]) -> None:
    """A demo folder's Cin7 simulator must come back on its port (earlier documents' PDF addresses name it)."""
    import json
    import socket

    from datev_cin7_pipeline.demo import DemoOptions, _source_label

    runner, out = runner_out
    (out / "state").mkdir(parents=True)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        record = {"source": _source_label(DemoOptions(out=out)), "data_as_of": "2026-06-15", "cin7_port": port}
        (out / "state" / "demo.json").write_text(json.dumps(record), "utf-8")

        result = runner.invoke(main, ["demo", "--out", str(out)])

    assert result.exit_code == 1
    assert result.output.endswith(
        f"\nError: Port {port}, where this demo folder's Cin7 simulator runs, is taken by another program; "
        "free it or use a new --out folder.\n"
    )
    assert "Traceback" not in result.output
