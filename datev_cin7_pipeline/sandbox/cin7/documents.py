"""Build and change Cin7 sale and purchase documents as `GET /sale` and `GET /purchase` return them.

Used by the demo generator for a year of history and by the admin API for live events, so a document
authorised, paid, credited or voided at run time looks exactly like one from the demo data. Amounts are
Decimal throughout; every change recomputes the status fields (`Status`, `CombinedInvoiceStatus`,
`CombinedPaymentStatus`, invoice `Status`/`Paid`) from the facts, the way Cin7 shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from datev_cin7_pipeline.sandbox.cin7.dates import format_document_date, format_timestamp
from datev_cin7_pipeline.sandbox.cin7.jsonio import JsonObject
from datev_cin7_pipeline.sandbox.cin7.money import cents, document_totals, line_amounts, to_decimal

DOWNLOAD_BASE = "https://inventory.dearsystems.com/Attachment/Download"
PRODUCT_INFO_FIELDS = (
    *(f"ProductCustomField{number}" for number in range(1, 11)),
    "ProductHeight",
    "ProductLength",
    "ProductWeight",
    "ProductWidth",
    "DimensionsUnits",
    "WeightUnits",
)


@dataclass(frozen=True)
class Party:
    """The customer or supplier record a document is for, as `GET /customer` / `GET /supplier` return it."""

    record: JsonObject

    @property
    def id(self) -> str:
        return str(self.record["ID"])

    @property
    def name(self) -> str:
        return str(self.record["Name"])

    @property
    def currency(self) -> str:
        return str(self.record["Currency"])

    def address(self, kind: str = "Billing") -> JsonObject:
        """The default address of that type (falling back to the first one), in the sale header shape."""
        addresses = self.record.get("Addresses") or []
        chosen = next((a for a in addresses if a.get("Type") == kind), addresses[0] if addresses else {})
        return _header_address(chosen)

    def contact(self) -> JsonObject:
        contacts = self.record.get("Contacts") or [{}]
        return dict(contacts[0])


def _header_address(address: JsonObject) -> JsonObject:
    line1 = " ".join(part for part in (address.get("Line1"), address.get("Line2")) if part)
    line2 = " ".join(
        part
        for part in (address.get("City"), address.get("State"), address.get("Postcode"), address.get("Country"))
        if part
    )
    return {
        "DisplayAddressLine1": line1,
        "DisplayAddressLine2": line2,
        "Line1": address.get("Line1"),
        "Line2": address.get("Line2") or "",
        "City": address.get("City"),
        "State": address.get("State") or "",
        "Postcode": address.get("Postcode"),
        "Country": address.get("Country"),
    }


@dataclass(frozen=True)
class LineInput:
    """One line to price: what is sold or bought, and the tax decision already taken for it."""

    product_id: str
    sku: str
    name: str
    quantity: Decimal
    price: Decimal
    tax_rule: str
    tax_percent: Decimal
    account: str
    discount: Decimal = Decimal(0)
    average_cost: Decimal | None = None


@dataclass(frozen=True)
class ChargeInput:
    """An additional charge (freight, fees): no product, otherwise priced like a line."""

    description: str
    price: Decimal
    tax_rule: str
    tax_percent: Decimal
    account: str
    quantity: Decimal = Decimal(1)
    reference: str = ""


def product_info() -> JsonObject:
    """The product fields `GET /sale` and `GET /purchase` put on every line (empty for the demo catalogue)."""
    info: JsonObject = {f"ProductCustomField{number}": None for number in range(1, 11)}
    info.update(
        ProductHeight=0, ProductLength=0, ProductWeight=0, ProductWidth=0, DimensionsUnits="cm", WeightUnits="kg"
    )
    return info


def priced_line(line: LineInput, inclusive: bool, *, sale: bool) -> JsonObject:
    """A document line with Total and Tax computed; sale lines also carry AverageCost."""
    total, tax = line_amounts(line.quantity, line.price, line.discount, line.tax_percent, inclusive)
    priced: JsonObject = {
        "ProductID": line.product_id,
        "SKU": line.sku,
        "Name": line.name,
        "Quantity": line.quantity,
        "Price": line.price,
        "Discount": line.discount,
        "Tax": tax,
        "Total": total,
        "TaxRule": line.tax_rule,
        "Account": line.account,
        "Comment": "",
    }
    if sale:
        priced["AverageCost"] = line.average_cost if line.average_cost is not None else Decimal(0)
    priced.update(product_info())
    return priced


def priced_charge(charge: ChargeInput, inclusive: bool, *, sale: bool) -> JsonObject:
    total, tax = line_amounts(charge.quantity, charge.price, Decimal(0), charge.tax_percent, inclusive)
    priced: JsonObject = {
        "Description": charge.description,
        "Quantity": charge.quantity,
        "Price": charge.price,
        "Discount": Decimal(0),
        "Tax": tax,
        "Total": total,
        "TaxRule": charge.tax_rule,
        "Account": charge.account,
    }
    priced.update({"Comment": ""} if sale else {"Reference": charge.reference})
    return priced


def _totals(lines: list[JsonObject], charges: list[JsonObject], inclusive: bool) -> JsonObject:
    before_tax, tax, total = document_totals(lines + charges, inclusive)
    return {"TotalBeforeTax": before_tax, "Tax": tax, "Total": total}


def attachment_entry(attachment_id: str, file_name: str) -> JsonObject:
    """An `Attachments[]` entry for a PDF; the simulator rewrites DownloadUrl to its own host when serving."""
    return {
        "ID": attachment_id,
        "ContentType": "application/pdf",
        "FileName": file_name,
        "DownloadUrl": f"{DOWNLOAD_BASE}?ID={attachment_id}&ContentType=application/pdf&FileName={file_name}",
    }


def _additional_attributes() -> JsonObject:
    return {f"AdditionalAttribute{number}": "" for number in range(1, 11)}


# --- sales ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SaleInput:
    """Everything a new, invoiced simple sale needs; ids and numbers are chosen by the caller."""

    sale_id: str
    order_number: str
    invoice_task_id: str
    invoice_number: str
    fulfilment_task_id: str
    attachment_id: str
    customer: Party
    location: JsonObject
    invoice_date: date
    due_days: int
    currency_rate: Decimal
    inclusive: bool
    lines: tuple[LineInput, ...]
    charges: tuple[ChargeInput, ...]
    modified_at: datetime
    customer_reference: str = ""


def new_sale(spec: SaleInput) -> JsonObject:
    """A simple sale whose order, fulfilment and invoice are authorised, with the invoice PDF listed."""
    lines = [priced_line(line, spec.inclusive, sale=True) for line in spec.lines]
    charges = [priced_charge(charge, spec.inclusive, sale=True) for charge in spec.charges]
    billing = spec.customer.address("Billing")
    shipping = {
        **spec.customer.address("Shipping"),
        "Company": spec.customer.name,
        "Contact": spec.customer.contact().get("Name"),
        "ShipToOther": False,
    }
    order_date = spec.invoice_date - timedelta(days=2)
    totals = _totals(lines, charges, spec.inclusive)
    invoice: JsonObject = {
        "TaskID": spec.invoice_task_id,
        "InvoiceNumber": spec.invoice_number,
        "Memo": "",
        "Status": "AUTHORISED",
        "InvoiceDate": format_document_date(spec.invoice_date),
        "InvoiceDueDate": format_document_date(spec.invoice_date + timedelta(days=spec.due_days)),
        "CurrencyConversionRate": spec.currency_rate,
        "BillingAddressLine1": billing["DisplayAddressLine1"],
        "BillingAddressLine2": billing["DisplayAddressLine2"],
        "LinkedFulfillmentNumber": "1",
        "Lines": lines,
        "AdditionalCharges": charges,
        "Payments": [],
        **totals,
        "Paid": Decimal(0),
    }
    order_lines = [{key: value for key, value in line.items() if key != "Account"} for line in lines]
    order_charges = [{key: value for key, value in charge.items() if key != "Account"} for charge in charges]
    contact = spec.customer.contact()
    sale: JsonObject = {
        "ID": spec.sale_id,
        "Customer": spec.customer.name,
        "CustomerID": spec.customer.id,
        "Contact": contact.get("Name"),
        "Phone": contact.get("Phone"),
        "Email": contact.get("Email"),
        "DefaultAccount": spec.customer.record.get("RevenueAccount"),
        "SkipQuote": True,
        "BillingAddress": billing,
        "ShippingAddress": shipping,
        "ShippingNotes": "",
        "BaseCurrency": "EUR",
        "CustomerCurrency": spec.customer.currency,
        "TaxRule": spec.customer.record.get("TaxRule"),
        "TaxCalculation": "Inclusive" if spec.inclusive else "Exclusive",
        "Terms": spec.customer.record.get("PaymentTerm"),
        "PriceTier": spec.customer.record.get("PriceTier"),
        "ShipBy": format_document_date(order_date + timedelta(days=1)),
        "Location": spec.location["Name"],
        "SaleOrderDate": format_document_date(order_date),
        "LastModifiedOn": format_timestamp(spec.modified_at),
        "Note": "",
        "CustomerReference": spec.customer_reference,
        "COGSAmount": Decimal(0),
        "Status": "INVOICED",
        "CombinedPickingStatus": "PICKED",
        "CombinedPackingStatus": "PACKED",
        "CombinedShippingStatus": "SHIPPED",
        "FulFilmentStatus": "FULFILLED",
        "CombinedInvoiceStatus": "INVOICED",
        "CombinedPaymentStatus": "UNPAID",
        "CombinedTrackingNumbers": "",
        "Carrier": "DHL Freight",
        "CurrencyRate": spec.currency_rate,
        "SalesRepresentative": spec.customer.record.get("SalesRepresentative"),
        "Type": "Simple Sale",
        "SourceChannel": None,
        "ExternalID": None,
        "ServiceOnly": False,
        "AdditionalAttributes": _additional_attributes(),
        "Attachments": [attachment_entry(spec.attachment_id, f"{spec.invoice_number}.pdf")],
        "Quote": {
            "Memo": "",
            "Status": "NOT AVAILABLE",
            "Prepayments": [],
            "Lines": [],
            "AdditionalCharges": [],
            "TotalBeforeTax": Decimal(0),
            "Tax": Decimal(0),
            "Total": Decimal(0),
        },
        "Order": {
            "SaleOrderNumber": spec.order_number,
            "Memo": "",
            "Status": "AUTHORISED",
            "Lines": order_lines,
            "AdditionalCharges": order_charges,
            **totals,
        },
        "Fulfilments": [_fulfilment(spec, lines, shipping, order_date)],
        "Invoices": [invoice],
        "CreditNotes": [],
        "ManualJournals": {"Status": "NOT AVAILABLE", "Lines": []},
        "InventoryMovements": [],
    }
    return sale


def _fulfilment(spec: SaleInput, lines: list[JsonObject], shipping: JsonObject, order_date: date) -> JsonObject:
    pick_lines = [
        {
            "ProductID": line["ProductID"],
            "SKU": line["SKU"],
            "Name": line["Name"],
            "Location": spec.location["Name"],
            "LocationID": spec.location["ID"],
            "Quantity": line["Quantity"],
            "BatchSN": None,
            "ExpiryDate": None,
        }
        for line in lines
    ]
    pack_lines = [{**line, "Box": "Box 1"} for line in pick_lines]
    ship_date = format_document_date(order_date + timedelta(days=1))
    return {
        "TaskID": spec.fulfilment_task_id,
        "FulfillmentNumber": 1,
        "LinkedInvoiceNumber": spec.invoice_number,
        "FulFilmentStatus": "FULFILLED",
        "Pick": {"Status": "AUTHORISED", "Lines": pick_lines},
        "Pack": {"Status": "AUTHORISED", "Lines": pack_lines},
        "Ship": {
            "Status": "AUTHORISED",
            "RequireBy": None,
            "ShippingAddress": shipping,
            "ShippingNotes": "",
            "Lines": [
                {
                    "ID": spec.fulfilment_task_id,
                    "ShipmentDate": ship_date,
                    "Carrier": "DHL Freight",
                    "Boxes": "Box 1",
                    "TrackingNumber": "",
                    "TrackingURL": "",
                    "IsShipped": True,
                }
            ],
        },
    }


def payment_line(
    payment_id: str, amount: Decimal, paid_on: date, account: str, rate: Decimal, created_at: datetime, reference: str
) -> JsonObject:
    """A Sale/Purchase Payment Line as it appears inside an invoice's `Payments` or a credit note's `Refunds`."""
    return {
        "ID": payment_id,
        "Reference": reference,
        "Amount": cents(amount),
        "DatePaid": format_document_date(paid_on),
        "Account": account,
        "CurrencyRate": rate,
        "DateCreated": format_timestamp(created_at),
    }


def add_sale_payment(sale: JsonObject, payment: JsonObject, modified_at: datetime) -> None:
    """Record a customer payment against the sale's (first authorised) invoice."""
    invoice = sale["Invoices"][0]
    invoice["Payments"].append(payment)
    refresh_sale(sale, modified_at)


def add_sale_credit_note(
    sale: JsonObject,
    *,
    task_id: str,
    number: str,
    credit_date: date,
    quantity_share: Decimal,
    tax_percents: dict[str, Decimal],
    modified_at: datetime,
    refund: JsonObject | None = None,
    attachment_id: str | None = None,
) -> JsonObject:
    """Credit a share of every invoice line (goods returned), optionally refunding it; returns the credit note.

    `tax_percents` maps tax rule names to their rate, so the credited lines are taxed like the invoice.
    """
    invoice = sale["Invoices"][0]
    inclusive = sale.get("TaxCalculation") == "Inclusive"
    lines = [
        _credited_line(line, quantity_share, tax_percents[line["TaxRule"]], inclusive) for line in invoice["Lines"]
    ]
    lines = [line for line in lines if line["Quantity"] > 0]
    credit_note: JsonObject = {
        "TaskID": task_id,
        "CreditNoteInvoiceNumber": invoice["InvoiceNumber"],
        "CreditNoteNumber": number,
        "CreditNoteDate": format_document_date(credit_date),
        "CreditNoteConversionRate": invoice["CurrencyConversionRate"],
        "Memo": "Retoure",
        "Status": "AUTHORISED",
        "Lines": lines,
        "AdditionalCharges": [],
        "Refunds": [refund] if refund else [],
        "Restock": [],
        **_totals(lines, [], inclusive),
    }
    sale["CreditNotes"].append(credit_note)
    if attachment_id is not None:
        sale["Attachments"].append(attachment_entry(attachment_id, f"{number}.pdf"))
    refresh_sale(sale, modified_at)
    return credit_note


def _credited_line(line: JsonObject, share: Decimal, percent: Decimal, inclusive: bool) -> JsonObject:
    quantity = (to_decimal(line["Quantity"]) * share).to_integral_value()
    total, tax = line_amounts(quantity, to_decimal(line["Price"]), to_decimal(line["Discount"]), percent, inclusive)
    return {**line, "Quantity": quantity, "Total": total, "Tax": tax}


def void_sale(sale: JsonObject, modified_at: datetime) -> None:
    """Void the whole sale (Cin7 refuses while payments exist; the caller checks)."""
    for invoice in sale["Invoices"]:
        invoice["Status"] = "VOIDED"
    for credit_note in sale["CreditNotes"]:
        credit_note["Status"] = "VOIDED"
    sale["Order"]["Status"] = "VOIDED"
    sale["Status"] = "VOIDED"
    refresh_sale(sale, modified_at)


def sale_balance(sale: JsonObject) -> Decimal:
    """What the customer still owes on the sale's authorised invoices."""
    invoiced = sum((to_decimal(i["Total"]) for i in sale["Invoices"] if i["Status"] != "VOIDED"), Decimal(0))
    credited = sum((to_decimal(c["Total"]) for c in sale["CreditNotes"] if c["Status"] == "AUTHORISED"), Decimal(0))
    paid = sum((to_decimal(p["Amount"]) for i in sale["Invoices"] for p in i["Payments"]), Decimal(0))
    refunded = sum((to_decimal(r["Amount"]) for c in sale["CreditNotes"] for r in c.get("Refunds", [])), Decimal(0))
    return invoiced - credited - paid + refunded


def refresh_sale(sale: JsonObject, modified_at: datetime) -> None:
    """Recompute the status fields from invoices, credit notes and payments, and bump LastModifiedOn."""
    credited = any(c["Status"] == "AUTHORISED" for c in sale["CreditNotes"])
    for invoice in sale["Invoices"]:
        invoice["Paid"] = cents(sum((to_decimal(p["Amount"]) for p in invoice["Payments"]), Decimal(0)))
        if invoice["Status"] in ("AUTHORISED", "PAID"):
            invoice["Status"] = "PAID" if sale_balance(sale) <= 0 else "AUTHORISED"
    paid_any = any(invoice["Payments"] for invoice in sale["Invoices"])
    if sale["Status"] == "VOIDED":
        sale.update(CombinedInvoiceStatus="VOIDED", CombinedPaymentStatus="VOIDED")
    else:
        sale["CombinedInvoiceStatus"] = "INVOICED / CREDITED" if credited else "INVOICED"
        sale["CombinedPaymentStatus"] = _payment_status(sale_balance(sale), paid_any)
        settled = sale["CombinedPaymentStatus"] == "PAID"
        sale["Status"] = "CREDITED" if credited else "COMPLETED" if settled else "INVOICED"
    sale["LastModifiedOn"] = format_timestamp(modified_at)


def _payment_status(balance: Decimal, paid_any: bool) -> str:
    if balance <= 0:
        return "PAID"
    return "PARTIALLY PAID" if paid_any else "UNPAID"


# --- purchases -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurchaseInvoiceInput:
    """One supplier invoice of a purchase (a simple purchase has exactly one)."""

    task_id: str
    supplier_invoice_number: str
    invoice_date: date
    lines: tuple[LineInput, ...]
    charges: tuple[ChargeInput, ...]
    attachment_id: str
    attachment_name: str


@dataclass(frozen=True)
class PurchaseInput:
    """Everything a new purchase needs; several invoices make it an advanced purchase."""

    purchase_id: str
    order_number: str
    supplier: Party
    location: JsonObject
    due_days: int
    currency_rate: Decimal
    invoices: tuple[PurchaseInvoiceInput, ...]
    modified_at: datetime
    service_only: bool = False
    inventory_account: str = "3980"


def new_purchase(spec: PurchaseInput) -> JsonObject:
    """An authorised purchase: simple (one invoice object) or advanced (a list of invoices), PDFs listed."""
    advanced = len(spec.invoices) > 1
    invoices = [_purchase_invoice(spec, invoice, number + 1, advanced) for number, invoice in enumerate(spec.invoices)]
    all_lines = [line for invoice in invoices for line in invoice["Lines"]]
    all_charges = [charge for invoice in invoices for charge in invoice["AdditionalCharges"]]
    order_date = spec.invoices[0].invoice_date - timedelta(days=7)
    contact = spec.supplier.contact()
    location_address = {
        "DisplayAddressLine1": spec.location["AddressLine1"],
        "DisplayAddressLine2": f"{spec.location['AddressCitySuburb']} {spec.location['AddressZipPostCode']} Germany",
        "Line1": spec.location["AddressLine1"],
        "Line2": "",
        "City": spec.location["AddressCitySuburb"],
        "State": "",
        "Postcode": spec.location["AddressZipPostCode"],
        "Country": "Germany",
        "ShipToOther": False,
    }
    received = (
        []
        if spec.service_only
        else [
            {
                "ProductID": line["ProductID"],
                "SKU": line["SKU"],
                "Name": line["Name"],
                "Quantity": line["Quantity"],
                "Location": spec.location["Name"],
                "LocationID": spec.location["ID"],
                "Received": True,
                "Date": invoice["InvoiceDate"],
                "BatchSN": None,
                "ExpiryDate": None,
            }
            for invoice in invoices
            for line in invoice["Lines"]
        ]
    )
    receiving_status = "NOT AVAILABLE" if spec.service_only else "AUTHORISED"
    purchase: JsonObject = {
        "ID": spec.purchase_id,
        "Supplier": spec.supplier.name,
        "SupplierID": spec.supplier.id,
        "Contact": contact.get("Name"),
        "Phone": contact.get("Phone"),
        "BillingAddress": spec.supplier.address("Billing"),
        "ShippingAddress": location_address,
        "Location": spec.location["Name"],
        "InventoryAccount": spec.inventory_account,
        "BaseCurrency": "EUR",
        "SupplierCurrency": spec.supplier.currency,
        "CurrencyRate": spec.currency_rate,
        "TaxRule": spec.supplier.record.get("TaxRule"),
        "TaxCalculation": "Exclusive",
        "Terms": spec.supplier.record.get("PaymentTerm"),
        "OrderNumber": spec.order_number,
        "OrderDate": format_document_date(order_date),
        "RequiredBy": None,
        "Status": "INVOICED",
        "Approach": "STOCK" if advanced else "INVOICE",
        "BlindReceipt": False,
        "Note": "",
        "Type": "Advanced Purchase" if advanced else "Service Purchase" if spec.service_only else "Simple Purchase",
        "IsServiceOnly": spec.service_only,
        "RelatedDropShipSaleTask": None,
        "CombinedInvoiceStatus": "INVOICED",
        "CombinedPaymentStatus": "UNPAID",
        "CombinedReceivingStatus": "NOT AVAILABLE" if spec.service_only else "FULLY RECEIVED",
        "AdditionalAttributes": _additional_attributes(),
        "Attachments": [attachment_entry(i.attachment_id, i.attachment_name) for i in spec.invoices],
        "Order": {
            "Memo": "",
            "Status": "AUTHORISED",
            "Prepayments": [],
            "Lines": [
                {key: v for key, v in line.items() if key != "Account"} | {"SupplierSKU": ""} for line in all_lines
            ],
            "AdditionalCharges": [{key: v for key, v in c.items() if key != "Account"} for c in all_charges],
            **_totals(all_lines, all_charges, False),
        },
        "LastUpdatedDate": format_timestamp(spec.modified_at),
        "InventoryMovements": [],
    }
    if advanced:
        purchase.update(
            Invoice=invoices,
            StockReceived=[
                {
                    "TaskID": i["TaskID"],
                    "InvoicingAndReceivingNumber": n + 1,
                    "Status": receiving_status,
                    "Lines": [r for r in received if r["Date"] == i["InvoiceDate"]],
                }
                for n, i in enumerate(invoices)
            ],
            PutAway=[],
            CreditNote=[],
            ManualJournals=[],
        )
    else:
        purchase.update(
            Invoice=invoices[0],
            StockReceived={"Status": receiving_status, "Lines": received},
            CreditNote={
                "Status": "NOT AVAILABLE",
                "Lines": [],
                "AdditionalCharges": [],
                "Refunds": [],
                "Unstock": {"Status": "NOT AVAILABLE", "Lines": []},
            },
            ManualJournals={"Status": "NOT AVAILABLE", "Lines": []},
        )
    return purchase


def _purchase_invoice(spec: PurchaseInput, invoice: PurchaseInvoiceInput, number: int, advanced: bool) -> JsonObject:
    lines = [priced_line(line, False, sale=False) for line in invoice.lines]
    charges = [priced_charge(charge, False, sale=False) for charge in invoice.charges]
    priced: JsonObject = {
        "InvoiceNumber": invoice.supplier_invoice_number,
        "InvoiceDate": format_document_date(invoice.invoice_date),
        "InvoiceDueDate": format_document_date(invoice.invoice_date + timedelta(days=spec.due_days)),
        "Status": "AUTHORISED",
        "Lines": lines,
        "AdditionalCharges": charges,
        "Payments": [],
        "Paid": Decimal(0),
        **_totals(lines, charges, False),
    }
    if advanced:
        priced = {"TaskID": invoice.task_id, "InvoicingAndReceivingNumber": number, **priced}
    return priced


def purchase_invoices(purchase: JsonObject) -> list[JsonObject]:
    """The purchase's invoices as a list, whether it is simple (one object) or advanced."""
    invoice = purchase.get("Invoice")
    if isinstance(invoice, list):
        return invoice
    return [invoice] if isinstance(invoice, dict) else []


def purchase_invoice_task_id(purchase: JsonObject, invoice: JsonObject) -> str:
    """A simple purchase's invoice task is the purchase itself (FACTS.md §4)."""
    return str(invoice.get("TaskID") or purchase["ID"])


def purchase_payment_row(purchase: JsonObject, invoice: JsonObject, payment: JsonObject) -> JsonObject:
    """The `GET /purchase/payment` row for a payment line (advanced purchases add PurchaseID)."""
    row: JsonObject = {
        "ID": payment["ID"],
        "TaskID": purchase_invoice_task_id(purchase, invoice),
        "Type": "Payment",
        "Reference": payment["Reference"],
        "Amount": payment["Amount"],
        "DatePaid": payment["DatePaid"],
        "Account": payment["Account"],
        "CurrencyRate": payment["CurrencyRate"],
        "DateCreated": payment["DateCreated"],
        "DepositID": None,
    }
    if isinstance(purchase.get("Invoice"), list):
        row["PurchaseID"] = purchase["ID"]
    return row


def add_purchase_payment(
    purchase: JsonObject, payments: list[JsonObject], invoice: JsonObject, payment: JsonObject, modified_at: datetime
) -> None:
    """Pay (part of) one supplier invoice: the invoice's Payments and the purchase payment list both record it."""
    invoice["Payments"].append(payment)
    payments.append(purchase_payment_row(purchase, invoice, payment))
    refresh_purchase(purchase, modified_at)


def purchase_invoice_balance(invoice: JsonObject) -> Decimal:
    paid = sum((to_decimal(p["Amount"]) for p in invoice["Payments"]), Decimal(0))
    return to_decimal(invoice["Total"]) - paid


def refresh_purchase(purchase: JsonObject, modified_at: datetime) -> None:
    """Recompute invoice Paid/Status and the purchase's combined statuses; bump LastUpdatedDate."""
    invoices = purchase_invoices(purchase)
    for invoice in invoices:
        invoice["Paid"] = cents(sum((to_decimal(p["Amount"]) for p in invoice["Payments"]), Decimal(0)))
        if invoice["Status"] in ("AUTHORISED", "PAID"):
            invoice["Status"] = "PAID" if purchase_invoice_balance(invoice) <= 0 else "AUTHORISED"
    balance = sum((purchase_invoice_balance(i) for i in invoices), Decimal(0))
    paid_any = any(invoice["Payments"] for invoice in invoices)
    purchase["CombinedPaymentStatus"] = _payment_status(balance, paid_any)
    purchase["Status"] = "COMPLETED" if purchase["CombinedPaymentStatus"] == "PAID" else "INVOICED"
    purchase["LastUpdatedDate"] = format_timestamp(modified_at)


def strip_product_info(line: JsonObject) -> JsonObject:
    """A line without the product fields, as the invoice endpoints return it unless IncludeProductInfo."""
    return {key: value for key, value in line.items() if key not in PRODUCT_INFO_FIELDS}
