"""The Cin7 Core API v2 endpoints the pipeline uses, as plain functions from a call to a JSON answer.

Endpoint names and query parameter names are matched without regard to case (Cin7 runs on ASP.NET,
and clients in the wild send `/externalapi/v2/salelist?page=2`). Every list pages with `Page` (from 1)
and `Limit` (1 to 1000, default 100) and answers `Total` and `Page`. Unknown or malformed ids are
answered with 400 and Cin7's error body, as validation errors are (404 means "no such endpoint").
`UpdatedSince`/`ModifiedSince` return what changed strictly after the given moment ("changed after").
Parameters that only shape output Cin7-side (`CombineAdditionalCharges`, `HideInventoryMovements`,
`IncludeTransactions`, `CountryFormat`) are accepted and ignored: documents are served as stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from datev_cin7_pipeline.sandbox.cin7.dataset import is_advanced_purchase, list_response
from datev_cin7_pipeline.sandbox.cin7.dates import parse_cin7_datetime
from datev_cin7_pipeline.sandbox.cin7.documents import purchase_invoices
from datev_cin7_pipeline.sandbox.cin7.jsonio import JsonObject
from datev_cin7_pipeline.sandbox.cin7.store import Cin7Store
from datev_cin7_pipeline.sandbox.cin7.views import (
    not_available_task,
    purchase_credit_note_view,
    purchase_invoice_view,
    purchase_list_row,
    sale_credit_notes,
    sale_invoices,
    sale_list_row,
    sale_payments,
    served_attachments,
    served_document,
)
from datev_cin7_pipeline.sandbox.cin7.webhooks import WebhookError, WebhookRegistry

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000


class ApiError(Exception):
    """An answer with Cin7's error body: `{"ErrorCode": status, "Exception": message}`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Query:
    """Query parameters by lower-cased name (the first value wins), with Cin7's parsing rules."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._values: dict[str, str] = {}
        for name, value in items:
            self._values.setdefault(name.lower(), value)

    def text(self, name: str) -> str | None:
        value = self._values.get(name.lower(), "").strip()
        return value or None

    def guid(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            raise ApiError(400, f"{name} is required")
        if not _GUID.match(value):
            raise ApiError(400, f"{name} '{value}' is not a valid GUID")
        return value

    def flag(self, name: str) -> bool | None:
        value = self.text(name)
        if value is None:
            return None
        if value.lower() not in ("true", "false"):
            raise ApiError(400, f"{name} must be true or false")
        return value.lower() == "true"

    def since(self, name: str) -> datetime | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return parse_cin7_datetime(value)
        except ValueError as exc:
            raise ApiError(400, f"{name}: {exc}") from exc

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.text(name)
        if value is None:
            return default
        if not re.fullmatch(r"[+-]?\d+", value) or not low <= int(value) <= high:
            raise ApiError(400, f"{name} must be an integer between {low} and {high}")
        return int(value)


@dataclass(frozen=True)
class ApiCall:
    """What a handler needs of a request: the query, the parsed JSON body, and the server's root URL."""

    query: Query
    body: Any
    root_url: str


Handler = Callable[[ApiCall], Any]


def paged(key: str, items: list[JsonObject], query: Query) -> JsonObject:
    page = query.integer("Page", 1, 1, 2**31 - 1)
    limit = query.integer("Limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    return list_response(key, items[(page - 1) * limit : page * limit], len(items), page)


def paged_without_total(key: str, items: list[JsonObject], query: Query) -> JsonObject:
    """Credits and deposits page like the other lists, but Cin7's examples answer no `Total`."""
    response = paged(key, items, query)
    return {key: response[key], "Page": response["Page"]}


def _changed_after(value: Any, since: datetime | None) -> bool:
    if since is None:
        return True
    try:
        return value is not None and parse_cin7_datetime(str(value)) > since
    except ValueError:
        return False


def _same(value: Any, wanted: str | None) -> bool:
    return wanted is None or str(value).lower() == wanted.lower()


def _contains(values: Iterable[Any], wanted: str | None) -> bool:
    return wanted is None or any(wanted.lower() in str(value).lower() for value in values if value is not None)


class Cin7Api:
    """The endpoints, bound to one store and webhook registry."""

    def __init__(self, store: Cin7Store, webhooks: WebhookRegistry) -> None:
        self.store = store
        self.webhooks = webhooks

    def routes(self) -> dict[tuple[str, str], tuple[str, Handler]]:
        """(method, lower-case endpoint) → (endpoint name as documented, handler)."""
        table: list[tuple[str, str, Handler]] = [
            ("GET", "me", lambda call: self.store.data.me),
            ("GET", "ref/account", self.accounts),
            ("GET", "ref/account/bank", lambda call: paged("BankAccountsList", self.store.bank_accounts(), call.query)),
            ("GET", "ref/tax", self.tax_rules),
            ("GET", "ref/location", self.locations),
            (
                "GET",
                "ref/customer/credits",
                lambda call: self.credits(
                    call, "CustomerCredits", "CustomerID", "ShowUsedCredits", self.store.data.customer_credits
                ),
            ),
            (
                "GET",
                "ref/supplier/deposits",
                lambda call: self.credits(
                    call, "SupplierDeposits", "SupplierID", "ShowUsedDeposits", self.store.data.supplier_deposits
                ),
            ),
            ("GET", "customer", lambda call: self.parties("CustomerList", self.store.data.customers, call.query)),
            ("GET", "supplier", lambda call: self.parties("SupplierList", self.store.data.suppliers, call.query)),
            ("GET", "saleList", self.sale_list),
            ("GET", "sale", self.sale_document),
            (
                "GET",
                "sale/invoice",
                lambda call: sale_invoices(self.sale(call, "SaleID"), bool(call.query.flag("IncludeProductInfo"))),
            ),
            (
                "GET",
                "sale/creditnote",
                lambda call: sale_credit_notes(
                    self.sale(call, "SaleID"),
                    bool(call.query.flag("IncludeProductInfo")),
                    bool(call.query.flag("IncludePaymentInfo")),
                ),
            ),
            ("GET", "sale/payment", lambda call: sale_payments(self.sale(call, "SaleID"))),
            ("GET", "sale/attachment", self.sale_attachments),
            ("GET", "purchaseList", self.purchase_list),
            ("GET", "purchase", lambda call: self.purchase_document(call, advanced=False)),
            ("GET", "advanced-purchase", lambda call: self.purchase_document(call, advanced=True)),
            ("GET", "purchase/invoice", self.purchase_invoice),
            (
                "GET",
                "purchase/creditnote",
                lambda call: purchase_credit_note_view(self.purchase(call, "TaskID", False)),
            ),
            ("GET", "purchase/payment", lambda call: self.purchase_payments(call, "TaskID", advanced=False)),
            ("GET", "purchase/attachment", self.purchase_attachments),
            ("GET", "advanced-purchase/invoice", self.advanced_purchase_invoices),
            (
                "GET",
                "advanced-purchase/payment",
                lambda call: self.purchase_payments(call, "PurchaseID", advanced=True),
            ),
            ("GET", "webhooks", lambda call: {"Webhooks": self.webhooks.all()}),
            ("POST", "webhooks", lambda call: {"Webhooks": [self._webhook(self.webhooks.create, call.body)]}),
            ("PUT", "webhooks", lambda call: {"Webhooks": [self._webhook(self.webhooks.update, call.body)]}),
            ("DELETE", "webhooks", self.delete_webhook),
        ]
        return {(method, name.lower()): (name, handler) for method, name, handler in table}

    # --- reference data ---

    def accounts(self, call: ApiCall) -> JsonObject:
        query = call.query
        rows = [
            a
            for a in self.store.data.accounts
            if _same(a.get("Code"), query.text("Code"))
            and _contains([a.get("Name")], query.text("Name"))
            and _same(a.get("Type"), query.text("Type"))
            and _same(a.get("Status"), query.text("Status"))
        ]
        return paged("AccountsList", rows, query)

    def tax_rules(self, call: ApiCall) -> JsonObject:
        query = call.query
        flags = {name: query.flag(name) for name in ("IsActive", "IsTaxForSale", "IsTaxForPurchase")}
        rows = [
            r
            for r in self.store.data.tax_rules
            if _same(r.get("ID"), query.text("ID"))
            and _contains([r.get("Name")], query.text("Name"))
            and _same(r.get("Account"), query.text("Account"))
            and all(wanted is None or bool(r.get(name)) == wanted for name, wanted in flags.items())
        ]
        return paged("TaxRuleList", rows, query)

    def locations(self, call: ApiCall) -> JsonObject:
        query = call.query
        deprecated = query.flag("Deprecated")
        rows = [
            loc
            for loc in self.store.data.locations
            if _same(loc.get("ID"), query.text("ID"))
            and _contains([loc.get("Name")], query.text("Name"))
            and (deprecated is None or bool(loc.get("IsDeprecated")) == deprecated)
        ]
        return paged("LocationList", rows, query)

    def credits(self, call: ApiCall, key: str, party: str, show_used: str, rows: list[JsonObject]) -> JsonObject:
        """Customer credits or supplier deposits of one party (or all); used-up ones only when asked for."""
        wanted = call.query.text(party)
        include_used = bool(call.query.flag(show_used))
        selected = [
            row for row in rows if _same(row.get(party), wanted) and (include_used or row.get("RemainingAmount") != 0)
        ]
        return paged_without_total(key, selected, call.query)

    def parties(self, key: str, records: list[JsonObject], query: Query) -> JsonObject:
        """Customers or suppliers: `ID`, `Name` (contains), `ModifiedSince`, `IncludeDeprecated`."""
        since = query.since("ModifiedSince")
        include_deprecated = bool(query.flag("IncludeDeprecated"))
        rows = [
            p
            for p in records
            if _same(p.get("ID"), query.text("ID"))
            and _contains([p.get("Name")], query.text("Name"))
            and _changed_after(p.get("LastModifiedOn"), since)
            and (include_deprecated or str(p.get("Status", "Active")).lower() != "deprecated")
        ]
        return paged(key, rows, query)

    # --- sales ---

    def sale(self, call: ApiCall, parameter: str) -> JsonObject:
        sale_id = call.query.guid(parameter)
        sale = self.store.sale(sale_id)
        if sale is None:
            raise ApiError(400, f"Sale with ID = '{sale_id}' not found")
        return sale

    def sale_document(self, call: ApiCall) -> JsonObject:
        sale = self.sale(call, "ID")
        return served_document(sale, self.store.files_of(sale["ID"]), call.root_url)

    def sale_list(self, call: ApiCall) -> JsonObject:
        """`saleList` rows, oldest first; filters `UpdatedSince`, `Status`, `CombinedInvoiceStatus`, `Search`."""
        query = call.query
        since = query.since("UpdatedSince")
        locations = self.store.location_ids()
        rows = [sale_list_row(sale, locations) for sale in self.store.data.sales.values()]
        rows = [
            r
            for r in rows
            if _changed_after(r["Updated"], since)
            and _same(r["Status"], query.text("Status"))
            and _same(r["CombinedInvoiceStatus"], query.text("CombinedInvoiceStatus"))
            and _contains(
                [
                    r["OrderNumber"],
                    r["Status"],
                    r["Customer"],
                    r["InvoiceNumber"],
                    r["CustomerReference"],
                    r["CreditNoteNumber"],
                ],
                query.text("Search"),
            )
        ]
        rows.sort(key=lambda r: (str(r["OrderDate"] or ""), str(r["OrderNumber"] or ""), r["SaleID"]))
        return paged("SaleList", rows, query)

    def sale_attachments(self, call: ApiCall) -> JsonObject:
        sale = self.sale(call, "SaleID")
        lines = served_attachments(sale.get("Attachments") or [], self.store.files_of(sale["ID"]), call.root_url)
        return {"SaleID": sale["ID"], "Lines": lines}

    # --- purchases ---

    def purchase(self, call: ApiCall, parameter: str, advanced: bool | None) -> JsonObject:
        """The purchase named by `parameter`; `advanced` says which kind the endpoint serves (None: either)."""
        purchase_id = call.query.guid(parameter)
        purchase = self.store.purchase(purchase_id)
        if purchase is None:
            raise ApiError(400, f"Purchase with ID = '{purchase_id}' not found")
        if advanced is not None and is_advanced_purchase(purchase) != advanced:
            endpoint = "advanced-purchase" if is_advanced_purchase(purchase) else "purchase"
            raise ApiError(
                400,
                f"Purchase with ID = '{purchase_id}' is a {purchase.get('Type', 'purchase')}; "
                f"use the {endpoint} endpoint",
            )
        return purchase

    def purchase_list(self, call: ApiCall) -> JsonObject:
        """`purchaseList` rows, oldest order first, filtered by `UpdatedSince`, `Status`, `InvoiceStatus`, `Search`."""
        query = call.query
        since = query.since("UpdatedSince")
        rows = [purchase_list_row(purchase) for purchase in self.store.data.purchases.values()]
        rows = [
            r
            for r in rows
            if _changed_after(r["LastUpdatedDate"], since)
            and _same(r["Status"], query.text("Status"))
            and _same(r["InvoiceStatus"], query.text("InvoiceStatus"))
            and _contains(
                [r["OrderNumber"], r["Status"], r["Supplier"], r["InvoiceNumber"], r["CreditNoteNumber"]],
                query.text("Search"),
            )
        ]
        rows.sort(key=lambda r: (str(r["OrderDate"] or ""), str(r["OrderNumber"] or ""), r["ID"]))
        return paged("PurchaseList", rows, query)

    def purchase_document(self, call: ApiCall, *, advanced: bool) -> JsonObject:
        purchase = self.purchase(call, "ID", advanced)
        return served_document(purchase, self.store.files_of(purchase["ID"]), call.root_url)

    def purchase_invoice(self, call: ApiCall) -> JsonObject:
        purchase = self.purchase(call, "TaskID", advanced=False)
        invoices = purchase_invoices(purchase)
        return purchase_invoice_view(purchase, invoices[0]) if invoices else not_available_task(purchase["ID"])

    def advanced_purchase_invoices(self, call: ApiCall) -> JsonObject:
        purchase = self.purchase(call, "PurchaseID", advanced=True)
        return {
            "PurchaseID": purchase["ID"],
            "Invoices": [purchase_invoice_view(purchase, invoice) for invoice in purchase_invoices(purchase)],
        }

    def purchase_payments(self, call: ApiCall, parameter: str, *, advanced: bool) -> list[JsonObject]:
        purchase = self.purchase(call, parameter, advanced)
        return self.store.data.purchase_payments.get(purchase["ID"], [])

    def purchase_attachments(self, call: ApiCall) -> JsonObject:
        purchase = self.purchase(call, "TaskID", advanced=None)
        lines = served_attachments(
            purchase.get("Attachments") or [], self.store.files_of(purchase["ID"]), call.root_url
        )
        return {"TaskID": purchase["ID"], "Lines": lines}

    # --- webhooks ---

    @staticmethod
    def _webhook(action: Callable[[Any], JsonObject], body: Any) -> JsonObject:
        try:
            return action(body)
        except WebhookError as exc:
            raise ApiError(400, str(exc)) from exc

    def delete_webhook(self, call: ApiCall) -> JsonObject:
        try:
            self.webhooks.delete(call.query.guid("ID"))
        except WebhookError as exc:
            raise ApiError(400, str(exc)) from exc
        return {"Webhooks": []}
