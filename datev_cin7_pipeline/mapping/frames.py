"""pandera models for booking lines and for the extracted Cin7 documents.

Money stays `Decimal` (object columns): a float would turn 0.10 + 0.20 into 0.30000000000000004 and
make "balances to the cent" a matter of luck. Field rules follow DATEV's EXTF column formats
(FACTS §6.4); the frame-level check is the double-entry rule per source document (see
`BookingLineModel.document_balances`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd  # type: ignore[import-untyped]
import pandera.pandas as pa
from pandera.typing import Series

from datev_cin7_pipeline.cin7.models import Customer, Supplier
from datev_cin7_pipeline.cin7.period import Cin7Period
from datev_cin7_pipeline.datev.bookings import BookingLine
from datev_cin7_pipeline.mapping.documents import (
    Parent,
    period_documents,
    period_parents,
    source_payment,
)
from datev_cin7_pipeline.mapping.fields import (
    BELEGFELD1_MAX,
    CENT,
    MAX_AMOUNT,
    MAX_RATE,
    RATE_STEP,
    is_valid_belegfeld,
)
from datev_cin7_pipeline.mapping.reversal import is_reversal

DOCUMENT_KINDS = ("sale_invoice", "sale_credit_note", "purchase_invoice", "purchase_credit_note")
PAYMENT_KINDS = (
    "customer_payment",
    "customer_refund",
    "customer_prepayment",
    "supplier_payment",
    "supplier_refund",
    "supplier_prepayment",
)
SOURCE_KINDS = DOCUMENT_KINDS + PAYMENT_KINDS
DOCUMENT_GROUP = ["source_kind", "source_id", "source_version", "posting"]


def _money(value: Any, *, positive: bool = True, places: Decimal = CENT) -> bool:
    if not isinstance(value, Decimal) or not value.is_finite():
        return False
    if positive and value <= 0:
        return False
    return value == value.quantize(places) and abs(value) <= MAX_AMOUNT


def _optional(value: Any) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value))


class BookingLineModel(pa.DataFrameModel):
    """One row per DATEV booking line (`booking_frame`)."""

    amount: Series[Any] = pa.Field(description="Umsatz: Decimal > 0 with 2 decimals")
    side: Series[str] = pa.Field(isin=["S", "H"])
    account: Series[int] = pa.Field(gt=0, le=999_999_999)
    contra_account: Series[int] = pa.Field(gt=0, le=999_999_999)
    tax_key: Series[str] = pa.Field(str_matches=r"^\d{0,4}$")
    document_date: Series[Any]
    document_field_1: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": BELEGFELD1_MAX})
    document_field_2: Series[str] = pa.Field(str_length={"max_value": 12})
    text: Series[str] = pa.Field(str_length={"max_value": 60})
    currency: Series[str] = pa.Field(str_matches=r"^[A-Z]{3}$")
    exchange_rate: Series[Any] = pa.Field(nullable=True)
    base_amount: Series[Any] = pa.Field(nullable=True)
    base_currency: Series[str] = pa.Field(str_matches=r"^([A-Z]{3})?$")
    cash_discount: Series[Any] = pa.Field(nullable=True)
    document_link: Series[str] = pa.Field(str_length={"max_value": 210})
    cost_centre_1: Series[str] = pa.Field(str_length={"max_value": 36})
    cost_centre_2: Series[str] = pa.Field(str_length={"max_value": 36})
    eu_vat_id: Series[str] = pa.Field(str_matches=r"^([A-Z]{2}[A-Z0-9+*]{2,13})?$")
    supply_date: Series[Any] = pa.Field(nullable=True)
    due_date: Series[Any] = pa.Field(nullable=True)
    reversal: Series[bool]
    source_kind: Series[str] = pa.Field(isin=list(SOURCE_KINDS))
    source_id: Series[str] = pa.Field(str_length={"min_value": 1})
    source_version: Series[str]
    tax_treatment: Series[str]
    posting: Series[str] = pa.Field(isin=["booking", "reversal"])
    document_total: Series[Any] = pa.Field(nullable=True)

    class Config:
        strict = True
        coerce = False

    @pa.check("amount", element_wise=True)
    @classmethod
    def amount_is_positive_cents(cls, value: Any) -> bool:
        return _money(value)

    @pa.check("base_amount", element_wise=True)
    @classmethod
    def base_amount_is_positive_cents(cls, value: Any) -> bool:
        return _optional(value) or _money(value)

    @pa.check("cash_discount", element_wise=True)
    @classmethod
    def cash_discount_is_positive_cents(cls, value: Any) -> bool:
        return _optional(value) or _money(value)

    @pa.check("exchange_rate", element_wise=True)
    @classmethod
    def rate_is_positive_with_six_decimals(cls, value: Any) -> bool:
        if _optional(value):
            return True
        return isinstance(value, Decimal) and Decimal(0) < value <= MAX_RATE and value == value.quantize(RATE_STEP)

    @pa.check("document_date", element_wise=True)
    @classmethod
    def document_date_is_a_date(cls, value: Any) -> bool:
        return isinstance(value, dt.date)

    @pa.check("document_field_1", "document_field_2", element_wise=True)
    @classmethod
    def belegfeld_charset(cls, value: str) -> bool:
        """Only `A–Z a–z 0–9 $ & % * + - /` (FACTS §6.4 fields 11, 12)."""
        return is_valid_belegfeld(value)

    @pa.dataframe_check
    @classmethod
    def currency_fields_together(cls, df: pd.DataFrame) -> Series[bool]:
        """Kurs and Basis-Umsatz come with WKZ Basis-Umsatz, and only with a foreign currency (field 4–6)."""
        foreign = df["base_currency"] != ""
        has_rate = df["exchange_rate"].map(lambda v: not _optional(v))
        has_base = df["base_amount"].map(lambda v: not _optional(v))
        distinct = df["currency"] != df["base_currency"]
        return Series((foreign & has_rate & has_base & distinct) | (~foreign & ~has_rate & ~has_base))

    @pa.dataframe_check
    @classmethod
    def document_balances(cls, df: pd.DataFrame) -> Series[bool]:
        """Every source document balances.

        A document posting is the rows with the same (source_kind, source_id, source_version, posting);
        `posting` tells a reversal of an earlier booking from a booking. Expand every row into its two
        legs: Konto on the row's side and Gegenkonto on the other, for the same amount (a Generalumkehr
        row counts with both legs inverted). Debit = credit then holds row by row, because the amount
        is one positive number used for both legs (checked per column above). A posting balances when,
        in addition,

        1. all its rows share one Gegenkonto (the document's debtor or creditor) and one currency, so
           the document's counter-entry is one open item; and
        2. where `document_total` is given (the Cin7 total signed from the Gegenkonto, debit positive),
           the Gegenkonto legs add up to it exactly: the debit legs and the credit legs of the document
           differ by nothing but its Cin7 total, to the cent.

        Every row of a document that fails is reported.
        """
        if df.empty:
            return Series(pd.Series([], dtype=bool))
        verdict = {key: _posting_balances(group) for key, group in df.groupby(DOCUMENT_GROUP, sort=False)}
        keys = df[DOCUMENT_GROUP].apply(tuple, axis=1)
        return Series(keys.map(verdict).astype(bool))


def _open_item_legs(rows: pd.DataFrame) -> Decimal:
    """Σ of the Gegenkonto legs, debit positive (the row's side is the Konto's; GU inverts)."""
    return sum(
        (
            (row["amount"] if row["side"] == "H" else -row["amount"]) * (-1 if row["reversal"] else 1)
            for _, row in rows.iterrows()
        ),
        Decimal(0),
    )


def _posting_balances(rows: pd.DataFrame) -> bool:
    if rows["contra_account"].nunique() != 1 or rows["currency"].nunique() != 1:
        return False
    expected = {value for value in rows["document_total"] if not _optional(value)}
    if not expected:
        return True
    return len(expected) == 1 and _open_item_legs(rows) == expected.pop()


_LINE_COLUMNS: dict[str, str] = {
    "amount": "object",
    "side": "str",
    "account": "int64",
    "contra_account": "int64",
    "tax_key": "str",
    "document_date": "object",
    "document_field_1": "str",
    "document_field_2": "str",
    "text": "str",
    "currency": "str",
    "exchange_rate": "object",
    "base_amount": "object",
    "base_currency": "str",
    "cash_discount": "object",
    "document_link": "str",
    "cost_centre_1": "str",
    "cost_centre_2": "str",
    "eu_vat_id": "str",
    "supply_date": "object",
    "due_date": "object",
    "reversal": "bool",
    "source_kind": "str",
    "source_id": "str",
    "source_version": "str",
    "tax_treatment": "str",
    "posting": "str",
    "document_total": "object",
}


def booking_frame(
    lines: Iterable[BookingLine], totals: Mapping[tuple[str, str, str], Decimal] | None = None
) -> pd.DataFrame:
    """The lines as a DataFrame for `BookingLineModel`; `totals` (from `BookingResult.expected_totals()`)
    fills `document_total` on the booking rows of each (kind, source id, version)."""
    rows = []
    for line in lines:
        reversal = is_reversal(line)
        row: dict[str, Any] = {column: getattr(line, column, None) for column in _LINE_COLUMNS}
        row["posting"] = "reversal" if reversal else "booking"
        row["document_total"] = (
            None if reversal or totals is None else totals.get((line.source_kind, line.source_id, line.source_version))
        )
        rows.append(row)
    return pd.DataFrame(
        {column: pd.Series([row[column] for row in rows], dtype=dtype) for column, dtype in _LINE_COLUMNS.items()}
    )


# --- extracted documents ---------------------------------------------------------------------------


class DocumentModel(pa.DataFrameModel):
    """One row per extracted Cin7 invoice, credit note or payment of a period (`document_frame`)."""

    kind: Series[str] = pa.Field(isin=list(SOURCE_KINDS))
    source_id: Series[str] = pa.Field(str_length={"min_value": 1})
    parent_id: Series[str] = pa.Field(str_length={"min_value": 1})
    number: Series[str]
    date: Series[Any]
    currency: Series[str] = pa.Field(str_matches=r"^([A-Z]{3})?$")
    total: Series[Any]
    tax: Series[Any]
    total_before_tax: Series[Any]
    party_id: Series[str]
    version: Series[str] = pa.Field(str_length={"min_value": 1})

    class Config:
        strict = True
        coerce = False

    @pa.check("total", "tax", "total_before_tax", element_wise=True)
    @classmethod
    def amount_has_at_most_four_decimals(cls, value: Any) -> bool:
        """Cin7 amounts carry up to 4 decimals (cin7 FACTS §9); payments up to 2."""
        return isinstance(value, Decimal) and value.is_finite() and value == value.quantize(Decimal("0.0001"))

    @pa.check("date", element_wise=True)
    @classmethod
    def date_is_a_date(cls, value: Any) -> bool:
        return isinstance(value, dt.date)

    @pa.dataframe_check
    @classmethod
    def total_is_net_plus_tax(cls, df: pd.DataFrame) -> Series[bool]:
        """Cin7's own arithmetic: Total = TotalBeforeTax + Tax, to the cent."""
        if df.empty:
            return Series(pd.Series([], dtype=bool))
        return Series(
            df.apply(lambda row: abs(row["total"] - row["total_before_tax"] - row["tax"]) <= CENT, axis=1).astype(bool)
        )


_DOCUMENT_COLUMNS: dict[str, str] = {
    "kind": "str",
    "source_id": "str",
    "parent_id": "str",
    "number": "str",
    "date": "object",
    "currency": "str",
    "total": "object",
    "tax": "object",
    "total_before_tax": "object",
    "party_id": "str",
    "version": "str",
}


def document_frame(period: Cin7Period, parents: Mapping[str, Parent] | None = None) -> pd.DataFrame:
    """The period's bookable documents and payments, one row each, for `DocumentModel`."""
    rows: list[dict[str, Any]] = []
    for doc in period_documents(period):
        rows.append(
            {
                "kind": doc.kind,
                "source_id": doc.task_id,
                "parent_id": doc.parent_id,
                "number": doc.number,
                "date": doc.date,
                "currency": doc.currency,
                "total": doc.total,
                "tax": doc.tax,
                "total_before_tax": doc.total_before_tax,
                "party_id": doc.party_id or "",
                "version": doc.version,
            }
        )
    known = {**period_parents(period), **(parents or {})}
    parties: dict[str, Customer | Supplier] = {**period.customers, **period.suppliers}
    for payment in period.payments:
        source = source_payment(payment, known.get(payment.parent_id), period.company, parties)
        rows.append(
            {
                "kind": source.kind,
                "source_id": source.payment_id,
                "parent_id": source.parent_id,
                "number": source.number,
                "date": source.date,
                "currency": source.currency,
                "total": source.amount,
                "tax": Decimal(0),
                "total_before_tax": source.amount,
                "party_id": source.party_id or "",
                "version": source.version,
            }
        )
    return pd.DataFrame(
        {column: pd.Series([row[column] for row in rows], dtype=dtype) for column, dtype in _DOCUMENT_COLUMNS.items()}
    )


# --- validation -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrameFailure:
    """One failed check: which check, on which column and row (index), with the offending value."""

    check: str
    column: str
    index: Any
    value: Any


def _failures(model: type[pa.DataFrameModel], df: pd.DataFrame) -> list[FrameFailure]:
    try:
        model.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        return [
            FrameFailure(str(case["check"]), str(case["column"]), case["index"], case["failure_case"])
            for case in cases.to_dict("records")
        ]
    return []


def validate_booking_frame(df: pd.DataFrame) -> list[FrameFailure]:
    """Every failure of `BookingLineModel` on `df` (empty list: valid)."""
    return _failures(BookingLineModel, df)


def validate_document_frame(df: pd.DataFrame) -> list[FrameFailure]:
    """Every failure of `DocumentModel` on `df` (empty list: valid)."""
    return _failures(DocumentModel, df)


def unbalanced_documents(df: pd.DataFrame) -> Sequence[tuple[str, str, str, str]]:
    """The (kind, id, version, posting) keys whose rows fail `document_balances`, for messages."""
    if df.empty:
        return []
    return [key for key, group in df.groupby(DOCUMENT_GROUP, sort=False) if not _posting_balances(group)]


__all__ = [
    "BookingLineModel",
    "DocumentModel",
    "FrameFailure",
    "booking_frame",
    "document_frame",
    "unbalanced_documents",
    "validate_booking_frame",
    "validate_document_frame",
]
