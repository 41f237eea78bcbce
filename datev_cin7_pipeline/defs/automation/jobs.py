"""The pipeline's jobs: a whole VAT period, the replay of what failed, and the refresh of job results."""

import dagster as dg

PERIOD_TAG = "datev-cin7/period"
TRIGGER_TAG = "datev-cin7/trigger"
CONNECTION_TAG = "datev-cin7/connection"

PIPELINE = dg.AssetSelection.groups("cin7", "bookings", "datev")

vat_period_job = dg.define_asset_job(
    "vat_period_job",
    selection=PIPELINE,
    description="A VAT period end to end: re-read Cin7, book, upload PDFs, send and poll the EXTF jobs.",
)

# Replay is the period run again after the cause of a failure was fixed: booking rows of failed jobs are
# no longer effective in the ledger, so they are booked into a new file; everything DATEV accepted stays.
replay_job = dg.define_asset_job(
    "replay_job",
    selection=PIPELINE,
    tags={TRIGGER_TAG: "replay"},
    description="Re-submit what failed in a period (after fixing the mapping or the data); never posts twice.",
)

datev_job_results_job = dg.define_asset_job(
    "datev_job_results_job",
    selection=dg.AssetSelection.assets("datev_booking_jobs"),
    tags={TRIGGER_TAG: "datev-job-finished"},
    description="Refresh a period's job results and checks once DATEV finished a job the sensor watched.",
)
