"""Metadata the finance team reads in the UI: small markdown tables (plain values only, no numpy)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import dagster as dg


def period_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> tuple[dt.date, dt.date]:
    """The partition's VAT period as dates: first day and the first day after it."""
    window = context.partition_time_window
    return window.start.date(), window.end.date()


def connection_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> str | None:
    """The partition's connection where the assets are partitioned by connection too, else None."""
    key = context.partition_key
    return key.keys_by_dimension["connection"] if isinstance(key, dg.MultiPartitionKey) else None


def md_table(headings: Sequence[str], rows: Iterable[Sequence[Any]]) -> dg.MetadataValue:
    lines = ["| " + " | ".join(headings) + " |", "|" + "|".join(" --- " for _ in headings) + "|"]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    if len(lines) == 2:
        lines.append("| " + " | ".join(["—"] * len(headings)) + " |")
    return dg.MetadataValue.md("\n".join(lines))


def _cell(value: Any) -> str:
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def totals_table(totals: Mapping[str, Decimal]) -> dg.MetadataValue:
    """Σ per tax treatment (payments under "(payments)")."""
    return md_table(
        ["tax treatment", "amount (EUR)"],
        [(name or "(payments)", totals[name]) for name in sorted(totals)],
    )
