"""The EXTF Debitoren/Kreditoren file (category 16, format version 5): names, VAT ids and addresses of
the personal accounts the bookings use, so DATEV shows "Müller GmbH" instead of a bare 10001.

Column list: DATEV's full format has 243 (older) to 254 (current) columns. The first 40 are the same, in
the same order and with the same headings, in every independent source we could read (DATEV's field
descriptions as quoted by ledermann/datev from DATEV doc 1036228, php-financial-formats' V700 list,
Uniconta's and other exporters' heading lines, billwerk's documentation); beyond column 40 the sources
disagree on headings (e.g. 'IBAN-Nr. 1' vs 'IBAN 1', 'Leerfeld 1' vs 'IBAN1 korrekt'). So this writer
writes columns 1–40 only: account, the three name variants, addressee type, short name, EU country and
VAT number, salutation/title fields, the correspondence address, and phone/e-mail/internet/fax. Left out
(DATEV keeps its existing values for absent columns is UNCONFIRMED): bank accounts 1–10, letter
salutation, customer/supplier number, tax number, language, contact persons, payment terms, dunning
settings, individual fields, the invoice address, SEPA mandates, dunning/payment blocks.

Field lengths (ledermann/datev, from DATEV doc 1036228): company name 50, person name 30, first name 30,
short name 15, EU country 2, VAT number 13 (without the country), street 36, postal code 10, city 30,
country 2 (ISO 3166), address addition 36, phone/e-mail 60.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

from datev_cin7_pipeline.datev.bookings import BatchHeader
from datev_cin7_pipeline.datev.extf import columns as c
from datev_cin7_pipeline.datev.extf.encoding import ExtfEncoding, bom_of, codec_of
from datev_cin7_pipeline.datev.extf.errors import ExtfEncodingError, ExtfWriteError
from datev_cin7_pipeline.datev.extf.header import format_header, personal_accounts_header_fields
from datev_cin7_pipeline.datev.extf.records import field_at
from datev_cin7_pipeline.datev.extf.values import first_control_character, quote
from datev_cin7_pipeline.datev.extf.vat import split_vat_id, vat_id_problem

PERSONAL_ACCOUNT_HEADING: Final[tuple[str, ...]] = (
    "Konto",
    "Name (Adressattyp Unternehmen)",
    "Unternehmensgegenstand",
    "Name (Adressattyp natürl. Person)",
    "Vorname (Adressattyp natürl. Person)",
    "Name (Adressattyp keine Angabe)",
    "Adressattyp",
    "Kurzbezeichnung",
    "EU-Land",
    "EU-UStID",
    "Anrede",
    "Titel/Akad. Grad",
    "Adelstitel",
    "Namensvorsatz",
    "Adressart",
    "Straße",
    "Postfach",
    "Postleitzahl",
    "Ort",
    "Land",
    "Versandzusatz",
    "Adresszusatz",
    "Abweichende Anrede",
    "Abw. Zustellbezeichnung 1",
    "Abw. Zustellbezeichnung 2",
    "Kennz. Korrespondenzadresse",
    "Adresse Gültig von",
    "Adresse Gültig bis",
    "Telefon",
    "Bemerkung (Telefon)",
    "Telefon GL",
    "Bemerkung (Telefon GL)",
    "E-Mail",
    "Bemerkung (E-Mail)",
    "Internet",
    "Bemerkung (Internet)",
    "Fax",
    "Bemerkung (Fax)",
    "Sonstige",
    "Bemerkung (Sonstige)",
)
_NUMBER_COLUMNS: Final = frozenset({1, 26, 27, 28})  # account, a flag and two dates
_ADDRESSEE_TYPES: Final = {"unknown": "0", "person": "1", "company": "2"}

AddresseeType = Literal["company", "person", "unknown"]


@dataclass(frozen=True)
class PersonalAccount:
    """One debtor (customer) or creditor (supplier) account and what DATEV should know about it."""

    account: int  # Sachkontenlänge + 1 digits: debtors from 10…0, creditors from 70…0
    name: str  # company name; the surname for a natural person
    addressee_type: AddresseeType = "company"
    first_name: str = ""  # natural persons only
    short_name: str = ""  # Kurzbezeichnung, ≤15
    vat_id: str = ""  # the full EU VAT id, e.g. 'ATU12345678' (Greece: 'EL…'); split into EU-Land + number
    street: str = ""
    postal_code: str = ""
    city: str = ""
    country: str = ""  # ISO 3166 alpha-2 (Greece: 'GR' here, unlike the VAT id)
    address_addition: str = ""  # Adresszusatz, e.g. 'z. Hd. Frau Muster'
    phone: str = ""
    email: str = ""
    internet: str = ""


def personal_account_problems(account: PersonalAccount, account_length: int) -> list[str]:
    """Everything DATEV would reject or cut in this account's record (empty when it is fine)."""
    problems = []
    low, high = 10**account_length, 10 ** (account_length + 1) - 1
    if not low <= account.account <= high:
        problems.append(f"account {account.account} is not a personal account {low}–{high}")
    name_limit = 30 if account.addressee_type == "person" else 50
    limits = {
        "name": (account.name, name_limit),
        "first_name": (account.first_name, 30),
        "short_name": (account.short_name, 15),
        "street": (account.street, 36),
        "postal_code": (account.postal_code, 10),
        "city": (account.city, 30),
        "address_addition": (account.address_addition, 36),
        "phone": (account.phone, 60),
        "email": (account.email, 60),
        "internet": (account.internet, 60),
    }
    for name, (value, limit) in limits.items():
        if len(value) > limit:
            problems.append(f"{name} has {len(value)} characters; at most {limit}")
    if not account.name:
        problems.append("name is empty")
    if account.first_name and account.addressee_type != "person":
        problems.append("first_name is only for natural persons (addressee_type 'person')")
    if account.country and not (len(account.country) == 2 and account.country.isascii() and account.country.isupper()):
        problems.append(f"country {account.country!r} is not an ISO 3166 alpha-2 code")
    if account.vat_id:
        problem = vat_id_problem(account.vat_id)
        if problem:
            problems.append(problem)
    return problems


def personal_account_record(account: PersonalAccount) -> str:
    """One record line (without line end) of the Debitoren/Kreditoren file."""
    cells = [""] * len(PERSONAL_ACCOUNT_HEADING)
    cells[0] = str(account.account)
    name_column = {"company": 1, "person": 3, "unknown": 5}[account.addressee_type]
    cells[name_column] = account.name
    if account.addressee_type == "person":
        cells[4] = account.first_name
    cells[6] = _ADDRESSEE_TYPES[account.addressee_type]
    cells[7] = account.short_name
    if account.vat_id:
        cells[8], cells[9] = split_vat_id(account.vat_id)
    if account.street:
        cells[14] = "STR"
    cells[15] = account.street
    cells[17] = account.postal_code
    cells[18] = account.city
    cells[19] = account.country
    cells[21] = account.address_addition
    cells[28] = account.phone
    cells[32] = account.email
    cells[34] = account.internet
    for index, value in enumerate(cells):
        if index + 1 not in _NUMBER_COLUMNS:
            character = first_control_character(value)
            if character is not None:
                raise ExtfWriteError(
                    f"control character {character!r} in a text field",
                    column=index + 1,
                    field=PERSONAL_ACCOUNT_HEADING[index],
                )
            cells[index] = quote(unicodedata.normalize("NFC", value))
    return c.SEPARATOR.join(cells)


def write_personal_accounts(
    header: BatchHeader, accounts: Iterable[PersonalAccount], *, encoding: ExtfEncoding = "utf-8", check: bool = True
) -> bytes:
    """The Debitoren/Kreditoren file. The header takes consultant, client, fiscal-year start, account
    length, chart, application info and created_at from `header` (period, label and currency belong to
    booking batches and stay empty, as in DATEV's example). With `check`, an account DATEV would reject
    raises ExtfWriteError naming it."""
    codec = codec_of(encoding)
    out = io.BytesIO()
    out.write(bom_of(encoding))
    out.write(_encode(format_header(personal_accounts_header_fields(header)), codec, None))
    out.write(_encode(c.SEPARATOR.join(PERSONAL_ACCOUNT_HEADING), codec, None))
    for number, account in enumerate(accounts, start=1):
        if check:
            problems = personal_account_problems(account, header.account_length)
            if problems:
                raise ExtfWriteError(f"account {account.account}: " + "; ".join(problems), line=number)
        out.write(_encode(personal_account_record(account), codec, number))
    return out.getvalue()


def _encode(line: str, codec: str, number: int | None) -> bytes:
    try:
        return (line + c.LINE_END).encode(codec)
    except UnicodeEncodeError as exc:
        column = field_at(line, exc.start)
        names = PERSONAL_ACCOUNT_HEADING if number is not None else c.HEADER_FIELDS
        field = names[column - 1] if column <= len(names) else ""
        raise ExtfEncodingError(
            character=line[exc.start], encoding=codec, line=number, column=column, field=field
        ) from None
