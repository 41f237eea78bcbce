"""The demo company: deterministic, complete in the cases the DATEV mapping needs, and arithmetically sound."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from datev_cin7_pipeline.sandbox.cin7 import Cin7Dataset, demo_dataset, write_data_folder
from datev_cin7_pipeline.sandbox.cin7.dates import parse_cin7_datetime
from datev_cin7_pipeline.sandbox.cin7.documents import purchase_invoices
from datev_cin7_pipeline.sandbox.cin7.money import cents, to_decimal
from datev_cin7_pipeline_tests.sandbox.helpers import TODAY
from datev_cin7_pipeline_tests.sandbox.pdf_check import check_pdf, pdf_text

VAT_ID_FORMATS = {
    "Germany": r"DE\d{9}",
    "Austria": r"ATU\d{8}",
    "France": r"FR[0-9A-Z]{2}\d{9}",
    "Netherlands": r"NL\d{9}B\d{2}",
    "Italy": r"IT\d{11}",
    "Switzerland": r"CHE-\d{3}\.\d{3}\.\d{3} MWST",
}


def _files(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def _all_lines(demo: Cin7Dataset) -> tuple[list[dict], list[dict]]:
    sale_lines = [
        line
        for sale in demo.sales.values()
        for task in sale["Invoices"] + sale["CreditNotes"]
        for line in task["Lines"] + task["AdditionalCharges"]
    ]
    purchase_lines = [
        line
        for purchase in demo.purchases.values()
        for invoice in purchase_invoices(purchase)
        for line in invoice["Lines"] + invoice["AdditionalCharges"]
    ]
    return sale_lines, purchase_lines


def test_same_seed_and_day_give_identical_bytes(tmp_path: Path) -> None:
    first = _files(write_data_folder(demo_dataset(7, TODAY), tmp_path / "a"))
    second = _files(write_data_folder(demo_dataset(7, TODAY), tmp_path / "b"))
    assert first == second
    assert len(first) > 100


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    first = _files(write_data_folder(demo_dataset(7, TODAY), tmp_path / "a"))
    other = _files(write_data_folder(demo_dataset(8, TODAY), tmp_path / "b"))
    assert first["customers.json"] != other["customers.json"]
    assert set(first) != set(other)  # sale and purchase ids differ


def test_the_company_and_its_master_data(demo: Cin7Dataset) -> None:
    assert demo.me["Currency"] == "EUR"
    assert demo.me["TimeZone"] == "Europe/Berlin"
    assert demo.me["TaxCalculationMethod"] == "Row Total"
    assert [location["Name"] for location in demo.locations] == ["Hamburg", "München"]
    rules = {rule["Name"]: rule for rule in demo.tax_rules}
    assert {
        "USt 19%",
        "USt 7%",
        "Steuerfrei innergemeinschaftliche Lieferung",
        "Steuerfrei Ausfuhr",
        "Vorsteuer 19%",
        "Vorsteuer 7%",
        "Innergemeinschaftlicher Erwerb 19%",
        "Reverse Charge §13b",
        "Einfuhrumsatzsteuer",
    } <= set(rules)
    assert rules["USt 19%"]["TaxPercent"] == 19
    assert rules["USt 19%"]["IsTaxForSale"]
    reverse_charge = [component["Percent"] for component in rules["Reverse Charge §13b"]["Components"]]
    assert reverse_charge == ["19.0000000000", "-19.0000000000"]
    codes = {account["Code"] for account in demo.accounts}
    assert {"1400", "1600", "1576", "1776", "8400", "8300", "8125", "8120", "1588", "3980"} <= codes
    assert [bank["AccountCode"] for bank in demo.bank_accounts or []] == ["1200", "1210", "1220"]


def test_customers_and_suppliers(demo: Cin7Dataset) -> None:
    active = [customer for customer in demo.customers if customer["Status"] == "Active"]
    assert 11 <= len(active) <= 13
    assert Counter(c["Status"] for c in demo.customers)["Deprecated"] == 1
    countries = Counter(customer["Addresses"][0]["Country"] for customer in active)
    assert {"Germany", "Austria", "France", "Netherlands", "Italy", "Switzerland", "United States"} <= set(countries)
    for party in demo.customers + demo.suppliers:
        country = party["Addresses"][0]["Country"]
        if party["TaxNumber"] and country in VAT_ID_FORMATS:
            assert re.fullmatch(VAT_ID_FORMATS[country], party["TaxNumber"]), party["Name"]
    assert {customer["Currency"] for customer in active} == {"EUR", "CHF", "USD"}
    assert len(demo.suppliers) == 8
    assert {supplier["Currency"] for supplier in demo.suppliers} == {"EUR", "CHF", "USD"}


def test_a_year_of_documents_up_to_today(demo: Cin7Dataset) -> None:
    invoice_days = [
        parse_cin7_datetime(invoice["InvoiceDate"]).date()
        for sale in demo.sales.values()
        for invoice in sale["Invoices"]
    ]
    assert max(invoice_days) <= TODAY
    assert min(invoice_days) >= date(2024, 7, 1)
    assert {(day.year, day.month) for day in invoice_days} >= {(2024, 7), (2025, 6)}
    assert len(demo.sales) >= 40
    modified = [parse_cin7_datetime(sale["LastModifiedOn"]).date() for sale in demo.sales.values()]
    assert max(modified) <= TODAY


def test_every_tax_situation_is_present(demo: Cin7Dataset) -> None:
    sale_lines, purchase_lines = _all_lines(demo)
    assert {line["TaxRule"] for line in sale_lines} == {
        "USt 19%",
        "USt 7%",
        "Steuerfrei innergemeinschaftliche Lieferung",
        "Steuerfrei Ausfuhr",
    }
    assert {line["TaxRule"] for line in purchase_lines} == {
        "Vorsteuer 19%",
        "Vorsteuer 7%",
        "Innergemeinschaftlicher Erwerb 19%",
        "Innergemeinschaftlicher Erwerb 7%",
        "Reverse Charge §13b",
        "Einfuhr Drittland (ohne Vorsteuer)",
        "Einfuhrumsatzsteuer",
    }


def test_the_special_documents(demo: Cin7Dataset) -> None:
    sales = list(demo.sales.values())
    purchases = list(demo.purchases.values())
    invoices = [invoice for sale in sales for invoice in sale["Invoices"]]
    all_invoices = invoices + [invoice for purchase in purchases for invoice in purchase_invoices(purchase)]
    assert [invoice["Status"] for invoice in all_invoices].count("VOIDED") == 1
    assert any(sale["TaxCalculation"] == "Inclusive" for sale in sales)
    assert any(charge["Description"] == "Fracht und Verpackung" for i in invoices for charge in i["AdditionalCharges"])
    assert any(line["Discount"] > 0 for invoice in invoices for line in invoice["Lines"])
    assert {sale["CustomerCurrency"] for sale in sales} == {"EUR", "CHF", "USD"}
    assert sum(len(sale["CreditNotes"]) for sale in sales) >= 2
    assert any(refund for sale in sales for note in sale["CreditNotes"] for refund in note["Refunds"])
    assert {"PAID", "PARTIALLY PAID", "UNPAID"} <= {sale["CombinedPaymentStatus"] for sale in sales}
    assert {"PAID", "PARTIALLY PAID"} <= {purchase["CombinedPaymentStatus"] for purchase in purchases}
    numbers = [invoice["InvoiceNumber"] for purchase in purchases for invoice in purchase_invoices(purchase)]
    assert any("/" in number and re.search("[ÄÖÜäöü]", number) for number in numbers)
    advanced = [purchase for purchase in purchases if purchase["Type"] == "Advanced Purchase"]
    assert len(advanced) >= 2
    assert all(isinstance(purchase["Invoice"], list) and len(purchase["Invoice"]) == 2 for purchase in advanced)
    foreign = {
        purchase["SupplierCurrency"]: purchase["CurrencyRate"]
        for purchase in purchases
        if purchase["SupplierCurrency"] != "EUR"
    }
    assert set(foreign) == {"USD", "CHF"}
    assert all(Decimal("0.8") < rate < Decimal("1.2") and rate != 1 for rate in foreign.values())


def _decimals(value: object) -> int:
    exponent = to_decimal(value).as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def test_amounts_are_consistent(demo: Cin7Dataset) -> None:
    percents = {rule["Name"]: Decimal(rule["TaxPercent"]) for rule in demo.tax_rules}
    documents = [
        (sale["TaxCalculation"] == "Inclusive", task)
        for sale in demo.sales.values()
        for task in sale["Invoices"] + sale["CreditNotes"]
    ]
    documents += [(False, invoice) for purchase in demo.purchases.values() for invoice in purchase_invoices(purchase)]
    for inclusive, document in documents:
        lines = document["Lines"] + document["AdditionalCharges"]
        for line in lines:
            gross = line["Quantity"] * line["Price"] * (100 - line["Discount"]) / 100
            assert line["Total"] == gross, line  # exact: discounted quantities are chosen to come out even
            rate = percents[line["TaxRule"]]
            expected_tax = cents(line["Total"] * rate / (100 + rate) if inclusive else line["Total"] * rate / 100)
            assert line["Tax"] == expected_tax
            assert max(_decimals(line[key]) for key in ("Quantity", "Price", "Total", "Tax")) <= 4
        tax = sum(line["Tax"] for line in lines)
        total = sum(line["Total"] for line in lines)
        assert document["Tax"] == tax
        assert document["Total"] == (total if inclusive else total + tax)
        assert document["TotalBeforeTax"] + document["Tax"] == document["Total"]
        assert max(_decimals(document[key]) for key in ("TotalBeforeTax", "Tax", "Total")) <= 2


def test_payments_match_statuses(demo: Cin7Dataset) -> None:
    for sale in demo.sales.values():
        for invoice in sale["Invoices"]:
            assert invoice["Paid"] == sum((p["Amount"] for p in invoice["Payments"]), Decimal(0))
            assert all(_decimals(p["Amount"]) <= 2 for p in invoice["Payments"])
        if sale["CombinedPaymentStatus"] == "UNPAID":
            assert all(not invoice["Payments"] for invoice in sale["Invoices"])
    for purchase_id, payments in demo.purchase_payments.items():
        purchase = demo.purchases[purchase_id]
        embedded = [p["ID"] for invoice in purchase_invoices(purchase) for p in invoice["Payments"]]
        assert [p["ID"] for p in payments] == embedded
        for invoice in purchase_invoices(purchase):
            assert (invoice["Status"] == "PAID") == (invoice["Paid"] == invoice["Total"])


@pytest.mark.parametrize("kind", ["sales", "purchases"])
def test_every_authorised_invoice_has_its_pdf(demo: Cin7Dataset, kind: str) -> None:
    documents = demo.sales if kind == "sales" else demo.purchases
    checked = 0
    for document_id, document in documents.items():
        invoices = document["Invoices"] if kind == "sales" else purchase_invoices(document)
        files = demo.attachments[document_id]
        assert {entry["FileName"] for entry in document["Attachments"]} == set(files)
        for invoice in invoices:
            if invoice["Status"] not in ("AUTHORISED", "PAID"):
                continue
            pdfs = [pdf for pdf in files.values() if f"Rechnung {invoice['InvoiceNumber']}" in pdf_text(pdf)]
            assert len(pdfs) == 1, invoice["InvoiceNumber"]
            assert pdfs[0].startswith(b"%PDF-")
            assert pdfs[0].endswith(b"%%EOF")
            assert check_pdf(pdfs[0]) == []
            assert str(document.get("Customer") or document["Supplier"]) in pdf_text(pdfs[0])
            checked += 1
    assert checked >= 25
