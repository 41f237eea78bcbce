"""Everything the API serves that is derived from the stored documents rather than stored itself.

The data folder holds whole sales and purchases; Cin7 also answers with list rows (`saleList`,
`purchaseList`) and per-task views (`sale/invoice`, `purchase/payment`, …). Deriving them from the one
stored document keeps them consistent with it by construction, whatever the folder came from.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

from datev_cin7_pipeline.sandbox.cin7.documents import (
    purchase_invoice_task_id,
    purchase_invoices,
    strip_product_info,
)
from datev_cin7_pipeline.sandbox.cin7.jsonio import JsonObject
from datev_cin7_pipeline.sandbox.cin7.money import to_decimal


def _first(items: Any) -> JsonObject:
    return items[0] if isinstance(items, list) and items and isinstance(items[0], dict) else {}


def _sum(values: list[Any]) -> Decimal:
    return sum((to_decimal(value) for value in values if value is not None), Decimal(0))


def _invoice_number(invoice: JsonObject) -> Any:
    """The invoice number; the documented simple-purchase example spells the key `InvocieNumber`."""
    return invoice.get("InvoiceNumber", invoice.get("InvocieNumber"))


# --- attachments ---------------------------------------------------------------------------------


def download_url(root_url: str, attachment: JsonObject) -> str:
    """Where the simulator serves an attachment: `<root>/Attachment/Download?ID=…&ContentType=…&FileName=…`."""
    query = urlencode(
        {
            "ID": attachment["ID"],
            "ContentType": attachment.get("ContentType") or "application/octet-stream",
            "FileName": attachment["FileName"],
        },
        quote_via=quote,
        safe="/",
    )
    return f"{root_url.rstrip('/')}/Attachment/Download?{query}"


def served_attachments(entries: list[JsonObject], files: dict[str, bytes], root_url: str) -> list[JsonObject]:
    """Attachment lines whose bytes the simulator holds point at the simulator; others are left as stored."""
    return [
        {**entry, "DownloadUrl": download_url(root_url, entry)} if entry.get("FileName") in files else entry
        for entry in entries
    ]


def served_document(document: JsonObject, files: dict[str, bytes], root_url: str) -> JsonObject:
    if "Attachments" not in document:
        return document
    return {**document, "Attachments": served_attachments(document["Attachments"], files, root_url)}


# --- sales ---------------------------------------------------------------------------------------


def sale_list_row(sale: JsonObject, location_ids: dict[str, str]) -> JsonObject:
    """The `saleList` row of a stored sale, with the fields of the documented example."""
    invoices = sale.get("Invoices") or []
    live_invoices = [invoice for invoice in invoices if invoice.get("Status") != "VOIDED"]
    first_invoice = _first(invoices)
    first_credit = _first(sale.get("CreditNotes"))
    return {
        "SaleID": sale["ID"],
        "OrderNumber": (sale.get("Order") or {}).get("SaleOrderNumber"),
        "Status": sale.get("Status"),
        "OrderDate": sale.get("SaleOrderDate"),
        "Customer": sale.get("Customer"),
        "CustomerID": sale.get("CustomerID"),
        "CustomerReference": sale.get("CustomerReference"),
        "InvoiceNumber": first_invoice.get("InvoiceNumber"),
        "InvoiceDate": first_invoice.get("InvoiceDate"),
        "InvoiceDueDate": first_invoice.get("InvoiceDueDate"),
        "InvoiceAmount": _sum([invoice.get("Total") for invoice in live_invoices]),
        "PaidAmount": _sum(
            [payment.get("Amount") for invoice in invoices for payment in invoice.get("Payments") or []]
        ),
        "CombinedInvoiceStatus": sale.get("CombinedInvoiceStatus", "NOT AVAILABLE"),
        "CombinedPaymentStatus": sale.get("CombinedPaymentStatus", "UNPAID"),
        "CombinedPickingStatus": sale.get("CombinedPickingStatus", "NOT AVAILABLE"),
        "CombinedPackingStatus": sale.get("CombinedPackingStatus", "NOT AVAILABLE"),
        "CombinedShippingStatus": sale.get("CombinedShippingStatus", "NOT AVAILABLE"),
        "CombinedTrackingNumbers": sale.get("CombinedTrackingNumbers", ""),
        "CreditNoteNumber": first_credit.get("CreditNoteNumber"),
        "CreditNoteStatus": first_credit.get("Status", "NOT AVAILABLE"),
        "BaseCurrency": sale.get("BaseCurrency"),
        "CustomerCurrency": sale.get("CustomerCurrency"),
        "ExternalID": sale.get("ExternalID"),
        "SourceChannel": sale.get("SourceChannel"),
        "Type": sale.get("Type"),
        "Updated": sale.get("LastModifiedOn"),
        "OrderLocationID": location_ids.get(str(sale.get("Location"))),
        "QuoteStatus": (sale.get("Quote") or {}).get("Status", "NOT AVAILABLE"),
        "OrderStatus": (sale.get("Order") or {}).get("Status", "NOT AVAILABLE"),
        "FulFilmentStatus": sale.get("FulFilmentStatus", "NOT AVAILABLE"),
        "ShipBy": sale.get("ShipBy"),
    }


def sale_invoices(sale: JsonObject, include_product_info: bool) -> JsonObject:
    """`GET /sale/invoice`: the sale's invoices, lines without product fields unless asked for."""
    return {
        "SaleID": sale["ID"],
        "Invoices": [_task_view(invoice, include_product_info) for invoice in sale.get("Invoices") or []],
    }


def sale_credit_notes(sale: JsonObject, include_product_info: bool, include_payment_info: bool) -> JsonObject:
    """`GET /sale/creditnote`; `IncludePaymentInfo` adds the refunds as `Payments` and the open balance."""
    credit_notes = []
    for credit_note in sale.get("CreditNotes") or []:
        view = _task_view(credit_note, include_product_info)
        if include_payment_info:
            refunds = [
                _sale_payment_row(sale, credit_note, refund, "Refund") for refund in credit_note.get("Refunds") or []
            ]
            view["Payments"] = [{k: v for k, v in row.items() if k not in ("SaleID", "TaskID")} for row in refunds]
            view["CreditNoteBalance"] = to_decimal(credit_note.get("Total", 0)) - _sum([r["Amount"] for r in refunds])
        credit_notes.append(view)
    return {"SaleID": sale["ID"], "CreditNotes": credit_notes}


def _task_view(task: JsonObject, include_product_info: bool) -> JsonObject:
    view = dict(task)
    if not include_product_info:
        view["Lines"] = [strip_product_info(line) for line in task.get("Lines") or []]
    view["CombineAdditionalCharges"] = False
    return view


def sale_payments(sale: JsonObject) -> list[JsonObject]:
    """`GET /sale/payment`: invoice payments and credit-note refunds as one array."""
    rows = [
        _sale_payment_row(sale, invoice, payment, "Payment")
        for invoice in sale.get("Invoices") or []
        for payment in invoice.get("Payments") or []
    ]
    rows += [
        _sale_payment_row(sale, credit_note, refund, "Refund")
        for credit_note in sale.get("CreditNotes") or []
        for refund in credit_note.get("Refunds") or []
    ]
    return rows


def _sale_payment_row(sale: JsonObject, task: JsonObject, payment: JsonObject, kind: str) -> JsonObject:
    return {
        "ID": payment.get("ID"),
        "SaleID": sale["ID"],
        "TaskID": task.get("TaskID"),
        "SaleOrderNumber": (sale.get("Order") or {}).get("SaleOrderNumber"),
        "InvoiceNumber": task.get("InvoiceNumber") if kind == "Payment" else None,
        "CreditNoteNumber": task.get("CreditNoteNumber") if kind == "Refund" else None,
        "Type": kind,
        "Reference": payment.get("Reference"),
        "Amount": payment.get("Amount"),
        "DatePaid": payment.get("DatePaid"),
        "Account": payment.get("Account"),
        "CurrencyRate": payment.get("CurrencyRate"),
        "DateCreated": payment.get("DateCreated"),
        "CreditID": None,
    }


# --- purchases -----------------------------------------------------------------------------------


def purchase_type(purchase: JsonObject) -> str:
    if purchase.get("Type"):
        return str(purchase["Type"])
    return "Advanced Purchase" if isinstance(purchase.get("Invoice"), list) else "Simple Purchase"


def _stage_status(stage: Any) -> Any:
    if isinstance(stage, list):
        stage = _first(stage)
    return (stage or {}).get("Status", "NOT AVAILABLE")


def purchase_list_row(purchase: JsonObject) -> JsonObject:
    """The `purchaseList` row of a stored purchase, with the fields of the documented example."""
    invoices = purchase_invoices(purchase)
    live = [invoice for invoice in invoices if invoice.get("Status") != "VOIDED"]
    first_invoice = invoices[0] if invoices else {}
    credit_note = purchase.get("CreditNote")
    first_credit = _first(credit_note) if isinstance(credit_note, list) else credit_note or {}
    unstock = first_credit.get("Unstock")
    return {
        "ID": purchase["ID"],
        "OrderNumber": purchase.get("OrderNumber"),
        "Status": purchase.get("Status"),
        "OrderDate": purchase.get("OrderDate"),
        "Supplier": purchase.get("Supplier"),
        "SupplierID": purchase.get("SupplierID"),
        "InvoiceNumber": _invoice_number(first_invoice) if first_invoice else None,
        "InvoiceDate": first_invoice.get("InvoiceDate"),
        "InvoiceDueDate": first_invoice.get("InvoiceDueDate"),
        "InvoiceAmount": _sum([invoice.get("Total") for invoice in live]),
        "PaidAmount": _sum([invoice.get("Paid") for invoice in invoices]),
        "InvoiceStatus": first_invoice.get("Status", "NOT AVAILABLE"),
        "CreditNoteNumber": first_credit.get("CreditNoteNumber"),
        "CreditNoteStatus": first_credit.get("Status", "NOT AVAILABLE"),
        "CombinedInvoiceStatus": purchase.get("CombinedInvoiceStatus", "INVOICED" if live else "NOT INVOICED"),
        "CombinedPaymentStatus": purchase.get("CombinedPaymentStatus", "UNPAID"),
        "CombinedReceivingStatus": purchase.get("CombinedReceivingStatus", "NOT AVAILABLE"),
        "OrderStatus": (purchase.get("Order") or {}).get("Status", "NOT AVAILABLE"),
        "StockReceivedStatus": _stage_status(purchase.get("StockReceived")),
        "UnstockStatus": _stage_status(unstock) if unstock else "NOT AVAILABLE",
        "BaseCurrency": purchase.get("BaseCurrency"),
        "SupplierCurrency": purchase.get("SupplierCurrency"),
        "Type": purchase_type(purchase),
        "LastUpdatedDate": purchase.get("LastUpdatedDate"),
        "BlindReceipt": purchase.get("BlindReceipt", False),
        "DropShipTaskID": purchase.get("RelatedDropShipSaleTask"),
        "IsServiceOnly": purchase.get("IsServiceOnly", False),
        "RequiredBy": purchase.get("RequiredBy"),
    }


def purchase_invoice_view(purchase: JsonObject, invoice: JsonObject) -> JsonObject:
    """An invoice as `purchase/invoice` and `advanced-purchase/invoice` return it."""
    view = _task_view(invoice, include_product_info=False)
    view.pop("InvocieNumber", None)
    view.pop("InvoicingAndReceivingNumber", None)
    view["TaskID"] = purchase_invoice_task_id(purchase, invoice)
    view["InvoiceNumber"] = _invoice_number(invoice)
    view["InvoiceTotalAmount"] = invoice.get("Total", 0)
    view["InvoiceTotalTaxAmount"] = invoice.get("Tax", 0)
    return view


def not_available_task(task_id: str) -> JsonObject:
    """What a stage that does not exist yet looks like: status NOT AVAILABLE, no lines."""
    return {
        "TaskID": task_id,
        "Status": "NOT AVAILABLE",
        "Lines": [],
        "AdditionalCharges": [],
        "CombineAdditionalCharges": False,
    }


def purchase_credit_note_view(purchase: JsonObject) -> JsonObject:
    credit_note = purchase.get("CreditNote")
    if not isinstance(credit_note, dict) or credit_note.get("Status", "NOT AVAILABLE") == "NOT AVAILABLE":
        return not_available_task(purchase["ID"])
    view = _task_view(credit_note, include_product_info=False)
    view["TaskID"] = purchase["ID"]
    return view
