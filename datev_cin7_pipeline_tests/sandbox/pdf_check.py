"""A structural PDF check strict enough to stand in for "a reader opens it" in tests.

A reader locates objects through the cross-reference table; if an offset is wrong or a stream length
lies, the file is damaged. This follows `startxref` to the table and checks every entry and stream.
"""

from __future__ import annotations

import re


def check_pdf(data: bytes) -> list[str]:
    """The problems found in `data` (empty if the structure is sound)."""
    problems = []
    if not data.startswith(b"%PDF-1."):
        problems.append("no %PDF-1.x header")
    if not data.rstrip().endswith(b"%%EOF"):
        problems.append("no %%EOF at the end")
    start = re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", data)
    if start is None:
        return [*problems, "no startxref"]
    table_at = int(start[1])
    table = re.match(rb"xref\s+0 (\d+)\s+((?:\d{10} \d{5} [fn] \r?\n)+)", data[table_at:])
    if table is None:
        return [*problems, f"no xref table at offset {table_at}"]
    entries = re.findall(rb"(\d{10}) (\d{5}) ([fn])", table[2])
    if len(entries) != int(table[1]):
        problems.append("xref entry count differs from its header")
    for number, (offset, _, kind) in enumerate(entries):
        if kind == b"n" and not data[int(offset) :].startswith(b"%d 0 obj" % number):
            problems.append(f"object {number} is not at offset {int(offset)}")
    for length, body in re.findall(rb"/Length (\d+) >>\nstream\n(.*?)\nendstream", data, re.DOTALL):
        if int(length) != len(body):
            problems.append(f"a stream says /Length {int(length)} but holds {len(body)} bytes")
    if not re.search(rb"trailer\s*<<[^>]*/Root 1 0 R", data):
        problems.append("trailer without /Root")
    return problems


def pdf_text(data: bytes) -> str:
    """The text shown with Tj/' operators, decoded from WinAnsi (enough for the simulator's PDFs)."""
    shown = re.findall(rb"\(((?:\\.|[^\\)])*)\) (?:Tj|')", data)
    return "\n".join(re.sub(rb"\\(.)", rb"\1", text).decode("cp1252") for text in shown)
