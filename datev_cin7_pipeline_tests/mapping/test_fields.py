"""DATEV field rules: Belegfeld 1 from nasty Cin7 numbers, Buchungstext length, VAT ids."""

from __future__ import annotations

import pytest

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
