"""Which encoding an EXTF file is in, the way DATEV decides it: from the byte-order mark.

accounting-extf-files reads UTF-8, UTF-16LE and UTF-16BE when the file starts with their BOM, and
Windows-1252 when there is none (FACTS §3.1). A UTF-8 file without a BOM is therefore read as cp1252 and
every umlaut turns into two wrong characters; `decode` notices that case so the validator can say so.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import Final, Literal

ExtfEncoding = Literal["utf-8", "cp1252"]
"""What the writer can produce: UTF-8 with BOM (default) or Windows-1252 without BOM."""

UTF8_BOM: Final = codecs.BOM_UTF8
_UTF32_BOMS: Final = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)


def codec_of(encoding: ExtfEncoding) -> str:
    """The Python codec for the writer's encoding (the BOM is written separately)."""
    return "utf-8" if encoding == "utf-8" else "cp1252"


def bom_of(encoding: ExtfEncoding) -> bytes:
    return UTF8_BOM if encoding == "utf-8" else b""


@dataclass(frozen=True)
class Decoded:
    """The text of a file and how it was read."""

    text: str
    encoding: str  # 'utf-8', 'utf-16', 'cp1252' (what DATEV will use)
    bom: bool
    error: str = ""  # why the bytes are not valid in `encoding` ('' when they are)
    error_offset: int = -1  # byte offset of the first invalid byte
    utf8_without_bom: bool = False  # no BOM, but the bytes are UTF-8 with non-ASCII characters


def decode(data: bytes) -> Decoded:
    """Decode like DATEV does; never raises (problems are reported in the result)."""
    if data.startswith(_UTF32_BOMS):
        return Decoded("", "utf-32", True, "UTF-32 is not accepted by DATEV (UTF-8, UTF-16 or cp1252 only)", 0)
    if data.startswith(UTF8_BOM):  # a view, not a copy of a file of many megabytes
        return _strict(memoryview(data)[len(UTF8_BOM) :], "utf-8", bom=True, offset=len(UTF8_BOM))
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _strict(data, "utf-16", bom=True, offset=0)
    decoded = _strict(data, "cp1252", bom=False, offset=0)
    if not data.isascii():
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return decoded
        return Decoded(text, "cp1252", False, decoded.error, decoded.error_offset, utf8_without_bom=True)
    return decoded


def _strict(data: bytes | memoryview, codec: str, *, bom: bool, offset: int) -> Decoded:
    try:
        return Decoded(str(data, codec), codec, bom)
    except UnicodeDecodeError as exc:
        text = str(data, codec, errors="replace")
        problem = f"byte {bytes(data[exc.start : exc.start + 1])!r} is not valid {codec}"
        return Decoded(text, codec, bom, problem, offset + exc.start)
