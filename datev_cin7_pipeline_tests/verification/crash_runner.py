"""The process the crash matrix kills: one period through the pipeline's assets, or the webhook receiver.

Started by `test_crash_matrix.py` with `sys.executable -m datev_cin7_pipeline_tests.verification.crash_runner`
against simulators that run in the test process, so they (and what DATEV accepted) survive the kill.
Where to die is chosen by `DATEV_CIN7_CRASH` (JSON), without touching product code: the product's own
functions are wrapped here so that they SIGKILL this process before or after the real call.

- `{"point": NAME, "occurrence": K}`: at the K-th time the named step boundary is reached (see POINTS);
- `{"after_calls": N, "when": "before" | "after"}`: at the N-th HTTP request of this process, before it is
  sent or right after its answer arrived (the server acted, the caller has not seen it yet);
- `{"after_seconds": T}`: T seconds after start, wherever the run is.

Before dying the point's name is written to `DATEV_CIN7_CRASH_MARK`, so the test knows the kill came from
the chosen point and not from a bug. A run that ends writes its outcome as JSON to `--result`.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

CRASH_ENV = "DATEV_CIN7_CRASH"
MARK_ENV = "DATEV_CIN7_CRASH_MARK"
SABOTAGE_ENV = "DATEV_CIN7_SABOTAGE"  # the harness's own controls: break exactly-once on purpose
SABOTAGES = (
    "no_reference_lookup",  # never find a job by Reference-Id: a crash after the EXTF upload must double it
    "skip_first_pdf",  # report the first PDF as uploaded without sending it: a loss
)

POINTS = (
    "document_intent_recorded",  # the PDF's ledger row is committed as intended, the upload not yet sent
    "document_uploaded",  # DATEV has the PDF, the ledger does not know yet
    "extf_sending_recorded",  # the job row says "sending", the file is not sent yet
    "extf_uploaded",  # DATEV accepted the EXTF file (job created), the job id is not stored
    "job_polled",  # a status read of a DATEV job came back, its result is not stored
    "refresh_requested",  # about to spend the refresh token (vault lock held)
    "refresh_answered",  # DATEV rotated the refresh token, the new pair is not committed
    "refresh_committed",  # the new pair is committed, the access token not used yet
)
RECEIVER_POINTS = (
    "inbox_before_commit",  # the receiver read a valid delivery, nothing stored
    "inbox_after_commit",  # the delivery is committed, Cin7 has no answer yet
)


def _die(point: str) -> None:
    mark = os.environ.get(MARK_ENV)
    if mark:
        Path(mark).write_text(point, "utf-8")
    os.kill(os.getpid(), signal.SIGKILL)


class _Counter:
    def __init__(self, target: int) -> None:
        self.target = target
        self.seen = 0
        self.lock = threading.Lock()

    def hit(self) -> bool:
        with self.lock:
            self.seen += 1
            return self.seen == self.target


def _wrap(
    owner: Any,
    name: str,
    *,
    before: Callable[..., bool] | None = None,
    after: Callable[..., bool] | None = None,
    point: str,
) -> None:
    """Replace `owner.name` by a function that dies when `before(*args)` or `after(result, *args)` says so."""
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if before is not None and before(*args, **kwargs):
            _die(point)
        result = original(*args, **kwargs)
        if after is not None and after(result, *args, **kwargs):
            _die(point)
        return result

    setattr(owner, name, wrapper)


def install_crash(spec: dict[str, Any]) -> None:
    """Arm the kill `spec` asks for (see the module docstring)."""
    import requests

    from datev_cin7_pipeline.datev.api import DatevApi
    from datev_cin7_pipeline.datev.oauth import DatevTokens

    if "after_seconds" in spec:
        timer = threading.Timer(float(spec["after_seconds"]), _die, args=(f"after {spec['after_seconds']}s",))
        timer.daemon = True
        timer.start()
        return
    if "after_calls" in spec:
        calls = _Counter(int(spec["after_calls"]))
        label = f"http call {spec['after_calls']} ({spec.get('when', 'after')})"
        if spec.get("when") == "before":
            _wrap(requests.Session, "request", before=lambda *_a, **_k: calls.hit(), point=label)
        else:
            _wrap(requests.Session, "request", after=lambda *_a, **_k: calls.hit(), point=label)
        return
    point, hits = str(spec["point"]), _Counter(int(spec.get("occurrence", 1)))
    if point == "document_intent_recorded":
        _wrap(DatevApi, "upload_document", before=lambda *_a, **_k: hits.hit(), point=point)
    elif point == "document_uploaded":
        _wrap(DatevApi, "upload_document", after=lambda *_a, **_k: hits.hit(), point=point)
    elif point == "extf_sending_recorded":
        _wrap(DatevApi, "submit_extf", before=lambda *_a, **_k: hits.hit(), point=point)
    elif point == "extf_uploaded":
        _wrap(DatevApi, "submit_extf", after=lambda *_a, **_k: hits.hit(), point=point)
    elif point == "job_polled":
        _wrap(DatevApi, "extf_job", after=lambda *_a, **_k: hits.hit(), point=point)
    elif point == "refresh_requested":
        _wrap(DatevTokens, "_token_call", before=lambda *_a, refreshing, **_k: refreshing and hits.hit(), point=point)
    elif point == "refresh_answered":
        _wrap(
            DatevTokens,
            "_token_call",
            after=lambda result, *_a, refreshing, **_k: refreshing and result is not None and hits.hit(),
            point=point,
        )
    elif point == "refresh_committed":
        original = DatevTokens.access_token

        @functools.wraps(original)
        def access_token(self: DatevTokens, *args: Any, **kwargs: Any) -> Any:
            before = self.refreshes
            token = original(self, *args, **kwargs)
            if self.refreshes > before and hits.hit():
                _die(point)
            return token

        DatevTokens.access_token = access_token  # type: ignore[method-assign]
    else:
        raise SystemExit(f"unknown crash point {point!r}; known: {', '.join(POINTS)}")


def install_sabotage(name: str) -> None:
    """Break the product on purpose, so the suite shows it notices a double posting and a loss."""
    from datev_cin7_pipeline.datev.api import DatevApi, DocumentUpload

    if name == "no_reference_lookup":
        DatevApi.find_extf_job = lambda *_a, **_k: None  # type: ignore[method-assign]
    elif name == "skip_first_pdf":
        original = DatevApi.upload_document
        skipped: list[str] = []

        @functools.wraps(original)
        def upload_document(self: DatevApi, client_id: str, guid: str, **kwargs: Any) -> DocumentUpload:
            if not skipped:
                skipped.append(guid)
                return DocumentUpload(guid=guid, created=True)
            return original(self, client_id, guid, **kwargs)

        DatevApi.upload_document = upload_document  # type: ignore[method-assign]
    else:
        raise SystemExit(f"unknown sabotage {name!r}; known: {', '.join(SABOTAGES)}")


def count_http_calls() -> _Counter:
    """Count this process's HTTP requests (the random kill points are drawn from a clean run's count)."""
    import requests

    calls = _Counter(0)
    _wrap(requests.Session, "request", before=lambda *_a, **_k: calls.hit(), point="never")
    return calls


def materialize(period: str, result_file: Path, calls: _Counter) -> int:
    """One period through every asset, as the Dagster tests do; the outcome as JSON."""
    import dagster as dg

    from datev_cin7_pipeline.defs.bookings.assets import datev_booking_lines
    from datev_cin7_pipeline.defs.cin7.assets import cin7_documents
    from datev_cin7_pipeline.defs.connector import ConnectorResource
    from datev_cin7_pipeline.defs.datev.assets import datev_booking_jobs, datev_documents, datev_extf_batches

    result = dg.materialize(
        [cin7_documents, datev_booking_lines, datev_extf_batches, datev_documents, datev_booking_jobs],
        partition_key=period,
        resources={"connector": ConnectorResource(poll_first_delay_seconds=0.05)},
        raise_on_error=False,
    )
    outcome = {
        "success": result.success,
        "checks": {e.check_name: e.passed for e in result.get_asset_check_evaluations()},
        "errors": step_errors(result),
        "http_calls": calls.seen,
        "peak_rss_mb": own_peak_rss_mb(),
    }
    result_file.write_text(json.dumps(outcome, indent=1), "utf-8")
    return 0 if result.success else 1


def own_peak_rss_mb() -> float:
    """This process's resident-set high-water mark (VmHWM). Not ru_maxrss: on Linux that starts from the
    parent's resident set at fork (kept across exec), so a child of a big parent reports the parent's size."""
    for line in Path("/proc/self/status").read_text("utf-8").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return float("nan")


def replay(period: str, result_file: Path, calls: _Counter) -> int:
    """`datev-cin7 replay --period YYYY-MM`, as a person runs it after fixing a failed job's cause."""
    from click.testing import CliRunner

    from datev_cin7_pipeline.cli import main as cli

    answer = CliRunner().invoke(cli, ["replay", "--period", period[:7]])
    # The CLI says "done" per period only when the run was clean (success and every check passed).
    clean = answer.exit_code == 0 and "done (run" in answer.output
    outcome = {
        "success": clean,
        "checks": {"replay_clean": clean},
        "errors": [] if clean else [answer.output[-2000:]],
        "http_calls": calls.seen,
    }
    result_file.write_text(json.dumps(outcome, indent=1), "utf-8")
    return 0 if clean else 1


def step_errors(result: Any) -> list[str]:
    """Each failed step's error with its causes (Dagster wraps the product's exception)."""
    errors = []
    for event in result.all_events:
        if event.is_step_failure:
            error, messages = event.step_failure_data.error, []
            while error is not None:
                messages.append(error.message.strip())
                error = error.cause
            errors.append(" <- ".join(messages))
    return errors


def serve_receiver(port: int, point: str | None) -> int:
    """`datev-cin7 webhooks serve`, with a kill before or after the inbox commit when asked."""
    import uvicorn

    from datev_cin7_pipeline.config import load_connections
    from datev_cin7_pipeline.store import CredentialsVault, StateStore
    from datev_cin7_pipeline.webhooks import app as webhook_app
    from datev_cin7_pipeline.webhooks.setup import receiver_connections

    after_commit = None
    if point == "inbox_before_commit":
        _wrap(webhook_app, "record_delivery", before=lambda *_a, **_k: True, point=point)
    elif point == "inbox_after_commit":

        def after_commit(_receipt: Any) -> None:
            _die(point)
    elif point is not None:
        raise SystemExit(f"unknown receiver crash point {point!r}; known: {', '.join(RECEIVER_POINTS)}")
    store = StateStore.open()
    connections = receiver_connections(load_connections(), store, CredentialsVault(store, actor="webhook-receiver"))
    app = webhook_app.build_webhook_app(store, connections, after_commit=after_commit)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("materialize", "replay"):
        run = commands.add_parser(name)
        run.add_argument("--period", required=True)
        run.add_argument("--result", required=True, type=Path)
    receiver = commands.add_parser("receiver")
    receiver.add_argument("--port", required=True, type=int)
    args = parser.parse_args(argv)
    spec = json.loads(os.environ.get(CRASH_ENV) or "null")
    if args.command == "receiver":
        return serve_receiver(args.port, spec["point"] if spec else None)
    calls = count_http_calls()
    if os.environ.get(SABOTAGE_ENV):
        install_sabotage(os.environ[SABOTAGE_ENV])
    if spec:
        install_crash(spec)
    if args.command == "replay":
        return replay(args.period, args.result, calls)
    return materialize(args.period, args.result, calls)


if __name__ == "__main__":
    sys.exit(main())
