"""Errors of the EXTF writer and reader.

The writer refuses only what the file format cannot represent faithfully (a character the chosen
encoding lacks, a control character inside a text field, a document date outside the batch period, too
many rows); every other rule is the validator's, which reports all findings at once with stable codes.
"""

from __future__ import annotations

from datev_cin7_pipeline.errors import ConnectorError


class ExtfError(ConnectorError):
    """A booking batch cannot be written or read as an EXTF file."""


class ExtfWriteError(ExtfError):
    """A value cannot be written; names the booking line (1-based, as given) and the column."""

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None, field: str = "") -> None:
        self.line = line
        self.column = column
        self.field = field
        where = []
        if line is not None:
            where.append(f"booking line {line}")
        if field:
            where.append(f"field {column} '{field}'" if column is not None else f"field '{field}'")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class ExtfEncodingError(ExtfWriteError):
    """A character the chosen encoding cannot hold (never replaced by '?')."""

    def __init__(self, *, character: str, encoding: str, line: int | None, column: int | None, field: str) -> None:
        self.character = character
        self.encoding = encoding
        super().__init__(
            f"character {character!r} (U+{ord(character):04X}) cannot be written in {encoding}; "
            "use UTF-8 or change the text in Cin7",
            line=line,
            column=column,
            field=field,
        )


class ExtfReadError(ExtfError):
    """A file is not a readable Buchungsstapel; run the validator for the full list of findings."""
