"""A month of 1,000 Cin7 documents through the whole pipeline, as `datev-cin7 demo` runs it.

The demo company's documents are cloned (new ids, dated in the period, like `cin7_calls.py` does) until the
period holds --documents invoices and credit notes; then the demo machinery runs every asset of the
Definitions for that period through Dagster against both simulators over loopback, with the Cin7 limit at
--calls-per-minute in the simulator and in the client's pacing alike.

Printed: wall time (the whole demo: simulators, login, the Dagster run, reports), the Dagster run alone,
Cin7 and DATEV calls, and the ratio of wall time to the bound the Cin7 rate limit sets
(cin7_calls / limit × 60 s). Goal: ratio below 1.3.

    .venv/bin/python benchmarks/e2e_period.py [--documents 1000] [--calls-per-minute 600] [--keep DIR]
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import dagster as dg
from cin7_calls import _ids, _in_period, _renumber  # the cloning helpers of the Cin7 calls benchmark

from datev_cin7_pipeline.demo import DemoError, DemoOptions, berlin_today, last_complete_month, run_demo
from datev_cin7_pipeline.sandbox.cin7 import Cin7Dataset, demo_dataset
from datev_cin7_pipeline.sandbox.pdf import simple_pdf


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if value else []


def _documents_of(parent: Any) -> int:
    """Invoices and credit notes a sale or purchase carries (what gets a PDF and booking lines)."""
    count = 0
    for key in ("Invoices", "CreditNotes", "Invoice", "CreditNote"):
        count += sum(1 for doc in _as_list(parent.get(key)) if doc.get("Status") in ("AUTHORISED", "PAID"))
    return count


def scaled_dataset(documents: int, period: dt.date, today: dt.date) -> tuple[Cin7Dataset, int, int, int]:
    """The demo company with its documents replaced by clones dated in `period`: two thirds sales, one third
    purchases, until `documents` invoices and credit notes. Returns the data, their count, sales, purchases."""
    base = demo_dataset(1, today)
    scaled = copy.copy(base)
    scaled.sales, scaled.purchases, scaled.purchase_payments, scaled.attachments = {}, {}, {}, {}
    sales = [s for s in base.sales.values() if s.get("Status") != "VOIDED" and _documents_of(s)]
    purchases = [p for p in base.purchases.values() if _documents_of(p)]
    made = index = 0
    while made < documents:
        use_sale = index % 3 != 2
        pool = sales if use_sale else purchases
        template = pool[(index // 3) % len(pool)]
        if made + _documents_of(template) > documents:  # fill the rest with single-document ones
            singles = [item for item in sales + purchases if _documents_of(item) == 1]
            template = singles[index % len(singles)]
            use_sale = template in sales
        ids = {old: str(uuid.uuid4()) for old in _ids(template, set())}
        day = period + dt.timedelta(days=index % 28)
        clone = _in_period(_renumber(template, ids), day, f"{day.isoformat()}T10:{index % 60:02d}:{index % 59:02d}Z")
        if use_sale:
            scaled.sales[clone["ID"]] = clone
        else:
            scaled.purchases[clone["ID"]] = clone
            payments = base.purchase_payments.get(template["ID"])
            if payments is not None:
                scaled.purchase_payments[clone["ID"]] = _in_period(_renumber(payments, ids), day, "")
        # Each clone its own PDF: DATEV refuses a file it already holds (#DCO01253, duplicate check).
        scaled.attachments[clone["ID"]] = {
            name: simple_pdf(name, [f"Benchmark copy {index} of {template['ID']}", clone["ID"]])
            for name in base.attachments.get(template["ID"], {})
        }
        made += _documents_of(template)
        index += 1
    return scaled, made, len(scaled.sales), len(scaled.purchases)


def _run_seconds(out: Path, run_id: str) -> float:
    with dg.DagsterInstance.from_config(str(out / "state" / "dagster")) as instance:
        stats = instance.get_run_stats(run_id)
        assert stats.start_time is not None
        assert stats.end_time is not None
        return stats.end_time - stats.start_time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--calls-per-minute", type=int, default=600)
    parser.add_argument("--keep", type=Path, default=None, help="Keep the demo folder here (default: temporary).")
    parser.add_argument("--quiet", action="store_true", help="Do not print the demo's progress.")
    args = parser.parse_args()

    today = berlin_today()
    period = last_complete_month(today)
    dataset, documents, sales, purchases = scaled_dataset(args.documents, period, today)
    print(f"{documents} invoices and credit notes ({sales} sales, {purchases} purchases) dated {period:%Y-%m}")
    with tempfile.TemporaryDirectory() as folder:
        out = args.keep or Path(folder) / "demo"
        started = time.perf_counter()
        try:
            report = run_demo(
                DemoOptions(
                    out=out,
                    period=f"{period:%Y-%m}",
                    dataset=dataset,
                    dataset_label=f"benchmark: {documents} documents cloned from the demo company",
                    cin7_calls_per_minute=args.calls_per_minute,
                    today=today,
                ),
                echo=(lambda _: None) if args.quiet else print,
            )
        except DemoError as exc:
            print(f"RESULT documents={documents} failed=1 reason={str(exc)!r}")
            return 1
        wall = time.perf_counter() - started
        run_seconds = _run_seconds(report.out, report.summary["dagster"]["run_id"])
    summary = report.summary
    cin7_calls = int(summary["calls"]["cin7"])
    datev_calls = int(summary["calls"]["datev"]) + int(summary["calls"]["datev_login"])
    bound = cin7_calls / args.calls_per_minute * 60
    ratio = wall / bound
    sent = summary["uploads_this_run"]
    print(
        f"wall {wall:.1f} s (Dagster run {run_seconds:.1f} s); Cin7 calls {cin7_calls} "
        f"(limit {args.calls_per_minute}/min, bound {bound:.1f} s); DATEV calls {datev_calls}; "
        f"uploaded {sent['documents']} PDFs and {sent['extf_files']} EXTF file(s) with {sent['extf_rows']} rows; "
        f"reconciled {summary['reconciled']}"
    )
    calls = summary["calls"]
    # The simulator's window is rolling: the first `limit` calls may go at once, so N calls need at least
    # (N - limit) / limit minutes, less than the brief's bound N / limit minutes.
    floor = max(0, cin7_calls - args.calls_per_minute) / args.calls_per_minute * 60
    print(
        f"Cin7: {calls['cin7_downloads']} of the calls were PDF downloads (not limited by the simulator); "
        f"at most {calls['cin7_api_max_in_any_60s']} API calls and {calls['cin7_max_in_any_60s']} calls in all "
        f"in any 60 s; {calls['cin7_throttled']} throttled; rolling-window floor {floor:.1f} s "
        f"(wall / floor {wall / floor if floor else float('nan'):.3f})"
    )
    print(
        f"RESULT documents={documents} wall_s={wall:.1f} run_s={run_seconds:.1f} cin7_calls={cin7_calls} "
        f"datev_calls={datev_calls} limit_per_min={args.calls_per_minute} "
        f"max_cin7_api_calls_in_60s={summary['calls']['cin7_api_max_in_any_60s']} "
        f"max_cin7_calls_in_60s={summary['calls']['cin7_max_in_any_60s']} bound_s={bound:.1f} "
        f"wall_to_bound_ratio={ratio:.3f} run_to_bound_ratio={run_seconds / bound:.3f}"
    )
    ok = summary["success"] and summary["reconciled"] and sent["documents"] == documents
    return 0 if ok and ratio < 1.3 else 1


if __name__ == "__main__":
    sys.exit(main())
