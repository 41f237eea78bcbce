"""Cin7's own totals per tax treatment, computed without the booking rules, to reconcile the bookings with."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from datev_cin7_pipeline.mapping.config import MappingConfig
from datev_cin7_pipeline.mapping.documents import SourceDocument

_SIGN = {"sale_invoice": 1, "sale_credit_note": -1, "purchase_invoice": -1, "purchase_credit_note": 1}


def cin7_totals_by_treatment(
    documents: Iterable[SourceDocument], mapping: MappingConfig
) -> dict[tuple[str, str], Decimal]:
    """Cin7's own gross line totals per (tax treatment, currency), signed as the open item moves
    (sales +, their credit notes −, supplier invoices −, their credits +); independent of the rules."""
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for doc in documents:
        for line in doc.lines:
            gross = line.total if doc.inclusive else line.total + line.tax
            totals[(mapping.treatment_name(line.tax_rule), doc.currency)] += _SIGN[doc.kind] * gross
    return {key: value for key, value in totals.items() if value}
