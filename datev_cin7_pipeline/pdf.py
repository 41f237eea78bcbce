"""Small, valid PDF files written by hand, without a PDF library: the simulators' invoices and the marked
copies the pipeline renders for invoices that have no PDF in Cin7.

Cin7 cannot render invoices (FACTS.md §7); what the pipeline uploads to DATEV are attachments, so the
simulators need genuine PDF bytes that a reader opens. This writes PDF 1.4 with the standard fonts
Helvetica-Bold (title) and Courier (body, so columns line up), WinAnsi-encoded so German umlauts, ß and
€ print, one or more A4 pages, and an exact cross-reference table. The output is deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

_PAGE_WIDTH, _PAGE_HEIGHT = 595, 842
_MARGIN = 50
_TITLE_SIZE, _BODY_SIZE, _LEADING = 14, 9, 12
_LINES_PER_PAGE = (_PAGE_HEIGHT - 2 * _MARGIN - 2 * _LEADING) // _LEADING


def _pdf_string(text: str) -> bytes:
    """A PDF literal string in WinAnsi (cp1252); characters it lacks become '?'."""
    raw = text.encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _page_content(title: str, lines: Sequence[str], page: int, pages: int) -> bytes:
    top = _PAGE_HEIGHT - _MARGIN
    parts = [b"BT", b"/F1 %d Tf" % _TITLE_SIZE, b"%d %d Td" % (_MARGIN, top), _pdf_string(title) + b" Tj", b"ET"]
    parts += [b"BT", b"/F2 %d Tf" % _BODY_SIZE, b"%d TL" % _LEADING, b"%d %d Td" % (_MARGIN, top - 2 * _LEADING)]
    parts += [_pdf_string(line) + b" '" for line in lines]
    parts.append(b"ET")
    if pages > 1:
        footer = _pdf_string(f"Seite {page} von {pages}")
        parts += [b"BT", b"/F2 8 Tf", b"%d %d Td" % (_MARGIN, _MARGIN // 2), footer + b" Tj", b"ET"]
    return b"\n".join(parts)


def simple_pdf(title: str, lines: Sequence[str], *, created: date | None = None) -> bytes:
    """A PDF with a bold `title` and the text `lines` below it, broken into A4 pages as needed."""
    chunks = [list(lines[start : start + _LINES_PER_PAGE]) for start in range(0, len(lines), _LINES_PER_PAGE)]
    chunks = chunks or [[]]
    font_title = 3
    font_body = 4
    info = 5
    first_page = 6
    page_ids = [first_page + 2 * index for index in range(len(chunks))]
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids ["
        + b" ".join(b"%d 0 R" % pid for pid in page_ids)
        + b"] /Count %d >>" % len(page_ids),
        font_title: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        font_body: b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding >>",
    }
    info_entries = b"/Title " + _pdf_string(title) + b" /Producer (datev-cin7-pipeline sandbox)"
    if created is not None:
        info_entries += b" /CreationDate (D:" + created.strftime("%Y%m%d000000Z").encode("ascii") + b")"
    objects[info] = b"<< " + info_entries + b" >>"
    for index, (page_id, chunk) in enumerate(zip(page_ids, chunks, strict=True)):
        content = _page_content(title, chunk, index + 1, len(chunks))
        objects[page_id] = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] " % (
            _PAGE_WIDTH,
            _PAGE_HEIGHT,
        ) + b"/Resources << /Font << /F1 %d 0 R /F2 %d 0 R >> >> /Contents %d 0 R >>" % (
            font_title,
            font_body,
            page_id + 1,
        )
        objects[page_id + 1] = b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream"
    return _assemble(objects, info)


def _assemble(objects: dict[int, bytes], info: int) -> bytes:
    """Header, numbered objects, the cross-reference table with exact offsets, trailer."""
    output = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for number in sorted(objects):
        offsets[number] = len(output)
        output += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"
    xref_at = len(output)
    size = max(objects) + 1
    output += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for number in range(1, size):
        output += b"%010d 00000 n \n" % offsets[number]
    output += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF" % (size, info, xref_at)
    return bytes(output)
