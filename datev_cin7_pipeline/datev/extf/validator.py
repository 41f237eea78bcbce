"""The EXTF validator: checks a Buchungsstapel file against every rule of FACTS §6 and reports all
findings at once, each with a stable code (the table is in `rules.py`), its severity, the file, the line
number (1 = header, 2 = headings, 3.. = records) and the column (number and name).

DATEV's upload checks only the header (FACTS §3.2), so everything else surfaces days later in the tax
consultant's import, or never. This validator runs on every file before upload.

Speed (about 0.8 s for 100,000 rows): control characters and NFC are ruled out on the file's bytes, and
the usual file (UTF-8 with BOM, CR LF) is decoded and checked a piece at a time, never all of its text at
once. Records are checked in chunks. A chunk's structure and quoting are proven from its bytes with only
`;` and `"` kept; proven rows are cut into the columns the rules read (the rest of a record after column
26 repeats from line to line, so each distinct rest is cut once), and each rule runs over a whole column
(per distinct value, or as one search over the joined column), so Python loops per rule and chunk, not
per field. Rows that are not proven are split quote-aware, reported, and brought to DATEV's canonical
quoting, so every readable row meets the same column rules; tests hold the paths to identical findings.
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import compress, count, repeat
from pathlib import Path
from typing import Final

from datev_cin7_pipeline.datev.extf import columns as c
from datev_cin7_pipeline.datev.extf.batches import FILE_NAME_PATTERN
from datev_cin7_pipeline.datev.extf.encoding import UTF8_BOM, decode
from datev_cin7_pipeline.datev.extf.header import parse_created_stamp
from datev_cin7_pipeline.datev.extf.records import is_quoted, split_fields, split_lines
from datev_cin7_pipeline.datev.extf.rules import RULES, Severity
from datev_cin7_pipeline.datev.extf.values import (
    fiscal_year_end,
    parse_decimal,
    parse_ttmmjjjj,
    parse_yyyymmdd,
    quote,
    unquote,
)
from datev_cin7_pipeline.datev.extf.vat import vat_id_problem

CHUNK_ROWS: Final = 2048
# A file read a piece at a time is checked a piece at a time: a quarter of a megabyte (some 500 records)
# keeps a piece's text, lines and columns in the processor's cache, which is measurably faster than more.
_PIECE_BYTES: Final = 1 << 18
_SCAN_BYTES: Final = 1 << 20
_FIELD_CONTROL: Final = re.compile(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_DOCUMENT_FIELD: Final = r"[A-Za-z0-9$&%*+\-/]"
_GUID: Final = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
_VALID_TTMM: Final = frozenset(f"{day:%d%m}" for day in (dt.date(2024, 1, 1) + dt.timedelta(n) for n in range(366)))
_PURE_CORRECTION_KEYS: Final = frozenset(f"{digit}0" for digit in range(1, 10))
_CANCEL_AUTOMATIC_KEY: Final = "40"
_MAX_SHOWN: Final = 60
_FEW_DISTINCT: Final = 256
_is_nfc: Final = functools.partial(unicodedata.is_normalized, "NFC")
_ELLIPSIS_ENDS: Final = ('."', '…"')
_ISO_CURRENCY: Final = re.compile(r'"[A-Z]{3}"')
_EMPTY_TEXT: Final = '""'
_LONGER_THAN_61: Final = (61).__lt__


def _where(flags: Iterable[object]) -> list[int]:
    """Indices of the true flags (a C loop where a comprehension over every row would be a Python one)."""
    return list(compress(count(), flags))


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    message: str
    file: str | None = None
    row: int | None = None  # line number in the file: 1 header, 2 headings, 3.. records
    column: int | None = None  # header field number on row 1, data column number otherwise
    column_name: str = ""

    def __str__(self) -> str:
        where = [self.file or "<bytes>"]
        if self.row is not None:
            where.append(f"line {self.row}")
        if self.column is not None:
            where.append(f"field {self.column} '{self.column_name}'")
        return f"{self.code} {self.severity}: {', '.join(where)}: {self.message}"


@dataclass(frozen=True)
class ValidationReport:
    file: str | None
    findings: tuple[Finding, ...]
    rows: int  # booking records found
    encoding: str

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "warning")

    @property
    def ok(self) -> bool:
        """True when nothing would make DATEV reject the file or book it wrongly (warnings allowed)."""
        return not self.errors

    def codes(self) -> set[str]:
        return {f.code for f in self.findings}


def validate_extf(
    data: bytes, *, automatic_accounts: Iterable[int] = frozenset(), filename: str | None = None
) -> ValidationReport:
    """Check a Buchungsstapel. `automatic_accounts` are the client's automatic (AM/AV) accounts, on which
    no BU-Schlüssel with a tax key is allowed; `filename` also checks the upload file name."""
    validator = _Validator(filename, frozenset(automatic_accounts))
    with _without_cyclic_gc():  # the report too: sorting many findings makes a tuple per finding
        validator.run(data)
        return validator.report()


@contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    """Pause the cycle collector: checking a large file makes millions of short-lived lists and tuples,
    none of them in cycles, and collecting them generation by generation costs about a quarter of the
    run. Reference counting still frees everything at once."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def validate_extf_file(path: Path, *, automatic_accounts: Iterable[int] = frozenset()) -> ValidationReport:
    return validate_extf(path.read_bytes(), automatic_accounts=automatic_accounts, filename=path.name)


@dataclass(frozen=True)
class _Shape:
    """What every value of a column must look like."""

    good: re.Pattern[str]
    misfit: re.Pattern[str]  # finds, in the newline-joined column, each value that does not fit
    every: re.Pattern[str]  # fully matches a newline-joined column whose values all fit

    def misfits(self, values: Sequence[str]) -> list[int]:
        """Indices of the values that do not fit: per distinct value when a column repeats itself (most
        do), otherwise over the joined column: one match of the whole column (one pass, no retry at
        every position), and the search for the misfits only when that fails. A sample tells the columns
        of many distinct values (amounts, numbers, texts, links) without hashing every value."""
        if len(set(values[:_FEW_DISTINCT])) <= _FEW_DISTINCT // 2:
            distinct = set(values)
            if len(distinct) <= _FEW_DISTINCT:
                wrong = {v for v in distinct if not self.good.fullmatch(v)}
                return [i for i, v in enumerate(values) if v in wrong] if wrong else []
        joined = "\n".join(values)
        if self.every.fullmatch(joined):
            return []
        return _indices(joined, self.misfit)


def _bad(good: str, common: str | None = None) -> _Shape:
    """The shape `good` (a pattern that never matches a line break). `common`, when given, matches only
    values that `good` matches (the usual ones, but faster) and serves the whole-column match; a column
    it does not fully match is searched with `good`."""
    every = common or good
    return _Shape(
        re.compile(good),
        re.compile(rf"^(?!(?:{good})$).*$", re.MULTILINE),
        re.compile(rf"(?:{every})(?:\n(?:{every}))*", re.MULTILINE),  # `$` in a pattern: the end of a value
    )


@functools.lru_cache(maxsize=8)
def _account_shape(length: int) -> _Shape:
    """1–9 digits of which at most `length` + 1 are significant (leading zeros do not count)."""
    return _bad(rf"(?=\d{{1,9}}$)(?:0*[1-9]\d{{0,{length}}}|0+)")


def _any(pattern: str) -> re.Pattern[str]:
    """A pattern that matches every value of a newline-joined column that fully matches `pattern`."""
    return re.compile(rf"^(?:{pattern})$", re.MULTILINE)


def _text(limit: int) -> str:
    """A quoted text of at most `limit` characters (a doubled quote counts once)."""
    return rf'"(?:[^"\n]|""){{0,{limit}}}"'


def _text_shape(limit: int) -> _Shape:
    """`_text(limit)`, with the fast whole-column match for texts without quotes inside."""
    return _bad(_text(limit), rf'"[^"\n]{{0,{limit}}}"')


_AMOUNT_BAD = _bad(r"\d{1,10},\d{2}")
_ZERO = _any(r"0+,0+")
_CURRENCY_BAD = _bad(r'"(?:[A-Z]{3})?"')
_RATE_BAD = _bad(r"(?:(?:[1-9]\d{0,3}|0),\d{2,6})?")
_BASE_BAD = _bad(r"(?:\d{1,10},\d{2})?")
_ACCOUNT_BAD = _bad(r"\d{1,9}")
_TAX_KEY_BAD = _bad(r'"\d{0,4}"')
_FIELD_1_BAD = _bad(rf'"{_DOCUMENT_FIELD}{{0,36}}"')
_FIELD_2_BAD = _bad(rf'"{_DOCUMENT_FIELD}{{0,12}}"')
_DISCOUNT_BAD = _bad(r"(?:\d{1,8},\d{2})?")
_TEXT_60_BAD = _text_shape(60)
_LINK_BAD = _bad(r'"(?:[A-Z]{4} ""[^"\n]{1,203}"")?"')
_LINK_GUID_BAD = _bad(rf'"(?:BEDI ""{_GUID}""|(?!BEDI)[A-Z]{{4}} ""[^"\n]{{1,203}}"")?"')
_INFO_KIND_BAD = _text_shape(20)
_INFO_CONTENT_BAD = _text_shape(210)
_TEXT_36_BAD = _text_shape(36)
_FLAG_TEXT_BAD = _bad(r'"[01]?"')
_FLAG_BAD = _bad(r"[01]?")
_TAX_RATE_BAD = _bad(r"(?:\d{1,2},\d{2})?")
_COUNTRY_BAD = _bad(r'"(?:[A-Z]{2})?"')
_TEXT_QUOTED = _bad(r'"(?:[^"\n]|"")*"', r'"[^"\n]*(?:""[^"\n]*)*"')  # the same, unrolled

# Row structure: a record's skeleton is its bytes without everything but ';' and '"'. A canonical record
# (125 fields, texts quoted, numbers bare, no ';' inside a text) has 124 ';' and two quotes exactly in the
# text columns (more when a text holds escaped quotes: such rows take the quote-aware path).
_SKELETON_DROP: Final = bytes(b for b in range(256) if b not in b';"\n')
_CANONICAL_SKELETON: Final = re.compile(
    b";".join(rb'(?:"")+' if n in c.TEXT_COLUMNS else b"" for n in range(1, c.COLUMN_COUNT + 1))
)
# The rules read columns 1..41 and 93..125 only; the rest is checked for structure and quoting.
_HEAD_COLUMNS: Final = 41
_TEXT_FIELDS: Final = len(c.TEXT_COLUMNS)
_TAIL_COLUMNS: Final = 33
_FIRST_TAIL: Final = c.COLUMN_COUNT - _TAIL_COLUMNS + 1
_OWN_COLUMNS: Final = 26  # amount .. the third Beleginfo: what tells one booking line from the next
_OWN_TEXT_COLUMNS: Final = sorted(n for n in c.TEXT_COLUMNS if n <= _OWN_COLUMNS)
_REST_TEXT_FIELDS: Final = _TEXT_FIELDS - len(_OWN_TEXT_COLUMNS)
_EMPTY_RECORD: Final = ";".join('""' if n in c.TEXT_COLUMNS else "" for n in range(1, c.COLUMN_COUNT + 1))


def _split_columns(lines: Sequence[str]) -> tuple[dict[int, Sequence[str]], set[int]]:
    """Columns 1..41 and 93..125 of records with canonical skeletons, as sequences of values, and the rows
    with a text field that does not open and close with its quote (`a"b"` keeps the skeleton canonical).

    Each record is cut once after column 26. What follows (the last Beleginfo pairs, KOST, EU fields, the
    dates and flags at the end) repeats from line to line, a few dozen variants in a chunk of thousands, so
    each distinct rest is cut into its columns and checked once and the rows share its values: far fewer
    strings made and freed than cutting every record into all of its columns.
    """
    heads = list(zip(*(line.split(c.SEPARATOR, _OWN_COLUMNS) for line in lines), strict=True))
    rests = heads.pop()
    cut: dict[str, list[str]] = {}
    loose_rests = set()
    for rest in set(rests):
        middle = rest.split(c.SEPARATOR, _HEAD_COLUMNS - _OWN_COLUMNS)
        cut[rest] = [*middle[:-1], *middle[-1].rsplit(c.SEPARATOR, _TAIL_COLUMNS)[1:]]
        # A canonical skeleton allows at most one opening ';"' and one closing '";' per text field.
        if (";" + rest).count(';"') != _REST_TEXT_FIELDS or (rest + ";").count('";') != _REST_TEXT_FIELDS:
            loose_rests.add(rest)
    loose = {i for i, rest in enumerate(rests) if rest in loose_rests} if loose_rests else set()
    for number in _OWN_TEXT_COLUMNS:
        loose.update(_unquoted(heads[number - 1]))
    shared = list(zip(*map(cut.__getitem__, rests), strict=True))
    columns: dict[int, Sequence[str]] = dict(enumerate(heads, start=1))
    columns.update(enumerate(shared[: _HEAD_COLUMNS - _OWN_COLUMNS], start=_OWN_COLUMNS + 1))
    columns.update(enumerate(shared[_HEAD_COLUMNS - _OWN_COLUMNS :], start=_FIRST_TAIL))
    return columns, loose


def _unquoted(values: Sequence[str]) -> list[int]:
    """Indices of the values that do not start and end with a quote; first counted over the joined column."""
    joined, gaps = "\n".join(values), len(values) - 1
    if joined[:1] == joined[-1:] == '"' and joined.count('\n"') == gaps and joined.count('"\n') == gaps:
        return []
    return [i for i, value in enumerate(values) if not (value[:1] == value[-1:] == '"')]


def _rows(values: Sequence[str], pattern: re.Pattern[str] | _Shape) -> list[int]:
    """Indices of the values `pattern` matches (a _Shape: the values that do not fit it)."""
    if isinstance(pattern, _Shape):
        return pattern.misfits(values)
    joined = "\n".join(values)
    if pattern.search(joined) is None:
        return []
    return _indices(joined, pattern)


def _indices(joined: str, pattern: re.Pattern[str]) -> list[int]:
    """Value indices of the matches of `pattern` in a newline-joined column (values hold no line breaks)."""
    indices: list[int] = []
    index, position = 0, 0
    for match in pattern.finditer(joined):
        index += joined.count("\n", position, match.start())
        position = match.start()
        indices.append(index)
    return indices


def _structure(lines: list[str]) -> tuple[set[int], set[int]]:
    """(rows to split quote-aware, columns whose raw values must be checked for proper quoting).

    Skeletons repeat, so each distinct one is classified once. A canonical skeleton with four or more
    quotes in a field holds escaped quotes, or two stray ones that look alike: that field's values are
    then checked exactly (head and tail columns) or the rows go the quote-aware way (middle columns).
    """
    joined = "\n".join(lines)
    try:  # only ';', '"' and line breaks matter, so any encoding that keeps ASCII will do; Latin-1 is a copy
        blob = joined.encode("latin-1")
    except UnicodeEncodeError:
        blob = joined.encode("utf-8", "surrogatepass")
    del joined
    skeletons = blob.translate(None, _SKELETON_DROP).split(b"\n")
    slow: set[bytes] = set()
    columns: set[int] = set()
    for skeleton in set(skeletons):
        if not _CANONICAL_SKELETON.fullmatch(skeleton):
            slow.add(skeleton)
        elif b'""""' in skeleton:
            escaped = {n for n, piece in enumerate(skeleton.split(b";"), start=1) if len(piece) > 2}
            if any(_HEAD_COLUMNS < n <= c.COLUMN_COUNT - _TAIL_COLUMNS for n in escaped):
                slow.add(skeleton)
            else:
                columns |= escaped
    # Whether each text field opens and closes with its quote (a quote elsewhere, as in `a"b"`, leaves the
    # skeleton canonical) is checked on the cut columns (_split_columns).
    return {i for i, s in enumerate(skeletons) if s in slow} if slow else set(), columns


# Bytes that are, or start, a character check_text must look at: C0 controls but the line breaks, DEL, and
# in UTF-8 the lead byte of U+0080..U+00BF (C1 controls among them) and lead bytes from U+0300 on. Every
# text below U+0300 is NFC, and so is every text in Windows-1252 (which has no C1 controls either).
_C0_BYTES: Final = frozenset({*range(0x20), 0x7F} - {0x0A, 0x0D})
_NOT_SUSPECT_UTF8: Final = bytes(b for b in range(256) if b not in _C0_BYTES | {0xC2, *range(0xCC, 0x100)})
_NOT_SUSPECT_CP1252: Final = bytes(b for b in range(256) if b not in _C0_BYTES)
_UTF8_C1: Final = re.compile(b"\xc2[\x80-\x9f]")


def _clean_bytes(data: bytes, *, utf8: bool, bom: bool) -> bool:
    """True when the bytes of a UTF-8 (else Windows-1252) file that decodes without error prove that its
    text holds no control character (but line breaks) and nothing that NFC would change: one pass over
    bytes instead of two over text."""
    if utf8:
        suspects = _kept(data, _NOT_SUSPECT_UTF8)
        if bom:
            suspects = suspects[1:]  # the BOM's lead byte
        return not suspects.strip(b"\xc2") and not (suspects and _UTF8_C1.search(data))
    return not _kept(data, _NOT_SUSPECT_CP1252)


def _kept(data: bytes, drop: bytes) -> bytes:
    """data.translate(None, drop), a megabyte at a time: translate first allocates the whole length."""
    return b"".join(data[i : i + _SCAN_BYTES].translate(None, drop) for i in range(0, len(data), _SCAN_BYTES))


def _shown(raw: str) -> str:
    value = unquote(raw) if is_quoted(raw) else raw
    return repr(value if len(value) <= _MAX_SHOWN else value[:_MAX_SHOWN] + "…")


@dataclass
class _Header:
    """What the records are checked against; None where the header field itself is invalid."""

    account_length: int | None = None
    period: tuple[dt.date, dt.date] | None = None
    fiscal_year: tuple[dt.date, dt.date] | None = None
    currency: str = "EUR"


@dataclass
class _Validator:
    filename: str | None
    automatic_accounts: frozenset[int]
    findings: list[Finding] = field(default_factory=list)
    rows: int = 0
    encoding: str = ""
    header: _Header = field(default_factory=_Header)
    text_clean: bool = False  # the file's bytes prove: no control character, nothing NFC would change

    def add(self, code: str, message: str, row: int | None = None, column: int | None = None, name: str = "") -> None:
        rule = RULES[code]
        if column is not None and not name:
            name = c.header_field_name(column) if row == 1 else c.column_name(column)
        self.findings.append(Finding(code, rule.severity, message, self.filename, row, column, name))

    def report(self) -> ValidationReport:
        ordered = sorted(self.findings, key=lambda f: (f.row or 0, f.column or 0, f.code))
        return ValidationReport(self.filename, tuple(ordered), self.rows, self.encoding)

    # --- file ---------------------------------------------------------------------------------------

    def run(self, data: bytes) -> None:
        if self.run_in_pieces(data):
            return
        self.findings.clear()  # the file needs the whole-text way after all: from the start
        self.header = _Header()
        lines = self.read(data)
        if lines is None:
            return
        self.check_header(lines[0])
        if len(lines) < 2:
            self.add("EXTF-F006", "the column heading line (line 2) is missing", row=2)
            return
        self.check_headings(lines[1])
        records = lines[2:]
        self.rows = len(records)
        if len(records) > c.MAX_ROWS:
            self.add(
                "EXTF-F005",
                f"{len(records)} booking records; DATEV accepts at most {c.MAX_ROWS} per file",
                row=c.MAX_ROWS + 3,
            )
        self.check_text(lines)
        for start in range(0, len(records), CHUNK_ROWS):
            self.check_chunk(records[start : start + CHUNK_ROWS], first_row=start + 3)

    def run_in_pieces(self, data: bytes) -> bool:
        """Check the usual file, UTF-8 with BOM and CR LF throughout, without control characters or text
        that NFC would change, a piece (_PIECE_BYTES) at a time: the whole text and all of its lines
        never exist at once, which saves memory and time. False (findings to be discarded) when the file
        is not like that; a decoding error can show that only on the way."""
        breaks = data.count(b"\r\n")
        if (
            not data.startswith(UTF8_BOM)
            or not data.endswith(b"\r\n")
            or breaks < 2
            or data.count(b"\n") != breaks
            or data.count(b"\r") != breaks
            or not _clean_bytes(data, utf8=True, bom=True)
        ):
            return False
        self.check_file(data)
        self.encoding, self.text_clean = "utf-8", True
        view, start, number = memoryview(data), len(UTF8_BOM), 1  # number: the piece's first line
        while start < len(data):
            end = data.find(b"\n", start + _PIECE_BYTES) + 1 or len(data)  # after a line break
            try:
                lines = str(view[start:end], "utf-8").split(c.LINE_END)
            except UnicodeDecodeError:
                return False
            lines.pop()  # the empty text after the piece's last line break
            start = end
            if number == 1:
                self.check_header(lines.pop(0))
                number = 2
            if number == 2 and lines:
                self.check_headings(lines.pop(0))
                number = 3
            if lines:
                self.check_chunk(lines, first_row=number)  # a piece is a chunk: per-chunk work is per column
            number += len(lines)
        self.rows = number - 3
        if self.rows > c.MAX_ROWS:
            message = f"{self.rows} booking records; DATEV accepts at most {c.MAX_ROWS} per file"
            self.add("EXTF-F005", message, row=c.MAX_ROWS + 3)
        return True

    def check_file(self, data: bytes) -> None:
        if self.filename is not None and not FILE_NAME_PATTERN.fullmatch(self.filename):
            self.add("EXTF-F008", f"file name {self.filename!r} does not match EXTF_.{{0,51}}\\.csv")
        if len(data) > c.MAX_FILE_BYTES:
            self.add("EXTF-F007", f"the file has {len(data)} bytes; the upload limit is {c.MAX_FILE_BYTES}")

    def read(self, data: bytes) -> list[str] | None:
        """File-level checks, then the lines (None for an empty file). The decoded text is dropped
        here: the lines hold it, and a second copy would double the memory of a large file."""
        self.check_file(data)
        decoded = decode(data)
        self.encoding = decoded.encoding
        if decoded.error:
            row = data.count(b"\n", 0, max(decoded.error_offset, 0)) + 1
            self.add("EXTF-F001", f"{decoded.error} (at byte {decoded.error_offset})", row=row)
        if decoded.utf8_without_bom:
            self.add(
                "EXTF-F002",
                "the file is UTF-8 without a byte-order mark; DATEV reads it as Windows-1252, so umlauts turn "
                "into two wrong characters (write UTF-8 with BOM, or cp1252)",
            )
        single_byte_breaks = decoded.encoding in ("utf-8", "cp1252") and not decoded.error
        utf8 = decoded.encoding == "utf-8" or decoded.utf8_without_bom
        self.text_clean = single_byte_breaks and _clean_bytes(data, utf8=utf8, bom=decoded.bom)
        split = split_lines(decoded.text, data if single_byte_breaks else None)
        del decoded
        if split.bare_break_line:
            self.add("EXTF-F003", "line ends with a lone LF or CR; DATEV needs CR LF", row=split.bare_break_line)
        lines = split.lines
        if not lines or lines == [""]:
            self.add("EXTF-F006", "the file is empty")
            return None
        if not split.ends_with_line_break:
            self.add("EXTF-F004", "the last line has no CR LF", row=len(lines))
        return lines

    def check_text(self, lines: list[str]) -> None:
        """Control characters and NFC: a fast pass over all lines, details only for the lines hit."""
        if self.text_clean:  # the bytes showed neither
            return
        hit: set[int] = set()
        if not all(map(str.isprintable, lines)):  # fast; a no-break space also gets here, harmlessly
            hit.update(i for i, line in enumerate(lines) if _FIELD_CONTROL.search(line))
        if not all(map(_is_nfc, lines)):
            hit.update(i for i, line in enumerate(lines) if not _is_nfc(line))
        for index in sorted(hit):
            if index != 1:  # the heading line is compared exactly by C001
                self.check_line_text(lines[index], index + 1)

    def check_line_text(self, line: str, row: int) -> None:
        for column, raw in enumerate(split_fields(line) or [line], start=1):
            control = _FIELD_CONTROL.search(raw)
            normal = unicodedata.is_normalized("NFC", raw)
            if row == 1 and (control or not normal):
                self.add("EXTF-H031", "control character or non-NFC text in a header field", row, column)
            elif control:
                self.add("EXTF-R034", f"control character {control.group()!r} inside the field", row, column)
            elif not normal:
                self.add("EXTF-R035", f"{_shown(raw)} is not in Unicode NFC (decomposed characters)", row, column)

    # --- header -------------------------------------------------------------------------------------

    def check_header(self, line: str) -> None:
        if len(line) > c.MAX_HEADER_CHARS:
            self.add("EXTF-H026", f"the header has {len(line)} characters; at most {c.MAX_HEADER_CHARS}", row=1)
        raw = split_fields(line)
        if raw is None or len(raw) != len(c.HEADER_FIELDS):
            count = "broken quoting" if raw is None else f"{len(raw)} fields"
            self.add("EXTF-H001", f"the header must have {len(c.HEADER_FIELDS)} fields ({count})", row=1)
            return
        for number, field_raw in enumerate(raw, start=1):
            quoted = is_quoted(field_raw)
            if quoted != (number in c.HEADER_TEXT_FIELDS):
                kind = "text (quoted)" if number in c.HEADER_TEXT_FIELDS else "a number (bare)"
                self.add("EXTF-H027", f"{field_raw!r}: DATEV writes this field as {kind}", 1, number)
        values = [unquote(v) if is_quoted(v) else v for v in raw]
        _HeaderCheck(self, values).run()

    def check_headings(self, line: str) -> None:
        if line == c.HEADING_LINE:
            return
        names = line.split(c.SEPARATOR)
        if len(names) != c.COLUMN_COUNT:
            self.add("EXTF-C001", f"{len(names)} column headings; format version 13 has {c.COLUMN_COUNT}", row=2)
        for number, (found, expected) in enumerate(zip(names, c.HEADING, strict=False), start=1):
            if found != expected:
                self.add("EXTF-C001", f"heading {found!r} should be {expected!r}", 2, number, expected)

    # --- records ------------------------------------------------------------------------------------

    def check_chunk(self, lines: list[str], first_row: int) -> None:
        """Check the records of one chunk: structure and quoting via skeletons, then the rules column-wise.

        Rows whose skeleton is canonical are cut with split/rsplit, which is only safe because the
        skeleton proves every ';' is a separator; the others are split quote-aware, reported, and brought
        to DATEV's canonical quoting, so the column rules see every readable row the same way.
        """
        slow, quoted_columns = _structure(lines)
        # A slow row is cut like an empty record for now; its own fields replace those below.
        cut = [_EMPTY_RECORD if i in slow else line for i, line in enumerate(lines)] if slow else lines
        columns: Mapping[int, Sequence[str]]
        columns, loose = _split_columns(cut)
        slow |= loose
        for number in quoted_columns:
            slow.update(_TEXT_QUOTED.misfits(columns[number]))
        numbers = list(range(first_row, first_row + len(lines)))
        if slow:
            patched = {number: list(values) for number, values in columns.items()}
            unreadable = set()
            for index in sorted(slow):
                fixed = self.reparse(lines[index], first_row + index)
                if fixed is None:
                    unreadable.add(index)
                    continue
                for number, values in patched.items():
                    values[index] = fixed[number - 1]
            if unreadable:
                keep = [i not in unreadable for i in range(len(lines))]
                numbers = list(compress(numbers, keep))
                patched = {number: list(compress(values, keep)) for number, values in patched.items()}
            columns = patched
        if not numbers:
            return
        _RecordCheck(self, columns, numbers).run()

    def reparse(self, line: str, number: int) -> list[str] | None:
        """Split a record quote-aware; report it and return None when it cannot be checked."""
        if line == "":
            self.add("EXTF-R001", "empty line", row=number)
            return None
        raw = split_fields(line)
        if raw is None:
            self.add("EXTF-R041", "broken quoting (a stray or unclosed quote); the record cannot be read", number)
            return None
        if len(raw) != c.COLUMN_COUNT:
            self.add("EXTF-R001", f"{len(raw)} fields instead of {c.COLUMN_COUNT}", row=number)
            return None
        return self.canonical(raw, number)

    def canonical(self, raw: list[str], number: int) -> list[str]:
        """Report quoting that differs from DATEV's field types and return the fields as DATEV types them."""
        result = []
        for column, value in enumerate(raw, start=1):
            quoted = is_quoted(value)
            text_column = column in c.TEXT_COLUMNS
            if quoted != text_column:
                kind = 'text (quoted, empty as "")' if text_column else "a number (bare)"
                self.add("EXTF-R040", f"{value!r}: DATEV writes this field as {kind}", number, column)
            inner = unquote(value) if quoted else value
            result.append(quote(inner) if text_column else inner)
        return result


@dataclass
class _HeaderCheck:
    """The field-by-field checks of line 1 (values already unquoted)."""

    validator: _Validator
    values: list[str]

    def fail(self, code: str, number: int, message: str) -> None:
        self.validator.add(code, message, 1, number)

    def value(self, number: int) -> str:
        return self.values[number - 1]

    def expect(self, code: str, number: int, expected: str) -> None:
        if self.value(number) != expected:
            self.fail(code, number, f"{self.value(number)!r} should be {expected!r}")

    def run(self) -> None:
        self.expect("EXTF-H002", 1, c.FORMAT_TAG)
        self.expect("EXTF-H003", 2, str(c.HEADER_VERSION))
        self.expect("EXTF-H004", 3, str(c.CATEGORY_BOOKINGS))
        self.expect("EXTF-H005", 4, c.FORMAT_NAME_BOOKINGS)
        self.expect("EXTF-H006", 5, str(c.FORMAT_VERSION_BOOKINGS))
        self.created()
        for number in sorted(c.HEADER_EMPTY_FIELDS):
            if self.value(number):
                self.fail("EXTF-H008", number, f"{self.value(number)!r}: this field must stay empty")
        self.pattern("EXTF-H009", 8, r"[A-Za-z0-9]{0,2}", "up to 2 letters or digits")
        self.longest("EXTF-H010", 9, 25)
        self.number_range("EXTF-H011", 11, 1001, 9_999_999)
        self.number_range("EXTF-H012", 12, 1, 99_999)
        self.account_length()
        self.period()
        self.longest("EXTF-H018", 17, 30)
        self.pattern("EXTF-H019", 18, r"(?:[A-Z]{2})?", "empty or two capital letters")
        self.pattern("EXTF-H020", 19, r"[12]", "1 (Finanzbuchführung) or 2 (Jahresabschluss)")
        self.pattern("EXTF-H021", 20, r"(?:0|30|40|50|64)?", "empty, 0, 30, 40, 50 or 64")
        if self.value(21) == "":
            self.fail("EXTF-H023", 21, "empty Festschreibung: DATEV locks the batch on import (write 0 or 1)")
        else:
            self.pattern("EXTF-H022", 21, r"[01]", "0 (not locked) or 1 (locked)")
        if self.pattern("EXTF-H024", 22, r"[A-Z]{3}", "three capital letters (ISO 4217)"):
            self.validator.header.currency = self.value(22)
        self.pattern("EXTF-H025", 27, r"\d{2}", "two digits, e.g. 03 or 04")
        self.pattern("EXTF-H030", 28, r"\d{0,4}", "up to 4 digits")
        self.longest("EXTF-H028", 31, 16)

    def pattern(self, code: str, number: int, pattern: str, wanted: str) -> bool:
        if re.fullmatch(pattern, self.value(number)):
            return True
        self.fail(code, number, f"{self.value(number)!r} should be {wanted}")
        return False

    def longest(self, code: str, number: int, limit: int) -> None:
        if len(self.value(number)) > limit:
            self.fail(code, number, f"{len(self.value(number))} characters; at most {limit}")

    def number_range(self, code: str, number: int, low: int, high: int) -> None:
        text = self.value(number)
        if not (text.isdigit() and low <= int(text) <= high):
            self.fail(code, number, f"{text!r} should be a number {low}–{high}")

    def created(self) -> None:
        try:
            parse_created_stamp(self.value(6))
        except ValueError:
            self.fail("EXTF-H007", 6, f"{self.value(6)!r} is not a timestamp JJJJMMTTHHMMSSmmm")

    def account_length(self) -> None:
        if self.pattern("EXTF-H014", 14, r"[4-8]", "a number 4–8"):
            self.validator.header.account_length = int(self.value(14))

    def date(self, code: str, number: int) -> dt.date | None:
        try:
            return parse_yyyymmdd(self.value(number))
        except ValueError:
            self.fail(code, number, f"{self.value(number)!r} is not a date JJJJMMTT")
            return None

    def period(self) -> None:
        fiscal_start = self.date("EXTF-H013", 13)
        start, end = self.date("EXTF-H015", 15), self.date("EXTF-H015", 16)
        if fiscal_start is not None:
            self.validator.header.fiscal_year = (fiscal_start, fiscal_year_end(fiscal_start))
        if start is None or end is None:
            return
        if start > end:
            self.fail("EXTF-H016", 15, f"Datum vom {start:%d.%m.%Y} is after Datum bis {end:%d.%m.%Y}")
            return
        self.validator.header.period = (start, end)
        if start.year != end.year:
            self.fail("EXTF-H029", 16, f"the period {start:%d.%m.%Y}–{end:%d.%m.%Y} spans two calendar years")
        if fiscal_start is not None:
            fiscal_end = fiscal_year_end(fiscal_start)
            if not (fiscal_start <= start and end <= fiscal_end):
                self.fail(
                    "EXTF-H017",
                    16,
                    f"the period {start:%d.%m.%Y}–{end:%d.%m.%Y} is not inside the fiscal year "
                    f"{fiscal_start:%d.%m.%Y}–{fiscal_end:%d.%m.%Y}",
                )


@dataclass
class _RecordCheck:
    """The column-wise checks of one chunk of records (fields in DATEV's canonical quoting)."""

    validator: _Validator
    columns: Mapping[int, Sequence[str]]
    numbers: list[int]

    def col(self, number: int) -> Sequence[str]:
        return self.columns[number]

    def report(self, code: str, number: int, indices: Iterable[int], message: Callable[[str], str]) -> None:
        values, name = self.col(number), c.column_name(number)
        for index in indices:
            self.validator.add(code, message(values[index]), self.numbers[index], number, name)

    def matching(
        self, code: str, number: int, pattern: re.Pattern[str] | _Shape, message: Callable[[str], str]
    ) -> list[int]:
        """Report the values of a column `pattern` matches; returns their indices."""
        indices = _rows(self.col(number), pattern)
        self.report(code, number, indices, message)
        return indices

    def run(self) -> None:
        self.amounts()
        self.sides()
        self.currencies()
        self.accounts()
        self.tax_keys()
        self.dates()
        self.document_fields()
        self.texts()
        self.links()
        self.document_infos()
        self.optional_fields()

    def amounts(self) -> None:
        bad = set(
            self.matching(
                "EXTF-R002", c.AMOUNT, _AMOUNT_BAD, lambda v: f"Umsatz {v!r} is not 1–10 digits, comma, 2 digits"
            )
        )
        zero = [i for i in _rows(self.col(c.AMOUNT), _ZERO) if i not in bad]
        self.report("EXTF-R003", c.AMOUNT, zero, lambda v: "Umsatz must be greater than 0,00")
        self.matching(
            "EXTF-R021", c.CASH_DISCOUNT, _DISCOUNT_BAD, lambda v: f"Skonto {v!r} is not 1–8 digits, comma, 2 digits"
        )
        self.report(
            "EXTF-R021", c.CASH_DISCOUNT, _rows(self.col(c.CASH_DISCOUNT), _ZERO), lambda v: "Skonto must not be 0"
        )

    def sides(self) -> None:
        values = self.col(c.SIDE)
        wrong = set(values) - {'"S"', '"H"'}
        if wrong:
            indices = [i for i, v in enumerate(values) if v in wrong]
            self.report("EXTF-R004", c.SIDE, indices, lambda v: f"{_shown(v)} should be S or H")

    def currencies(self) -> None:
        for number in (c.CURRENCY, c.BASE_CURRENCY):
            self.matching("EXTF-R005", number, _CURRENCY_BAD, lambda v: f"{_shown(v)} is not three capital letters")
        bad_rate = set(
            self.matching("EXTF-R006", c.RATE, _RATE_BAD, lambda v: f"Kurs {v!r} is not 1–4 digits, comma, 2–6 digits")
        )
        zero = [i for i in _rows(self.col(c.RATE), _ZERO) if i not in bad_rate]
        self.report("EXTF-R006", c.RATE, zero, lambda v: "Kurs must not be 0")
        bad_base = set(
            self.matching(
                "EXTF-R009",
                c.BASE_AMOUNT,
                _BASE_BAD,
                lambda v: f"Basis-Umsatz {v!r} is not 1–10 digits, comma, 2 digits",
            )
        )
        rates, bases, base_currencies = self.col(c.RATE), self.col(c.BASE_AMOUNT), self.col(c.BASE_CURRENCY)
        count = len(rates)
        if rates.count("") == count and bases.count("") == count and base_currencies.count('""') == count:
            self.foreign_without_rate(rates)
            return
        filled = {*_where(rates), *_where(bases), *_where(map(_EMPTY_TEXT.__ne__, base_currencies))}
        for index in sorted(filled):
            given = (rates[index] != "", bases[index] != "", base_currencies[index] != '""')
            if any(given) and not all(given):
                names = ("Kurs", "Basis-Umsatz", "WKZ Basis-Umsatz")
                missing = ", ".join(name for name, present in zip(names, given, strict=True) if not present)
                message = f"{missing} missing: Kurs, Basis-Umsatz and WKZ Basis-Umsatz go together"
                self.validator.add("EXTF-R007", message, self.numbers[index], c.RATE)
            elif all(given) and index not in bad_rate and index not in bad_base:
                self.base_matches_rate(index)
        self.foreign_without_rate(rates)

    def foreign_without_rate(self, rates: Sequence[str]) -> None:
        currencies = self.col(c.CURRENCY)
        home = {'""', quote(self.validator.header.currency)}
        if set(currencies) <= home:
            return
        indices = [i for i, v in enumerate(currencies) if v not in home and _ISO_CURRENCY.fullmatch(v) and not rates[i]]
        self.report(
            "EXTF-R008",
            c.RATE,
            indices,
            lambda v: "Umsatz in a foreign currency needs Kurs, Basis-Umsatz and WKZ Basis-Umsatz",
        )

    def base_matches_rate(self, index: int) -> None:
        amount_text = self.col(c.AMOUNT)[index]
        try:
            amount, rate = parse_decimal(amount_text), parse_decimal(self.col(c.RATE)[index])
            base = parse_decimal(self.col(c.BASE_AMOUNT)[index])
        except ValueError:
            return
        if rate and abs(amount / rate - base) > Decimal("0.01"):
            expected = (amount / rate).quantize(Decimal("0.01"))
            self.report(
                "EXTF-R039", c.BASE_AMOUNT, [index], lambda v: f"Basis-Umsatz {v} but Umsatz / Kurs = {expected}"
            )

    def accounts(self) -> None:
        """One scan per column for both rules: the misfits of 'digits, at most Sachkontenlänge + 1 of them
        significant' are then told apart (not an account number at all, or too long)."""
        length = self.validator.header.account_length
        shape = _ACCOUNT_BAD if length is None else _account_shape(length)
        ranges = (
            ""
            if length is None
            else (
                f"G/L accounts up to {length} digits, debtors {10**length}–{7 * 10**length - 1}, "
                f"creditors {7 * 10**length}–{10 ** (length + 1) - 1}"
            )
        )
        for number in (c.ACCOUNT, c.CONTRA_ACCOUNT):
            values = self.col(number)
            for index in shape.misfits(values):
                value = values[index]
                if _ACCOUNT_BAD.good.fullmatch(value):
                    message = f"account {value} is longer than Sachkontenlänge + 1 ({ranges})"
                    self.validator.add("EXTF-R011", message, self.numbers[index], number)
                else:
                    message = f"{value!r} is not an account number of 1–9 digits"
                    self.validator.add("EXTF-R010", message, self.numbers[index], number)

    def tax_keys(self) -> None:
        bad = set(
            self.matching(
                "EXTF-R012", c.TAX_KEY, _TAX_KEY_BAD, lambda v: f"BU-Schlüssel {_shown(v)} is not up to 4 digits"
            )
        )
        keys = self.col(c.TAX_KEY)
        if not self.validator.automatic_accounts or keys.count('""') == len(keys):
            return
        automatic = self.validator.automatic_accounts
        accounts, contras = self.col(c.ACCOUNT), self.col(c.CONTRA_ACCOUNT)
        for index in _where(map(_EMPTY_TEXT.__ne__, keys)):
            raw = keys[index]
            if index in bad:
                continue
            hit = [a for a in (accounts[index], contras[index]) if a.isdigit() and int(a) in automatic]
            if not hit:
                continue
            key = raw[1:-1]
            if key == _CANCEL_AUTOMATIC_KEY:
                message = (
                    f"BU-Schlüssel 40 cancels the automatic function of account {hit[0]}; "
                    "confirm with the tax consultant"
                )
                self.validator.add("EXTF-R014", message, self.numbers[index], c.TAX_KEY)
            elif key not in _PURE_CORRECTION_KEYS:
                message = (
                    f"BU-Schlüssel {key} on automatic account {hit[0]}: "
                    "book automatic accounts without a tax key (gross amount)"
                )
                self.validator.add("EXTF-R013", message, self.numbers[index], c.TAX_KEY)

    def dates(self) -> None:
        values = self.col(c.DOCUMENT_DATE)
        distinct = set(values)  # a month has 31 of them: decide per value, find rows only for the wrong ones
        invalid = [i for i, v in enumerate(values) if v not in _VALID_TTMM] if distinct - _VALID_TTMM else []
        self.report(
            "EXTF-R015", c.DOCUMENT_DATE, invalid, lambda v: f"Belegdatum {v!r} is not a valid day and month TTMM"
        )
        period = self.validator.header.period
        if period is None:
            return
        days: dict[str, dt.date] = {}
        day = period[0]
        while day <= period[1] and len(days) < 366:
            days[f"{day:%d%m}"] = day
            day += dt.timedelta(days=1)
        wrong = {v for v in distinct if v not in days and v in _VALID_TTMM}
        outside = [i for i, v in enumerate(values) if v in wrong] if wrong else []
        self.report(
            "EXTF-R016",
            c.DOCUMENT_DATE,
            outside,
            lambda v: f"Belegdatum {v[:2]}.{v[2:]}. lies outside the period {period[0]:%d.%m.%Y}–{period[1]:%d.%m.%Y}",
        )
        fiscal = self.validator.header.fiscal_year
        if fiscal is None:
            return
        foreign = {text for text, day in days.items() if not fiscal[0] <= day <= fiscal[1]} & distinct
        if foreign:
            indices = [i for i, v in enumerate(values) if v in foreign]
            self.report(
                "EXTF-R017",
                c.DOCUMENT_DATE,
                indices,
                lambda v: (
                    f"Belegdatum {days[v]:%d.%m.%Y} lies outside the fiscal year "
                    f"{fiscal[0]:%d.%m.%Y}–{fiscal[1]:%d.%m.%Y}"
                ),
            )

    def document_fields(self) -> None:
        bad = set(
            self.matching(
                "EXTF-R018",
                c.DOCUMENT_FIELD_1,
                _FIELD_1_BAD,
                lambda v: f"Belegfeld 1 {_shown(v)}: at most 36 of A–Z a–z 0–9 $ & % * + - /",
            )
        )
        values = self.col(c.DOCUMENT_FIELD_1)
        joined = "\n".join(values)  # upper() maps character by character: one call tells the whole column
        lower = [i for i, v in enumerate(values) if v != v.upper() and i not in bad] if joined != joined.upper() else []
        self.report(
            "EXTF-R019",
            c.DOCUMENT_FIELD_1,
            lower,
            lambda v: f"Belegfeld 1 {_shown(v)} has lower-case letters; the open item is matched exactly",
        )
        self.matching(
            "EXTF-R020",
            c.DOCUMENT_FIELD_2,
            _FIELD_2_BAD,
            lambda v: f"Belegfeld 2 {_shown(v)}: at most 12 of A–Z a–z 0–9 $ & % * + - /",
        )

    def texts(self) -> None:
        bad = set(
            self.matching(
                "EXTF-R022",
                c.TEXT,
                _TEXT_60_BAD,
                lambda v: f"Buchungstext has {len(unquote(v))} characters; at most 60",
            )
        )
        values = self.col(c.TEXT)
        longest = _where(map(_LONGER_THAN_61, map(len, values)))
        candidates = sorted({*longest, *_where(map(str.endswith, values, repeat(_ELLIPSIS_ENDS)))})
        cut = [i for i in candidates if i not in bad and _looks_cut_off(values[i])]
        self.report("EXTF-R023", c.TEXT, cut, lambda v: f"Buchungstext {_shown(v)} looks cut off")
        for number in (c.COST_CENTRE_1, c.COST_CENTRE_2):
            self.matching("EXTF-R029", number, _TEXT_36_BAD, lambda v: f"{_shown(v)} is longer than 36 characters")
        self.matching("EXTF-R038", c.BOOKING_GUID, _TEXT_36_BAD, lambda v: f"{_shown(v)} is longer than 36 characters")

    def links(self) -> None:
        values = self.col(c.DOCUMENT_LINK)
        empty = _where(map(_EMPTY_TEXT.__eq__, values))
        self.report(
            "EXTF-R026", c.DOCUMENT_LINK, empty, lambda v: "no Beleglink: the booking is not linked to its document"
        )
        if len(empty) == len(values):
            return
        for index in _LINK_GUID_BAD.misfits(values):  # the strict shape; its misfits are told apart
            value = values[index]
            if _LINK_BAD.good.fullmatch(value):
                message = f"Beleglink {_shown(value)}: the BEDI id is not a GUID 8-4-4-4-12"
                self.validator.add("EXTF-R025", message, self.numbers[index], c.DOCUMENT_LINK)
            else:
                message = f'Beleglink {_shown(value)} is not like BEDI "<GUID>" (at most 210 characters)'
                self.validator.add("EXTF-R024", message, self.numbers[index], c.DOCUMENT_LINK)

    def document_infos(self) -> None:
        for pair in range(c.DOCUMENT_INFO_PAIRS):
            kind_number = c.DOCUMENT_INFO_FIRST + 2 * pair
            kinds, contents = self.col(kind_number), self.col(kind_number + 1)
            empty_kinds, empty_contents = kinds.count('""'), contents.count('""')
            if empty_kinds == len(kinds) and empty_contents == len(contents):
                continue
            if empty_kinds or empty_contents:  # else every pair is given in full
                no_kind, no_content = list(map(_EMPTY_TEXT.__eq__, kinds)), list(map(_EMPTY_TEXT.__eq__, contents))
                for index in _where(map(bool.__ne__, no_kind, no_content)) if no_kind != no_content else ():
                    number = kind_number if no_kind[index] else kind_number + 1
                    self.report("EXTF-R027", number, [index], lambda v: "Beleginfo Art and Inhalt must both be given")
            self.matching(
                "EXTF-R028", kind_number, _INFO_KIND_BAD, lambda v: "Beleginfo Art is longer than 20 characters"
            )
            self.matching(
                "EXTF-R028",
                kind_number + 1,
                _INFO_CONTENT_BAD,
                lambda v: "Beleginfo Inhalt is longer than 210 characters",
            )

    def optional_fields(self) -> None:
        for number in (c.EU_VAT_ID, c.EU_VAT_ID_ORIGIN):
            self.vat_ids(number)
        for number in c.LONG_DATE_COLUMNS:
            self.long_dates(number)
        for number in c.TAX_RATE_COLUMNS:
            self.matching(
                "EXTF-R036", number, _TAX_RATE_BAD, lambda v: f"tax rate {v!r} is not 1–2 digits, comma, 2 digits"
            )
        self.matching("EXTF-R032", c.REVERSAL, _FLAG_TEXT_BAD, lambda v: f"Generalumkehr {_shown(v)} should be 0 or 1")
        self.matching("EXTF-R033", c.LOCK, _FLAG_BAD, lambda v: f"Festschreibung {v!r} should be 0 or 1")
        self.matching("EXTF-R037", c.COUNTRY, _COUNTRY_BAD, lambda v: f"Land {_shown(v)} is not two capital letters")

    def vat_ids(self, number: int) -> None:
        values = self.col(number)
        if values.count('""') == len(values):
            return
        problems = {v: vat_id_problem(unquote(v)) for v in set(values) if v != '""'}
        wrong = {v: p for v, p in problems.items() if p}
        if wrong:
            indices = [i for i, v in enumerate(values) if v in wrong]
            self.report("EXTF-R030", number, indices, lambda v: wrong[v] or "")

    def long_dates(self, number: int) -> None:
        values = self.col(number)
        if values.count("") == len(values):
            return
        wrong = {v for v in set(values) if v and not _valid_long_date(v)}
        if wrong:
            indices = [i for i, v in enumerate(values) if v in wrong]
            self.report("EXTF-R031", number, indices, lambda v: f"{v!r} is not a valid date TTMMJJJJ")


def _looks_cut_off(raw: str) -> bool:
    """Exactly 60 characters (the limit, so a longer text was probably cut) or an ellipsis at the end."""
    if raw.endswith(('..."', '…"')):
        return True
    return len(raw) >= 62 and len(unquote(raw)) == 60


def _valid_long_date(text: str) -> bool:
    try:
        return parse_ttmmjjjj(text).year >= 1900
    except ValueError:
        return False
