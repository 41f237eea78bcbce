"""Admin actions that change documents the way users do in Cin7, each followed by Cin7's webhook event.

Endpoint: `POST /_sim/documents/{kind}/{id}/{action}` with an optional JSON body.

- `sale/new/authorise`, body {CustomerID, Lines: [{SKU, Quantity}]}: a new sale with an authorised
  invoice and its PDF → `Sale/InvoiceAuthorised` {SaleTaskID, SaleOrderNumber}.
- `sale/<id>/pay`, body {Amount} (default: the open balance) → `Sale/PartialPaymentReceived` or
  `Sale/FullPaymentReceived` {SaleID, DocumentNumber}.
- `sale/<id>/credit`, body {Share} (of each line's quantity, 0 < Share ≤ 1, default 1): an authorised
  credit note with its PDF → `Sale/CreditNoteAuthorised` {SaleID, SaleOrderNumber}.
- `sale/<id>/void` (refused while payments exist, as Cin7 does) → `Sale/Voided` {SaleID, SaleOrderNumber}.
- `purchase/new/authorise`, body {SupplierID, Lines, InvoiceNumber}: a new simple purchase with an
  authorised supplier invoice and its PDF → `Purchase/InvoiceAuthorised` {TaskID, InvoiceNumber}.
- `purchase/<id>/pay`, body {Amount} (default: the first open invoice's balance) → no event (Cin7 has
  no purchase payment event).

All bodies and their fields are optional.
New documents use the demo catalogue's products, are dated today (by the simulator's clock) and get
their PDF. `SaleTaskID` carries the sale ID, which is what public consumers fetch `sale/invoice` with.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from datev_cin7_pipeline.sandbox.cin7.config import Clock
from datev_cin7_pipeline.sandbox.cin7.demo_company import (
    BANK_EUR,
    BANK_USD,
    PRODUCTS,
    SUPPLIERS,
    TYPICAL_RATES,
    Product,
    payment_terms_days,
    purchase_tax,
    sale_tax,
)
from datev_cin7_pipeline.sandbox.cin7.documents import (
    LineInput,
    Party,
    PurchaseInput,
    PurchaseInvoiceInput,
    SaleInput,
    add_purchase_payment,
    add_sale_credit_note,
    add_sale_payment,
    new_purchase,
    new_sale,
    payment_line,
    purchase_invoice_balance,
    purchase_invoices,
    sale_balance,
    void_sale,
)
from datev_cin7_pipeline.sandbox.cin7.jsonio import JsonObject
from datev_cin7_pipeline.sandbox.cin7.money import cents, to_decimal
from datev_cin7_pipeline.sandbox.cin7.printouts import purchase_invoice_pdf, sale_document_pdf
from datev_cin7_pipeline.sandbox.cin7.store import Cin7Store, next_number

_DEFAULT_SALE_LINES = (("KAF-ESP-1000", 10), ("PAN-GUS-28", 4))


class ActionError(Exception):
    """The action cannot be done (unknown document, wrong state, bad body); `status` is the HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ActionResult:
    """What changed (ids and numbers) and the webhook event to deliver, if Cin7 has one for it."""

    details: JsonObject
    event_type: str | None
    payload: JsonObject


def _new_id() -> str:
    return str(uuid.uuid4())


class DocumentActions:
    """Runs admin actions against the store, under its lock."""

    def __init__(self, store: Cin7Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def run(self, kind: str, document_id: str, action: str, body: Any) -> ActionResult:
        if body is not None and not isinstance(body, dict):
            raise ActionError(400, "the body must be a JSON object")
        options: JsonObject = body or {}
        handlers = {
            ("sale", "authorise"): self._authorise_sale,
            ("sale", "pay"): self._pay_sale,
            ("sale", "credit"): self._credit_sale,
            ("sale", "void"): self._void_sale,
            ("purchase", "authorise"): self._authorise_purchase,
            ("purchase", "pay"): self._pay_purchase,
        }
        handler = handlers.get((kind.lower(), action.lower()))
        if handler is None:
            raise ActionError(404, f"no action {action!r} for {kind!r}; known: {sorted(handlers)}")
        creating = action.lower() == "authorise"
        if creating != (document_id.lower() == "new"):
            raise ActionError(400, "authorise creates a document: use the id 'new'; other actions need an id")
        with self.store.lock:
            return handler(document_id, options)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    # --- sales ---

    def _sale(self, sale_id: str) -> JsonObject:
        sale = self.store.sale(sale_id)
        if sale is None:
            raise ActionError(404, f"no sale with ID {sale_id}")
        if sale.get("Status") == "VOIDED":
            raise ActionError(400, f"sale {sale_id} is voided")
        return sale

    def _authorise_sale(self, _: str, options: JsonObject) -> ActionResult:
        customer = Party(self._party(self.store.data.customers, options.get("CustomerID"), "customer"))
        now = self._now()
        rate = TYPICAL_RATES.get(customer.currency, Decimal(1))
        lines = tuple(
            self._sale_line(customer, product, quantity, rate)
            for product, quantity in self._items(options, _DEFAULT_SALE_LINES)
        )
        locations = self.store.data.locations
        location = next((loc for loc in locations if loc["Name"] == customer.record.get("Location")), locations[0])
        invoice_number = next_number("INV-", self.store.sale_numbers("InvoiceNumber"))
        order_number = next_number(
            "SO-", [(s.get("Order") or {}).get("SaleOrderNumber") for s in self.store.data.sales.values()]
        )
        spec = SaleInput(
            sale_id=_new_id(),
            order_number=order_number,
            invoice_task_id=_new_id(),
            invoice_number=invoice_number,
            fulfilment_task_id=_new_id(),
            attachment_id=_new_id(),
            customer=customer,
            location=location,
            invoice_date=now.date(),
            due_days=payment_terms_days(customer.record),
            currency_rate=rate,
            inclusive=False,
            lines=lines,
            charges=(),
            modified_at=now,
        )
        sale = new_sale(spec)
        self.store.data.sales[spec.sale_id] = sale
        self._attach_sale_pdf(sale, sale["Invoices"][0], spec.attachment_id)
        return ActionResult(
            {
                "SaleID": spec.sale_id,
                "TaskID": spec.invoice_task_id,
                "InvoiceNumber": invoice_number,
                "SaleOrderNumber": order_number,
            },
            "Sale/InvoiceAuthorised",
            {"SaleTaskID": spec.sale_id, "SaleOrderNumber": order_number},
        )

    def _sale_line(self, customer: Party, product: Product, quantity: Decimal, rate: Decimal) -> LineInput:
        rule, account = sale_tax(customer.record, product)
        return LineInput(
            product_id=self._product_id(product.sku),
            sku=product.sku,
            name=product.name,
            quantity=quantity,
            price=cents(product.price / rate),
            tax_rule=rule,
            tax_percent=self.store.tax_percents().get(rule, Decimal(0)),
            account=account,
        )

    def _pay_sale(self, sale_id: str, options: JsonObject) -> ActionResult:
        sale = self._sale(sale_id)
        balance = sale_balance(sale)
        amount = self._amount(options, balance)
        now = self._now()
        currency = sale.get("CustomerCurrency", "EUR")
        payment = payment_line(
            _new_id(),
            amount,
            now.date(),
            BANK_USD if currency == "USD" else BANK_EUR,
            to_decimal(sale.get("CurrencyRate", 1)),
            now,
            "Zahlung (Simulator)",
        )
        add_sale_payment(sale, payment, now)
        full = sale_balance(sale) <= 0
        invoice_number = sale["Invoices"][0]["InvoiceNumber"]
        return ActionResult(
            {
                "SaleID": sale["ID"],
                "PaymentID": payment["ID"],
                "Amount": payment["Amount"],
                "Balance": sale_balance(sale),
            },
            "Sale/FullPaymentReceived" if full else "Sale/PartialPaymentReceived",
            {"SaleID": sale["ID"], "DocumentNumber": invoice_number},
        )

    def _credit_sale(self, sale_id: str, options: JsonObject) -> ActionResult:
        sale = self._sale(sale_id)
        share = self._decimal(options.get("Share", 1), "Share")
        if not Decimal(0) < share <= Decimal(1):
            raise ActionError(400, "Share must be above 0 and at most 1")
        now = self._now()
        number = next_number("CR-", self.store.sale_numbers("CreditNoteNumber"))
        attachment_id = _new_id()
        credit_note = add_sale_credit_note(
            sale,
            task_id=_new_id(),
            number=number,
            credit_date=now.date(),
            quantity_share=share,
            tax_percents=self.store.tax_percents(),
            modified_at=now,
            attachment_id=attachment_id,
        )
        self._attach_sale_pdf(sale, credit_note, attachment_id)
        order_number = sale["Order"]["SaleOrderNumber"]
        return ActionResult(
            {"SaleID": sale["ID"], "TaskID": credit_note["TaskID"], "CreditNoteNumber": number},
            "Sale/CreditNoteAuthorised",
            {"SaleID": sale["ID"], "SaleOrderNumber": order_number},
        )

    def _void_sale(self, sale_id: str, _: JsonObject) -> ActionResult:
        sale = self._sale(sale_id)
        if any(invoice.get("Payments") for invoice in sale.get("Invoices") or []):
            raise ActionError(400, "the sale has payments; Cin7 voids a sale only after they are removed")
        void_sale(sale, self._now())
        order_number = sale["Order"]["SaleOrderNumber"]
        return ActionResult(
            {"SaleID": sale["ID"], "Status": sale["Status"]},
            "Sale/Voided",
            {"SaleID": sale["ID"], "SaleOrderNumber": order_number},
        )

    def _attach_sale_pdf(self, sale: JsonObject, document: JsonObject, attachment_id: str) -> None:
        entry = next(a for a in sale["Attachments"] if a["ID"] == attachment_id)
        customer = next((c for c in self.store.data.customers if c.get("ID") == sale.get("CustomerID")), {})
        pdf = sale_document_pdf(
            str(self.store.data.me.get("Company", "")), sale, document, str(customer.get("TaxNumber") or "")
        )
        self.store.data.attachments.setdefault(sale["ID"], {})[entry["FileName"]] = pdf

    # --- purchases ---

    def _authorise_purchase(self, _: str, options: JsonObject) -> ActionResult:
        supplier = Party(self._party(self.store.data.suppliers, options.get("SupplierID"), "supplier"))
        key = next((spec.key for spec in SUPPLIERS if spec.name == supplier.name), None)
        defaults = tuple((p.sku, 20) for p in PRODUCTS.values() if p.supplier == key and not p.service) or (
            ("KAF-ESP-1000", 20),
        )
        now = self._now()
        lines = tuple(
            self._purchase_line(supplier, product, quantity) for product, quantity in self._items(options, defaults)
        )
        number = str(options.get("InvoiceNumber") or f"RE-{now:%Y%m%d-%H%M%S}")
        purchase_id = _new_id()
        invoice = PurchaseInvoiceInput(
            purchase_id, number, now.date(), lines, (), _new_id(), f"Rechnung {number.replace('/', '-')}.pdf"
        )
        order_number = next_number("PO-", [p.get("OrderNumber") for p in self.store.data.purchases.values()])
        spec = PurchaseInput(
            purchase_id=purchase_id,
            order_number=order_number,
            supplier=supplier,
            location=self.store.data.locations[0],
            due_days=payment_terms_days(supplier.record),
            currency_rate=TYPICAL_RATES.get(supplier.currency, Decimal(1)),
            invoices=(invoice,),
            modified_at=now,
        )
        purchase = new_purchase(spec)
        self.store.data.purchases[purchase_id] = purchase
        self.store.data.purchase_payments[purchase_id] = []
        pdf = purchase_invoice_pdf(
            str(self.store.data.me.get("Company", "")), purchase, purchase["Invoice"], supplier.record
        )
        self.store.data.attachments.setdefault(purchase_id, {})[invoice.attachment_name] = pdf
        return ActionResult(
            {"PurchaseID": purchase_id, "TaskID": purchase_id, "InvoiceNumber": number, "OrderNumber": order_number},
            "Purchase/InvoiceAuthorised",
            {"TaskID": purchase_id, "InvoiceNumber": number},
        )

    def _purchase_line(self, supplier: Party, product: Product, quantity: Decimal) -> LineInput:
        rule, account = purchase_tax(supplier.record, product)
        return LineInput(
            product_id=self._product_id(product.sku),
            sku=product.sku,
            name=product.name,
            quantity=quantity,
            price=product.cost,
            tax_rule=rule,
            tax_percent=self.store.tax_percents().get(rule, Decimal(0)),
            account=account,
        )

    def _pay_purchase(self, purchase_id: str, options: JsonObject) -> ActionResult:
        purchase = self.store.purchase(purchase_id)
        if purchase is None:
            raise ActionError(404, f"no purchase with ID {purchase_id}")
        invoice = next(
            (
                i
                for i in purchase_invoices(purchase)
                if i.get("Status") == "AUTHORISED" and purchase_invoice_balance(i) > 0
            ),
            None,
        )
        if invoice is None:
            raise ActionError(400, f"purchase {purchase_id} has no open invoice")
        amount = self._amount(options, purchase_invoice_balance(invoice))
        now = self._now()
        currency = purchase.get("SupplierCurrency", "EUR")
        payment = payment_line(
            _new_id(),
            amount,
            now.date(),
            BANK_USD if currency == "USD" else BANK_EUR,
            to_decimal(purchase.get("CurrencyRate", 1)),
            now,
            "Zahlung (Simulator)",
        )
        payments = self.store.data.purchase_payments.setdefault(purchase["ID"], [])
        add_purchase_payment(purchase, payments, invoice, payment, now)
        return ActionResult(
            {"PurchaseID": purchase["ID"], "PaymentID": payment["ID"], "Amount": payment["Amount"]}, None, {}
        )

    # --- shared ---

    @staticmethod
    def _party(records: list[JsonObject], wanted: Any, kind: str) -> JsonObject:
        active = [r for r in records if str(r.get("Status", "Active")).lower() != "deprecated"]
        if wanted is None:
            if not active:
                raise ActionError(400, f"the data has no active {kind}")
            return active[0]
        found = next((r for r in records if str(r.get("ID", "")).lower() == str(wanted).lower()), None)
        if found is None:
            raise ActionError(400, f"no {kind} with ID {wanted}")
        return found

    def _items(self, options: JsonObject, defaults: tuple[tuple[str, int], ...]) -> list[tuple[Product, Decimal]]:
        requested = options.get("Lines")
        if requested is None:
            return [(PRODUCTS[sku], Decimal(quantity)) for sku, quantity in defaults]
        if not isinstance(requested, list) or not requested:
            raise ActionError(400, "Lines must be a non-empty list of {SKU, Quantity}")
        items = []
        for line in requested:
            if not isinstance(line, dict) or line.get("SKU") not in PRODUCTS:
                raise ActionError(400, f"unknown SKU in {line!r}; known: {sorted(PRODUCTS)}")
            quantity = self._decimal(line.get("Quantity", 1), "Quantity")
            if quantity <= 0:
                raise ActionError(400, "Quantity must be positive")
            items.append((PRODUCTS[line["SKU"]], quantity))
        return items

    def _product_id(self, sku: str) -> str:
        """The ProductID the data already uses for this SKU, so new documents match old ones."""
        for document in [*self.store.data.sales.values(), *self.store.data.purchases.values()]:
            for task in [*(document.get("Invoices") or []), *purchase_invoices(document)]:
                for line in task.get("Lines") or []:
                    if line.get("SKU") == sku and line.get("ProductID"):
                        return str(line["ProductID"])
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"cin7-sim-product:{sku}"))

    @staticmethod
    def _decimal(value: Any, name: str) -> Decimal:
        try:
            return to_decimal(value)
        except (ValueError, InvalidOperation) as exc:
            raise ActionError(400, f"{name} must be a number") from exc

    def _amount(self, options: JsonObject, balance: Decimal) -> Decimal:
        if balance <= 0:
            raise ActionError(400, "nothing is open to pay")
        amount = cents(self._decimal(options.get("Amount", balance), "Amount"))
        if not Decimal(0) < amount <= balance:
            raise ActionError(400, f"Amount must be above 0 and at most the open balance {balance}")
        return amount
