"""Money arithmetic for simulated documents, in Decimal, rounded the way the demo company's Cin7 does.

The demo company uses TaxCalculationMethod "Row Total": tax is rounded per line and the document tax is
the sum of the line taxes. A line's `Total` is Quantity × Price × (1 − Discount/100) in the document's
own mode: net for "Exclusive" documents, gross for "Inclusive" ones (FACTS.md §9).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
RATE_STEP = Decimal("0.0001")
HUNDRED = Decimal(100)


def to_decimal(value: Any) -> Decimal:
    """An amount read from JSON (int, Decimal, float or numeric string) as an exact Decimal."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{value!r} is not an amount")
    return Decimal(str(value))


def cents(amount: Decimal) -> Decimal:
    """Round half up to two decimals, as invoices print."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def line_amounts(
    quantity: Decimal, price: Decimal, discount: Decimal, tax_percent: Decimal, inclusive: bool
) -> tuple[Decimal, Decimal]:
    """(Total, Tax) of one line: Total in the document's mode, Tax rounded per line to cents."""
    total = cents(quantity * price * (HUNDRED - discount) / HUNDRED)
    tax = cents(total * tax_percent / (HUNDRED + tax_percent)) if inclusive else cents(total * tax_percent / HUNDRED)
    return total, tax


def document_totals(lines: list[dict[str, Any]], inclusive: bool) -> tuple[Decimal, Decimal, Decimal]:
    """(TotalBeforeTax, Tax, Total) of a document from its lines and additional charges."""
    line_total = sum((to_decimal(line["Total"]) for line in lines), Decimal(0))
    tax = sum((to_decimal(line["Tax"]) for line in lines), Decimal(0))
    if inclusive:
        return cents(line_total - tax), cents(tax), cents(line_total)
    return cents(line_total), cents(tax), cents(line_total + tax)
