"""The fixed shapes of a Buchungsstapel file: the 31 header fields and the 125 data columns.

Kept as constants because DATEV matches the heading line and the header field positions exactly; the
tests derive the same heading line from DATEV's own sample file and compare it with `HEADING` character by
character, so a typo here cannot go unnoticed.

Which data columns are text (written in quotes) and which are numbers (written bare) follows DATEV's
sample file (FACTS §6.3/§6.4). Three columns are quoted inconsistently in that sample (19 Zinssperre,
44 Funktionsergänzung L+L, 108 Beteiligtennummer); DATEV's field descriptions type them as numbers, so
they are numbers here.
"""

from __future__ import annotations

from typing import Final

FORMAT_TAG: Final = "EXTF"
HEADER_VERSION: Final = 700
CATEGORY_BOOKINGS: Final = 21
FORMAT_NAME_BOOKINGS: Final = "Buchungsstapel"
FORMAT_VERSION_BOOKINGS: Final = 13
CATEGORY_PERSONAL_ACCOUNTS: Final = 16
FORMAT_NAME_PERSONAL_ACCOUNTS: Final = "Debitoren/Kreditoren"
FORMAT_VERSION_PERSONAL_ACCOUNTS: Final = 5

MAX_ROWS: Final = 99_999  # postings per file (accounting-extf-files: more is rejected with 1008833)
MAX_HEADER_CHARS: Final = 1000
MAX_FILE_BYTES: Final = 50 * 1024 * 1024  # upload limit of accounting-extf-files (413 / 1008833)
SEPARATOR: Final = ";"
LINE_END: Final = "\r\n"

# --- header record (line 1): 31 fields --------------------------------------------------------------
HEADER_FIELDS: Final[tuple[str, ...]] = (
    "Kennzeichen",
    "Versionsnummer",
    "Formatkategorie",
    "Formatname",
    "Formatversion",
    "Erzeugt am",
    "Importiert",
    "Herkunft",
    "Exportiert von",
    "Importiert von",
    "Beraternummer",
    "Mandantennummer",
    "WJ-Beginn",
    "Sachkontenlänge",
    "Datum vom",
    "Datum bis",
    "Bezeichnung",
    "Diktatkürzel",
    "Buchungstyp",
    "Rechnungslegungszweck",
    "Festschreibung",
    "WKZ",
    "reserviert",
    "Derivatskennzeichen",
    "reserviert",
    "reserviert",
    "Sachkontenrahmen",
    "ID der Branchenlösung",
    "reserviert",
    "reserviert",
    "Anwendungsinformation",
)
# 1-based positions of header fields written in quotes (DATEV's sample header).
HEADER_TEXT_FIELDS: Final = frozenset({1, 4, 8, 9, 10, 17, 18, 22, 24, 27, 30, 31})
# Fields the import sets or DATEV reserves: must stay empty (extf-files header errors 7, 23-26, 29, 30).
HEADER_EMPTY_FIELDS: Final = frozenset({7, 10, 23, 25, 26, 29, 30})

# --- data columns (line 2 headings, lines 3.. records): 125 columns -----------------------------------
HEADING: Final[tuple[str, ...]] = (
    "Umsatz (ohne Soll/Haben-Kz)",
    "Soll/Haben-Kennzeichen",
    "WKZ Umsatz",
    "Kurs",
    "Basis-Umsatz",
    "WKZ Basis-Umsatz",
    "Konto",
    "Gegenkonto (ohne BU-Schlüssel)",
    "BU-Schlüssel",
    "Belegdatum",
    "Belegfeld 1",
    "Belegfeld 2",
    "Skonto",
    "Buchungstext",
    "Postensperre",
    "Diverse Adressnummer",
    "Geschäftspartnerbank",
    "Sachverhalt",
    "Zinssperre",
    "Beleglink",
    *(name for n in range(1, 9) for name in (f"Beleginfo - Art {n}", f"Beleginfo - Inhalt {n}")),
    "KOST1 - Kostenstelle",
    "KOST2 - Kostenstelle",
    "Kost-Menge",
    "EU-Land u. UStID (Bestimmung)",
    "EU-Steuersatz (Bestimmung)",
    "Abw. Versteuerungsart",
    "Sachverhalt L+L",
    "Funktionsergänzung L+L",
    "BU 49 Hauptfunktionstyp",
    "BU 49 Hauptfunktionsnummer",
    "BU 49 Funktionsergänzung",
    # DATEV spells the content heading without the space before the dash.
    *(name for n in range(1, 21) for name in (f"Zusatzinformation - Art {n}", f"Zusatzinformation- Inhalt {n}")),
    "Stück",
    "Gewicht",
    "Zahlweise",
    "Forderungsart",
    "Veranlagungsjahr",
    "Zugeordnete Fälligkeit",
    "Skontotyp",
    "Auftragsnummer",
    "Buchungstyp",
    "USt-Schlüssel (Anzahlungen)",
    "EU-Land (Anzahlungen)",
    "Sachverhalt L+L (Anzahlungen)",
    "EU-Steuersatz (Anzahlungen)",
    "Erlöskonto (Anzahlungen)",
    "Herkunft-Kz",
    "Buchungs GUID",
    "KOST-Datum",
    "SEPA-Mandatsreferenz",
    "Skontosperre",
    "Gesellschaftername",
    "Beteiligtennummer",
    "Identifikationsnummer",
    "Zeichnernummer",
    "Postensperre bis",
    "Bezeichnung SoBil-Sachverhalt",
    "Kennzeichen SoBil-Buchung",
    "Festschreibung",
    "Leistungsdatum",
    "Datum Zuord. Steuerperiode",
    "Fälligkeit",
    "Generalumkehr (GU)",
    "Steuersatz",
    "Land",
    "Abrechnungsreferenz",
    "BVV-Position",
    "EU-Land u. UStID (Ursprung)",
    "EU-Steuersatz (Ursprung)",
    "Abw. Skontokonto",
)
COLUMN_COUNT: Final = len(HEADING)
HEADING_LINE: Final = SEPARATOR.join(HEADING)

# 1-based numbers of the text columns (quoted); every other column is a number (bare).
TEXT_COLUMNS: Final = frozenset(
    {2, 3, 6, 9, 11, 12, 14, 16, 20, *range(21, 39), 40, 42, *range(48, 88)}
    | {91, 95, 96, 98, 102, 103, 105, 107, 109, 110, 112, 118, 120, 121, 123}
)

# 1-based numbers of the columns the writer fills from a BookingLine.
AMOUNT = 1
SIDE = 2
CURRENCY = 3
RATE = 4
BASE_AMOUNT = 5
BASE_CURRENCY = 6
ACCOUNT = 7
CONTRA_ACCOUNT = 8
TAX_KEY = 9
DOCUMENT_DATE = 10
DOCUMENT_FIELD_1 = 11
DOCUMENT_FIELD_2 = 12
CASH_DISCOUNT = 13
TEXT = 14
DOCUMENT_LINK = 20
DOCUMENT_INFO_FIRST = 21  # Art 1; Inhalt n is DOCUMENT_INFO_FIRST + 2(n-1) + 1
DOCUMENT_INFO_PAIRS = 8
COST_CENTRE_1 = 37
COST_CENTRE_2 = 38
EU_VAT_ID = 40
EU_TAX_RATE = 41
DUE_DATE_ASSIGNED = 93
BOOKING_GUID = 103
COST_DATE = 104
ITEM_LOCK_UNTIL = 111
LOCK = 114
SUPPLY_DATE = 115
TAX_PERIOD_DATE = 116
DUE_DATE = 117
REVERSAL = 118
TAX_RATE = 119
COUNTRY = 120
EU_VAT_ID_ORIGIN = 123
EU_TAX_RATE_ORIGIN = 124

# Columns holding TTMMJJJJ dates.
LONG_DATE_COLUMNS: Final = (DUE_DATE_ASSIGNED, COST_DATE, ITEM_LOCK_UNTIL, SUPPLY_DATE, TAX_PERIOD_DATE, DUE_DATE)
# Columns holding tax rates NN,NN.
TAX_RATE_COLUMNS: Final = (EU_TAX_RATE, TAX_RATE, EU_TAX_RATE_ORIGIN)


def column_name(number: int) -> str:
    """The heading of a 1-based data column, or '' outside 1..125."""
    return HEADING[number - 1] if 1 <= number <= COLUMN_COUNT else ""


def header_field_name(number: int) -> str:
    """The name of a 1-based header field, or '' outside 1..31."""
    return HEADER_FIELDS[number - 1] if 1 <= number <= len(HEADER_FIELDS) else ""
