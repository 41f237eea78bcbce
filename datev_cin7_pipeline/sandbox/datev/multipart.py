"""A small multipart/form-data reader for the upload endpoints.

Starlette's own form parser needs python-multipart, which the project does not depend on, and the
standard library's email parser is slow on 20 MB binaries and rewrites line endings. Uploads here are
small in number and fully in memory anyway, so the body is split at the boundary by hand. The reader keeps
what the endpoints must check: each part's name, file name (absent vs. empty), content type and bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote


class MultipartError(ValueError):
    """The body is not a readable multipart/form-data message."""


@dataclass(frozen=True)
class Part:
    """One form field. `filename` is None when the part has no filename parameter at all."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes

    @property
    def is_file(self) -> bool:
        return self.filename is not None


def boundary_of(content_type: str) -> str:
    """The boundary parameter of a multipart/form-data content type."""
    media_type, params = parse_header_value(content_type)
    if media_type != "multipart/form-data":
        raise MultipartError(f"expected multipart/form-data, got {media_type or 'no content type'}")
    boundary = params.get("boundary", "")
    if not boundary:
        raise MultipartError("the multipart content type has no boundary")
    return boundary


def parse_multipart(content_type: str, body: bytes) -> list[Part]:
    """Split `body` into its parts; raises MultipartError when it cannot be read."""
    delimiter = b"--" + boundary_of(content_type).encode("latin-1")
    start = body.find(delimiter)
    if start < 0:
        raise MultipartError("the body does not contain the boundary")
    rest = body[start + len(delimiter) :]
    parts: list[Part] = []
    while True:
        if rest.startswith(b"--"):
            return parts
        if not rest.startswith(b"\r\n"):
            raise MultipartError("a boundary line is not followed by CRLF")
        end = rest.find(b"\r\n" + delimiter, 2)
        if end < 0:
            raise MultipartError("the body ends without the closing boundary")
        parts.append(_read_part(rest[2:end]))
        rest = rest[end + 2 + len(delimiter) :]


def _read_part(raw: bytes) -> Part:
    head, separator, data = raw.partition(b"\r\n\r\n")
    if not separator:
        if raw.startswith(b"\r\n"):  # a part with no headers at all
            head, data = b"", raw[2:]
        else:
            raise MultipartError("a part has no blank line after its headers")
    headers: dict[str, str] = {}
    for line in head.split(b"\r\n"):
        if not line.strip():
            continue
        name, colon, value = _decode_header(line).partition(":")
        if not colon:
            raise MultipartError(f"malformed part header {line[:60]!r}")
        headers[name.strip().lower()] = value.strip()
    disposition, params = parse_header_value(headers.get("content-disposition", ""))
    if disposition != "form-data" or "name" not in params:
        raise MultipartError("a part has no Content-Disposition form-data with a name")
    filename = params.get("filename")
    return Part(params["name"], filename, headers.get("content-type"), data)


def _decode_header(line: bytes) -> str:
    """Part headers carry UTF-8 file names (HTML5 style) from most clients; fall back to Latin-1."""
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("latin-1")


def parse_header_value(value: str) -> tuple[str, dict[str, str]]:
    """`type/subtype; a=1; b="x; y"` → (`type/subtype`, {a: 1, b: x; y}); RFC 2231 `name*=` decoded."""
    items = _split_params(value)
    if not items:
        return "", {}
    params: dict[str, str] = {}
    for item in items[1:]:
        key, equals, raw = item.partition("=")
        if not equals:
            continue
        key = key.strip().lower()
        raw = raw.strip()
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            raw = raw[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        if key.endswith("*"):
            params[key[:-1]] = _decode_extended(raw)
        else:
            params.setdefault(key, raw)
    return items[0].strip().lower(), params


def _decode_extended(raw: str) -> str:
    """An RFC 2231/5987 value: `charset'language'percent-encoded text`."""
    charset, _, rest = raw.partition("'")
    _language, _, text = rest.partition("'")
    if not text and not rest:
        return unquote(raw)
    try:
        return unquote(text, encoding=charset or "utf-8", errors="strict")
    except (LookupError, UnicodeDecodeError) as exc:
        raise MultipartError(f"cannot decode the parameter value {raw[:60]!r}") from exc


def _split_params(value: str) -> list[str]:
    """Split at semicolons outside double quotes."""
    items: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in value:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            items.append("".join(current))
            current = []
            continue
        current.append(char)
    items.append("".join(current))
    return [item for item in items if item.strip()] if value.strip() else []
