"""The demo company's master data: a German wholesaler of coffee, fine food and kitchen equipment.

**Elbe & Isar Großhandel GmbH** (base currency EUR, time zone Europe/Berlin, TaxCalculationMethod
"Row Total") keeps stock in two warehouses, locations **"Hamburg"** and **"München"**.

Tax rules, by name (Cin7 has no tax code field, so the DATEV mapping keys on these names):

| Name | Use | Rate on the invoice | Components (account) |
|---|---|---|---|
| USt 19% | domestic sales, standard rate | 19 | 19 (1776) |
| USt 7% | domestic sales of food (coffee, tea, oil) | 7 | 7 (1771) |
| Steuerfrei innergemeinschaftliche Lieferung | sales to EU businesses with a VAT id | 0 | 0 |
| Steuerfrei Ausfuhr | exports to third countries (CH, US) | 0 | 0 |
| Vorsteuer 19% | domestic supplier invoices, standard rate | 19 | 19 (1576) |
| Vorsteuer 7% | domestic supplier invoices, food | 7 | 7 (1571) |
| Innergemeinschaftlicher Erwerb 19% | goods from EU suppliers (AT) | 0 | +19 (1574), −19 (1774) |
| Innergemeinschaftlicher Erwerb 7% | food from EU suppliers (IT) | 0 | +7 (1572), −7 (1772) |
| Reverse Charge §13b | services of EU businesses (NL freight) | 0 | +19 (1577), −19 (1787) |
| Einfuhr Drittland (ohne Vorsteuer) | invoices of US/CH suppliers; import VAT is paid at customs | 0 | 0 |
| Einfuhrumsatzsteuer | the import VAT line on the customs agent's invoice (the line amount is the tax) | 0 | 0 (1588) |

Chart of accounts (Cin7 codes, SKR03-like; the pipeline maps them to SKR03/SKR04 later): banks 1200
(Hamburger Sparkasse, EUR), 1210 (Commerzbank USD), 1220 (PayPal); receivables 1400, payables 1600;
input VAT 1571/1572/1574/1576/1577, import VAT 1588; output VAT 1771/1772/1774/1776/1787; stock 3980,
cost of goods 3200, inbound costs 3800, outbound freight 4730; revenue 8400 (19 %), 8300 (7 %),
8125 (intra-EU supplies), 8120 (exports); FX gains 2660, rounding 4999, retained earnings 0860.

Customers: six German businesses (one, Hofladen Sonnenwiese, has no VAT id and is invoiced tax-inclusive),
EU businesses in AT, FR, NL and IT with VAT ids, Confiserie Bergblick AG (CH, CHF) and Brooklyn Coffee
Supply LLC (US, USD), plus one deprecated German customer. Suppliers: three German (coffee roaster, knife
maker, customs agent), EU suppliers in IT and AT (goods) and NL (freight services), a US coffee importer
in USD and a Swiss machine maker in CHF.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from datev_cin7_pipeline.sandbox.cin7.dates import format_document_date, format_timestamp
from datev_cin7_pipeline.sandbox.cin7.jsonio import JsonObject

COMPANY_NAME = "Elbe & Isar Großhandel GmbH"
COMPANY_ADDRESS = "Großer Grasbrook 10, 20457 Hamburg"
COMPANY_VAT_ID = "DE298765432"

USt19, USt7 = "USt 19%", "USt 7%"
IGL, AUSFUHR = "Steuerfrei innergemeinschaftliche Lieferung", "Steuerfrei Ausfuhr"
VSt19, VSt7 = "Vorsteuer 19%", "Vorsteuer 7%"
IGE19, IGE7 = "Innergemeinschaftlicher Erwerb 19%", "Innergemeinschaftlicher Erwerb 7%"
RC13B = "Reverse Charge §13b"
EINFUHR = "Einfuhr Drittland (ohne Vorsteuer)"
EUST = "Einfuhrumsatzsteuer"

ACCOUNT_STOCK, ACCOUNT_INBOUND_COSTS, ACCOUNT_FREIGHT_OUT, ACCOUNT_EUST = "3980", "3800", "4730", "1588"
ACCOUNT_REVENUE_7 = "8300"
TYPICAL_RATES = {"EUR": Decimal(1), "USD": Decimal("0.9200"), "CHF": Decimal("1.0500")}
"""Base-currency units per unit of a foreign currency (Cin7's documented CurrencyRate direction)."""
BANK_EUR, BANK_USD, BANK_PAYPAL = "1200", "1210", "1220"

# (name, payable rate, for sale, account, components as (name, percent, account code))
_TAX_RULES: tuple[tuple[str, int, bool, str, tuple[tuple[str, int, str], ...]], ...] = (
    (USt19, 19, True, "1776", (("Umsatzsteuer 19%", 19, "1776"),)),
    (USt7, 7, True, "1771", (("Umsatzsteuer 7%", 7, "1771"),)),
    (IGL, 0, True, "1776", (("Steuerfrei § 4 Nr. 1b UStG", 0, ""),)),
    (AUSFUHR, 0, True, "1776", (("Steuerfrei § 4 Nr. 1a UStG", 0, ""),)),
    (VSt19, 19, False, "1576", (("Vorsteuer 19%", 19, "1576"),)),
    (VSt7, 7, False, "1571", (("Vorsteuer 7%", 7, "1571"),)),
    (IGE19, 0, False, "1574", (("Vorsteuer ig. Erwerb 19%", 19, "1574"), ("Umsatzsteuer ig. Erwerb 19%", -19, "1774"))),
    (IGE7, 0, False, "1572", (("Vorsteuer ig. Erwerb 7%", 7, "1572"), ("Umsatzsteuer ig. Erwerb 7%", -7, "1772"))),
    (RC13B, 0, False, "1577", (("Vorsteuer § 13b 19%", 19, "1577"), ("Umsatzsteuer § 13b 19%", -19, "1787"))),
    (EINFUHR, 0, False, "1576", (("Keine Vorsteuer (EUSt separat)", 0, ""),)),
    (EUST, 0, False, ACCOUNT_EUST, (("Einfuhrumsatzsteuer lt. Zollbescheid", 0, ACCOUNT_EUST),)),
)

# (code, name, class, type, system account, currency for bank accounts)
_ACCOUNTS: tuple[tuple[str, str, str, str, str | None, str | None], ...] = (
    ("0860", "Gewinnvortrag vor Verwendung", "EQUITY", "EQUITY", "RETAINEDEARNINGS", None),
    (BANK_EUR, "Bank Hamburger Sparkasse", "ASSET", "BANK", None, "EUR"),
    (BANK_USD, "Bank Commerzbank USD", "ASSET", "BANK", None, "USD"),
    (BANK_PAYPAL, "PayPal", "ASSET", "BANK", None, "EUR"),
    ("1400", "Forderungen aus Lieferungen und Leistungen", "ASSET", "CURRENT", "DEBTORS", None),
    ("1571", "Abziehbare Vorsteuer 7 %", "ASSET", "CURRENT", None, None),
    ("1572", "Abziehbare Vorsteuer aus innergemeinschaftlichem Erwerb 7 %", "ASSET", "CURRENT", None, None),
    ("1574", "Abziehbare Vorsteuer aus innergemeinschaftlichem Erwerb 19 %", "ASSET", "CURRENT", None, None),
    ("1576", "Abziehbare Vorsteuer 19 %", "ASSET", "CURRENT", None, None),
    ("1577", "Abziehbare Vorsteuer nach § 13b UStG 19 %", "ASSET", "CURRENT", None, None),
    (ACCOUNT_EUST, "Entstandene Einfuhrumsatzsteuer", "ASSET", "CURRENT", "GSTONIMPORTS", None),
    ("1600", "Verbindlichkeiten aus Lieferungen und Leistungen", "LIABILITY", "CURRLIAB", "CREDITORS", None),
    ("1771", "Umsatzsteuer 7 %", "LIABILITY", "CURRLIAB", None, None),
    ("1772", "Umsatzsteuer aus innergemeinschaftlichem Erwerb 7 %", "LIABILITY", "CURRLIAB", None, None),
    ("1774", "Umsatzsteuer aus innergemeinschaftlichem Erwerb 19 %", "LIABILITY", "CURRLIAB", None, None),
    ("1776", "Umsatzsteuer 19 %", "LIABILITY", "CURRLIAB", "GST", None),
    ("1787", "Umsatzsteuer nach § 13b UStG 19 %", "LIABILITY", "CURRLIAB", None, None),
    ("2660", "Erträge aus Kursdifferenzen", "REVENUE", "OTHERINCOME", "REALISEDCURRENCYGAIN", None),
    ("3200", "Wareneinsatz", "EXPENSE", "DIRECTCOSTS", None, None),
    (ACCOUNT_INBOUND_COSTS, "Bezugsnebenkosten", "EXPENSE", "DIRECTCOSTS", None, None),
    (ACCOUNT_STOCK, "Bestand Waren", "ASSET", "INVENTORY", None, None),
    (ACCOUNT_FREIGHT_OUT, "Ausgangsfrachten", "EXPENSE", "EXPENSE", None, None),
    ("4999", "Rundungsdifferenzen", "EXPENSE", "EXPENSE", "ROUNDING", None),
    ("8120", "Steuerfreie Umsätze § 4 Nr. 1a UStG (Ausfuhr)", "REVENUE", "REVENUE", None, None),
    ("8125", "Steuerfreie innergemeinschaftliche Lieferungen § 4 Nr. 1b UStG", "REVENUE", "REVENUE", None, None),
    (ACCOUNT_REVENUE_7, "Erlöse 7 % USt", "REVENUE", "REVENUE", None, None),
    ("8400", "Erlöse 19 % USt", "REVENUE", "REVENUE", None, None),
)
_IBANS = {BANK_EUR: "DE12 2005 0550 1234 5678 90", BANK_USD: "DE44 2004 0000 0123 4567 00", BANK_PAYPAL: ""}
_BANK_NAMES = {BANK_EUR: "Hamburger Sparkasse", BANK_USD: "Commerzbank", BANK_PAYPAL: "PayPal"}

# (name, street, postcode, city, address line 2 / state, location name)
_LOCATIONS = (
    ("Hamburg", "Großer Grasbrook 10", "20457", "Hamburg", "Hamburg"),
    ("München", "Landsberger Straße 300", "80687", "München", "Bayern"),
)


@dataclass(frozen=True)
class PartySpec:
    """A customer or supplier of the demo company, before it gets an ID."""

    key: str
    name: str
    street: str
    postcode: str
    city: str
    country: str
    tax_number: str
    currency: str
    tax_rule: str
    account: str
    terms_days: int
    location: str
    contact: str
    email: str
    phone: str
    deprecated: bool = False


CUSTOMERS: tuple[PartySpec, ...] = (
    PartySpec(
        "hafenblick",
        "Café Hafenblick GmbH",
        "Am Kaiserkai 12",
        "20457",
        "Hamburg",
        "Germany",
        "DE287441906",
        "EUR",
        USt19,
        "8400",
        14,
        "Hamburg",
        "Jana Petersen",
        "einkauf@cafe-hafenblick.de",
        "+49 40 3178 2210",
    ),
    PartySpec(
        "lindner",
        "Kaffeerösterei Lindner GmbH & Co. KG",
        "Hohe Straße 88",
        "50667",
        "Köln",
        "Germany",
        "DE314159265",
        "EUR",
        USt19,
        "8400",
        30,
        "Hamburg",
        "Markus Lindner",
        "bestellung@lindner-kaffee.de",
        "+49 221 925 4410",
    ),
    PartySpec(
        "seeblick",
        "Hotel Seeblick Timmendorfer Strand GmbH",
        "Strandallee 141",
        "23669",
        "Timmendorfer Strand",
        "Germany",
        "DE271828182",
        "EUR",
        USt19,
        "8400",
        30,
        "Hamburg",
        "Frank Möller",
        "f.moeller@hotel-seeblick.de",
        "+49 4503 8870",
    ),
    PartySpec(
        "loewen",
        "Gasthaus Zum Löwen Inh. Maria Huber e.K.",
        "Max-Josefs-Platz 7",
        "83022",
        "Rosenheim",
        "Germany",
        "DE161803398",
        "EUR",
        USt19,
        "8400",
        14,
        "München",
        "Maria Huber",
        "info@gasthaus-loewen-rosenheim.de",
        "+49 8031 12 345",
    ),
    PartySpec(
        "gruenzeug",
        "Bio-Markt Grünzeug eG",
        "Kaiser-Joseph-Straße 215",
        "79098",
        "Freiburg im Breisgau",
        "Germany",
        "DE141421356",
        "EUR",
        USt19,
        "8400",
        30,
        "München",
        "Sabine Weiß",
        "einkauf@gruenzeug.de",
        "+49 761 208 7730",
    ),
    PartySpec(
        "sonnenwiese",
        "Hofladen Sonnenwiese (Inh. Jörg Brandt)",
        "Am Sande 3",
        "21335",
        "Lüneburg",
        "Germany",
        "",
        "EUR",
        USt19,
        "8400",
        14,
        "Hamburg",
        "Jörg Brandt",
        "hofladen@sonnenwiese.de",
        "+49 4131 40 112",
    ),
    PartySpec(
        "gruber",
        "Wiener Kaffeehaus Gruber GmbH",
        "Graben 21",
        "1010",
        "Wien",
        "Austria",
        "ATU57390142",
        "EUR",
        IGL,
        "8125",
        30,
        "München",
        "Stefan Gruber",
        "office@kaffeehaus-gruber.at",
        "+43 1 512 3344",
    ),
    PartySpec(
        "dubois",
        "Épicerie Fine Dubois SARL",
        "12 Rue de la République",
        "69002",
        "Lyon",
        "France",
        "FR83404833048",
        "EUR",
        IGL,
        "8125",
        30,
        "München",
        "Claire Dubois",
        "commandes@epicerie-dubois.fr",
        "+33 4 78 42 19 00",
    ),
    PartySpec(
        "demolen",
        "Koffiehuis De Molen B.V.",
        "Damrak 44",
        "1012 LM",
        "Amsterdam",
        "Netherlands",
        "NL859361273B01",
        "EUR",
        IGL,
        "8125",
        30,
        "Hamburg",
        "Pieter de Vries",
        "inkoop@koffiehuisdemolen.nl",
        "+31 20 624 1180",
    ),
    PartySpec(
        "bellavista",
        "Trattoria Bella Vista S.r.l.",
        "Via Brera 19",
        "20121",
        "Milano",
        "Italy",
        "IT07643520567",
        "EUR",
        IGL,
        "8125",
        30,
        "München",
        "Luca Bianchi",
        "ordini@bellavista-milano.it",
        "+39 02 8646 2201",
    ),
    PartySpec(
        "bergblick",
        "Confiserie Bergblick AG",
        "Bahnhofstrasse 52",
        "8001",
        "Zürich",
        "Switzerland",
        "CHE-116.281.710 MWST",
        "CHF",
        AUSFUHR,
        "8120",
        30,
        "München",
        "Urs Keller",
        "einkauf@bergblick.ch",
        "+41 44 211 5060",
    ),
    PartySpec(
        "brooklyn",
        "Brooklyn Coffee Supply LLC",
        "145 Front Street",
        "11201",
        "Brooklyn, NY",
        "United States",
        "",
        "USD",
        AUSFUHR,
        "8120",
        30,
        "Hamburg",
        "Dana Russo",
        "purchasing@brooklyncoffeesupply.com",
        "+1 718 555 0142",
    ),
    PartySpec(
        "nordwerft",
        "Kantine Nordwerft GmbH",
        "Neuhöfer Straße 23",
        "21129",
        "Hamburg",
        "Germany",
        "DE251110393",
        "EUR",
        USt19,
        "8400",
        14,
        "Hamburg",
        "Olaf Jensen",
        "kantine@nordwerft.de",
        "+49 40 7400 1200",
        deprecated=True,
    ),
)

SUPPLIERS: tuple[PartySpec, ...] = (
    PartySpec(
        "roestmanufaktur",
        "Röstmanufaktur Bremen GmbH",
        "Schlachte 30",
        "28195",
        "Bremen",
        "Germany",
        "DE118574921",
        "EUR",
        VSt7,
        "1600",
        30,
        "Hamburg",
        "Heike Dreyer",
        "vertrieb@roestmanufaktur-bremen.de",
        "+49 421 330 2040",
    ),
    PartySpec(
        "solingen",
        "Solinger Schneidwaren Weber & Söhne KG",
        "Klingenstraße 14",
        "42651",
        "Solingen",
        "Germany",
        "DE120396751",
        "EUR",
        VSt19,
        "1600",
        30,
        "Hamburg",
        "Thomas Weber",
        "auftrag@weber-soehne.de",
        "+49 212 22 0815",
    ),
    PartySpec(
        "zollagentur",
        "Hanseatische Zollagentur GmbH",
        "Bei St. Annen 2",
        "20457",
        "Hamburg",
        "Germany",
        "DE118695432",
        "EUR",
        VSt19,
        "1600",
        10,
        "Hamburg",
        "Kai Lorenzen",
        "abfertigung@hh-zollagentur.de",
        "+49 40 3009 870",
    ),
    PartySpec(
        "oleificio",
        "Oleificio Toscano S.r.l.",
        "Via dei Serragli 104",
        "50125",
        "Firenze",
        "Italy",
        "IT05123450483",
        "EUR",
        IGE7,
        "1600",
        30,
        "München",
        "Giulia Rossi",
        "export@oleificiotoscano.it",
        "+39 055 229 4410",
    ),
    PartySpec(
        "gusswerk",
        "Alpen-Gusswerk GmbH",
        "Museumstraße 20",
        "6020",
        "Innsbruck",
        "Austria",
        "ATU64213589",
        "EUR",
        IGE19,
        "1600",
        30,
        "München",
        "Andreas Hofer",
        "verkauf@alpen-gusswerk.at",
        "+43 512 580 220",
    ),
    PartySpec(
        "vandijk",
        "Logistiek Van Dijk B.V.",
        "Coolsingel 40",
        "3011 AD",
        "Rotterdam",
        "Netherlands",
        "NL823456789B01",
        "EUR",
        RC13B,
        "1600",
        14,
        "Hamburg",
        "Sanne van Dijk",
        "facturen@vandijk-logistiek.nl",
        "+31 10 411 7300",
    ),
    PartySpec(
        "pacific",
        "Pacific Coffee Importers Inc.",
        "1201 Western Avenue",
        "98101",
        "Seattle, WA",
        "United States",
        "",
        "USD",
        EINFUHR,
        "1600",
        30,
        "Hamburg",
        "Ryan Mitchell",
        "sales@pacificcoffee.com",
        "+1 206 555 0187",
    ),
    PartySpec(
        "zuerich",
        "Kaffeemaschinen Zürich AG",
        "Hardturmstrasse 161",
        "8005",
        "Zürich",
        "Switzerland",
        "CHE-109.322.551 MWST",
        "CHF",
        EINFUHR,
        "1600",
        30,
        "München",
        "Reto Baumann",
        "export@kmz.ch",
        "+41 44 448 2700",
    ),
)


@dataclass(frozen=True)
class Product:
    """A catalogue item: sale price in EUR, purchase cost in the supplier's currency, reduced VAT or not."""

    sku: str
    name: str
    price: Decimal
    cost: Decimal
    reduced: bool
    supplier: str
    service: bool = False


CATALOGUE: tuple[Product, ...] = (
    Product("KAF-ESP-1000", "Espresso-Bohnen Crema, 1 kg", Decimal("18.90"), Decimal("11.20"), True, "roestmanufaktur"),
    Product(
        "KAF-FIL-500", "Filterkaffee Hausmischung, 500 g", Decimal("8.40"), Decimal("4.60"), True, "roestmanufaktur"
    ),
    Product("TEE-ASS-500", "Assam-Tee lose, 500 g", Decimal("12.40"), Decimal("6.90"), True, "roestmanufaktur"),
    Product(
        "OEL-OLI-5000", "Olivenöl extra vergine, 5 l Kanister", Decimal("39.50"), Decimal("24.80"), True, "oleificio"
    ),
    Product("PAN-GUS-28", "Gusseisenpfanne 28 cm", Decimal("34.90"), Decimal("19.50"), False, "gusswerk"),
    Product("MES-KOC-20", "Kochmesser 20 cm, rostfrei", Decimal("49.00"), Decimal("27.00"), False, "solingen"),
    Product("GLA-WEI-6", "Weinglas-Set, 6 Stück", Decimal("22.50"), Decimal("12.00"), False, "solingen"),
    Product("KAF-CBR-1000", "Cold-Brew-Konzentrat, 1 l", Decimal("14.90"), Decimal("7.80"), True, "pacific"),
    Product(
        "MAS-SIE-PRO", "Siebträgermaschine Profi, 2-gruppig", Decimal("1249.00"), Decimal("895.00"), False, "zuerich"
    ),
    Product("MUE-KAF-PRO", "Kaffeemühle Profi 64 mm", Decimal("389.00"), Decimal("255.00"), False, "zuerich"),
    Product(
        "SRV-FRACHT",
        "Frachtdienstleistung Rotterdam–Hamburg",
        Decimal(0),
        Decimal("385.00"),
        False,
        "vandijk",
        service=True,
    ),
    Product("SRV-ZOLL", "Zollabfertigungspauschale", Decimal(0), Decimal("65.00"), False, "zollagentur", service=True),
    Product(
        "SRV-EUST",
        "Einfuhrumsatzsteuer lt. Zollbescheid (Auslage)",
        Decimal(0),
        Decimal(0),
        False,
        "zollagentur",
        service=True,
    ),
)
PRODUCTS = {product.sku: product for product in CATALOGUE}

IdFactory = Callable[[], str]


@dataclass(frozen=True)
class MasterData:
    """Everything but the documents; `product_ids` gives each catalogue SKU its ProductID."""

    me: JsonObject
    accounts: list[JsonObject]
    tax_rules: list[JsonObject]
    locations: list[JsonObject]
    customers: list[JsonObject]
    suppliers: list[JsonObject]
    bank_accounts: list[JsonObject]
    product_ids: dict[str, str]


def tax_percents(tax_rules: list[JsonObject]) -> dict[str, Decimal]:
    """Rule name → the rate that lands on the invoice (`TaxPercent`)."""
    return {str(rule["Name"]): Decimal(str(rule.get("TaxPercent") or 0)) for rule in tax_rules}


def sale_tax(customer: JsonObject, product: Product) -> tuple[str, str]:
    """(tax rule, revenue account) of a sale line: the customer's default, 7 % for food sold at home."""
    rule, account = str(customer.get("TaxRule") or ""), str(customer.get("RevenueAccount") or "")
    if product.reduced and rule == USt19:
        return USt7, ACCOUNT_REVENUE_7
    return rule, account


def purchase_tax(supplier: JsonObject, product: Product) -> tuple[str, str]:
    """(tax rule, account) of a purchase line: stock goes to the stock account, services to expenses."""
    rule = str(supplier.get("TaxRule") or "")
    if product.sku == "SRV-EUST":
        return EUST, ACCOUNT_EUST
    if product.sku == "SRV-FRACHT":
        return rule, ACCOUNT_FREIGHT_OUT
    if product.service:
        return rule, ACCOUNT_INBOUND_COSTS
    if product.reduced:
        rule = {VSt19: VSt7, IGE19: IGE7}.get(rule, rule)
    return rule, ACCOUNT_STOCK


def build_master_data(new_id: IdFactory, created: datetime, recently: datetime) -> MasterData:
    """All master data; parties were created at `created`, two of them changed `recently`."""
    tax_rules = [_tax_rule(new_id, *spec) for spec in _TAX_RULES]
    accounts = [_account(new_id, *spec) for spec in _ACCOUNTS]
    locations = [_location(new_id, *spec, is_default=index == 0) for index, spec in enumerate(_LOCATIONS)]
    changed = {"seeblick", "solingen"}
    customers = [_customer(new_id, spec, recently if spec.key in changed else created) for spec in CUSTOMERS]
    suppliers = [_supplier(new_id, spec, recently if spec.key in changed else created) for spec in SUPPLIERS]
    me = {
        "Company": COMPANY_NAME,
        "Currency": "EUR",
        "TimeZone": "Europe/Berlin",
        "TaxCalculationMethod": "Row Total",
        "DefaultSaleTaxRuleId": tax_rules[0]["ID"],
        "DefaultSaleTaxRuleName": USt19,
        "DefaultDimensionsUnits": "cm",
        "DefaultWeightUnits": "kg",
        "DiscountRule": "Discount",
        "ApplyCustomerDiscountsAfterOtherDiscounts": True,
        "AutomaticallyApplyDiscounts": False,
        "LockDate": None,
        "MaximumDecimalPlacesInQuantity": "N2",
        "OpeningBalanceDate": format_document_date(created.date()),
        "RoundingTable": [],
    }
    banks = [_bank_account(account) for account in accounts if account["Type"] == "BANK"]
    return MasterData(
        me,
        accounts,
        tax_rules,
        locations,
        customers,
        suppliers,
        banks,
        {product.sku: new_id() for product in CATALOGUE},
    )


def _percent_text(percent: int) -> str:
    return f"{percent:.10f}"


def _tax_rule(
    new_id: IdFactory,
    name: str,
    percent: int,
    for_sale: bool,
    account: str,
    components: tuple[tuple[str, int, str], ...],
) -> JsonObject:
    return {
        "ID": new_id(),
        "Name": name,
        "Account": account,
        "IsActive": True,
        "TaxInclusive": False,
        "TaxPercent": percent,
        "IsTaxForSale": for_sale,
        "IsTaxForPurchase": not for_sale,
        "Components": [
            {
                "ID": new_id().upper(),
                "Name": component,
                "Percent": _percent_text(rate),
                "AccountCode": code,
                "ComponentOrder": str(order + 1),
                "Compound": "0",
            }
            for order, (component, rate, code) in enumerate(components)
        ],
    }


def _account(
    new_id: IdFactory,
    code: str,
    name: str,
    account_class: str,
    account_type: str,
    system: str | None,
    currency: str | None,
) -> JsonObject:
    bank = account_type == "BANK"
    return {
        "Code": code,
        "Name": name,
        "Type": account_type,
        "Class": account_class,
        "Status": "ACTIVE",
        "Description": "",
        "SystemAccount": system,
        "ForPayments": bank,
        "DisplayName": f"{code}: {name}",
        "OldCode": None,
        "BankAccountId": new_id() if bank else None,
        "BankAccountNumber": _IBANS[code] if bank else None,
        "Currency": currency,
    }


def _bank_account(account: JsonObject) -> JsonObject:
    return {
        "AccountID": account["BankAccountId"],
        "AccountCode": account["Code"],
        "AccountName": account["Name"],
        "Bank": _BANK_NAMES[account["Code"]],
        "AccountNumber": account["BankAccountNumber"],
        "Currency": account["Currency"],
        "BalanceInDear": 0,
        "InitialBalance": 0,
        "StatementBalance": 0,
    }


def _location(
    new_id: IdFactory, name: str, street: str, postcode: str, city: str, state: str, *, is_default: bool
) -> JsonObject:
    return {
        "ID": new_id(),
        "Name": name,
        "IsDefault": is_default,
        "IsDeprecated": False,
        "Bins": None,
        "FixedAssetsLocation": False,
        "ParentID": None,
        "ParentName": None,
        "AddressLine1": street,
        "AddressLine2": "",
        "AddressCitySuburb": city,
        "AddressStateProvince": state,
        "AddressZipPostCode": postcode,
        "AddressCountry": "Germany",
        "PickZones": None,
        "IsShopfloor": False,
        "IsCoMan": False,
        "IsStaging": False,
        "ReferenceCount": 0,
    }


def _addresses(new_id: IdFactory, spec: PartySpec) -> list[JsonObject]:
    return [
        {
            "ID": new_id(),
            "Line1": spec.street,
            "Line2": "",
            "City": spec.city,
            "State": "",
            "Postcode": spec.postcode,
            "Country": spec.country,
            "Type": kind,
            "DefaultForType": True,
        }
        for kind in ("Billing", "Shipping")
    ]


def _contacts(new_id: IdFactory, spec: PartySpec) -> list[JsonObject]:
    return [
        {
            "ID": new_id(),
            "Name": spec.contact,
            "JobTitle": None,
            "Phone": spec.phone,
            "MobilePhone": None,
            "Fax": None,
            "Email": spec.email,
            "Website": None,
            "Comment": None,
            "Default": True,
            "IncludeInEmail": True,
        }
    ]


def _attributes() -> JsonObject:
    return {f"AdditionalAttribute{number}": None for number in range(1, 11)}


def _customer(new_id: IdFactory, spec: PartySpec, modified: datetime) -> JsonObject:
    return {
        "ID": new_id(),
        "Name": spec.name,
        "Status": "Deprecated" if spec.deprecated else "Active",
        "Currency": spec.currency,
        "PaymentTerm": f"{spec.terms_days} Tage netto",
        "AccountReceivable": "1400",
        "RevenueAccount": spec.account,
        "TaxRule": spec.tax_rule,
        "TaxNumber": spec.tax_number,
        "PriceTier": "Tier 2" if spec.key == "sonnenwiese" else "Tier 1",
        "Discount": 0,
        "CreditLimit": 0,
        "IsOnCreditHold": False,
        "Carrier": "DHL Freight",
        "SalesRepresentative": "Lena Vogt" if spec.location == "Hamburg" else "Tobias Maier",
        "Location": spec.location,
        "Comments": "",
        "Tags": "",
        "AttributeSet": None,
        **_attributes(),
        "LastModifiedOn": format_timestamp(modified),
        "Addresses": _addresses(new_id, spec),
        "Contacts": _contacts(new_id, spec),
    }


def _supplier(new_id: IdFactory, spec: PartySpec, modified: datetime) -> JsonObject:
    return {
        "ID": new_id(),
        "Name": spec.name,
        "Status": "Active",
        "Currency": spec.currency,
        "PaymentTerm": f"{spec.terms_days} Tage netto",
        "AccountPayable": spec.account,
        "TaxRule": spec.tax_rule,
        "TaxNumber": spec.tax_number,
        "Discount": 0,
        "Comments": "",
        "AttributeSet": None,
        **_attributes(),
        "LastModifiedOn": format_timestamp(modified),
        "Addresses": [{key: value for key, value in a.items() if key != "ID"} for a in _addresses(new_id, spec)],
        "Contacts": [{key: value for key, value in c.items() if key != "ID"} for c in _contacts(new_id, spec)],
    }


def payment_terms_days(party: JsonObject) -> int:
    """Days to pay from a PaymentTerm like "30 Tage netto" (30 when it has no leading number)."""
    head = str(party.get("PaymentTerm") or "").split(" ", 1)[0]
    return int(head) if head.isdigit() else 30
