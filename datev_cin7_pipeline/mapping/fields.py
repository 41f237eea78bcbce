"""DATEV field rules for the values the booking rules write: Belegfeld 1, Buchungstext, USt-IdNr., KOST.

Everything here is a pure, deterministic function, because the same Cin7 number must become the same
Belegfeld 1 in every run: DATEV's open-item matching (OPOS) clears an invoice only when the payment's or
credit note's Belegfeld 1 equals the invoice's (FACTS §6.4 field 11).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal

BELEGFELD1_MAX = 36  # FACTS §6.4 field 11
TEXT_MAX = 60  # FACTS §6.4 field 14 (Buchungstext)
INFO_KIND_MAX = 20  # Beleginfo - Art (FACTS §6.4 fields 21–36)
INFO_CONTENT_MAX = 210  # Beleginfo - Inhalt
KOST_MAX = 36  # KOST1/KOST2 (FACTS §6.4 fields 37, 38)
VAT_ID_MAX = 15  # EU-Land u. UStID (FACTS §6.4 field 40)
HASH_LENGTH = 6
CENT = Decimal("0.01")
RATE_STEP = Decimal("0.000001")  # Kurs: up to 6 decimals (FACTS §6.4 field 4)
MAX_AMOUNT = Decimal("9999999999.99")  # Umsatz, Basis-Umsatz: `\d{1,10},\d{2}` (FACTS §6.4 fields 1, 5)
MAX_RATE = Decimal("9999.999999")  # Kurs: up to 4 integer digits, 6 decimals (FACTS §6.4 field 4)

# WKZ (FACTS §6.4 field 3): the currencies of ISO 4217 List One as published by its maintenance agency SIX
# (https://www.six-group.com/en/products-services/financial-information/data-standards.html, list of
# 2025-05-12). Left out on purpose: what an invoice is not written in (the fund codes BOV CHE CHW CLF COU MXV
# USN UYI UYW, the metals XAG XAU XPD XPT, the bond units XBA–XBD, XAD XDR XSU XUA, XTS testing, XXX none).
ISO_4217_CURRENCIES = frozenset(
    """
    AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF
    CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD
    HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD
    LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK
    PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS
    TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
    """.split()  # noqa: SIM905 (a list literal would be 156 lines)
)

BELEGFELD_ALLOWED = re.compile(r"^[A-Za-z0-9$&%*+\-/]*$")
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9$&%*+\-/]")
_ALL_ALLOWED = re.compile(r"[A-Za-z0-9$&%*+\-/]{1,36}")  # fullmatch: a number every step leaves as it is
_UMLAUTS = {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss", "ẞ": "SS"}
_SEPARATORS = {" ": "-", "_": "-", ".": "-", "\t": "-"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# EU member states' VAT id prefixes (Greece is EL, Northern Ireland XI for goods).
EU_VAT_PREFIXES = frozenset(
    {
        *("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "HR", "HU"),
        *("IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "XI"),
    }
)
_VAT_ID = re.compile(r"^[A-Z]{2}[A-Z0-9+*]{2,13}$")


def cents(amount: Decimal) -> Decimal:
    """Half-up to cents, the way invoices print (DATEV amounts have exactly 2 decimals, FACTS §6.4 field 1)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def has_cents_only(amount: Decimal) -> bool:
    """True if the amount needs no more than 2 decimals (100.50 yes, 100.005 no)."""
    return amount == amount.quantize(CENT, rounding=ROUND_HALF_UP)


def short_hash(text: str) -> str:
    """6 upper-case hex digits of SHA-256: only characters Belegfeld 1 allows, stable across runs."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:HASH_LENGTH].upper()


def belegfeld1(number: str) -> str:
    """A Cin7 document number as a valid DATEV Belegfeld 1 (≤36 of `A–Z a–z 0–9 $ & % * + - /`).

    The transformation, in this order (deterministic, so payments and credit notes get the same key as
    the invoice they settle):

    1. umlauts and ß are spelled out (ä → ae, Ö → Oe, ß → ss);
    2. space, tab, `_` and `.` become `-` (`_` is UNCONFIRMED in DATEV's character set, FACTS §10.4);
    3. other accented letters lose their accent (é → e, via Unicode NFKD);
    4. every remaining character outside the allowed set is dropped;
    5. a result over 36 characters keeps its last 29 characters plus `-` and a 6-digit hash of the
       *original* number, so two long numbers with the same tail never collide;
    6. a non-empty number that loses every character becomes its hash alone.

    Short numbers are not hashed, so two numbers that differ only in dropped or replaced characters
    (`A B` and `A_B`) do share a Belegfeld 1; the original stays in a Beleginfo field of every line.
    """
    if not number:
        return ""
    if _ALL_ALLOWED.fullmatch(number):
        return number  # the common case, and the transformation's fixed point: nothing to replace or cut
    text = unicodedata.normalize("NFC", number)  # a decomposed ä must become "ae" as well
    text = "".join(_UMLAUTS.get(char, _SEPARATORS.get(char, char)) for char in text)
    text = unicodedata.normalize("NFKD", text)
    text = _NOT_ALLOWED.sub("", text)
    if not text:
        return short_hash(number)
    if len(text) > BELEGFELD1_MAX:
        keep = BELEGFELD1_MAX - HASH_LENGTH - 1
        text = f"{text[-keep:]}-{short_hash(number)}"
    return text


def is_valid_belegfeld(value: str, max_length: int = BELEGFELD1_MAX) -> bool:
    return len(value) <= max_length and bool(BELEGFELD_ALLOWED.fullmatch(value))  # `$` alone lets "\n" in


def shorten(text: str, limit: int = TEXT_MAX) -> str:
    """One line of at most `limit` characters: control characters become spaces, runs of spaces
    collapse, and an over-long text is cut to `limit - 3` characters plus `...` (ASCII, so it survives
    a cp1252 file, FACTS §6.1)."""
    if text.isprintable() and "  " not in text and not text.startswith(" ") and not text.endswith(" "):
        flat = text  # the common case: no control character, no whitespace but single inner spaces
    else:
        flat = " ".join(_CONTROL.sub(" ", text).split())
    if len(flat) <= limit:
        return flat
    return flat[: limit - 3].rstrip() + "..."


def booking_text(*parts: str) -> str:
    """A Buchungstext of at most 60 characters from its non-empty parts (FACTS §6.4 field 14)."""
    return shorten(" ".join(part for part in parts if part))


def info(kind: str, content: str) -> tuple[str, str]:
    """A Beleginfo pair, both halves cut to their field lengths."""
    return shorten(kind, INFO_KIND_MAX), shorten(content, INFO_CONTENT_MAX)


def normalize_vat_id(raw: str) -> str:
    """A VAT id as DATEV wants it in `EU-Land u. UStID`: no spaces, dots or dashes, upper case, Greece as EL."""
    text = re.sub(r"[\s.\-]", "", raw).upper()
    if text.startswith("GR"):
        text = "EL" + text[2:]
    return text


def eu_vat_id_problem(vat_id: str) -> str | None:
    """Why `vat_id` cannot carry a tax-free intra-EU supply, or None if it can."""
    if not vat_id:
        return "the customer has no VAT id (Cin7 customer TaxNumber)"
    if len(vat_id) > VAT_ID_MAX or not _VAT_ID.match(vat_id):
        return f"{vat_id!r} is not a VAT id (2-letter country prefix plus 2–13 characters, at most 15)"
    if vat_id[:2] not in EU_VAT_PREFIXES:
        return f"{vat_id!r} is not from an EU member state"
    if vat_id.startswith("DE"):
        return f"{vat_id!r} is German: a supply to a German VAT id is not an intra-EU supply"
    return None
