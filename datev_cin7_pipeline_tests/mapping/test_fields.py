"""DATEV field rules: Belegfeld 1 from nasty Cin7 numbers, Buchungstext length, VAT ids."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from datev_cin7_pipeline.mapping.fields import (
    belegfeld1,
    booking_text,
    eu_vat_id_problem,
    is_valid_belegfeld,
    normalize_vat_id,
    short_hash,
    shorten,
)


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("INV-00001", "INV-00001"),
        ("WS/2026/Ü-0815", "WS/2026/Ue-0815"),  # umlaut spelled out, "/" kept
        ("RE 2026/Ü-17.ä_x#1", "RE-2026/Ue-17-ae-x1"),  # space, ".", "_" → "-", "#" dropped
        ("Rechnung Nr. 2026/Ä-17_x", "Rechnung-Nr--2026/Ae-17-x"),
        ("Großhandel ÖÜ", "Grosshandel-OeUe"),
        ("A\u0308rger", "Aerger"),  # a decomposed umlaut is an umlaut too
        ("Café №5 (Ausgabe)", "Cafe-No5-Ausgabe"),  # accents dropped, brackets dropped
        ("a$b&c%d*e+f", "a$b&c%d*e+f"),  # every special character DATEV allows survives
        ("x" * 36, "x" * 36),  # exactly 36: untouched
        ("", ""),
    ],
)
def test_belegfeld1_transformation(number: str, expected: str) -> None:
    assert belegfeld1(number) == expected
    assert is_valid_belegfeld(belegfeld1(number))


def test_a_50_character_number_keeps_its_tail_and_a_hash() -> None:
    number = "INV/2026/Großhandel-München/Lieferung-0000000000042"
    assert len(number) == 51

    value = belegfeld1(number)

    assert value == "nchen/Lieferung-0000000000042-D21CC9"
    assert len(value) == 36
    assert is_valid_belegfeld(value)


def test_two_long_numbers_with_the_same_tail_do_not_collide() -> None:
    first, second = "A" + "0" * 48 + "1", "B" + "0" * 48 + "1"

    assert belegfeld1(first)[:29] == belegfeld1(second)[:29]
    assert belegfeld1(first) != belegfeld1(second)
    assert belegfeld1(first) == belegfeld1(first)  # deterministic: a payment finds its invoice


def test_a_number_of_forbidden_characters_only_becomes_its_hash() -> None:
    value = belegfeld1("###")
    assert value == short_hash("###")
    assert len(value) == 6
    assert is_valid_belegfeld(value)


def test_text_is_cut_to_60_characters() -> None:
    long = "Gutschrift GS-77 zu WS/2026/Ü-0815 Solinger Schneidwaren Weber & Söhne KG"

    assert booking_text("Gutschrift", "GS-77", "zu", "WS/2026/Ü-0815", "Solinger Schneidwaren Weber & Söhne KG") == (
        "Gutschrift GS-77 zu WS/2026/Ü-0815 Solinger Schneidwaren..."
    )
    assert len(shorten(long)) <= 60
    assert shorten("x" * 61) == "x" * 57 + "..."
    assert shorten("x" * 60) == "x" * 60
    assert shorten("Zeile\neins\t zwei") == "Zeile eins zwei"  # no control characters in a text field


def _full_belegfeld1(number: str) -> str:
    """belegfeld1 without its shortcut for numbers that are valid already: every step, always."""
    if not number:
        return ""
    umlauts = {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss", "ẞ": "SS"}
    separators = {" ": "-", "_": "-", ".": "-", "\t": "-"}
    text = unicodedata.normalize("NFC", number)
    text = "".join(umlauts.get(char, separators.get(char, char)) for char in text)
    text = re.sub(r"[^A-Za-z0-9$&%*+\-/]", "", unicodedata.normalize("NFKD", text))
    if not text:
        return short_hash(number)
    return text if len(text) <= 36 else f"{text[-29:]}-{short_hash(number)}"


def _full_shorten(text: str, limit: int = 60) -> str:
    """shorten without its shortcut for texts that are one clean line already."""
    flat = " ".join(re.sub(r"[\x00-\x1f\x7f]", " ", text).split())
    return flat if len(flat) <= limit else flat[: limit - 3].rstrip() + "..."


_NASTY = st.text(alphabet=st.sampled_from("AZaz09-/$ _.\t\n\r\x0b\x1c\x85\xa0\u2028\u3000äÜßé#\u0308"), max_size=45)


@pytest.mark.parametrize("number", ["INV-1\n", "INV-1 ", "x" * 37, "x" * 36 + "\n", "A-1\u0308"])
def test_belegfeld1_shortcut_takes_only_numbers_the_full_transformation_keeps(number: str) -> None:
    assert belegfeld1(number) == _full_belegfeld1(number)


@given(_NASTY)
def test_belegfeld1_is_the_full_transformation(number: str) -> None:
    assert belegfeld1(number) == _full_belegfeld1(number)


@given(_NASTY, st.sampled_from([20, 60]))
def test_shorten_is_the_full_flattening(text: str, limit: int) -> None:
    assert shorten(text, limit) == _full_shorten(text, limit)


@pytest.mark.parametrize(
    ("raw", "normalized", "problem"),
    [
        ("ATU57390142", "ATU57390142", None),
        ("FR 83 404.833.048", "FR83404833048", None),
        ("GR123456789", "EL123456789", None),
        ("", "", "no VAT id"),
        ("DE287441906", "DE287441906", "German"),
        ("CHE-116.281.710 MWST", "CHE116281710MWST", "not a VAT id"),
        ("US12345678", "US12345678", "not from an EU member state"),
    ],
)
def test_vat_ids(raw: str, normalized: str, problem: str | None) -> None:
    assert normalize_vat_id(raw) == normalized
    found = eu_vat_id_problem(normalized)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


@pytest.mark.parametrize("value", ["RE-1\n", "RE-1\r", "RE 1", "RE_1", "RE-1\u00a0", "x" * 37])
def test_a_belegfeld_with_a_forbidden_character_or_too_long_is_not_valid(value: str) -> None:
    assert not is_valid_belegfeld(value)
