"""Hypothesis strategies: booking lines that satisfy every EXTF error rule for the helpers' header
(March 2024, Sachkontenlänge 4), with the awkward characters a writer must survive."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from hypothesis import strategies as st

from datev_cin7_pipeline.datev.bookings import BookingLine

# NFC characters only (no combining marks), all in Windows-1252, quotes and separators included.
TEXT_ALPHABET = "abcXYZ019 .,-/&'\";:äöüÄÖÜßéèçñ€–„“”…@#()!?%+*_"
DOCUMENT_FIELD_ALPHABET = "ABCDEFGHKLMNRSTXYZabcdefz0123456789$&%*+-/"
VAT_IDS = ("DE133546770", "ATU52409200", "EL123456789", "FRXX999456789", "NL123456789B01", "IE1234567WA")


def texts(max_size: int, min_size: int = 0) -> st.SearchStrategy[str]:
    return st.text(alphabet=TEXT_ALPHABET, min_size=min_size, max_size=max_size)


def money(max_units: int) -> st.SearchStrategy[Decimal]:
    """Positive amounts with exactly two decimal places."""
    return st.integers(min_value=1, max_value=max_units * 100 + 99).map(lambda cents: Decimal(cents).scaleb(-2))


def rates() -> st.SearchStrategy[Decimal]:
    """Exchange rates: 1–4 integer digits (or 0), 2–6 decimals, never 0."""
    return st.builds(
        lambda units, places: Decimal(units).scaleb(-places),
        st.integers(min_value=1, max_value=99_999_999),
        st.integers(min_value=2, max_value=6),
    ).filter(lambda rate: rate < 10_000)


def tax_rates() -> st.SearchStrategy[Decimal | None]:
    return st.none() | st.integers(min_value=0, max_value=9999).map(lambda n: Decimal(n).scaleb(-2))


def accounts() -> st.SearchStrategy[int]:
    """G/L accounts (up to 4 digits) and personal accounts (5 digits)."""
    return st.integers(min_value=1, max_value=9999) | st.integers(min_value=10000, max_value=99999)


def guids() -> st.SearchStrategy[str]:
    return st.integers(min_value=0, max_value=2**128 - 1).map(lambda n: str(uuid.UUID(int=n)))


def dates() -> st.SearchStrategy[dt.date | None]:
    return st.none() | st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2099, 12, 31))


@st.composite
def booking_lines(draw: st.DrawFn) -> BookingLine:
    foreign = draw(st.booleans())
    infos = draw(st.lists(st.tuples(texts(20, 1), texts(210, 1)), max_size=8))
    return BookingLine(
        amount=draw(money(9_999_999_999)),
        side=draw(st.sampled_from(["S", "H"])),
        account=draw(accounts()),
        contra_account=draw(accounts()),
        document_date=draw(st.dates(min_value=dt.date(2024, 3, 1), max_value=dt.date(2024, 3, 31))),
        document_field_1=draw(st.text(alphabet=DOCUMENT_FIELD_ALPHABET, max_size=36)),
        text=draw(texts(60)),
        tax_key=draw(st.sampled_from(["", "3", "9", "40", "101", "6501"])),
        currency="USD" if foreign else "EUR",
        exchange_rate=draw(rates()) if foreign else None,
        base_amount=draw(money(99_999_999)) if foreign else None,
        base_currency="EUR" if foreign else "",
        document_field_2=draw(st.text(alphabet=DOCUMENT_FIELD_ALPHABET, max_size=12)),
        cash_discount=draw(st.none() | money(99_999_999)),
        document_link=draw(st.just("") | guids().map(lambda guid: f'BEDI "{guid.upper()}"')),
        document_infos=tuple(infos),
        cost_centre_1=draw(texts(36)),
        cost_centre_2=draw(texts(36)),
        eu_vat_id=draw(st.sampled_from(["", *VAT_IDS])),
        eu_tax_rate=draw(tax_rates()),
        supply_date=draw(dates()),
        due_date=draw(dates()),
        reversal=draw(st.booleans()),
        tax_rate=draw(tax_rates()),
        country=draw(st.sampled_from(["", "DE", "AT", "GR", "CH"])),
        booking_guid=draw(st.just("") | guids()),
        lock=draw(st.sampled_from([None, True, False])),
        source_kind="sale_invoice",
        source_id="task-1",
        source_version="v1",
        tax_treatment="domestic_19",
    )
