"""`datev-cin7 demo`: one VAT period of the demo company (or your own Cin7 data) through the whole pipeline.

This is the one plain module allowed to drive Dagster (DESIGN §3 keeps plain code free of it): the demo
*is* the product run end to end, so it loads the project's Definitions (`definitions.py`) and materializes
every asset for the period through Dagster, into a persistent instance of its own.

Everything lives in the output folder, so a demo never touches a real setup:

    <out>/state/home/          its own DATEV_CIN7_HOME (connections file, mapping, vault key, state.db)
    <out>/state/dagster/       its own DAGSTER_HOME (SQLite dagster.yaml): `dg dev` there shows the runs
    <out>/state/demo.json      the data the state was built from, the demo company's date, the Cin7 port
    <out>/datev-capture/       everything the DATEV simulator accepted in this run, with manifest.jsonl
    <out>/extf/, <out>/dxso/   the EXTF files and DXSO packages as uploaded (kept across runs)
    <out>/reconciliation.csv|md, <out>/summary.json

Both simulators are fresh every run, the state is not: a second run with the same folder finds every
document and booking in its ledger and sends nothing, which the run's own (empty) capture shows. The demo
company is generated as of the date of the first run and kept at it, so the second run sees the same
company even on another day; the Cin7 simulator keeps its port (see `_simulators`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import shutil
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import requests
import yaml
from dagster._core.events import DagsterEventType
from dagster._core.events.log import EventLogEntry

from datev_cin7_pipeline import reports, settings
from datev_cin7_pipeline.config import require_connection
from datev_cin7_pipeline.errors import ConnectorError
from datev_cin7_pipeline.mapping import parse_mapping
from datev_cin7_pipeline.mapping.config import MappingFileError
from datev_cin7_pipeline.periods import FIRST_PERIOD, VAT_TIMEZONE, partition_key
from datev_cin7_pipeline.sandbox.cin7 import (
    Cin7Dataset,
    DataFolderError,
    demo_dataset,
    load_dataset,
)
from datev_cin7_pipeline.sandbox.cin7.traffic import max_in_window
from datev_cin7_pipeline.sandbox.datev import MANIFEST, read_manifest
from datev_cin7_pipeline.sandbox.environment import SandboxEnvironment, SandboxOptions, sandbox_environment
from datev_cin7_pipeline.store import StateStore

DEFAULT_OUT = Path("datev-cin7-demo")
# The real Cin7 limit is 60 calls/min; the demo raises it (in the simulator and the client alike) so a
# period takes seconds, not minutes.
DEMO_CALLS_PER_MINUTE = 600
CONNECTION = "default"
STATE_FILE = "demo.json"
DAGSTER_YAML = """\
# The demo's own Dagster instance. No storage key: runs, events and schedules are SQLite files in this
# folder (history/, storage/, schedules/), wherever the folder is moved.
# Browse them with `dg dev` from the project folder, with DAGSTER_HOME set to this folder.
telemetry:
  enabled: false
"""
_PERIOD = re.compile(r"(\d{4})-(\d{2})")


class DemoError(ConnectorError):
    """A bad option, folder or file, or a run that failed: one sentence for the user."""


@dataclass(frozen=True)
class DemoOptions:
    out: Path = DEFAULT_OUT
    period: str | None = None  # YYYY-MM; default: the last complete month in German time
    cin7_data: Path | None = None  # a Cin7 data folder (`datev-cin7 sandbox export`); default: the demo company
    mapping: Path | None = None  # a mapping file; default: the demo company's completed mapping
    seed: int = 0
    cin7_calls_per_minute: int = DEMO_CALLS_PER_MINUTE
    dataset: Cin7Dataset | None = None  # data given directly (the benchmark), instead of cin7_data
    dataset_label: str = ""  # how `dataset` is named in the state file and the output
    today: dt.date | None = None  # the demo company's date on a first run (default: today in Berlin)
    poll_first_delay_seconds: float = 0.2  # the simulator finishes jobs at once; no need to wait 5 s


@dataclass
class DemoReport:
    summary: dict[str, Any]  # what summary.json holds
    out: Path
    files: list[Path] = field(default_factory=list)  # what the run wrote besides the state


# --- options ------------------------------------------------------------------------------------------


def parse_period(text: str) -> dt.date:
    match = _PERIOD.fullmatch(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise DemoError(f"--period must be a month written YYYY-MM, e.g. 2026-05, not {text!r}.")
    return dt.date(int(match.group(1)), int(match.group(2)), 1)


def berlin_today() -> dt.date:
    return dt.datetime.now(ZoneInfo(VAT_TIMEZONE)).date()


def last_complete_month(today: dt.date) -> dt.date:
    return (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def _check_mapping_file(path: Path) -> Path:
    if not path.is_file():
        raise DemoError(f"The mapping file {path} does not exist.")
    invalid = f"The mapping file {path} is not a valid mapping"
    try:
        yaml.safe_load(path.read_text("utf-8"))
    except yaml.MarkedYAMLError as exc:  # said here, in one line, rather than as PyYAML's excerpt with carets
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise DemoError(f"{invalid}: not valid YAML ({exc.problem}{where}).") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise DemoError(f"{invalid}: not valid YAML ({exc.__class__.__name__}).") from None
    try:
        parse_mapping(path)
    except MappingFileError as exc:
        problems = [f"{issue.path}: {issue.message}" if issue.path else str(issue.message) for issue in exc.issues]
        more = f" (and {len(problems) - 2} more)" if len(problems) > 2 else ""
        raise DemoError(f"{invalid}: {'; '.join(problems[:2]) or 'invalid mapping'}{more}.") from None
    return path.resolve()


def _given_dataset(options: DemoOptions) -> Cin7Dataset | None:
    if options.dataset is not None:
        return options.dataset
    if options.cin7_data is None:
        return None
    if not options.cin7_data.is_dir():
        raise DemoError(f"The Cin7 data folder {options.cin7_data} does not exist.")
    try:
        return load_dataset(options.cin7_data)
    except DataFolderError as exc:
        raise DemoError(f"The Cin7 data folder cannot be used: {exc}") from None


def _source_label(options: DemoOptions) -> str:
    if options.dataset is not None:
        return options.dataset_label or "a given dataset"
    if options.cin7_data is not None:
        return f"Cin7 data folder {options.cin7_data.resolve()}"
    return f"demo company (seed {options.seed})"


# --- state folder -------------------------------------------------------------------------------------


@dataclass
class _State:
    """`<out>/state/demo.json`: what every later run of the folder must keep the same."""

    folder: Path
    source: str
    data_as_of: dt.date
    cin7_port: int = 0  # 0 until the first run has bound one

    def save(self) -> None:
        record = {"source": self.source, "data_as_of": self.data_as_of.isoformat(), "cin7_port": self.cin7_port}
        (self.folder / STATE_FILE).write_text(json.dumps(record, indent=2) + "\n", "utf-8")


def _prepare_out(out: Path, source: str, today: dt.date | None) -> _State:
    """The state folder, created on a first run, with what earlier runs recorded."""
    folder = out / "state"
    state_file = folder / STATE_FILE
    if out.exists() and not out.is_dir():
        raise DemoError(f"--out {out} is a file; give a folder.")
    if state_file.exists():
        recorded = json.loads(state_file.read_text("utf-8"))
        if recorded["source"] != source:
            raise DemoError(f"{out} holds a demo of {recorded['source']}, not of {source}; use another --out folder.")
        return _State(
            folder, source, dt.date.fromisoformat(recorded["data_as_of"]), int(recorded.get("cin7_port") or 0)
        )
    if out.exists() and any(out.iterdir()):
        raise DemoError(f"{out} is not empty and holds no earlier demo; choose a new or empty --out folder.")
    (folder / "home").mkdir(parents=True, exist_ok=True, mode=0o700)
    (folder / "dagster").mkdir(parents=True, exist_ok=True)
    (folder / "dagster" / "dagster.yaml").write_text(DAGSTER_YAML, "utf-8")
    state = _State(folder, source, today or berlin_today())
    state.save()
    return state


@contextmanager
def _own_environment(state: Path) -> Iterator[None]:
    """The demo's home and Dagster instance for the duration of the run; the caller's settings come back."""
    names = (
        "DAGSTER_HOME",
        settings.HOME_ENV,
        settings.DATABASE_URL_ENV,
        settings.SECRET_KEY_ENV,
        settings.CONNECTION_ENV,
    )
    saved = {name: os.environ.get(name) for name in names}
    os.environ["DAGSTER_HOME"] = str(state / "dagster")
    os.environ[settings.HOME_ENV] = str(state / "home")
    # One code location for the demo's one connection: partition keys are the periods alone.
    os.environ[settings.CONNECTION_ENV] = CONNECTION
    # A user's database URL or vault key must not reach the demo (nor the demo write into them).
    os.environ.pop(settings.DATABASE_URL_ENV, None)
    os.environ.pop(settings.SECRET_KEY_ENV, None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# --- the simulators ---------------------------------------------------------------------------------


@contextmanager
def _simulators(dataset: Cin7Dataset, options: SandboxOptions, cin7_port: int) -> Iterator[SandboxEnvironment]:
    """`sandbox_environment` with the Cin7 simulator on this demo folder's port (0: any free port): a
    demo folder keeps its port, as Cin7 keeps its host, or the PDFs of documents read earlier are out of reach."""
    if cin7_port and not _port_is_free(cin7_port):
        raise DemoError(
            f"Port {cin7_port}, where this demo folder's Cin7 simulator runs, is taken by another program; "
            "free it or use a new --out folder."
        )
    with sandbox_environment(dataset, dataclasses.replace(options, cin7_port=cin7_port)) as environment:
        yield environment


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the simulator binds it
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _cin7_traffic(environment: SandboxEnvironment) -> dict[str, int]:
    """What the Cin7 simulator saw: every call (API calls and PDF downloads), the most in any 60 s, and how
    many it throttled. Its limit applies to API calls; downloads are counted apart because it does not
    limit them (Cin7 does not document whether DownloadUrl counts against the 60/min)."""
    answer = requests.get(f"{environment.cin7_url}/_sim/calls", timeout=30).json()
    calls = answer["Calls"]
    api = [call["time"] for call in calls if call["endpoint"] != "Attachment/Download"]
    return {
        "cin7": int(answer["Summary"]["total_calls"]),
        "cin7_downloads": len(calls) - len(api),
        "cin7_max_in_any_60s": int(answer["Summary"]["max_calls_in_any_60s"]),
        "cin7_api_max_in_any_60s": max_in_window(api),
        "cin7_throttled": sum(1 for call in calls if call["status"] in (429, 503)),
    }


def _datev_calls(environment: SandboxEnvironment) -> int:
    answer = requests.get(f"{environment.datev_url}/_sim/calls", timeout=10).json()
    return int(answer["summary"]["total_calls"])


# --- Dagster --------------------------------------------------------------------------------------------


@cache
def _definitions() -> dg.Definitions:
    # Once per process: reloading the decorated entry point across instances is a known Dagster pitfall.
    from datev_cin7_pipeline.definitions import defs

    return defs()


def _asset_job() -> dg.JobDefinition:
    """The job of every asset in the project's Definitions."""
    return _definitions().resolve_implicit_global_asset_job_def()


def _check_period(period: dt.date) -> None:
    """The pipeline's monthly partitions: from FIRST_PERIOD to the open month (end_offset=1), in German time.

    Checked on dates, before anything is loaded or written: the Definitions choose their partitioning from
    the connections file when they load, so they are loaded only inside the demo's own home."""
    first = dt.date.fromisoformat(FIRST_PERIOD)
    if not first <= period <= berlin_today().replace(day=1):
        raise DemoError(
            f"--period {period:%Y-%m} is not a VAT period of the pipeline, which runs from {first:%Y-%m} "
            "to the current month."
        )


# Metadata keys that say in a few words what a step did, in the order they are shown.
_FACTS = {
    "dagster/partition_row_count": "rows",
    "lines_to_post": "lines to post",
    "documents_booked": "booked",
    "documents_unchanged": "unchanged",
    "documents_held": "held",
    "new_files": "new files",
    "uploaded_now": "uploaded",
    "already_in_datev": "already in DATEV",
    "without_pdf": "without PDF",
    "succeeded": "jobs succeeded",
    "failed": "jobs failed",
    "pending": "jobs pending",
}


class _Progress:
    """Prints each step as Dagster reports it (an event listener on the run, called in the run's thread)."""

    def __init__(self, echo: Callable[[str], None], steps: int) -> None:
        self.echo = echo
        self.steps = steps
        self.started: dict[str, float] = {}
        self.facts: dict[str, list[str]] = {}

    def __call__(self, entry: EventLogEntry) -> None:
        event = entry.dagster_event
        if event is None or not entry.step_key:
            return
        step = entry.step_key
        kind = event.event_type
        if kind == DagsterEventType.STEP_START:
            self.started[step] = entry.timestamp
            self.echo(f"[{len(self.started)}/{self.steps}] {step} …")
        elif kind == DagsterEventType.ASSET_MATERIALIZATION and entry.asset_materialization:
            materialization = entry.asset_materialization
            values = {key: value.value for key, value in materialization.metadata.items()}
            facts = [f"{label} {values[key]}" for key, label in _FACTS.items() if isinstance(values.get(key), int)]
            name = materialization.asset_key.to_user_string()
            self.facts.setdefault(step, []).append(name + (f": {', '.join(facts)}" if facts else ""))
        elif kind == DagsterEventType.ASSET_CHECK_EVALUATION and entry.asset_check_evaluation:
            check = entry.asset_check_evaluation
            if not check.passed:
                self.facts.setdefault(step, []).append(f"check {check.check_name} FAILED ({check.severity.value})")
        elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            took = entry.timestamp - self.started.get(step, entry.timestamp)
            verdict = "done" if kind == DagsterEventType.STEP_SUCCESS else "FAILED"
            self.echo(f"      {verdict} in {took:.1f} s")
            for fact in self.facts.pop(step, []):
                self.echo(f"      {fact}")
            if kind == DagsterEventType.STEP_FAILURE:
                self.echo(f"      {_error_text(event.step_failure_data.error)}")


def _error_text(error: Any) -> str:
    """The innermost cause of a Dagster error, in one line (the outer ones only say "a step failed")."""
    while error is not None and error.cause is not None:
        error = error.cause
    if error is None:
        return "unknown error"
    lines = error.message.strip().splitlines()
    return lines[0] if lines else error.cls_name or "unknown error"


def _materialize(period: dt.date, echo: Callable[[str], None], poll_delay: float) -> dg.ExecuteInProcessResult:
    """Every asset of the project's Definitions for the period, as one run in the demo's Dagster instance."""
    from datev_cin7_pipeline.defs.partitions import partition_for

    job = _asset_job()
    key = partition_for(CONNECTION, period)
    if job.partitions_def is not None and key not in job.partitions_def.get_partition_keys():
        # Only when this process loaded the Definitions earlier for another home (tests, embedding).
        raise DemoError(f"The pipeline's Definitions in this process have no partition {key} for the demo.")
    run_id = str(uuid.uuid4())
    with dg.DagsterInstance.get() as instance:
        instance.add_event_listener(run_id, _Progress(echo, len(job.graph.nodes)))
        echo(f"Dagster run {run_id} ({len(job.graph.nodes)} steps) in {os.environ['DAGSTER_HOME']}")
        return job.execute_in_process(
            run_config={
                "resources": {
                    "connector": {"config": {"connection": CONNECTION, "poll_first_delay_seconds": poll_delay}}
                },
                # Progress and failures are printed by the listener; Dagster's own log would drown them.
                "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
            },
            instance=instance,
            partition_key=key,
            run_id=run_id,
            raise_on_error=False,
            tags={"datev/period": partition_key(period), "datev-cin7/demo": "true"},
        )


def _metadata(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        found[materialization.asset_key.to_user_string()] = {
            key: value.value for key, value in materialization.metadata.items()
        }
    return found


def _md_rows(table: Any) -> list[list[str]]:
    """The body rows of a markdown table written by `defs.metadata.md_table` (its placeholder row dropped)."""
    rows = []
    for line in str(table or "").splitlines()[2:]:
        cells = [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if cells and not all(cell == "—" for cell in cells):
            rows.append(cells)
    return rows


def _failure(result: dg.ExecuteInProcessResult) -> str | None:
    """What made the run fail, in one line (None when it succeeded)."""
    if result.success:
        return None
    for event in result.all_events:
        if event.is_step_failure:
            return f"step {event.step_key} failed: {_error_text(event.step_failure_data.error)}"
    return "the Dagster run failed"


# --- the run -------------------------------------------------------------------------------------------


def run_demo(options: DemoOptions, echo: Callable[[str], None] = print) -> DemoReport:
    """Run the demo (see the module docstring); raises DemoError for anything the user can fix."""
    started = time.perf_counter()
    out = options.out.expanduser().resolve()
    requested = parse_period(options.period) if options.period else None
    if requested:
        _check_period(requested)
    mapping_file = _check_mapping_file(options.mapping) if options.mapping else None
    source = _source_label(options)
    given = _given_dataset(options)  # read before anything is written, so a bad folder leaves no state
    state = _prepare_out(out, source, options.today)
    dataset = given if given is not None else demo_dataset(options.seed, state.data_as_of)
    # The demo company's "last complete month" is that of its date; own data's that of the real date.
    period = requested or last_complete_month(state.data_as_of if given is None else berlin_today())
    capture = out / "datev-capture"
    shutil.rmtree(capture, ignore_errors=True)  # this run's capture only: "nothing new" is read from it
    as_of = f", as of {state.data_as_of.isoformat()}" if given is None else ""
    echo(f"Data: {source}{as_of}.")
    echo(f"Period: {period:%Y-%m} (partition {partition_key(period)}); state in {state.folder}.")
    sandbox = SandboxOptions(
        cin7_calls_per_minute=options.cin7_calls_per_minute,
        today=state.data_as_of,
        capture=capture,
        mapping_file=mapping_file,
    )
    with _own_environment(state.folder), _simulators(dataset, sandbox, state.cin7_port) as environment:
        if not state.cin7_port:
            state.cin7_port = int(environment.cin7_url.rsplit(":", 1)[1])
            state.save()
        echo(
            f"Cin7 Core simulator {environment.cin7_url}: rate limit {options.cin7_calls_per_minute} calls/min "
            "(the real API allows 60; raised for the demo)."
        )
        echo(f"DATEV simulator {environment.datev_url}: logged in, uploads captured in {capture}.")
        datev_login_calls = _datev_calls(environment)
        result = _materialize(period, echo, options.poll_first_delay_seconds)
        calls = {
            **_cin7_traffic(environment),
            "cin7_limit_per_minute": options.cin7_calls_per_minute,
            "datev": _datev_calls(environment) - datev_login_calls,
            "datev_login": datev_login_calls,
        }
        summary, files = _report(out, state, period, result, environment, calls)
    summary["wall_seconds"] = round(time.perf_counter() - started, 3)
    files.append(reports.write_summary(summary, out))
    echo("")
    echo(reports.summary_text(summary))
    echo(f"Wrote {', '.join(str(path.relative_to(out)) for path in files)} in {out}.")
    echo(
        f"Browse the run: DAGSTER_HOME={state.folder / 'dagster'} {settings.HOME_ENV}={state.folder / 'home'} "
        "dg dev (from the project folder)."
    )
    failure = _failure(result)
    if failure:
        raise DemoError(f"The pipeline run failed: {failure}")
    return DemoReport(summary=summary, out=out, files=files)


def _report(
    out: Path,
    state: _State,
    period: dt.date,
    result: dg.ExecuteInProcessResult,
    environment: SandboxEnvironment,
    calls: Mapping[str, int],
) -> tuple[dict[str, Any], list[Path]]:
    """summary.json's content and the files written beside it."""
    metadata = _metadata(result)
    lines = metadata.get("datev_booking_lines", {})
    documents = metadata.get("datev_documents", {})
    held = [
        {"kind": kind, "number": number, "cin7_id": cin7_id, "reasons": reasons}
        for kind, number, cin7_id, reasons in (row[:4] for row in _md_rows(lines.get("held_documents")))
    ]
    capture = out / "datev-capture"
    manifest = read_manifest(capture)
    if not (capture / MANIFEST).exists():  # the simulator writes it on the first upload; none is news too
        capture.mkdir(parents=True, exist_ok=True)
        (capture / MANIFEST).write_text("", "utf-8")
    sent = reports.capture_uploads(manifest)
    files = [capture / MANIFEST, *_copy_uploads(out, sent)]
    connection = require_connection(CONNECTION)
    mapping = parse_mapping(connection.mapping_path(CONNECTION, settings.home_dir()))
    store = StateStore.open()
    try:
        totals = reports.reconcile_period(
            store,
            CONNECTION,
            mapping,
            period,
            _next_month(period),
            held=[(item["kind"], item["cin7_id"]) for item in held],
        )
        jobs = reports.period_jobs_report(store, CONNECTION, period)
    finally:
        store.dispose()
    files += reports.write_reconciliation(totals, out, f"{period:%Y-%m}")

    def count(asset: str) -> int:
        return int(metadata.get(asset, {}).get("dagster/partition_row_count", 0))

    extracted = {
        "sale_invoices": count("cin7_sale_invoices"),
        "purchase_invoices": count("cin7_purchase_invoices"),
        "credit_notes": count("cin7_credit_notes"),
        "payments": count("cin7_payments"),
    }
    summary: dict[str, Any] = {
        "period": f"{period:%Y-%m}",
        "partition_key": partition_key(period),
        "data": state.source,
        "data_as_of": state.data_as_of.isoformat(),
        "success": result.success,
        "failure": _failure(result),
        "dagster": {
            "run_id": result.run_id,
            "dagster_home": str(state.folder / "dagster"),
            "assets_materialized": sorted(metadata),
        },
        "documents_extracted": {**extracted, "total": sum(extracted.values())},
        "documents_booked": {
            "booked": int(lines.get("documents_booked", 0)),
            "rebooked": int(lines.get("documents_rebooked", 0)),
            "reversed": int(lines.get("documents_reversed", 0)),
            "unchanged": int(lines.get("documents_unchanged", 0)),
            "held": int(lines.get("documents_held", len(held))),
        },
        "held_documents": held,
        "booking_lines": int(lines.get("lines_to_post", 0)),
        "documents_uploaded": {
            "this_run": int(documents.get("uploaded_now", 0)),
            "already_in_datev": int(documents.get("already_in_datev", 0)),
            "without_pdf": int(documents.get("without_pdf", 0)),
        },
        "uploads_this_run": {
            "documents": sent.documents,
            "document_guids": sent.document_guids,
            "extf_files": sent.extf_files,
            "extf_rows": sent.extf_rows,
            "dxso_files": sent.dxso_files,
        },
        "nothing_new": sent.total == 0,
        "jobs": jobs,
        "reconciliation": reports.totals_as_json(totals),
        "reconciled": all(not total.difference for total in totals),
        "checks": [
            {
                "asset": evaluation.asset_key.to_user_string(),
                "check": evaluation.check_name,
                "passed": evaluation.passed,
                "severity": evaluation.severity.value,
            }
            for evaluation in result.get_asset_check_evaluations()
        ],
        "calls": dict(calls),
        "simulators": {"cin7": environment.cin7_url, "datev": environment.datev_url},
    }
    return summary, files


def _copy_uploads(out: Path, sent: reports.CaptureCounts) -> list[Path]:
    """The EXTF files and DXSO packages of this run's capture, copied to `<out>/extf/` and `<out>/dxso/`."""
    capture = out / "datev-capture"
    copied: list[Path] = []
    for entry in sent.extf_uploads:
        target = out / "extf" / Path(str(entry["path"])).name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(capture / str(entry["path"]), target)
        copied.append(target)
    for entry in sent.dxso_uploads:
        target = out / "dxso" / str(entry["job_id"]) / Path(str(entry["path"])).name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(capture / str(entry["path"]), target)
        copied.append(target)
    return copied
