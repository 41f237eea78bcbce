"""EXTF throughput: Cin7 documents mapped to 100,000 booking lines, split, written and validated, against
the floor.

The documents are what a wholesaler's month in Cin7 Core holds, built from the demo company's master data
(`sandbox.cin7`) and the SKR03 starter mapping: sales invoices at 19 % and 7 % (several lines, mixed
rates), intra-EU deliveries, exports in USD, customer payments, supplier invoices (domestic, intra-EU
acquisition, reverse charge) with their payments, and sales credit notes; every document has a GUID, so
its lines carry a Beleglink. `book_period` maps them; the booking lines are cut to exactly `--lines`
(100,000 are more than one file may hold, so `split_batches` makes two files, 99,999 + 1, as the
pipeline would).

Measured, in one run:
- map: `book_period` of the month (InMemoryPersonalAccountRegistry);
- ours: split_batches + ExtfWriter into a file + validate_extf of that file, for every batch;
- the floor: a bare `csv.writer` writing the same lines as 125-field rows (plain str() of every value,
  no quoting rules, no checks) into the same kind of file (UTF-8 with BOM, `;`, CR LF).
Mapping is timed and printed, but it is not part of the ratio: the floor does no mapping, so the ratio is
(split + write + validate) / floor. The ratio including mapping is printed too, for transparency.
Printed: seconds per stage, total seconds (mapping included), the peak of memory allocated while mapping,
writing and validating (tracemalloc, in a second pass so tracing does not slow the timed one), the
process's peak RSS, the floor and the ratios.
Goal: under 10 s, under 500 MB, ratio under 3. The last line is
`RESULT seconds=<total incl. mapping> peak_mb=... ratio=<(split + write + validate) / floor> map_seconds=...`.

    .venv/bin/python benchmarks/extf_throughput.py [--lines 100000]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime as dt
import random
import resource
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, TypeVar

import yaml

from datev_cin7_pipeline.cin7.client import dump_json, parse_json
from datev_cin7_pipeline.cin7.models import Account, Company, Customer, Location, Purchase, Sale, Supplier, TaxRule
from datev_cin7_pipeline.cin7.period import Cin7Period, Payment
from datev_cin7_pipeline.datev.bookings import BatchHeader, BookingLine
from datev_cin7_pipeline.datev.extf import ExtfWriter, split_batches, validate_extf
from datev_cin7_pipeline.datev.extf.columns import COLUMN_COUNT
from datev_cin7_pipeline.mapping import (
    InMemoryPersonalAccountRegistry,
    MappingConfig,
    book_period,
    mapping_starter,
    parse_mapping,
)
from datev_cin7_pipeline.sandbox.cin7 import demo_dataset
from datev_cin7_pipeline.sandbox.cin7.demo_company import CUSTOMERS, SUPPLIERS

T = TypeVar("T")
START, END = dt.date(2026, 10, 1), dt.date(2026, 11, 1)  # the month, END exclusive
TODAY = dt.date(2026, 11, 15)
CREATED = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)
NAMESPACE = uuid.UUID("8d7a0c4e-6b1f-4c59-9f3e-2a51d0c6b7e1")
CENT = Decimal("0.01")
# (customer key, foreign currency, [(tax rule, Cin7 account, rate)]), weight
SALES: tuple[tuple[str, bool, tuple[tuple[str, str, int], ...], int], ...] = (
    ("hafenblick", False, (("USt 19%", "8400", 19), ("USt 7%", "8300", 7)), 45),
    ("lindner", False, (("USt 19%", "8400", 19),), 15),
    ("gruber", False, (("Steuerfrei innergemeinschaftliche Lieferung", "8125", 0),), 7),
    ("brooklyn", True, (("Steuerfrei Ausfuhr", "8120", 0),), 4),
)
PURCHASES: tuple[tuple[str, tuple[tuple[str, str, int], ...], int], ...] = (
    ("solingen", (("Vorsteuer 19%", "3980", 19), ("Vorsteuer 19%", "3800", 19)), 14),
    ("gusswerk", (("Innergemeinschaftlicher Erwerb 19%", "3980", 0),), 3),
    ("vandijk", (("Reverse Charge §13b", "4730", 0),), 2),
)
GOODS = ("Espresso Bohnen 1 kg", "Tee Grün „Sencha“ 500 g", "Siebträger Ø 58 mm", "Olivenöl nativ extra", "Müsli")


def _roundtrip(payload: Any) -> Any:
    """JSON as the API delivers it: amounts parsed as Decimal."""
    return parse_json(dump_json(payload))


def empty_month() -> Cin7Period:
    """The demo company's master data, no documents yet."""
    data = demo_dataset(1, TODAY)
    return Cin7Period(
        start=START,
        end=END,
        company=Company.model_validate(_roundtrip(data.me)),
        accounts={a.code: a for a in (Account.model_validate(_roundtrip(x)) for x in data.accounts)},
        tax_rules={r.name: r for r in (TaxRule.model_validate(_roundtrip(x)) for x in data.tax_rules)},
        locations={loc.name: loc for loc in (Location.model_validate(_roundtrip(x)) for x in data.locations)},
        customers={c.id: c for c in (Customer.model_validate(_roundtrip(x)) for x in data.customers)},
        suppliers={s.id: s for s in (Supplier.model_validate(_roundtrip(x)) for x in data.suppliers)},
    )


def demo_mapping(period: Cin7Period) -> MappingConfig:
    """The SKR03 starter mapping for the demo company, with the decisions a user fills in."""
    text = mapping_starter("skr03", period.accounts.values(), period.tax_rules.values(), period.locations.values())
    data = yaml.safe_load(text)
    data["datev"] = {**data.get("datev", {}), "consultant_number": 29098, "client_number": 55003}
    data["accounts"] = {**(data.get("accounts") or {}), "3980": 3400}
    data["payment_accounts"] = {**(data.get("payment_accounts") or {}), "1210": 1210, "1220": 1220}
    centres = data.setdefault("cost_centres", {}).setdefault("kost1", {})
    centres["values"] = {**(centres.get("values") or {}), "Hamburg": "100", "München": "200"}
    return parse_mapping(data)


class _Month:
    """Builds the month's documents into a period, deterministic for a seed."""

    def __init__(self, period: Cin7Period, seed: int) -> None:
        self.period = period
        self.rng = random.Random(seed)
        self.guids: dict[str, str] = {}
        by_name = {c.name: c for c in period.customers.values()}
        self.customers = {spec.key: by_name[spec.name] for spec in CUSTOMERS if spec.name in by_name}
        by_name_s = {s.name: s for s in period.suppliers.values()}
        self.suppliers = {spec.key: by_name_s[spec.name] for spec in SUPPLIERS if spec.name in by_name_s}
        self.sale_weights = [w for *_, w in SALES]
        self.purchase_weights = [w for *_, w in PURCHASES]

    def day(self) -> dt.date:
        return START + dt.timedelta(days=self.rng.randrange(31))

    def lines(self, choices: tuple[tuple[str, str, int], ...]) -> tuple[list[dict[str, Any]], dict[str, Decimal]]:
        result: list[dict[str, Any]] = []
        net = tax_sum = Decimal(0)
        for _ in range(self.rng.randint(1, 4)):
            rule, account, rate = self.rng.choice(choices)
            quantity = self.rng.randint(1, 40)
            price = Decimal(self.rng.randint(100, 50_000)) / 100
            total = (quantity * price).quantize(CENT, ROUND_HALF_UP)
            tax = (total * rate / 100).quantize(CENT, ROUND_HALF_UP)
            result.append(
                {
                    "Name": self.rng.choice(GOODS), "Quantity": Decimal(quantity), "Price": price,
                    "Discount": Decimal(0), "Tax": tax, "Total": total, "TaxRule": rule, "Account": account,
                }
            )  # fmt: skip
            net += total
            tax_sum += tax
        return result, {"TotalBeforeTax": net, "Tax": tax_sum, "Total": net + tax_sum}

    def guid(self, task_id: str) -> str:
        self.guids[task_id] = str(uuid.uuid5(NAMESPACE, task_id)).upper()
        return task_id

    def sale(self, number: int) -> None:
        key, foreign, choices, _ = self.rng.choices(SALES, self.sale_weights)[0]
        customer = self.customers[key]
        day = self.day()
        rate = Decimal("1.0842") if foreign else Decimal(1)
        lines, totals = self.lines(choices)
        invoice_number = f"INV-{number:06d}"
        paid = not foreign and self.rng.random() < 0.5
        payments = [self.payment(f"pay-s-{number}", totals["Total"], day)] if paid else []
        notes = []
        if not foreign and self.rng.random() < 0.08:
            note_lines, note_totals = self.lines(choices)
            notes.append(
                {
                    "TaskID": self.guid(f"task-cn-{number}"), "CreditNoteNumber": f"CR-{number:06d}",
                    "CreditNoteInvoiceNumber": invoice_number, "CreditNoteDate": f"{day.isoformat()}T00:00:00",
                    "Status": "AUTHORISED", "Lines": note_lines, "AdditionalCharges": [], "Refunds": [],
                    **note_totals,
                }
            )  # fmt: skip
        invoice = {
            "TaskID": self.guid(f"task-inv-{number}"), "InvoiceNumber": invoice_number,
            "InvoiceDate": f"{day.isoformat()}T00:00:00",
            "InvoiceDueDate": f"{(day + dt.timedelta(days=14)).isoformat()}T00:00:00",
            "Status": "AUTHORISED", "CurrencyConversionRate": rate, "Lines": lines, "AdditionalCharges": [],
            "Payments": payments, **totals,
        }  # fmt: skip
        body = {
            "ID": f"sale-{number}", "Customer": customer.name, "CustomerID": customer.id, "BaseCurrency": "EUR",
            "CustomerCurrency": "USD" if foreign else "EUR", "CurrencyRate": rate, "TaxRule": customer.tax_rule,
            "TaxCalculation": "Exclusive", "Location": customer.location,
            "SalesRepresentative": customer.sales_representative, "Order": {"SaleOrderNumber": f"SO-{number:06d}"},
            "Status": "INVOICED", "Invoices": [invoice], "CreditNotes": notes,
            "LastModifiedOn": f"{day.isoformat()}T10:00:00Z",
        }  # fmt: skip
        document = Sale.model_validate(_roundtrip(body))
        self.period.sales[document.id] = document
        self.period.sale_invoices.append((document, document.invoices[0]))
        self.period.sale_credit_notes.extend((document, note) for note in document.credit_notes)
        for paid_invoice in document.invoices:
            for money in paid_invoice.payments:
                self.add_payment("customer_payment", money, paid_invoice.invoice_number, document.id, customer.id)

    def purchase(self, number: int) -> None:
        key, choices, _ = self.rng.choices(PURCHASES, self.purchase_weights)[0]
        supplier = self.suppliers[key]
        day = self.day()
        lines, totals = self.lines(choices)
        paid = self.rng.random() < 0.6
        invoice = {
            "TaskID": self.guid(f"task-pi-{number}"), "InvoiceNumber": f"ER-{number:06d}",
            "InvoiceDate": f"{day.isoformat()}T00:00:00",
            "InvoiceDueDate": f"{(day + dt.timedelta(days=30)).isoformat()}T00:00:00",
            "Status": "AUTHORISED", "Lines": lines, "AdditionalCharges": [],
            "Payments": [self.payment(f"pay-p-{number}", totals["Total"], day)] if paid else [], **totals,
        }  # fmt: skip
        body = {
            "ID": f"purchase-{number}", "Type": "Simple Purchase", "Supplier": supplier.name,
            "SupplierID": supplier.id, "OrderNumber": f"PO-{number:06d}", "BaseCurrency": "EUR",
            "SupplierCurrency": "EUR", "CurrencyRate": Decimal(1), "TaxRule": supplier.tax_rule,
            "TaxCalculation": "Exclusive", "Location": next(s.location for s in SUPPLIERS if s.key == key),
            "InventoryAccount": "3980", "Status": "INVOICED", "Invoice": invoice,
            "LastUpdatedDate": f"{day.isoformat()}T10:00:00Z",
        }  # fmt: skip
        document = Purchase.model_validate(_roundtrip(body))
        self.period.purchases[document.id] = document
        self.period.purchase_invoices.append((document, document.invoices[0]))
        for paid_invoice in document.invoices:
            for money in paid_invoice.payments or []:
                self.add_payment("supplier_payment", money, paid_invoice.invoice_number, document.id, supplier.id)

    def payment(self, pid: str, amount: Decimal, day: dt.date) -> dict[str, Any]:
        paid = min(day + dt.timedelta(days=self.rng.randint(0, 20)), END - dt.timedelta(days=1))
        return {
            "ID": pid, "Amount": amount, "DatePaid": f"{paid.isoformat()}T00:00:00", "Account": "1200",
            "CurrencyRate": Decimal(1), "Reference": "",
        }  # fmt: skip

    def add_payment(self, direction: Any, money: Any, number: str, parent: str, party: str) -> None:
        self.period.payments.append(
            Payment(
                direction, money.id, money.amount, money.date_paid, money.account, money.currency_rate,
                money.reference, number, parent, party,
            )
        )  # fmt: skip

    def documents(self, count: int) -> None:
        for number in range(count):
            if self.rng.random() < 0.8:
                self.sale(number)
            else:
                self.purchase(number)


def month_of_documents(documents: int, seed: int = 7) -> tuple[Cin7Period, dict[str, str]]:
    """The month with `documents` sales and purchases (and their payments); GUIDs by task id."""
    month = _Month(empty_month(), seed)
    month.documents(documents)
    return month.period, month.guids


def map_month(period: Cin7Period, mapping: MappingConfig, guids: dict[str, str], count: int) -> list[BookingLine]:
    """`book_period` of the month, cut to `count` lines; refuses a month that books fewer or holds any."""
    result = book_period(period, mapping, InMemoryPersonalAccountRegistry(), guids=guids)
    if result.held:
        raise SystemExit(f"{len(result.held)} documents held: {result.held[:3]}")
    if len(result.lines) < count:
        raise SystemExit(f"the month booked {len(result.lines)} lines, fewer than {count}")
    return list(result.lines[:count])


def documents_for(count: int, mapping: MappingConfig) -> int:
    """How many documents book to at least `count` lines: calibrated on a sample, with a margin."""
    sample = 400
    period, guids = month_of_documents(sample, seed=11)
    lines = len(book_period(period, mapping, InMemoryPersonalAccountRegistry(), guids=guids).lines)
    return int(count * sample / lines * 1.05) + 10


def ours(lines: list[BookingLine], header: BatchHeader, automatic: frozenset[int], folder: Path,
         phases: dict[str, float] | None = None) -> tuple[int, int]:  # fmt: skip
    """Split, write each batch into a file, validate each file; (files, errors found). `phases`
    collects the seconds spent splitting, writing and validating."""
    clock = phases if phases is not None else {}
    errors = 0
    start = time.perf_counter()
    batches = split_batches(header, lines)
    clock["split"] = time.perf_counter() - start
    for batch in batches:
        path = folder / f"batch-{batch.sequence}.csv"
        start = time.perf_counter()
        with path.open("wb") as target, ExtfWriter(target, batch.header) as writer:
            writer.write(batch.lines)
        clock["write"] = clock.get("write", 0.0) + time.perf_counter() - start
        start = time.perf_counter()
        errors += len(validate_extf(path.read_bytes(), automatic_accounts=automatic).errors)
        clock["validate"] = clock.get("validate", 0.0) + time.perf_counter() - start
    return len(batches), errors


def floor(lines: list[BookingLine], folder: Path) -> None:
    """A bare csv.writer: the same lines as 125-field rows of plain str() values, UTF-8 with BOM."""
    padding = [""] * (COLUMN_COUNT - 20)
    with (folder / "floor.csv").open("w", encoding="utf-8-sig", newline="") as target:
        writer = csv.writer(target, delimiter=";", lineterminator="\r\n")
        writer.writerow(["EXTF", 700, 21, "Buchungsstapel", 13])
        for line in lines:
            writer.writerow(
                [
                    line.amount, line.side, line.currency, line.exchange_rate or "", line.base_amount or "",
                    line.base_currency, line.account, line.contra_account, line.tax_key, line.document_date,
                    line.document_field_1, line.document_field_2, line.cash_discount or "", line.text,
                    line.document_link, line.cost_centre_1, line.eu_vat_id, line.supply_date or "",
                    line.due_date or "", line.country, *padding,
                ]
            )  # fmt: skip


def timed(action: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args()
    base = empty_month()
    mapping = demo_mapping(base)
    header = dataclasses.replace(mapping.datev.batch_header(START, END - dt.timedelta(days=1)), created_at=CREATED)
    automatic = frozenset(mapping.automatic())
    documents = documents_for(args.lines, mapping)
    period, guids = month_of_documents(documents)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        map_seconds, lines = timed(lambda: map_month(period, mapping, guids, args.lines))
        floor_seconds, _ = timed(lambda: floor(lines, work))
        phases: dict[str, float] = {}
        seconds, (files, errors) = timed(lambda: ours(lines, header, automatic, work, phases))
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before tracing adds its own
        tracemalloc.start()
        traced = map_month(period, mapping, guids, args.lines)
        ours(traced, header, automatic, work)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    peak_mb = peak / 1024 / 1024
    ratio = seconds / floor_seconds
    total = map_seconds + seconds
    print(f"documents: {documents} mapped to {len(lines)} booking lines in {files} files, validation errors: {errors}")
    print(f"map (book_period):               {map_seconds:.2f} s")
    print(f"ours (split + write + validate): {seconds:.2f} s")
    print(
        f"  split {phases['split']:.2f} s, write {phases['write']:.2f} s "
        f"(writer alone: {phases['write'] / floor_seconds:.2f} x the floor), validate {phases['validate']:.2f} s"
    )
    print(f"total (map + split + write + validate): {total:.2f} s")
    print(f"floor (bare csv.writer):         {floor_seconds:.2f} s")
    print(f"ratio (split + write + validate) / floor: {ratio:.2f}; including mapping: {total / floor_seconds:.2f}")
    print(f"peak allocated while mapping, writing and validating: {peak_mb:.1f} MB; process peak RSS: {rss_mb:.0f} MB")
    print(f"RESULT seconds={total:.2f} peak_mb={peak_mb:.1f} ratio={ratio:.2f} map_seconds={map_seconds:.2f}")
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
