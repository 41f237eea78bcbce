"""The plain parts without HTTP: EXTF line splitting and decoding, multipart reading, file names, routing."""

from __future__ import annotations

import pytest
import requests

from datev_cin7_pipeline.sandbox.datev import all_operations
from datev_cin7_pipeline.sandbox.datev.extf_format import (
    CsvLineError,
    Field,
    UnsupportedEncoding,
    decode_extf,
    split_line,
)
from datev_cin7_pipeline.sandbox.datev.files import clean_file_name, extension_of, is_precomposed, media_type_matches
from datev_cin7_pipeline.sandbox.datev.multipart import MultipartError, parse_header_value, parse_multipart
from datev_cin7_pipeline.sandbox.datev.routing import Router
from datev_cin7_pipeline.sandbox.datev.urls import DOCUMENTS_API, EXTF_API


@pytest.mark.parametrize(
    ("line", "fields"),
    [
        ('1,00;"S";;"a;b"', [Field("1,00"), Field("S", True), Field(""), Field("a;b", True)]),
        ('"say ""hi""";', [Field('say "hi"', True), Field("")]),
        ("", [Field("")]),
        ('"";""', [Field("", True), Field("", True)]),
    ],
    ids=["mixed", "doubled quotes", "empty line", "empty texts"],
)
def test_split_line(line: str, fields: list[Field]) -> None:
    assert split_line(line) == fields


@pytest.mark.parametrize(
    "line", ['"open;1', '"a"b;1', 'a"b"'], ids=["unterminated", "text after quote", "quote inside"]
)
def test_split_line_refuses_broken_quoting(line: str) -> None:
    with pytest.raises(CsvLineError):
        split_line(line)


@pytest.mark.parametrize(
    ("data", "text", "encoding"),
    [
        (b"\xef\xbb\xbf\xc3\xbc", "ü", "utf-8"),
        (b"\xff\xfe\xfc\x00", "ü", "utf-16-le"),
        (b"\xfe\xff\x00\xfc", "ü", "utf-16-be"),
        (b"\xfc\x80", "ü€", "windows-1252"),
        (b"\xc3\xbc", "Ã¼", "windows-1252"),
    ],
    ids=["utf-8", "utf-16le", "utf-16be", "1252", "utf-8 without bom"],
)
def test_decode_by_bom(data: bytes, text: str, encoding: str) -> None:
    assert decode_extf(data) == (text, encoding)


@pytest.mark.parametrize(
    "data",
    [b"\xff\xfe\x00\x00A\x00\x00\x00", b"\x81", b"\xfe\xff\xd8\x00"],
    ids=["utf-32", "1252 gap", "half surrogate"],
)
def test_decode_refuses_other_encodings(data: bytes) -> None:
    with pytest.raises(UnsupportedEncoding):
        decode_extf(data)


def test_multipart_reads_what_requests_sends() -> None:
    prepared = requests.Request(
        "PUT",
        "http://x/",
        files={
            "file": ("Rechnung ü.pdf", b"%PDF-1.4\r\n\r\n--not-a-boundary\r\n", "application/pdf"),
            "metadata": (None, '{"note": "x"}', "application/json"),
        },
    ).prepare()
    file, metadata = parse_multipart(prepared.headers["Content-Type"], prepared.body)  # type: ignore[arg-type]
    assert (file.name, file.filename, file.content_type) == ("file", "Rechnung ü.pdf", "application/pdf")
    assert file.data == b"%PDF-1.4\r\n\r\n--not-a-boundary\r\n"
    assert (metadata.name, metadata.filename, metadata.data) == ("metadata", None, b'{"note": "x"}')


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b"{}"),
        ("multipart/form-data", b"--x\r\n"),
        ("multipart/form-data; boundary=x", b"no boundary here"),
        ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data\r\n\r\ndata\r\n--x--"),
        ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\ndata"),
    ],
    ids=["not multipart", "no boundary", "boundary missing", "part without name", "not closed"],
)
def test_multipart_refuses_broken_bodies(content_type: str, body: bytes) -> None:
    with pytest.raises(MultipartError):
        parse_multipart(content_type, body)


def test_header_parameters() -> None:
    assert parse_header_value("form-data; name=\"a;b\"; filename*=UTF-8''%C3%BC.pdf") == (
        "form-data",
        {"name": "a;b", "filename": "ü.pdf"},
    )
    assert parse_header_value("") == ("", {})


def test_file_names() -> None:
    assert clean_file_name("Ü-Rechnung (1)&2.pdf").stored == "Ü-Rechnung (1)&2.pdf"
    assert clean_file_name("a/b:c?.pdf").stored == "a_b_c_.pdf"
    assert clean_file_name("Mu\u0308ller.pdf").changed
    assert not is_precomposed("Mu\u0308ller.pdf")
    assert (extension_of("a.PDF"), extension_of(".pdf"), extension_of("pdf")) == ("pdf", "", "")
    assert media_type_matches("pdf", "application/pdf; name=a.pdf")
    assert media_type_matches("pdf", None)
    assert not media_type_matches("pdf", "application/octet-stream")


def test_literal_paths_win_over_variables() -> None:
    router = Router(all_operations())
    stapled = router.match(DOCUMENTS_API, "PUT", f"/clients/{'1234-1'}/documents/stapled")
    assert stapled.operation is not None
    assert stapled.operation.template.endswith("/stapled")
    job = router.match(EXTF_API, "GET", "/clients/1234-1/extf-files/jobs/abc")
    assert job.params == {"client-id": "1234-1", "job-id": "abc"}
    wrong_method = router.match(EXTF_API, "DELETE", "/clients/1234-1/extf-files/jobs/abc")
    assert (wrong_method.operation, wrong_method.path_known) == (None, True)
