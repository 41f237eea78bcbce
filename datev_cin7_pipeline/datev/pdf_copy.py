"""A PDF copy of an invoice or credit note rendered from its Cin7 data, for documents without a PDF.

Cin7's API returns attachments but cannot render invoices. When a connection asks for it
(`datev.render_missing_pdfs: true`), a document without a PDF attachment still gets a Beleg in DATEV:
this copy, marked on every page as made from the data and not the original, so nobody mistakes it for
the invoice the customer received. It has its own deterministic GUID (see `identities.COPY_ATTACHMENT_ID`).
"""

from __future__ import annotations

from decimal import Decimal

from datev_cin7_pipeline.mapping.documents import SourceDocument
from datev_cin7_pipeline.pdf import simple_pdf

COPY_MARK = "KOPIE aus den Cin7-Daten erzeugt - nicht das Original"
_TITLES = {
    "sale_invoice": "Rechnung",
    "sale_credit_note": "Gutschrift",
    "purchase_invoice": "Eingangsrechnung",
    "purchase_credit_note": "Lieferantengutschrift",
}


def copy_file_name(doc: SourceDocument) -> str:
    number = "".join(c if c.isalnum() or c in "-_" else "_" for c in (doc.number or doc.task_id))
    return f"{number}_KOPIE.pdf"


def render_copy(doc: SourceDocument, company: str) -> bytes:
    """The marked copy: parties, dates, every line with quantity, price, tax rule and total, the totals."""

    def money(value: Decimal) -> str:
        return f"{value:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")

    lines = [
        COPY_MARK,
        "",
        f"{_TITLES.get(doc.kind, doc.kind)} {doc.number}",
        f"{'Aussteller' if doc.side == 'purchase' else 'Von'}: {doc.party_name if doc.side == 'purchase' else company}",
        f"{'An' if doc.side == 'sale' else 'Empfänger'}: {doc.party_name if doc.side == 'sale' else company}",
        f"Datum: {doc.date:%d.%m.%Y}" if doc.date else "Datum: -",
        *([f"Fällig: {doc.due_date:%d.%m.%Y}"] if doc.due_date else []),
        *([f"Auftrag: {doc.order_number}"] if doc.order_number else []),
        *(
            [f"Zu Rechnung: {doc.open_item_number}"]
            if doc.open_item_number and doc.open_item_number != doc.number
            else []
        ),
        f"Währung: {doc.currency}" + (" (Preise inkl. Steuer)" if doc.inclusive else ""),
        "",
        f"{'Menge':>8}  {'Bezeichnung':<34} {'Preis':>11} {'Summe':>12}  Steuerregel",
    ]
    for line in doc.lines:
        name = (line.name or line.description or line.sku or "-")[:34]
        quantity = format(line.quantity.normalize(), "f")
        amounts = f"{money(line.price):>11} {money(line.total):>12}"
        lines.append(f"{quantity:>8}  {name:<34} {amounts}  {line.tax_rule}")
    lines += [
        "",
        f"{'Netto':>56} {money(doc.total_before_tax):>12}",
        f"{'Steuer':>56} {money(doc.tax):>12}",
        f"{'Gesamt':>56} {money(doc.total):>12} {doc.currency}",
        "",
        COPY_MARK,
    ]
    return simple_pdf(f"KOPIE - {_TITLES.get(doc.kind, doc.kind)} {doc.number}", lines, created=doc.date)
