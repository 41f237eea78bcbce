"""One test per validator rule: start from a valid batch (no findings at all), break exactly one thing,
and expect exactly that rule's code, on the right line and column. DATEV's own sample file is checked too,
with every finding it gets explained."""

from __future__ import annotations

import codecs
import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import pytest

from datev_cin7_pipeline.datev.extf import RULES, validate_extf, write_extf
from datev_cin7_pipeline.datev.extf import columns as c
from datev_cin7_pipeline.datev.extf import validator as validator_module
from datev_cin7_pipeline.datev.extf.validator import ValidationReport

from .helpers import (
    EXTF_SAMPLE,
    field_of,
    header,
    line,
    lines_three,
    patch_field,
    patch_line,
    text_of,
    utf8_file,
    valid_file,
)

AUTOMATIC = frozenset({8400, 8300, 3400})


def test_the_base_file_has_no_findings_at_all() -> None:
    report = validate_extf(valid_file(), automatic_accounts=AUTOMATIC, filename="EXTF_test.csv")
    assert report.findings == ()
    assert report.ok
    assert report.rows == 3
    assert report.encoding == "utf-8"


def _header_patch(field: int, raw: str) -> Callable[[], bytes]:
    return lambda: patch_field(valid_file(), 1, field, raw)


def _record_patch(column: int, raw: str, row: int = 3) -> Callable[[], bytes]:
    return lambda: patch_field(valid_file(), row, column, raw)


def _line(**changes: object) -> Callable[[], bytes]:
    return lambda: valid_file(**changes)


def _with_header(**changes: object) -> Callable[[], bytes]:
    return lambda: write_extf(header(**changes), lines_three())


def _no_bom() -> bytes:
    return valid_file()[len(codecs.BOM_UTF8) :]


def _bare_lf() -> bytes:
    text = text_of(valid_file())
    lines = text.split("\r\n")
    return utf8_file("\r\n".join(lines[:3]) + "\n" + "\r\n".join(lines[3:]))


def _no_final_crlf() -> bytes:
    return valid_file()[:-2]


def _undecodable() -> bytes:
    data = write_extf(header(), lines_three(), encoding="cp1252")
    return data.replace(b"Rechnung Mueller GmbH", b"Rechnung M\x81ller GmbH")


def _heading_changed() -> bytes:
    return patch_line(valid_file(), 2, c.HEADING_LINE.replace("Belegfeld 2", "Belegfeld2"))


def _period_outside_fiscal_year() -> bytes:
    # fiscal year from 1 March: a February–March period crosses its start; the records are all in March
    return write_extf(header(fiscal_year_start=dt.date(2024, 3, 1), period_start=dt.date(2024, 2, 1)), lines_three())


def _period_over_new_year() -> bytes:
    hdr = header(
        fiscal_year_start=dt.date(2024, 7, 1), period_start=dt.date(2024, 12, 1), period_end=dt.date(2025, 1, 31)
    )
    return write_extf(hdr, [dataclasses.replace(x, document_date=dt.date(2024, 12, 20)) for x in lines_three()])


def _date_outside_period() -> bytes:
    return patch_field(valid_file(), 1, 16, "20240310")  # Datum bis 10 March; line 3 is dated 14 March


def _header_too_long() -> bytes:
    return patch_field(valid_file(), 1, 24, '"' + "x" * 1000 + '"')  # Derivatskennzeichen has no own limit


def _control_in_header() -> bytes:
    return patch_field(valid_file(), 1, 17, '"Cin7\tCore"')


def _missing_field() -> bytes:
    fields = text_of(valid_file()).split("\r\n")[2].split(";")
    return patch_line(valid_file(), 3, ";".join(fields[:-1]))


def _not_nfc() -> bytes:
    return write_extf(header(), [line(text="Rechnung Mu\u0308ller GmbH"), *lines_three()[1:]], nfc=False)


def _broken_quote() -> bytes:
    return _record_patch(c.TEXT, '"Rechnung "Mueller" GmbH"')()


def _foreign(**changes: object) -> Callable[[], bytes]:
    base: dict[str, object] = {
        "currency": "USD",
        "exchange_rate": Decimal("1.1"),
        "base_amount": Decimal("1081.82"),
        "base_currency": "EUR",
        "amount": Decimal("1190.00"),
    }
    base.update(changes)
    return lambda: valid_file(**base)


# code, how to break the file, expected line, expected column (None: the finding has none)
CASES: list[tuple[str, Callable[[], bytes], int | None, int | None]] = [
    ("EXTF-F001", _undecodable, 3, None),
    ("EXTF-F002", _no_bom, None, None),
    ("EXTF-F003", _bare_lf, 3, None),
    ("EXTF-F004", _no_final_crlf, 5, None),
    ("EXTF-F006", lambda: codecs.BOM_UTF8, None, None),
    ("EXTF-H001", _header_patch(31, '"";""'), 1, None),
    ("EXTF-H002", _header_patch(1, '"DTVF"'), 1, 1),
    ("EXTF-H003", _header_patch(2, "510"), 1, 2),
    ("EXTF-H004", _header_patch(3, "16"), 1, 3),
    ("EXTF-H005", _header_patch(4, '"Buchungsstapl"'), 1, 4),
    ("EXTF-H006", _header_patch(5, "12"), 1, 5),
    ("EXTF-H007", _header_patch(6, "2024040209153"), 1, 6),
    ("EXTF-H008", _header_patch(7, "1"), 1, 7),
    ("EXTF-H009", _header_patch(8, '"REX"'), 1, 8),
    ("EXTF-H010", _header_patch(9, '"' + "a" * 26 + '"'), 1, 9),
    ("EXTF-H011", _header_patch(11, "1000"), 1, 11),
    ("EXTF-H012", _header_patch(12, "100000"), 1, 12),
    ("EXTF-H013", _header_patch(13, "20241301"), 1, 13),
    ("EXTF-H014", _header_patch(14, "9"), 1, 14),
    ("EXTF-H015", _header_patch(15, "20240231"), 1, 15),
    ("EXTF-H016", _header_patch(15, "20240401"), 1, 15),
    ("EXTF-H017", _period_outside_fiscal_year, 1, 16),
    ("EXTF-H018", _with_header(label="L" * 31), 1, 17),
    ("EXTF-H019", _with_header(dictation_initials="cc"), 1, 18),
    ("EXTF-H020", _header_patch(19, "3"), 1, 19),
    ("EXTF-H021", _header_patch(20, "7"), 1, 20),
    ("EXTF-H022", _header_patch(21, "2"), 1, 21),
    ("EXTF-H023", _header_patch(21, ""), 1, 21),
    ("EXTF-H024", _with_header(currency="EU"), 1, 22),
    ("EXTF-H025", _header_patch(27, '"3"'), 1, 27),
    ("EXTF-H026", _header_too_long, 1, None),
    ("EXTF-H027", _header_patch(11, '"29098"'), 1, 11),
    ("EXTF-H028", _with_header(application_info="a" * 17), 1, 31),
    ("EXTF-H029", _period_over_new_year, 1, 16),
    ("EXTF-H030", _header_patch(28, "12345"), 1, 28),
    ("EXTF-H031", _control_in_header, 1, 17),
    ("EXTF-C001", _heading_changed, 2, 12),
    ("EXTF-R001", _missing_field, 3, None),
    ("EXTF-R002", _line(amount=Decimal("1190.001")), 3, 1),
    ("EXTF-R003", _line(amount=Decimal("0.00")), 3, 1),
    ("EXTF-R004", _line(side="X"), 3, 2),
    ("EXTF-R005", _line(currency="eur"), 3, 3),
    ("EXTF-R006", _foreign(exchange_rate=Decimal("12345.5")), 3, 4),
    ("EXTF-R007", _line(currency="EUR", exchange_rate=Decimal("1.1")), 3, 4),
    ("EXTF-R008", _line(currency="USD"), 3, 4),
    ("EXTF-R009", _foreign(base_amount=Decimal("1081.817")), 3, 5),
    ("EXTF-R010", _record_patch(c.CONTRA_ACCOUNT, ""), 3, 8),
    ("EXTF-R011", _line(contra_account=123456), 3, 8),
    ("EXTF-R012", _line(tax_key="12345"), 3, 9),
    ("EXTF-R013", _line(tax_key="3"), 3, 9),
    ("EXTF-R014", _line(tax_key="40"), 3, 9),
    ("EXTF-R015", _record_patch(c.DOCUMENT_DATE, "3102"), 3, 10),
    ("EXTF-R016", _date_outside_period, 3, 10),
    ("EXTF-R018", _line(document_field_1="RE_2024_0042"), 3, 11),
    ("EXTF-R019", _line(document_field_1="re-2024-0042"), 3, 11),
    ("EXTF-R020", _line(document_field_2="1234567890123"), 3, 12),
    ("EXTF-R021", _line(cash_discount=Decimal("0.00")), 3, 13),
    ("EXTF-R022", _line(text="x" * 61), 3, 14),
    ("EXTF-R023", _line(text="x" * 60), 3, 14),
    ("EXTF-R024", _line(document_link="BEDI 6C1F2B3A"), 3, 20),
    ("EXTF-R025", _line(document_link='BEDI "CB6A8F8F-099A-B3A9-2BAA-0CB64E299BA"'), 3, 20),
    ("EXTF-R026", _line(document_link=""), 3, 20),
    ("EXTF-R027", _line(document_infos=(("Cin7 Kunde", ""),)), 3, 22),
    ("EXTF-R028", _line(document_infos=(("A" * 21, "Inhalt"),)), 3, 21),
    ("EXTF-R029", _line(cost_centre_1="K" * 37), 3, 37),
    ("EXTF-R030", _line(eu_vat_id="GR123456789"), 3, 40),
    ("EXTF-R031", _record_patch(c.SUPPLY_DATE, "30022024"), 3, 115),
    ("EXTF-R032", _record_patch(c.REVERSAL, '"2"'), 3, 118),
    ("EXTF-R033", _record_patch(c.LOCK, "2"), 3, 114),
    ("EXTF-R034", _record_patch(c.TEXT, '"Rechnung\tMueller"'), 3, 14),
    ("EXTF-R035", _not_nfc, 3, 14),
    ("EXTF-R036", _line(tax_rate=Decimal("119.00")), 3, 119),
    ("EXTF-R037", _line(country="DEU"), 3, 120),
    ("EXTF-R038", _line(booking_guid="G" * 37), 3, 103),
    ("EXTF-R039", _foreign(base_amount=Decimal("1000.00")), 3, 5),
    ("EXTF-R040", _record_patch(c.ACCOUNT, '"8400"'), 3, 7),
    ("EXTF-R041", _broken_quote, 3, None),
]


def _only(report: ValidationReport, code: str) -> list[object]:
    assert {f.code for f in report.findings} == {code}, [str(f) for f in report.findings]
    return list(report.findings)


@pytest.mark.parametrize(("code", "build", "row", "column"), CASES, ids=[case[0] for case in CASES])
def test_each_rule_finds_exactly_its_break(
    code: str, build: Callable[[], bytes], row: int | None, column: int | None
) -> None:
    report = validate_extf(build(), automatic_accounts=AUTOMATIC, filename="EXTF_test.csv")
    findings = _only(report, code)
    first = report.findings[0]
    assert len(findings) >= 1
    assert first.severity == RULES[code].severity
    assert first.row == row
    assert first.column == column
    if column is not None:
        expected_name = c.header_field_name(column) if row == 1 else c.column_name(column)
        assert first.column_name == expected_name
    assert first.file == "EXTF_test.csv"
    assert first.message
    assert report.ok == (RULES[code].severity == "warning")


def test_row_date_outside_the_fiscal_year_comes_with_its_header_cause() -> None:
    """A TTMM date can only leave the fiscal year when the header period already does, so EXTF-R017 never
    comes alone: it names the record, EXTF-H017 the header."""
    hdr = header(fiscal_year_start=dt.date(2024, 3, 1), period_start=dt.date(2024, 2, 1))
    data = write_extf(hdr, [line(document_date=dt.date(2024, 2, 15)), *lines_three()[1:]])
    report = validate_extf(data)
    assert Counter(f.code for f in report.findings) == {"EXTF-R017": 1, "EXTF-H017": 1}
    record = next(f for f in report.findings if f.code == "EXTF-R017")
    assert (record.row, record.column, record.column_name) == (3, 10, "Belegdatum")
    assert "15.02.2024" in record.message


def test_too_many_records() -> None:
    text = text_of(valid_file())
    head, records = text.split("\r\n", 2)[:2], text.split("\r\n")[2]
    data = utf8_file("\r\n".join([*head, *([records] * (c.MAX_ROWS + 1))]) + "\r\n")
    report = validate_extf(data)
    assert {f.code for f in report.findings} == {"EXTF-F005"}
    assert report.findings[0].row == c.MAX_ROWS + 3
    assert report.rows == c.MAX_ROWS + 1
    exactly = utf8_file("\r\n".join([*head, *([records] * c.MAX_ROWS)]) + "\r\n")
    assert validate_extf(exactly).findings == ()


def test_file_too_large(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(c, "MAX_FILE_BYTES", 1000)
    report = validate_extf(valid_file())
    assert {f.code for f in report.findings} == {"EXTF-F007"}


def test_file_name_pattern() -> None:
    assert validate_extf(valid_file(), filename="EXTF_" + "a" * 51 + ".csv").findings == ()
    for name in ("buchungen.csv", "EXTF_" + "a" * 52 + ".csv", "EXTF_test.CSV"):
        report = validate_extf(valid_file(), filename=name)
        assert {f.code for f in report.findings} == {"EXTF-F008"}, name


def test_every_rule_has_a_test() -> None:
    tested = {case[0] for case in CASES} | {"EXTF-R017", "EXTF-F005", "EXTF-F007", "EXTF-F008"}
    assert tested == set(RULES)


def test_pure_correction_keys_are_allowed_on_automatic_accounts() -> None:
    """Key 20 (Generalumkehr without a tax key) keeps the account's automatic tax: DATEV's own sample uses
    it on 8400. A 3- or 4-digit key carries a tax key and is refused."""
    assert validate_extf(valid_file(tax_key="20"), automatic_accounts=AUTOMATIC).findings == ()
    report = validate_extf(valid_file(tax_key="1003"), automatic_accounts=AUTOMATIC)
    assert {f.code for f in report.findings} == {"EXTF-R013"}
    assert validate_extf(valid_file(tax_key="3")).findings == ()  # no automatic accounts given


def test_findings_name_both_columns_and_every_row() -> None:
    lines = [dataclasses.replace(x, account=123456, contra_account=1234567) for x in lines_three()]
    report = validate_extf(write_extf(header(), lines))
    assert [(f.code, f.row, f.column) for f in report.findings] == [
        ("EXTF-R011", row, column) for row in (3, 4, 5) for column in (7, 8)
    ]
    assert "debtors 10000–69999, creditors 70000–99999" in report.findings[0].message


def test_account_length_is_generalised() -> None:
    lines = [dataclasses.replace(x, contra_account=1000100) for x in lines_three()]
    assert validate_extf(write_extf(header(account_length=6), lines)).findings == ()
    report = validate_extf(write_extf(header(account_length=5), lines))
    assert {f.code for f in report.findings} == {"EXTF-R011"}


@pytest.mark.parametrize(
    ("vat_id", "ok"),
    [
        ("DE133546770", True),
        ("ATU52409200", True),
        ("EL123456789", True),
        ("FRXX999456789", True),
        ("NL123456789B01", True),
        ("GR123456789", False),
        ("DE12345678", False),
        ("US123456789", False),
        ("DE 133546770", False),
    ],
)
def test_vat_ids(vat_id: str, ok: bool) -> None:
    report = validate_extf(valid_file(eu_vat_id=vat_id))
    assert (report.findings == ()) is ok, [str(f) for f in report.findings]


def test_quoted_semicolons_and_quotes_are_not_misread() -> None:
    data = valid_file(text='Rechnung "Müller"; Teil 1', document_infos=(("Kunde", 'A;B "C"'),))
    assert validate_extf(data).findings == ()


def test_a_stray_quote_is_found_even_when_another_row_has_quotes_to_spare() -> None:
    """Line 3 has a 126th, quoted field (one ';"' too many), line 4 a text field that does not start with
    its quote (one too few): counted over the chunk they cancel out, yet line 4 must still be read quote-aware."""
    data = patch_field(valid_file(), 4, c.TEXT, 'a"b"')
    text = text_of(data).split("\r\n")
    data = patch_line(data, 3, text[2] + ';"x"')

    report = validate_extf(data, automatic_accounts=AUTOMATIC)

    assert [(f.code, f.row) for f in report.findings] == [("EXTF-R001", 3), ("EXTF-R041", 4)]


_AWKWARD_TEXTS = (
    "Müller § 13b 5 °C\u00a0netto",  # U+00A0..U+00BF share their UTF-8 lead byte with the C1 controls
    "Müller\u0085",  # a C1 control
    "Mu\u0308ller",  # decomposed
    "Łódź \u01c4 \u02c6",  # below U+0300: NFC whatever they are
    "Ǆ\u0301 ắ",  # from U+0300 on, composed
    "Rechnung\x7fMüller",
    "Rechnung\x1bMüller",
)
_ENCODERS: dict[str, Callable[[str], bytes]] = {
    "utf-8": utf8_file,
    "utf-8 without BOM": lambda text: text.encode("utf-8"),
    "cp1252": lambda text: text.encode("cp1252"),
}


def _fits(text: str, encoding: str) -> bool:
    return encoding != "cp1252" or all(ch.encode("cp1252", "ignore") for ch in text)


@pytest.mark.parametrize(
    ("text", "encoding"), [(text, name) for text in _AWKWARD_TEXTS for name in _ENCODERS if _fits(text, name)]
)
def test_the_byte_check_for_control_characters_and_nfc_agrees_with_the_text_check(
    text: str, encoding: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = text_of(valid_file()).replace("Rechnung Mueller GmbH", text, 1)
    assert content != text_of(valid_file())
    data = _ENCODERS[encoding](content)
    by_bytes = validate_extf(data)
    monkeypatch.setattr(validator_module, "_clean_bytes", lambda data, utf8, bom: False)
    assert validate_extf(data).findings == by_bytes.findings


def test_cp1252_file_is_read_as_cp1252() -> None:
    report = validate_extf(
        write_extf(header(), [line(text="Rechnung Müller – 5 €"), *lines_three()[1:]], encoding="cp1252")
    )
    assert report.findings == ()
    assert report.encoding == "cp1252"


def test_datev_sample_raw_copy() -> None:
    """The stored sample is UTF-8 without BOM with LF line ends (PROVENANCE: not byte-exact), so EXTF-F002
    and EXTF-F003 are right: DATEV would read that copy as cp1252 and reject the line ends."""
    data = EXTF_SAMPLE.read_bytes()
    report = validate_extf(data, filename=EXTF_SAMPLE.name)
    assert [f.code for f in report.errors] == ["EXTF-F002", "EXTF-F003", "EXTF-R002"]
    assert report.rows == 54


def test_datev_sample_restored_to_bom_and_crlf() -> None:
    """With BOM and CR LF restored, DATEV's sample has exactly one error and a few explained warnings:

    - EXTF-R002 line 5: Umsatz `64083` has no decimal comma; DATEV's own regex is `^\\d{1,10}[,]\\d{2}$`.
    - EXTF-R026 every line: the sample links no documents.
    - EXTF-R040 line 3 fields 19 and 44, lines 39-56 field 108: numbers written as "" (DATEV's sample is
      inconsistent itself: the other lines write these fields bare).
    - EXTF-R023 lines 46, 47: Buchungstext of exactly 60 characters.
    - EXTF-R019 line 48: Belegfeld 1 `ar1111` in lower case.
    - EXTF-R039 line 19: 124,00 CHF at Kurs 1,240402 is 99,97 EUR, not the 100,00 given.
    """
    data = codecs.BOM_UTF8 + EXTF_SAMPLE.read_bytes().replace(b"\n", b"\r\n")
    report = validate_extf(data)
    assert [(f.code, f.row, f.column) for f in report.errors] == [("EXTF-R002", 5, 1)]
    warnings = Counter(f.code for f in report.warnings)
    assert warnings == {"EXTF-R026": 54, "EXTF-R040": 20, "EXTF-R023": 2, "EXTF-R019": 1, "EXTF-R039": 1}
    quoting = sorted((f.row, f.column) for f in report.warnings if f.code == "EXTF-R040")
    assert quoting == [(3, 19), (3, 44), *((row, 108) for row in range(39, 57))]
    assert [(f.row, f.column) for f in report.warnings if f.code in ("EXTF-R019", "EXTF-R039")] == [(19, 5), (48, 11)]
    assert field_of(data, 5, 1) == "64083"


def test_findings_print_readably() -> None:
    report = validate_extf(valid_file(text="x" * 61), filename="EXTF_x.csv")
    assert str(report.findings[0]) == (
        "EXTF-R022 error: EXTF_x.csv, line 3, field 14 'Buchungstext': Buchungstext has 61 characters; at most 60"
    )


@pytest.mark.parametrize(("code", "build"), [(case[0], case[1]) for case in CASES], ids=[case[0] for case in CASES])
def test_fast_path_and_quote_aware_path_agree(
    code: str, build: Callable[[], bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The validator cuts canonical rows with split/rsplit and only splits the others quote-aware; sending
    every row the quote-aware way must give exactly the same findings."""
    data = build()
    fast = validate_extf(data, automatic_accounts=AUTOMATIC)
    monkeypatch.setattr(validator_module, "_structure", lambda lines: (set(range(len(lines))), set()))
    slow = validate_extf(data, automatic_accounts=AUTOMATIC)
    assert slow.findings == fast.findings


@pytest.mark.parametrize("piece_bytes", [1, 700, 1 << 20])
@pytest.mark.parametrize(("code", "build"), [(case[0], case[1]) for case in CASES], ids=[case[0] for case in CASES])
def test_a_file_read_in_pieces_gets_the_findings_of_the_whole_text(
    code: str, build: Callable[[], bytes], piece_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The usual file is read about a megabyte at a time (here down to a line at a time); the others, and
    any file when that is switched off, as one text: the findings must not tell the two apart."""
    data = build()
    monkeypatch.setattr(validator_module, "_PIECE_BYTES", piece_bytes)
    in_pieces = validate_extf(data, automatic_accounts=AUTOMATIC)
    monkeypatch.setattr(validator_module._Validator, "run_in_pieces", lambda self, data: False)
    whole = validate_extf(data, automatic_accounts=AUTOMATIC)
    assert (in_pieces.findings, in_pieces.rows, in_pieces.encoding) == (whole.findings, whole.rows, whole.encoding)


def test_a_decoding_error_late_in_the_file_is_found_like_an_early_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validator_module, "_PIECE_BYTES", 1)
    lines = text_of(valid_file()).split("\r\n")
    data = utf8_file("\r\n".join(lines[:4])) + b"\r\n" + lines[4].encode()[:-3] + b"\xff\r\n"

    report = validate_extf(data)

    assert [(f.code, f.row) for f in report.findings if f.code.startswith("EXTF-F")] == [("EXTF-F001", 5)]
    assert report.rows == 3


def test_both_paths_agree_on_datevs_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    data = codecs.BOM_UTF8 + EXTF_SAMPLE.read_bytes().replace(b"\n", b"\r\n")
    fast = validate_extf(data)
    monkeypatch.setattr(validator_module, "_structure", lambda lines: (set(range(len(lines))), set()))
    assert validate_extf(data).findings == fast.findings
