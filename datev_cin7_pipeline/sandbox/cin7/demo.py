"""A year of the demo company's documents, up to today, deterministic from a seed.

Besides three to five ordinary sales and one or two purchases a month, a fixed set of documents makes
sure every case the DATEV mapping must handle is present (month numbers count from the oldest of the
twelve months): a 7 % sale (0), a tax-inclusive sale to a customer without VAT id (1), an intra-EU
supply (1), a sale with a freight charge (2), an export in CHF (2), a sale with line discounts (3), a
credit note with a refund on a paid invoice (3), an export in USD (4), the one voided invoice (5), a
credit note on an unpaid invoice (6), a partly paid invoice (9); supplier invoices at 7 % (0) and with a
'/'- and umlaut-bearing number (1), a USD import with the customs agent's import-VAT invoice (2), an
intra-EU acquisition (3), a §13b freight service (4), an advanced CHF purchase with two invoices (5), an
advanced EU purchase with two invoices (7) and a partly paid purchase (8). Payments follow the payment
terms and happen only if their date has come; so recent invoices are open, as in a real ledger.

Every document has its PDF attached. The same seed and the same `today` give byte-identical data.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from datev_cin7_pipeline.sandbox.cin7.dataset import Cin7Dataset
from datev_cin7_pipeline.sandbox.cin7.demo_company import (
    BANK_EUR,
    BANK_PAYPAL,
    BANK_USD,
    COMPANY_NAME,
    CUSTOMERS,
    PRODUCTS,
    SUPPLIERS,
    TYPICAL_RATES,
    Product,
    build_master_data,
    payment_terms_days,
    purchase_tax,
    sale_tax,
    tax_percents,
)
from datev_cin7_pipeline.sandbox.cin7.documents import (
    ChargeInput,
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
    purchase_invoices,
    refresh_sale,
    sale_balance,
    void_sale,
)
from datev_cin7_pipeline.sandbox.cin7.jsonio import JsonObject
from datev_cin7_pipeline.sandbox.cin7.money import CENT, RATE_STEP, cents, to_decimal
from datev_cin7_pipeline.sandbox.cin7.printouts import purchase_invoice_pdf, sale_document_pdf

MONTHS = 12
_FREIGHT = Decimal("45.00")
_SUPPLIER_NUMBER_FORMATS = {
    "roestmanufaktur": "RB-{year}-{n:05d}",
    "solingen": "WS/{year}/Ü-{n:04d}",
    "zollagentur": "HZA-{n:06d}",
    "oleificio": "{n}/{year}",
    "gusswerk": "AR{short}{n:05d}",
    "vandijk": "VD{year}{n:05d}",
    "pacific": "PCI-{n:05d}",
    "zuerich": "R-{year}-{n:04d}",
}
_SUPPLIER_SPECS = {spec.key: spec for spec in SUPPLIERS}
Items = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class _SalePlan:
    month: int
    customer: str
    items: Items  # (SKU, quantity, discount %)
    freight: bool = False
    inclusive: bool = False
    payment: str = "auto"  # auto | partial | none
    credit: str | None = None  # refund (credit a paid invoice and refund) | unpaid (credit before payment)
    void: bool = False


@dataclass(frozen=True)
class _PurchasePlan:
    month: int
    supplier: str
    deliveries: tuple[tuple[tuple[str, int], ...], ...]  # one tuple of (SKU, quantity) per supplier invoice
    payment: str = "auto"  # auto | partial


_SPECIAL_SALES = (
    _SalePlan(0, "lindner", (("KAF-ESP-1000", 40, 0), ("TEE-ASS-500", 20, 0))),
    _SalePlan(1, "sonnenwiese", (("KAF-ESP-1000", 6, 0), ("PAN-GUS-28", 2, 0), ("OEL-OLI-5000", 3, 0)), inclusive=True),
    _SalePlan(1, "gruber", (("MES-KOC-20", 12, 0), ("KAF-ESP-1000", 30, 0))),
    _SalePlan(2, "seeblick", (("GLA-WEI-6", 20, 0), ("PAN-GUS-28", 8, 0)), freight=True),
    _SalePlan(2, "bergblick", (("MAS-SIE-PRO", 2, 0), ("MUE-KAF-PRO", 2, 0))),
    _SalePlan(3, "gruenzeug", (("KAF-ESP-1000", 50, 10), ("OEL-OLI-5000", 20, 10), ("PAN-GUS-28", 10, 20))),
    _SalePlan(3, "hafenblick", (("MES-KOC-20", 10, 0), ("KAF-FIL-500", 40, 0)), credit="refund"),
    _SalePlan(4, "brooklyn", (("KAF-ESP-1000", 100, 0), ("KAF-CBR-1000", 60, 0)), freight=True),
    _SalePlan(5, "loewen", (("KAF-ESP-1000", 10, 0),), payment="none", void=True),
    _SalePlan(6, "demolen", (("PAN-GUS-28", 20, 0), ("MES-KOC-20", 10, 0)), credit="unpaid"),
    _SalePlan(9, "bellavista", (("OEL-OLI-5000", 30, 0), ("MAS-SIE-PRO", 1, 0)), payment="partial"),
)
_SPECIAL_PURCHASES = (
    _PurchasePlan(0, "roestmanufaktur", ((("KAF-ESP-1000", 200), ("TEE-ASS-500", 80)),)),
    _PurchasePlan(1, "solingen", ((("MES-KOC-20", 60), ("GLA-WEI-6", 80)),)),
    _PurchasePlan(2, "pacific", ((("KAF-CBR-1000", 300),),)),
    _PurchasePlan(3, "oleificio", ((("OEL-OLI-5000", 120),),)),
    _PurchasePlan(4, "vandijk", ((("SRV-FRACHT", 2),),)),
    _PurchasePlan(5, "zuerich", ((("MAS-SIE-PRO", 4), ("MUE-KAF-PRO", 6)), (("MAS-SIE-PRO", 2), ("MUE-KAF-PRO", 4)))),
    _PurchasePlan(7, "gusswerk", ((("PAN-GUS-28", 100),), (("PAN-GUS-28", 60),))),
    _PurchasePlan(8, "roestmanufaktur", ((("KAF-ESP-1000", 150), ("KAF-FIL-500", 100)),), payment="partial"),
)
_FILLER_CUSTOMERS = (
    "hafenblick",
    "lindner",
    "seeblick",
    "loewen",
    "gruenzeug",
    "hafenblick",
    "lindner",
    "gruber",
    "dubois",
    "demolen",
    "bellavista",
    "bergblick",
    "brooklyn",
)
_FILLER_SUPPLIERS = ("roestmanufaktur", "solingen", "oleificio", "gusswerk", "roestmanufaktur")
_SALE_SKUS = (
    "KAF-ESP-1000",
    "KAF-FIL-500",
    "TEE-ASS-500",
    "OEL-OLI-5000",
    "PAN-GUS-28",
    "MES-KOC-20",
    "GLA-WEI-6",
    "KAF-CBR-1000",
    "MUE-KAF-PRO",
)


def demo_dataset(seed: int = 0, today: date | None = None) -> Cin7Dataset:
    """The demo company with a year of documents up to `today` (default: the real date)."""
    return _DemoBuilder(seed, today or date.today()).build()


@dataclass
class _Counters:
    order: int = 0
    invoice: int = 0
    credit: int = 0
    purchase: int = 0
    supplier: dict[str, int] = field(default_factory=dict)


class _DemoBuilder:
    """Builds the demo year in date order, drawing every random choice from one seeded generator."""

    def __init__(self, seed: int, today: date) -> None:
        self.rng = random.Random(f"cin7-demo:{seed}")  # noqa: S311 - reproducible demo data, not secrets
        self.today = today
        first = date(today.year, today.month, 1)
        for _ in range(MONTHS - 1):
            first = (first - timedelta(days=1)).replace(day=1)
        self.first_month = first
        self.numbers = _Counters()
        self.rates = {
            (currency, month): (base * Decimal(1 + self.rng.uniform(-0.03, 0.03))).quantize(RATE_STEP)
            for currency, base in TYPICAL_RATES.items()
            if currency != "EUR"
            for month in range(MONTHS)
        }
        self.master = build_master_data(
            self._new_id,
            datetime.combine(first - timedelta(days=30), time(9), UTC),
            datetime.combine(today - timedelta(days=3), time(10, 15), UTC),
        )
        self.percents = tax_percents(self.master.tax_rules)
        self.customers = self._parties(self.master.customers, tuple(spec.key for spec in CUSTOMERS))
        self.suppliers = self._parties(self.master.suppliers, tuple(spec.key for spec in SUPPLIERS))
        self.dataset = Cin7Dataset(
            me=self.master.me,
            accounts=self.master.accounts,
            tax_rules=self.master.tax_rules,
            locations=self.master.locations,
            customers=self.master.customers,
            suppliers=self.master.suppliers,
            bank_accounts=self.master.bank_accounts,
        )

    @staticmethod
    def _parties(records: list[JsonObject], keys: tuple[str, ...]) -> dict[str, Party]:
        return {key: Party(record) for key, record in zip(keys, records, strict=True)}

    def _new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    # --- dates and rates ---

    def _day(self, month: int) -> date:
        year, month_number = divmod(self.first_month.month - 1 + month, 12)
        day = date(self.first_month.year + year, month_number + 1, self.rng.randint(1, 28))
        return min(day, self.today)

    def _moment(self, day: date) -> datetime:
        """A time on `day`; on today itself just after midnight, so no timestamp lies in the future."""
        hour = 0 if day == self.today else self.rng.randint(7, 18)
        return datetime.combine(
            day, time(hour, self.rng.randint(0, 59), self.rng.randint(0, 59), self.rng.randint(0, 999) * 1000), UTC
        )

    def _rate(self, currency: str, day: date) -> Decimal:
        if currency == "EUR":
            return Decimal(1)
        month = (day.year - self.first_month.year) * 12 + day.month - self.first_month.month
        return self.rates[(currency, max(0, min(MONTHS - 1, month)))]

    # --- the year ---

    def build(self) -> Cin7Dataset:
        plans: list[_SalePlan | _PurchasePlan] = [*_SPECIAL_SALES, *_SPECIAL_PURCHASES]
        for month in range(MONTHS):
            plans += [self._filler_sale(month) for _ in range(self.rng.randint(3, 5))]
            plans += [self._filler_purchase(month) for _ in range(self.rng.randint(1, 2))]
        dated = [(self._day(plan.month), index, plan) for index, plan in enumerate(plans)]
        for day, _, plan in sorted(dated, key=lambda entry: (entry[0], entry[1])):
            if isinstance(plan, _SalePlan):
                self._sale(plan, day)
            else:
                self._purchase(plan, day)
        return self.dataset

    def _filler_sale(self, month: int) -> _SalePlan:
        skus = self.rng.sample(_SALE_SKUS, self.rng.randint(1, 3))
        items = tuple((sku, self.rng.choice((5, 10, 12, 20, 24, 30, 40)), 0) for sku in skus)
        return _SalePlan(month, self.rng.choice(_FILLER_CUSTOMERS), items, freight=self.rng.random() < 0.2)

    def _filler_purchase(self, month: int) -> _PurchasePlan:
        supplier = self.rng.choice(_FILLER_SUPPLIERS)
        skus = [p.sku for p in PRODUCTS.values() if p.supplier == supplier and not p.service]
        chosen = self.rng.sample(skus, self.rng.randint(1, len(skus)))
        return _PurchasePlan(month, supplier, (tuple((sku, self.rng.choice((40, 60, 80, 120))) for sku in chosen),))

    # --- sales ---

    def _sale(self, plan: _SalePlan, day: date) -> None:
        customer = self.customers[plan.customer]
        rate = self._rate(customer.currency, day)
        location = next(loc for loc in self.master.locations if loc["Name"] == customer.record["Location"])
        self.numbers.order += 1
        self.numbers.invoice += 1
        spec = SaleInput(
            sale_id=self._new_id(),
            order_number=f"SO-{self.numbers.order:05d}",
            invoice_task_id=self._new_id(),
            invoice_number=f"INV-{self.numbers.invoice:05d}",
            fulfilment_task_id=self._new_id(),
            attachment_id=self._new_id(),
            customer=customer,
            location=location,
            invoice_date=day,
            due_days=payment_terms_days(customer.record),
            currency_rate=rate,
            inclusive=plan.inclusive,
            lines=tuple(
                self._sale_line(customer, sku, quantity, discount, rate, plan.inclusive)
                for sku, quantity, discount in plan.items
            ),
            charges=(self._freight(customer, rate, plan.inclusive),) if plan.freight else (),
            modified_at=self._moment(day),
            customer_reference=f"Bestellung {self.rng.randint(1000, 9999)}",
        )
        sale = new_sale(spec)
        self.dataset.sales[spec.sale_id] = sale
        self._attach_sale_pdf(sale, sale["Invoices"][0], spec.attachment_id)
        self._settle_sale(plan, sale, day)

    def _sale_line(
        self, customer: Party, sku: str, quantity: int, discount: int, rate: Decimal, inclusive: bool
    ) -> LineInput:
        product = PRODUCTS[sku]
        rule, account = sale_tax(customer.record, product)
        price = cents(product.price / rate)
        if inclusive:
            price = cents(price * (100 + self.percents[rule]) / 100)
        return LineInput(
            product_id=self.master.product_ids[sku],
            sku=sku,
            name=product.name,
            quantity=Decimal(quantity),
            price=price,
            tax_rule=rule,
            tax_percent=self.percents[rule],
            account=account,
            discount=Decimal(discount),
            average_cost=_average_cost(product),
        )

    def _freight(self, customer: Party, rate: Decimal, inclusive: bool) -> ChargeInput:
        rule, account = sale_tax(customer.record, PRODUCTS["PAN-GUS-28"])
        price = cents(_FREIGHT / rate)
        if inclusive:
            price = cents(price * (100 + self.percents[rule]) / 100)
        return ChargeInput("Fracht und Verpackung", price, rule, self.percents[rule], account)

    def _attach_sale_pdf(self, sale: JsonObject, document: JsonObject, attachment_id: str) -> None:
        entry = next(a for a in sale["Attachments"] if a["ID"] == attachment_id)
        customer = next(c for c in self.master.customers if c["ID"] == sale["CustomerID"])
        pdf = sale_document_pdf(COMPANY_NAME, sale, document, str(customer.get("TaxNumber") or ""))
        self.dataset.attachments.setdefault(sale["ID"], {})[entry["FileName"]] = pdf

    def _settle_sale(self, plan: _SalePlan, sale: JsonObject, day: date) -> None:
        customer = self.customers[plan.customer]
        pay_day = day + timedelta(days=max(1, payment_terms_days(customer.record) + self.rng.randint(-5, 10)))
        if plan.void:
            void_sale(sale, self._moment(day + timedelta(days=2)))
        elif plan.credit == "unpaid":
            self._credit(sale, day + timedelta(days=5), Decimal("0.5"), refund=False)
            self._pay_sale(sale, pay_day, sale_balance(sale))
        elif plan.payment == "partial":
            self._pay_sale(sale, day + timedelta(days=10), cents(sale_balance(sale) / 2))
        elif plan.payment == "auto":
            self._pay_sale(sale, pay_day, sale_balance(sale))
            if plan.credit == "refund":
                self._credit(sale, pay_day + timedelta(days=self.rng.randint(3, 10)), Decimal("0.2"), refund=True)

    def _pay_sale(self, sale: JsonObject, day: date, amount: Decimal) -> None:
        if day > self.today or amount <= 0:
            return
        currency = sale["CustomerCurrency"]
        account = BANK_USD if currency == "USD" else BANK_PAYPAL if "Hofladen" in sale["Customer"] else BANK_EUR
        invoice_number = sale["Invoices"][0]["InvoiceNumber"]
        payment = payment_line(
            self._new_id(),
            amount,
            day,
            account,
            self._rate(currency, day),
            self._moment(day),
            f"Überweisung {invoice_number}",
        )
        add_sale_payment(sale, payment, self._moment(day))

    def _credit(self, sale: JsonObject, day: date, share: Decimal, *, refund: bool) -> None:
        if day > self.today:
            return
        self.numbers.credit += 1
        number = f"CR-{self.numbers.credit:05d}"
        attachment_id = self._new_id()
        credit_note = add_sale_credit_note(
            sale,
            task_id=self._new_id(),
            number=number,
            credit_date=day,
            quantity_share=share,
            tax_percents=self.percents,
            modified_at=self._moment(day),
            attachment_id=attachment_id,
        )
        refund_day = day + timedelta(days=2)
        if refund and refund_day <= self.today:
            currency = sale["CustomerCurrency"]
            credit_note["Refunds"].append(
                payment_line(
                    self._new_id(),
                    to_decimal(credit_note["Total"]),
                    refund_day,
                    BANK_USD if currency == "USD" else BANK_EUR,
                    self._rate(currency, refund_day),
                    self._moment(refund_day),
                    f"Erstattung {number}",
                )
            )
            refresh_sale(sale, self._moment(refund_day))
        self._attach_sale_pdf(sale, credit_note, attachment_id)

    # --- purchases ---

    def _purchase(self, plan: _PurchasePlan, day: date) -> None:
        supplier = self.suppliers[plan.supplier]
        invoices = [
            self._purchase_invoice(
                plan.supplier,
                min(day + timedelta(days=20 * number), self.today),
                tuple(self._purchase_line(supplier, sku, quantity) for sku, quantity in delivery),
            )
            for number, delivery in enumerate(plan.deliveries)
        ]
        service_only = all(PRODUCTS[sku].service for delivery in plan.deliveries for sku, _ in delivery)
        purchase = self._add_purchase(plan.supplier, invoices, day, service_only=service_only)
        self._settle_purchase(plan.payment, purchase, supplier)
        if supplier.currency != "EUR":
            for invoice in purchase_invoices(purchase):
                self._customs_invoice(purchase, invoice)

    def _purchase_invoice(self, key: str, day: date, lines: tuple[LineInput, ...]) -> PurchaseInvoiceInput:
        counter = self.numbers.supplier.setdefault(key, self.rng.randint(100, 900)) + 1
        self.numbers.supplier[key] = counter
        number = _SUPPLIER_NUMBER_FORMATS[key].format(year=day.year, short=day.year % 100, n=counter)
        return PurchaseInvoiceInput(
            self._new_id(), number, day, lines, (), self._new_id(), f"Rechnung {number.replace('/', '-')}.pdf"
        )

    def _purchase_line(self, supplier: Party, sku: str, quantity: int, price: Decimal | None = None) -> LineInput:
        product = PRODUCTS[sku]
        rule, account = purchase_tax(supplier.record, product)
        return LineInput(
            product_id=self.master.product_ids[sku],
            sku=sku,
            name=product.name,
            quantity=Decimal(quantity),
            price=product.cost if price is None else price,
            tax_rule=rule,
            tax_percent=self.percents[rule],
            account=account,
        )

    def _add_purchase(
        self, key: str, invoices: list[PurchaseInvoiceInput], day: date, *, service_only: bool
    ) -> JsonObject:
        supplier = self.suppliers[key]
        self.numbers.purchase += 1
        location_name = _SUPPLIER_SPECS[key].location
        spec = PurchaseInput(
            purchase_id=self._new_id(),
            order_number=f"PO-{self.numbers.purchase:05d}",
            supplier=supplier,
            location=next(loc for loc in self.master.locations if loc["Name"] == location_name),
            due_days=payment_terms_days(supplier.record),
            currency_rate=self._rate(supplier.currency, day),
            invoices=tuple(invoices),
            modified_at=self._moment(max(i.invoice_date for i in invoices)),
            service_only=service_only,
        )
        purchase = new_purchase(spec)
        self.dataset.purchases[spec.purchase_id] = purchase
        self.dataset.purchase_payments[spec.purchase_id] = []
        files = self.dataset.attachments.setdefault(spec.purchase_id, {})
        for invoice_input, invoice in zip(invoices, purchase_invoices(purchase), strict=True):
            files[invoice_input.attachment_name] = purchase_invoice_pdf(
                COMPANY_NAME, purchase, invoice, supplier.record
            )
        return purchase

    def _settle_purchase(self, payment: str, purchase: JsonObject, supplier: Party) -> None:
        """Pay each supplier invoice when its terms are due (only 40 % of it for a partly paid purchase)."""
        for invoice in purchase_invoices(purchase):
            invoice_day = datetime.fromisoformat(invoice["InvoiceDate"]).date()
            pay_day = invoice_day + timedelta(
                days=max(1, payment_terms_days(supplier.record) + self.rng.randint(-3, 5))
            )
            if pay_day > self.today:
                continue
            amount = to_decimal(invoice["Total"])
            if payment == "partial":
                amount = cents(amount * Decimal("0.4"))
            account = BANK_USD if supplier.currency == "USD" else BANK_EUR
            line = payment_line(
                self._new_id(),
                amount,
                pay_day,
                account,
                self._rate(supplier.currency, pay_day),
                self._moment(pay_day),
                f"Zahlung {invoice['InvoiceNumber']}",
            )
            add_purchase_payment(
                purchase, self.dataset.purchase_payments[purchase["ID"]], invoice, line, self._moment(pay_day)
            )

    def _customs_invoice(self, purchase: JsonObject, invoice: JsonObject) -> None:
        """The customs agent's invoice for an import: the import VAT it advanced plus its fee."""
        day = datetime.fromisoformat(invoice["InvoiceDate"]).date() + timedelta(days=3)
        if day > self.today:
            return
        rate = to_decimal(purchase["CurrencyRate"])
        import_vat = sum(
            (
                to_decimal(line["Total"]) * rate * (7 if PRODUCTS[line["SKU"]].reduced else 19) / 100
                for line in invoice["Lines"]
            ),
            Decimal(0),
        ).quantize(CENT)
        agent = self.suppliers["zollagentur"]
        lines = (self._purchase_line(agent, "SRV-EUST", 1, import_vat), self._purchase_line(agent, "SRV-ZOLL", 1))
        customs = self._add_purchase(
            "zollagentur", [self._purchase_invoice("zollagentur", day, lines)], day, service_only=True
        )
        self._settle_purchase("auto", customs, agent)


def _average_cost(product: Product) -> Decimal:
    return cents(product.cost * TYPICAL_RATES[_SUPPLIER_SPECS[product.supplier].currency])
