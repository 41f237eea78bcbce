"""Typed Cin7 Core API v2 payloads: what the accounting side reads, money as `Decimal`, never float.

Field names follow Cin7's (PascalCase, `ID` and `SKU` upper case); Python attributes are snake_case.
Unknown fields are ignored, missing collections are empty, and the variants FACTS.md marks as uncertain
are accepted: `InvocieNumber` for `InvoiceNumber`, a simple purchase's `Invoice` object as a one-element
list, credit-note `Refunds` or `Payments`, timestamps with 0–7 fractional digits with or without `Z`.

Parse JSON with `parse_float=Decimal` (see `cin7.client.parse_json`) so amounts never pass through a
binary float on their way in.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

# --- scalar types ----------------------------------------------------------------------------------

_TIMESTAMP = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})(?:[T ](?P<time>\d{2}:\d{2}(?::\d{2})?)(?:\.(?P<fraction>\d{1,9}))?)?"
    r"(?P<zone>Z|[+-]\d{2}:?\d{2})?$"
)


def parse_timestamp(value: Any) -> dt.datetime | None:
    """A Cin7 timestamp as an aware UTC datetime; Cin7 documents every date field as UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    match = _TIMESTAMP.match(str(value).strip())
    if not match:
        raise ValueError(f"not a Cin7 timestamp: {value!r}")
    fraction = (match["fraction"] or "").ljust(6, "0")[:6]  # Python keeps microseconds, Cin7 sends up to 7
    zone = match["zone"] or "Z"
    text = f"{match['date']}T{match['time'] or '00:00:00'}.{fraction}{'+00:00' if zone == 'Z' else zone}"
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)


def parse_calendar_date(value: Any) -> dt.date | None:
    """A document date (`InvoiceDate`, `DatePaid`…): Cin7 sends midnight with no zone; the day is what counts."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    match = _TIMESTAMP.match(str(value).strip())
    if not match:
        raise ValueError(f"not a Cin7 date: {value!r}")
    return dt.date.fromisoformat(match["date"])


def _money(value: Any) -> Decimal:
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, float):  # only if someone parsed JSON without parse_float=Decimal
        return Decimal(repr(value))
    return Decimal(str(value))


def _optional_money(value: Any) -> Decimal | None:
    return None if value is None or value == "" else _money(value)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


Money = Annotated[Decimal, BeforeValidator(_money)]
OptionalMoney = Annotated[Decimal | None, BeforeValidator(_optional_money)]
Timestamp = Annotated[dt.datetime | None, BeforeValidator(parse_timestamp)]
CalendarDate = Annotated[dt.date | None, BeforeValidator(parse_calendar_date)]
Text = Annotated[str, BeforeValidator(_text)]


def _cin7_alias(name: str) -> str:
    """snake_case → Cin7's PascalCase (`task_id` → `TaskID`, `sku` → `SKU`)."""
    special = {"id": "ID", "sku": "SKU"}
    return "".join(special.get(part, part.capitalize()) for part in name.split("_"))


_SHARED_FIELDS_SETS: dict[frozenset[str], frozenset[str]] = {}


class Cin7Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=_cin7_alias, populate_by_name=True, extra="ignore", frozen=True, str_strip_whitespace=False
    )

    @model_validator(mode="after")
    def _share_fields_set(self) -> Cin7Model:
        # A period holds every document as models, tens of thousands of them in a big month; pydantic gives
        # each its own set of the fields it was given (0.7-2 KB each, most of a line's size). The models are
        # frozen, so instances with the same fields can share one frozen set.
        fields = frozenset(self.__pydantic_fields_set__)
        object.__setattr__(self, "__pydantic_fields_set__", _SHARED_FIELDS_SETS.setdefault(fields, fields))
        return self

    # A copy gets a set of its own again: `model_copy(update=...)` adds to it.
    def __copy__(self) -> Cin7Model:
        copied = super().__copy__()
        object.__setattr__(copied, "__pydantic_fields_set__", set(copied.__pydantic_fields_set__))
        return copied

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Cin7Model:
        copied = super().__deepcopy__(memo)
        object.__setattr__(copied, "__pydantic_fields_set__", set(copied.__pydantic_fields_set__))
        return copied


def _none_as_empty(value: Any) -> Any:
    return [] if value is None else value


# --- document parts ---------------------------------------------------------------------------------


class DocumentLine(Cin7Model):
    """A product line or an additional charge (freight, fees); both book the same way."""

    product_id: str | None = None
    sku: Text = ""
    name: Text = ""
    description: Text = ""  # additional charges have a description instead of a name
    reference: Text = ""
    quantity: Money = Decimal(0)
    price: Money = Decimal(0)
    discount: Money = Decimal(0)  # percent, 0–100
    tax: Money = Decimal(0)
    tax_rule: Text = ""
    account: Text = ""
    comment: Text = ""
    total: Money = Decimal(0)

    @property
    def label(self) -> str:
        return self.name or self.description or self.sku


Lines = Annotated[list[DocumentLine], BeforeValidator(_none_as_empty)]


class EmbeddedPayment(Cin7Model):
    """A payment or refund as embedded in an invoice or credit note."""

    id: str
    reference: Text = ""
    amount: Money = Decimal(0)
    date_paid: CalendarDate = None
    account: Text = ""
    currency_rate: OptionalMoney = None
    date_created: Timestamp = None


Payments = Annotated[list[EmbeddedPayment], BeforeValidator(_none_as_empty)]


class Attachment(Cin7Model):
    id: str
    content_type: Text = ""
    file_name: Text = ""
    download_url: Text = ""


Attachments = Annotated[list[Attachment], BeforeValidator(_none_as_empty)]


class Address(Cin7Model):
    line1: Text = ""
    line2: Text = ""
    city: Text = ""
    state: Text = ""
    postcode: Text = ""
    country: Text = ""
    type: Text = ""
    default_for_type: bool = False


def _attributes(value: Any) -> dict[str, str]:
    if not value:
        return {}
    return {str(key): _text(item) for key, item in dict(value).items() if item not in (None, "")}


AdditionalAttributes = Annotated[dict[str, str], BeforeValidator(_attributes)]


# --- sales ----------------------------------------------------------------------------------------


class SaleInvoice(Cin7Model):
    task_id: str
    invoice_number: Text = ""
    memo: Text = ""
    status: Text = ""
    invoice_date: CalendarDate = None
    invoice_due_date: CalendarDate = None
    currency_conversion_rate: OptionalMoney = None
    lines: Lines = Field(default_factory=list)
    additional_charges: Lines = Field(default_factory=list)
    payments: Payments = Field(default_factory=list)
    total_before_tax: Money = Decimal(0)
    tax: Money = Decimal(0)
    total: Money = Decimal(0)
    paid: Money = Decimal(0)


class SaleCreditNote(Cin7Model):
    task_id: str
    credit_note_number: Text = ""
    credit_note_invoice_number: Text = ""  # the invoice it credits
    credit_note_date: CalendarDate = None
    credit_note_conversion_rate: OptionalMoney = None
    memo: Text = ""
    status: Text = ""
    lines: Lines = Field(default_factory=list)
    additional_charges: Lines = Field(default_factory=list)
    refunds: Payments = Field(default_factory=list)
    total_before_tax: Money = Decimal(0)
    tax: Money = Decimal(0)
    total: Money = Decimal(0)

    @model_validator(mode="before")
    @classmethod
    def _payments_are_refunds(cls, data: Any) -> Any:
        # With IncludePaymentInfo the refunds may come as `Payments`.
        if isinstance(data, dict) and not data.get("Refunds") and data.get("Payments"):
            return {**data, "Refunds": data["Payments"]}
        return data


class Sale(Cin7Model):
    """`GET /sale?ID=`: the order with all its invoices, credit notes, payments and refunds."""

    id: str
    type: Text = ""
    status: Text = ""
    customer: Text = ""
    customer_id: str | None = None
    customer_reference: Text = ""
    base_currency: Text = ""
    customer_currency: Text = ""
    currency_rate: OptionalMoney = None
    tax_rule: Text = ""
    tax_calculation: Text = ""  # Inclusive | Exclusive
    location: Text = ""
    sales_representative: Text = ""
    source_channel: Text = ""
    default_account: Text = ""
    billing_address: Address | None = None
    additional_attributes: AdditionalAttributes = Field(default_factory=dict)
    attachments: Attachments = Field(default_factory=list)
    invoices: Annotated[list[SaleInvoice], BeforeValidator(_none_as_empty)] = Field(default_factory=list)
    credit_notes: Annotated[list[SaleCreditNote], BeforeValidator(_none_as_empty)] = Field(default_factory=list)
    last_modified_on: Timestamp = None
    order_number: Text = ""

    @model_validator(mode="before")
    @classmethod
    def _order_number(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("OrderNumber"):
            order = data.get("Order") or {}
            number = order.get("SaleOrderNumber") if isinstance(order, dict) else None
            if number:
                return {**data, "OrderNumber": number}
        return data

    @property
    def version(self) -> str:
        """What identifies this state of the sale (a change in Cin7 moves it)."""
        return self.last_modified_on.isoformat() if self.last_modified_on else ""


# --- purchases ------------------------------------------------------------------------------------


class PurchaseInvoice(Cin7Model):
    task_id: str = ""
    invoice_number: Text = ""  # typed in by the user: not unique, key by task_id
    invoice_date: CalendarDate = None
    invoice_due_date: CalendarDate = None
    status: Text = ""
    lines: Lines = Field(default_factory=list)
    additional_charges: Lines = Field(default_factory=list)
    payments: Payments | None = None  # None: not embedded, read /purchase/payment
    total_before_tax: Money = Decimal(0)
    tax: Money = Decimal(0)
    total: Money = Decimal(0)
    paid: Money = Decimal(0)

    @model_validator(mode="before")
    @classmethod
    def _invoice_number_typo(cls, data: Any) -> Any:
        # The documented example spells it `InvocieNumber`; accept both.
        if isinstance(data, dict) and not data.get("InvoiceNumber") and data.get("InvocieNumber"):
            return {**data, "InvoiceNumber": data["InvocieNumber"]}
        return data


class PurchaseCreditNote(Cin7Model):
    task_id: str = ""
    credit_note_number: Text = ""
    credit_note_invoice_number: Text = ""
    credit_note_date: CalendarDate = None
    status: Text = ""
    lines: Lines = Field(default_factory=list)
    additional_charges: Lines = Field(default_factory=list)
    refunds: Payments = Field(default_factory=list)
    total_before_tax: Money = Decimal(0)
    tax: Money = Decimal(0)
    total: Money = Decimal(0)


def _one_or_many(value: Any) -> Any:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


class Purchase(Cin7Model):
    """`GET /purchase?ID=` (simple: one invoice object) or `GET /advanced-purchase?ID=` (lists)."""

    id: str
    type: Text = ""
    status: Text = ""
    supplier: Text = ""
    supplier_id: str | None = None
    order_number: Text = ""
    base_currency: Text = ""
    supplier_currency: Text = ""
    currency_rate: OptionalMoney = None
    tax_rule: Text = ""
    tax_calculation: Text = ""
    location: Text = ""
    inventory_account: Text = ""
    additional_attributes: AdditionalAttributes = Field(default_factory=dict)
    attachments: Attachments = Field(default_factory=list)
    invoices: Annotated[list[PurchaseInvoice], BeforeValidator(_one_or_many)] = Field(
        default_factory=list, alias="Invoice"
    )
    credit_notes: Annotated[list[PurchaseCreditNote], BeforeValidator(_one_or_many)] = Field(
        default_factory=list, alias="CreditNote"
    )
    last_updated_date: Timestamp = None

    @model_validator(mode="before")
    @classmethod
    def _simple_tasks_are_the_purchase(cls, data: Any) -> Any:
        # A simple purchase's invoice and credit note carry no TaskID: their task is the purchase itself.
        if not isinstance(data, dict) or not data.get("ID"):
            return data
        patched = dict(data)
        for key in ("Invoice", "CreditNote"):
            value = patched.get(key)
            if isinstance(value, dict) and not value.get("TaskID"):
                patched[key] = {**value, "TaskID": data["ID"]}
        return patched

    @property
    def is_advanced(self) -> bool:
        return self.type.lower().startswith("advanced")

    @property
    def version(self) -> str:
        return self.last_updated_date.isoformat() if self.last_updated_date else ""


class PaymentRecord(Cin7Model):
    """A row of `GET /sale/payment`, `/purchase/payment` or `/advanced-purchase/payment`."""

    id: str
    task_id: Text = ""
    type: Text = ""  # Payment | Refund | Prepayment
    reference: Text = ""
    amount: Money = Decimal(0)
    date_paid: CalendarDate = None
    account: Text = ""
    currency_rate: OptionalMoney = None
    date_created: Timestamp = None
    sale_id: str | None = None
    purchase_id: str | None = None
    invoice_number: Text = ""
    credit_note_number: Text = ""
    deposit_id: str | None = None
    credit_id: str | None = None


# --- list rows --------------------------------------------------------------------------------------


class SaleListRow(Cin7Model):
    sale_id: str
    order_number: Text = ""
    status: Text = ""
    type: Text = ""
    invoice_number: Text = ""
    invoice_date: CalendarDate = None
    combined_invoice_status: Text = ""
    combined_payment_status: Text = ""
    updated: Timestamp = None


class PurchaseListRow(Cin7Model):
    id: str
    order_number: Text = ""
    status: Text = ""
    type: Text = ""
    invoice_number: Text = ""
    invoice_date: CalendarDate = None
    invoice_status: Text = ""
    combined_invoice_status: Text = ""
    last_updated_date: Timestamp = None

    @property
    def is_advanced(self) -> bool:
        return self.type.lower().startswith("advanced")


# --- master data ----------------------------------------------------------------------------------


class _Party(Cin7Model):
    id: str
    name: Text = ""
    status: Text = ""
    currency: Text = ""
    tax_rule: Text = ""
    tax_number: Text = ""  # the VAT id (USt-IdNr.)
    payment_term: Text = ""
    addresses: Annotated[list[Address], BeforeValidator(_none_as_empty)] = Field(default_factory=list)
    last_modified_on: Timestamp = None

    @property
    def billing_address(self) -> Address | None:
        preferred = [a for a in self.addresses if a.type.lower() in ("billing", "business")]
        ranked = sorted(
            preferred or self.addresses, key=lambda a: (not a.default_for_type, a.type.lower() != "billing")
        )
        return ranked[0] if ranked else None

    @property
    def country(self) -> str:
        address = self.billing_address
        return address.country if address else ""


class Customer(_Party):
    account_receivable: Text = ""
    revenue_account: Text = ""
    sales_representative: Text = ""
    location: Text = ""
    tags: Text = ""


class Supplier(_Party):
    account_payable: Text = ""


class Account(Cin7Model):
    code: Text
    name: Text = ""
    type: Text = ""
    account_class: Text = Field("", alias="Class")
    status: Text = ""
    system_account: Text = ""
    for_payments: bool = False
    currency: Text = ""


class TaxComponent(Cin7Model):
    name: Text = ""
    percent: Money = Decimal(0)
    account_code: Text = ""


class TaxRule(Cin7Model):
    id: str
    name: Text
    account: Text = ""
    is_active: bool = True
    tax_inclusive: bool = False
    tax_percent: Money = Decimal(0)
    is_tax_for_sale: bool = False
    is_tax_for_purchase: bool = False
    components: Annotated[list[TaxComponent], BeforeValidator(_none_as_empty)] = Field(default_factory=list)


class Location(Cin7Model):
    id: str
    name: Text
    is_default: bool = False
    is_deprecated: bool = False


class Company(Cin7Model):
    """`GET /me`: the company's base currency, time zone, tax rounding and lock date."""

    company: Text = ""
    currency: Text = ""  # the base currency
    time_zone: Text = ""
    tax_calculation_method: Text = ""  # "Row Total" (round per line) | "Total" (per document)
    lock_date: CalendarDate = None
    default_sale_tax_rule_name: Text = ""

    @property
    def rounds_tax_per_line(self) -> bool:
        return self.tax_calculation_method.strip().lower() != "total"


class WebhookSubscription(Cin7Model):
    id: str = ""
    type: Text
    name: Text = ""
    is_active: bool = True
    external_url: Text = Field("", alias="ExternalURL")
    external_authorization_type: Text = "noauth"
    external_user_name: Text = ""
    external_headers: Annotated[list[dict[str, Any]], BeforeValidator(_none_as_empty)] = Field(default_factory=list)
