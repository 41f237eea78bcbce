"""Splitting a record line into fields, keeping the quotes (so quoting can be checked and text told from
numbers), and splitting a whole file into lines."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

_FIELD: Final = re.compile(r'"(?:[^"]|"")*"|[^;"]*')
_LINE_BREAK: Final = re.compile(r"\r\n|\r|\n")
_BARE_BREAK: Final = re.compile(r"\r(?!\n)|(?<!\r)\n")


def split_fields(line: str) -> list[str] | None:
    """The raw fields of one record, quotes kept; None when the quoting is broken (a stray quote)."""
    fields: list[str] = []
    position, end = 0, len(line)
    while True:
        match = _FIELD.match(line, position)
        if match is None:  # pragma: no cover - the pattern matches the empty string
            return None
        fields.append(match.group())
        position = match.end()
        if position == end:
            return fields
        if line[position] != ";":
            return None
        position += 1
        if position == end:
            fields.append("")
            return fields


def is_quoted(raw: str) -> bool:
    return len(raw) >= 2 and raw[0] == '"' and raw[-1] == '"'


@dataclass(frozen=True)
class SplitText:
    """The lines of a file and how they ended."""

    lines: list[str]
    bare_break_line: int  # 1-based line ended by a lone LF or CR instead of CR LF (0: none)
    ends_with_line_break: bool


def split_lines(text: str, raw: bytes | None = None) -> SplitText:
    """Split at CR LF; lone LF or CR also split (so a wrongly ended file can still be checked) and the
    first one is reported. An empty text after the last line break is not a line. `raw`, the bytes of a
    UTF-8 or cp1252 text, makes counting the line breaks cheaper (LF and CR are single bytes there)."""
    lines = text.split("\r\n")
    breaks = len(lines) - 1
    if _break_counts(text, raw) == (breaks, breaks):
        bare_line = 0
    else:
        bare = _BARE_BREAK.search(text)
        assert bare is not None
        lines = _LINE_BREAK.split(text)
        bare_line = len(_LINE_BREAK.findall(text, 0, bare.start())) + 1
    ends = text.endswith(("\n", "\r"))
    if ends:
        lines.pop()
    return SplitText(lines, bare_line, ends)


def _break_counts(text: str, raw: bytes | None) -> tuple[int, int]:
    """(LF count, CR count); single-character counts are fast, on bytes fastest."""
    if raw is not None:
        return raw.count(b"\n"), raw.count(b"\r")
    return text.count("\n"), text.count("\r")


def field_at(record: str, offset: int) -> int:
    """The 1-based number of the field that holds character `offset` of a record line."""
    position = 0
    for number, raw in enumerate(split_fields(record) or [record], start=1):
        if offset < position + len(raw):
            return number
        position += len(raw) + 1
    return 0
