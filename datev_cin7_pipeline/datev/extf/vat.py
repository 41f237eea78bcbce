"""EU VAT identification numbers as DATEV expects them: country prefix plus the national pattern.

DATEV uses the VIES prefixes, so Greece is `EL` (never `GR`) and Northern Ireland is `XI`. The national
patterns are the VIES formats. A wrong id does not stop the EXTF import, but it breaks the tax
consultant's EC Sales List (ZM) for intra-EU supplies, which is why the validator treats it as an error.
"""

from __future__ import annotations

import re
from typing import Final

EU_VAT_PATTERNS: Final[dict[str, re.Pattern[str]]] = {
    prefix: re.compile(pattern)
    for prefix, pattern in {
        "AT": r"U\d{8}",
        "BE": r"[01]\d{9}",
        "BG": r"\d{9,10}",
        "CY": r"\d{8}[A-Z]",
        "CZ": r"\d{8,10}",
        "DE": r"\d{9}",
        "DK": r"\d{8}",
        "EE": r"\d{9}",
        "EL": r"\d{9}",
        "ES": r"[A-Z0-9]\d{7}[A-Z0-9]",
        "FI": r"\d{8}",
        "FR": r"[A-HJ-NP-Z0-9]{2}\d{9}",
        "HR": r"\d{11}",
        "HU": r"\d{8}",
        "IE": r"\d[A-Z0-9+*]\d{5}[A-Z]{1,2}",
        "IT": r"\d{11}",
        "LT": r"\d{9}|\d{12}",
        "LU": r"\d{8}",
        "LV": r"\d{11}",
        "MT": r"\d{8}",
        "NL": r"\d{9}B\d{2}",
        "PL": r"\d{10}",
        "PT": r"\d{9}",
        "RO": r"[1-9]\d{1,9}",
        "SE": r"\d{10}01",
        "SI": r"\d{8}",
        "SK": r"\d{10}",
        "XI": r"\d{9}|\d{12}|GD\d{3}|HA\d{3}",
    }.items()
}
MAX_VAT_ID_LENGTH: Final = 15


def vat_id_problem(vat_id: str) -> str | None:
    """Why a VAT id is not acceptable to DATEV, or None when it is."""
    if len(vat_id) > MAX_VAT_ID_LENGTH:
        return f"VAT id {vat_id!r} is longer than {MAX_VAT_ID_LENGTH} characters"
    prefix, number = vat_id[:2], vat_id[2:]
    if prefix == "GR":
        return f"VAT id {vat_id!r}: Greece is written EL in VAT ids, not GR"
    pattern = EU_VAT_PATTERNS.get(prefix)
    if pattern is None:
        return f"VAT id {vat_id!r} does not start with an EU country prefix (AT, BE, …, EL for Greece, XI)"
    if not pattern.fullmatch(number):
        return f"VAT id {vat_id!r} does not have the format of a {prefix} VAT id ({prefix}{pattern.pattern})"
    return None


def split_vat_id(vat_id: str) -> tuple[str, str]:
    """(EU-Land, number) as the Debitoren/Kreditoren file wants them: 'ATU12345678' → ('AT', 'U12345678')."""
    return vat_id[:2], vat_id[2:]
