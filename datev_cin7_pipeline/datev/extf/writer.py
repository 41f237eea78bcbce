"""The EXTF Buchungsstapel writer: header 700, category 21, format version 13.

Line 1 is the header, line 2 the 125 column headings exactly as DATEV's sample has them, then one record
per BookingLine. `;` separates fields, every line ends with CR LF, texts are quoted with inner quotes
doubled, numbers use a decimal comma, Belegdatum is TTMM and the other dates TTMMJJJJ (FACTS §6).

Encoding: UTF-8 with BOM by default (DATEV's API reads it from the BOM and it holds every character),
Windows-1252 without BOM as an option. Text is brought to NFC first, because DATEV does not support
decomposed umlauts. A character the encoding cannot hold is an `ExtfEncodingError` naming the booking
line and the field: never a silent `?` (the latin-1 exporters' classic bug, ANCHORS §5.2).

The writer refuses only what the format cannot represent faithfully; everything else (lengths, character
sets, account ranges, ...) is reported by the validator, which the pipeline runs on every file before
upload. Rows are built and encoded in chunks, so `ExtfWriter` streams a batch of any size to a file.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable
from itertools import chain
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Final

from datev_cin7_pipeline.datev.bookings import BatchHeader, BookingLine
from datev_cin7_pipeline.datev.extf import columns as c
from datev_cin7_pipeline.datev.extf.encoding import ExtfEncoding, bom_of, codec_of
from datev_cin7_pipeline.datev.extf.errors import ExtfEncodingError, ExtfWriteError
from datev_cin7_pipeline.datev.extf.header import booking_header_fields, format_header
from datev_cin7_pipeline.datev.extf.records import field_at, split_fields
from datev_cin7_pipeline.datev.extf.values import (
    decimal_text,
    first_control_character,
    has_control_character,
    quote,
    ttmm,
    ttmmjjjj,
)

CHUNK_ROWS: Final = 5000
_TEMPLATE: Final[tuple[str, ...]] = tuple('""' if n in c.TEXT_COLUMNS else "" for n in range(1, c.COLUMN_COUNT + 1))
_SIDES: Final = {"S": '"S"', "H": '"H"'}
_REVERSAL: Final = {True: '"1"', False: '""'}
# The default (empty) fields between the columns the template fast path fills.
_GAP_15_19: Final = c.SEPARATOR.join(_TEMPLATE[14:19])
_GAP_21_36: Final = c.SEPARATOR.join(_TEMPLATE[20:36])
# What follows the first n filled Beleginfo pairs up to column 36, for n = 1..8.
_INFO_REST: Final = {
    n: "".join(c.SEPARATOR + cell for cell in _TEMPLATE[20 + 2 * n : 36]) for n in range(1, c.DOCUMENT_INFO_PAIRS + 1)
}
_GAP_42_102: Final = c.SEPARATOR.join(_TEMPLATE[41:102])
_GAP_104_113: Final = c.SEPARATOR.join(_TEMPLATE[103:113])
_GAP_116: Final = _TEMPLATE[115]
_GAP_121_125: Final = c.SEPARATOR.join(_TEMPLATE[120:])
_Q: Final = '"'
_QQ: Final = '""'
_PAIR_SEPARATOR: Final = '";"'
# The quotes of a record whose values hold none: two per text column.
_TEMPLATE_QUOTES: Final = 2 * len(c.TEXT_COLUMNS)
# Bytes that are, or start, a character the writer must look at: C0 controls (line ends included), DEL,
# and in UTF-8 the lead byte of U+0080..U+00BF (C1 controls among them) and lead bytes from U+0300 on.
_LINE_END_BYTES: Final = c.LINE_END.encode("ascii")
_CONTROL_BYTES: Final = bytes([*range(0x20), 0x7F])
_UTF8_C1: Final = re.compile(b"\xc2[\x80-\x9f]")


def _not_suspect(codec: str, nfc: bool) -> bytes:
    """The bytes `_encode_plain` may drop for `codec`: all but the ones that need a look."""
    suspect = set(_CONTROL_BYTES)
    if codec == "utf-8":
        suspect |= {0xC2, *(range(0xCC, 0x100) if nfc else ())}
    return bytes(b for b in range(256) if b not in suspect)


_ttmm = functools.lru_cache(maxsize=1024)(ttmm)
_ttmmjjjj = functools.lru_cache(maxsize=4096)(ttmmjjjj)


def booking_record(line: BookingLine, period_start: dt.date, period_end: dt.date, number: int) -> str:
    """One record line (without line end) for a booking line; `number` is its 1-based position."""
    record = _record(line, period_start, period_end, number)
    if has_control_character(record):
        _raise_control_character(record, number)
    return record


def _record(line: BookingLine, period_start: dt.date, period_end: dt.date, number: int) -> str:
    """The record without the control-character check (the writer checks a whole chunk at once)."""
    if not period_start <= line.document_date <= period_end:
        raise ExtfWriteError(
            f"Belegdatum {line.document_date:%d.%m.%Y} lies outside the batch period "
            f"{period_start:%d.%m.%Y}–{period_end:%d.%m.%Y}; the file keeps only day and month, so the year "
            "would change (split the lines with split_batches)",
            line=number,
            column=c.DOCUMENT_DATE,
            field=c.column_name(c.DOCUMENT_DATE),
        )
    infos = line.document_infos
    if infos:
        if len(infos) > c.DOCUMENT_INFO_PAIRS:
            return generic_record(line, number)  # raises, naming the line
        # Filled pairs quoted, the rest of columns 21..36 from the template.
        gap_21_36 = f'"{_PAIR_SEPARATOR.join(chain.from_iterable(infos))}"{_INFO_REST[len(infos)]}'
    else:
        gap_21_36 = _GAP_21_36
    # The template fast path: one f-string of the values as they are. Only the Beleglink usually holds
    # quotes, so only it is escaped here; if any other value holds one, the quote count shows it and the
    # generic record escapes them all. A test holds the fast path equal to generic_record.
    link = line.document_link
    escaped_link = link.replace(_Q, _QQ) if _Q in link else link
    side = _SIDES.get(line.side) or quote(line.side)
    rate = "" if line.exchange_rate is None else decimal_text(line.exchange_rate)
    base = "" if line.base_amount is None else decimal_text(line.base_amount)
    discount = "" if line.cash_discount is None else decimal_text(line.cash_discount)
    eu_rate = "" if line.eu_tax_rate is None else decimal_text(line.eu_tax_rate)
    lock = "" if line.lock is None else ("1" if line.lock else "0")
    supply = "" if line.supply_date is None else _ttmmjjjj(line.supply_date)
    due = "" if line.due_date is None else _ttmmjjjj(line.due_date)
    tax_rate = "" if line.tax_rate is None else decimal_text(line.tax_rate)
    record = (
        f'{decimal_text(line.amount)};{side};"{line.currency}";{rate};{base};"{line.base_currency}";{line.account};'
        f'{line.contra_account};"{line.tax_key}";{_ttmm(line.document_date)};"{line.document_field_1}";'
        f'"{line.document_field_2}";{discount};"{line.text}";{_GAP_15_19};"{escaped_link}";{gap_21_36};'
        f'"{line.cost_centre_1}";"{line.cost_centre_2}";;"{line.eu_vat_id}";{eu_rate};{_GAP_42_102};'
        f'"{line.booking_guid}";{_GAP_104_113};{lock};{supply};{_GAP_116};{due};{_REVERSAL[line.reversal]};'
        f'{tax_rate};"{line.country}";{_GAP_121_125}'
    )
    if record.count(_Q) != _TEMPLATE_QUOTES + 2 * (len(escaped_link) - len(link)):
        return generic_record(line, number)  # a value other than the Beleglink holds a quote
    return record


def generic_record(line: BookingLine, number: int) -> str:
    """Every column from the 125-field template; the fast path in `_record` must give the same text."""
    cells = list(_TEMPLATE)
    cells[0] = decimal_text(line.amount)
    cells[1] = _SIDES.get(line.side) or quote(line.side)
    cells[2] = quote(line.currency)
    if line.exchange_rate is not None:
        cells[3] = decimal_text(line.exchange_rate)
    if line.base_amount is not None:
        cells[4] = decimal_text(line.base_amount)
    if line.base_currency:
        cells[5] = quote(line.base_currency)
    cells[6] = str(line.account)
    cells[7] = str(line.contra_account)
    if line.tax_key:
        cells[8] = quote(line.tax_key)
    cells[9] = ttmm(line.document_date)
    cells[10] = quote(line.document_field_1)
    if line.document_field_2:
        cells[11] = quote(line.document_field_2)
    if line.cash_discount is not None:
        cells[12] = decimal_text(line.cash_discount)
    cells[13] = quote(line.text)
    if line.document_link:
        cells[19] = quote(line.document_link)
    if line.document_infos:
        _document_infos(cells, line, number)
    _optional_fields(cells, line)
    return c.SEPARATOR.join(cells)


def _document_infos(cells: list[str], line: BookingLine, number: int) -> None:
    if len(line.document_infos) > c.DOCUMENT_INFO_PAIRS:
        raise ExtfWriteError(
            f"{len(line.document_infos)} Beleginfo pairs; the format has room for {c.DOCUMENT_INFO_PAIRS}",
            line=number,
            column=c.DOCUMENT_INFO_FIRST,
            field=c.column_name(c.DOCUMENT_INFO_FIRST),
        )
    for index, (kind, content) in enumerate(line.document_infos):
        cells[c.DOCUMENT_INFO_FIRST - 1 + 2 * index] = quote(kind)
        cells[c.DOCUMENT_INFO_FIRST + 2 * index] = quote(content)


def _optional_fields(cells: list[str], line: BookingLine) -> None:
    """The columns most lines leave empty."""
    if line.cost_centre_1:
        cells[c.COST_CENTRE_1 - 1] = quote(line.cost_centre_1)
    if line.cost_centre_2:
        cells[c.COST_CENTRE_2 - 1] = quote(line.cost_centre_2)
    if line.eu_vat_id:
        cells[c.EU_VAT_ID - 1] = quote(line.eu_vat_id)
    if line.eu_tax_rate is not None:
        cells[c.EU_TAX_RATE - 1] = decimal_text(line.eu_tax_rate)
    if line.booking_guid:
        cells[c.BOOKING_GUID - 1] = quote(line.booking_guid)
    if line.lock is not None:
        cells[c.LOCK - 1] = "1" if line.lock else "0"
    if line.supply_date is not None:
        cells[c.SUPPLY_DATE - 1] = ttmmjjjj(line.supply_date)
    if line.due_date is not None:
        cells[c.DUE_DATE - 1] = ttmmjjjj(line.due_date)
    if line.reversal:
        cells[c.REVERSAL - 1] = '"1"'
    if line.tax_rate is not None:
        cells[c.TAX_RATE - 1] = decimal_text(line.tax_rate)
    if line.country:
        cells[c.COUNTRY - 1] = quote(line.country)


def _raise_control_character(record: str, number: int) -> None:
    for index, raw in enumerate(split_fields(record) or ()):
        character = first_control_character(raw)
        if character is not None:
            raise ExtfWriteError(
                f"control character {character!r} in a text field; DATEV allows no line breaks or other "
                "control characters in fields",
                line=number,
                column=index + 1,
                field=c.column_name(index + 1),
            )
    raise AssertionError("a control character was found but not located")  # pragma: no cover


class ExtfWriter:
    """Streams one Buchungsstapel into a binary file: header and headings at once, rows in chunks.

    Use as a context manager; `close()` writes the last chunk. The target file is not closed.
    """

    def __init__(
        self,
        target: BinaryIO,
        header: BatchHeader,
        *,
        encoding: ExtfEncoding = "utf-8",
        nfc: bool = True,
        max_rows: int = c.MAX_ROWS,
        chunk_rows: int = CHUNK_ROWS,
    ) -> None:
        self._target = target
        self._header = header
        self._encoding = encoding
        self._codec = codec_of(encoding)
        self._nfc = nfc
        self._max_rows = max_rows
        self._chunk_rows = chunk_rows
        self._pending: list[str] = []
        self._first_pending = 1
        self._not_suspect = _not_suspect(self._codec, nfc)
        self.rows = 0
        self._start()

    def _start(self) -> None:
        header_line = format_header(booking_header_fields(self._header))
        self._target.write(bom_of(self._encoding))
        self._target.write(self._encode(header_line + c.LINE_END, first_line=None))
        self._target.write(c.HEADING_LINE.encode(self._codec) + c.LINE_END.encode())

    def write(self, lines: Iterable[BookingLine]) -> None:
        start, end = self._header.period_start, self._header.period_end
        for line in lines:
            self.rows += 1
            if self.rows > self._max_rows:
                raise ExtfWriteError(
                    f"more than {self._max_rows} booking lines in one file; DATEV accepts at most {c.MAX_ROWS} "
                    "(split the lines with split_batches)"
                )
            self._pending.append(_record(line, start, end, self.rows))
            if len(self._pending) >= self._chunk_rows:
                self._flush()

    def close(self) -> None:
        self._flush()

    def __enter__(self) -> ExtfWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if kind is None:
            self.close()

    def _flush(self) -> None:
        if not self._pending:
            return
        text = c.LINE_END.join(self._pending) + c.LINE_END
        data = self._encode_plain(text, len(self._pending))
        if data is None:  # a control character, a character NFC may change, or one the encoding lacks
            if not "".join(self._pending).isprintable():  # fast; a no-break space also gets here, harmlessly
                for offset, record in enumerate(self._pending):
                    if has_control_character(record):
                        _raise_control_character(record, self._first_pending + offset)
            data = self._encode(text, first_line=self._first_pending)
        self._target.write(data)
        self._first_pending += len(self._pending)
        self._pending = []

    def _encode_plain(self, text: str, rows: int) -> bytes | None:
        """The encoded chunk when it needs no check on characters: its bytes hold no control character
        but the line ends and, with NFC, no character from U+0300 on (below it every text is NFC; every
        cp1252 text is). None when the careful way must decide. Bytes are cheaper to scan than text."""
        try:
            data = text.encode(self._codec)
        except UnicodeEncodeError:
            return None
        suspects = data.translate(None, self._not_suspect)
        if suspects == _LINE_END_BYTES * rows:
            return data
        if self._codec != "utf-8" or suspects.replace(b"\r\n", b"").strip(b"\xc2"):
            return None
        # Only characters U+0080..U+00BF besides the line ends: fine unless one is a C1 control.
        return None if _UTF8_C1.search(data) else data

    def _encode(self, text: str, *, first_line: int | None) -> bytes:
        if self._nfc and not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
        try:
            return text.encode(self._codec)
        except UnicodeEncodeError as exc:
            raise _encoding_error(text, exc, first_line, self._codec) from None


def _encoding_error(text: str, exc: UnicodeEncodeError, first_line: int | None, codec: str) -> ExtfEncodingError:
    """Locate an unencodable character: the booking line (None: the header line) and the field."""
    before = text[: exc.start]
    line_index = before.count(c.LINE_END)
    line_start = before.rfind(c.LINE_END) + len(c.LINE_END) if line_index else 0
    record = text[line_start:].split(c.LINE_END, 1)[0]
    column = field_at(record, exc.start - line_start)
    if first_line is None:
        number, field = None, f"header {c.header_field_name(column)}"
    else:
        number, field = first_line + line_index, c.column_name(column)
    return ExtfEncodingError(character=text[exc.start], encoding=codec, line=number, column=column, field=field)


def write_extf(
    header: BatchHeader,
    lines: Iterable[BookingLine],
    *,
    encoding: ExtfEncoding = "utf-8",
    nfc: bool = True,
    max_rows: int = c.MAX_ROWS,
) -> bytes:
    """A whole Buchungsstapel as bytes, ready for accounting-extf-files."""
    buffer = io.BytesIO()
    with ExtfWriter(buffer, header, encoding=encoding, nfc=nfc, max_rows=max_rows) as writer:
        writer.write(lines)
    return buffer.getvalue()


def write_extf_file(
    path: Path,
    header: BatchHeader,
    lines: Iterable[BookingLine],
    *,
    encoding: ExtfEncoding = "utf-8",
    nfc: bool = True,
    max_rows: int = c.MAX_ROWS,
) -> int:
    """Stream a Buchungsstapel into `path` (all or nothing: a temporary file renamed at the end).

    Returns the number of booking lines written.
    """
    handle, temporary = tempfile.mkstemp(prefix=".extf-", suffix=".part", dir=path.parent)
    try:
        with (
            os.fdopen(handle, "wb") as target,
            ExtfWriter(target, header, encoding=encoding, nfc=nfc, max_rows=max_rows) as writer,
        ):
            writer.write(lines)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return writer.rows
