"""Peak memory of a month: 10,000 Cin7 documents through the whole pipeline, and a smaller month beside it
to show that the peak stays bounded as the month grows.

Invoices and credit notes with their payments are cloned from the demo company into VAT period 2026-05, as
`e2e_period.py` clones them. Both simulators run in this process; the pipeline (every asset of the period,
as `crash_runner.py materialize` runs them) runs in a child process, at the highest Cin7 call limit a
connection allows (6,000 per minute, in the simulator and the client's pacing alike). The small month
runs first, then the large one, each in a fresh install.

Peak memory is the child's own resident-set high-water mark (VmHWM, which it reports with its outcome): the
process that ran the pipeline, without the simulators and their data (which grow with the month by design;
their process's peak is printed as `simulators_peak_mb`). Not the child's `ru_maxrss`: on Linux that starts
from the parent's resident set at the fork, so it would count the simulators' data as the pipeline's.
`per_document_kb` is the peak divided by the documents; `marginal_kb_per_document` is what each document
beyond the small month added to the peak, the figure that says whether memory grows with the month.

Whether every document reached DATEV once is checked against the Cin7 data (`load_support.check_month`):
each PDF once, each document's rows adding up to its Cin7 total, each payment once. The exit status is 1
when any of that fails; the memory figures are printed, not judged. The last line is
`RESULT documents=... peak_mb=... peak_mb_small=... memory_ratio=... per_document_kb=... wall_s=... ...`.

    .venv/bin/python benchmarks/month_memory.py [--documents 10000] [--small 1000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from datev_cin7_pipeline_tests.verification.harness import at_datev
from datev_cin7_pipeline_tests.verification.load_support import (
    CIN7_MAX_CALLS_PER_MINUTE,
    MonthFindings,
    check_month,
    month_install,
    month_of,
    run_measured,
)


@dataclass(frozen=True)
class Measured:
    documents: int
    peak_mb: float
    run_s: float
    wall_s: float  # cloning, simulators, login, the run and the check
    clean: bool
    findings: MonthFindings
    payments: int
    rows: int

    @property
    def once(self) -> bool:
        return (
            self.clean
            and self.findings.ok
            and self.findings.pdfs_once == self.findings.totals_equal == self.documents
            and self.findings.payments_booked == self.payments
        )


def measure(documents: int, folder: Path) -> Measured:
    started = time.perf_counter()
    month = month_of(documents)
    with month_install(folder, month, CIN7_MAX_CALLS_PER_MINUTE) as install:
        run = run_measured(install)
        at = at_datev(install)
    findings = check_month(month, at)
    measured = Measured(
        documents=month.documents,
        peak_mb=run.peak_rss_mb,
        run_s=run.seconds,
        wall_s=time.perf_counter() - started,
        clean=run.clean,
        findings=findings,
        payments=sum(month.payments.values()),
        rows=sum(at.rows.values()),
    )
    print(
        f"{measured.documents} documents: pipeline peak RSS {measured.peak_mb:.1f} MB, run {measured.run_s:.1f} s "
        f"(wall {measured.wall_s:.1f} s); run clean {run.clean}; PDFs once {findings.pdfs_once}, totals equal to "
        f"Cin7 {findings.totals_equal}, payments {findings.payments_booked}/{measured.payments}, booked rows "
        f"{measured.rows}; duplicates {len(findings.duplicates)}, losses {len(findings.losses)}, wrong totals "
        f"{len(findings.wrong_totals)}",
        flush=True,
    )
    for problem in (findings.duplicates + findings.losses + findings.wrong_totals)[:10]:
        print(f"  {problem}")
    if not run.clean:
        print(run.log)
    return measured


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=1_000, help="The smaller month run first (default 1000).")
    parser.add_argument("--keep", type=Path, default=None, help="Keep the installs here (default: temporary).")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="month-memory-") as temporary:
        root = args.keep or Path(temporary)
        small = measure(args.small, root / f"month-{args.small}")
        large = measure(args.documents, root / f"month-{args.documents}")
    simulators_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ratio = large.peak_mb / small.peak_mb
    marginal_kb = (large.peak_mb - small.peak_mb) * 1024 / max(1, large.documents - small.documents)
    print(
        f"RESULT documents={large.documents} peak_mb={large.peak_mb:.1f} peak_mb_small={small.peak_mb:.1f} "
        f"documents_small={small.documents} memory_ratio={ratio:.2f} "
        f"per_document_kb={large.peak_mb * 1024 / large.documents:.1f} marginal_kb_per_document={marginal_kb:.2f} "
        f"wall_s={large.run_s:.1f} wall_s_small={small.run_s:.1f} "
        f"documents_sent={large.findings.pdfs_once} totals_equal={large.findings.totals_equal} "
        f"payments_booked={large.findings.payments_booked}/{large.payments} booked_rows={large.rows} "
        f"duplicates={len(large.findings.duplicates)} losses={len(large.findings.losses)} "
        f"every_document_once={int(large.once and small.once)} simulators_peak_mb={simulators_peak_mb:.0f} "
        f"cin7_limit_per_min={CIN7_MAX_CALLS_PER_MINUTE}"
    )
    return 0 if large.once and small.once else 1


if __name__ == "__main__":
    sys.exit(main())
