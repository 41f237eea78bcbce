"""The PDF "Belege" attached to simulated documents: what the customer or supplier actually received.

Cin7 renders no PDFs through its API; a company attaches them (FACTS.md §7). The demo company attaches
its own sales invoices and credit notes and the supplier invoices it received, so the pipeline has real
documents to upload to DATEV. The text states what a German invoice must (number, date, parties, VAT
ids, lines, net, tax, gross, the reason for a tax exemption).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from datev_cin7_pipeline.sandbox.cin7.dates import parse_cin7_datetime
from datev_cin7_pipeline.sandbox.cin7.demo_company import AUSFUHR, COMPANY_ADDRESS, COMPANY_VAT_ID, IGL, RC13B
from datev_cin7_pipeline.sandbox.cin7.jsonio import JsonObject
from datev_cin7_pipeline.sandbox.cin7.money import to_decimal
from datev_cin7_pipeline.sandbox.pdf import simple_pdf

_NOTES = {
    IGL: "Steuerfreie innergemeinschaftliche Lieferung (§ 4 Nr. 1b UStG).",
    AUSFUHR: "Steuerfreie Ausfuhrlieferung (§ 4 Nr. 1a UStG).",
    RC13B: "Steuerschuldnerschaft des Leistungsempfängers (Reverse Charge).",
}


def _amount(value: Any) -> str:
    """German number format: 1.234,56."""
    text = f"{to_decimal(value):,.2f}"
    return text.replace(",", "_").replace(".", ",").replace("_", ".")


def _day(value: str) -> str:
    return parse_cin7_datetime(value).strftime("%d.%m.%Y")


def _table(lines: list[JsonObject], charges: list[JsonObject], currency: str) -> list[str]:
    rows = [f"{'Pos':<4}{'Artikel':<42}{'Menge':>7}{'Preis':>11}{'Rab.%':>6}{'Betrag ' + currency:>18}"]
    for number, line in enumerate(lines + charges, start=1):
        name = str(line.get("Name") or line.get("Description") or "")[:41]
        rows.append(
            f"{number:<4}{name:<42}{_amount(line['Quantity']):>7}{_amount(line['Price']):>11}"
            f"{_amount(line.get('Discount', 0)):>6}{_amount(line['Total']):>18}"
        )
        rows.append(f"{'':<4}  Steuer: {line['TaxRule']} ({_amount(line['Tax'])})")
    return rows


def _totals(document: JsonObject, currency: str, inclusive: bool) -> list[str]:
    rows = [
        f"{'Nettobetrag:':>70}{_amount(document['TotalBeforeTax']):>14} {currency}",
        f"{'Umsatzsteuer:':>70}{_amount(document['Tax']):>14} {currency}",
        f"{'Gesamtbetrag:':>70}{_amount(document['Total']):>14} {currency}",
    ]
    if inclusive:
        rows.append("Alle Preise verstehen sich inklusive Umsatzsteuer.")
    return rows


def _notes(lines: list[JsonObject]) -> list[str]:
    return sorted({_NOTES[line["TaxRule"]] for line in lines if line.get("TaxRule") in _NOTES})


def sale_document_pdf(company: str, sale: JsonObject, document: JsonObject, customer_vat_id: str) -> bytes:
    """The PDF of a sale invoice or credit note (told apart by `CreditNoteNumber`)."""
    credit = "CreditNoteNumber" in document
    number = document["CreditNoteNumber"] if credit else document["InvoiceNumber"]
    day = document["CreditNoteDate"] if credit else document["InvoiceDate"]
    currency = str(sale["CustomerCurrency"])
    inclusive = sale.get("TaxCalculation") == "Inclusive"
    address = sale["BillingAddress"]
    lines: list[str] = [
        f"{company} · {COMPANY_ADDRESS} · USt-IdNr. {COMPANY_VAT_ID}",
        "",
        f"{'Gutschrift' if credit else 'Rechnung'} {number}",
        f"Datum: {_day(day)}" + ("" if credit else f"     Fällig am: {_day(document['InvoiceDueDate'])}"),
        f"Auftrag: {sale['Order']['SaleOrderNumber']}     Lager: {sale['Location']}",
    ]
    if credit:
        lines.append(f"zur Rechnung: {document['CreditNoteInvoiceNumber']}")
    lines += [
        "",
        "Kunde:",
        f"  {sale['Customer']}",
        f"  {address['DisplayAddressLine1']}",
        f"  {address['DisplayAddressLine2']}",
    ]
    if customer_vat_id:
        lines.append(f"  USt-IdNr./UID: {customer_vat_id}")
    lines += [
        "",
        *_table(document["Lines"], document["AdditionalCharges"], currency),
        "",
        *_totals(document, currency, inclusive),
        "",
        *_notes(document["Lines"]),
    ]
    if currency != "EUR":
        lines.append(
            f"Umrechnungskurs: 1 {currency} = {document.get('CurrencyConversionRate', sale['CurrencyRate'])} EUR"
        )
    return simple_pdf(
        f"{company} – {'Gutschrift' if credit else 'Rechnung'} {number}", lines, created=parse_cin7_datetime(day).date()
    )


def purchase_invoice_pdf(company: str, purchase: JsonObject, invoice: JsonObject, supplier: JsonObject) -> bytes:
    """The supplier's invoice as the demo company received it (the supplier's letterhead)."""
    currency = str(purchase["SupplierCurrency"])
    address = purchase["BillingAddress"]
    lines: list[str] = [
        f"{supplier['Name']} · {address['DisplayAddressLine1']} · {address['DisplayAddressLine2']}",
        f"USt-IdNr./UID: {supplier.get('TaxNumber') or '-'}",
        "",
        f"Rechnung Nr. {invoice['InvoiceNumber']}",
        f"Datum: {_day(invoice['InvoiceDate'])}     Fällig am: {_day(invoice['InvoiceDueDate'])}",
        f"Ihre Bestellung: {purchase['OrderNumber']}",
        "",
        "Rechnungsempfänger:",
        f"  {company}",
        f"  {COMPANY_ADDRESS}",
        f"  USt-IdNr.: {COMPANY_VAT_ID}",
        "",
        *_table(invoice["Lines"], invoice["AdditionalCharges"], currency),
        "",
        *_totals(invoice, currency, False),
        "",
        *_notes(invoice["Lines"]),
    ]
    if to_decimal(purchase["CurrencyRate"]) != Decimal(1):
        lines.append(f"Währung: {currency}")
    return simple_pdf(
        f"{supplier['Name']} – Rechnung {invoice['InvoiceNumber']}",
        lines,
        created=parse_cin7_datetime(invoice["InvoiceDate"]).date(),
    )
