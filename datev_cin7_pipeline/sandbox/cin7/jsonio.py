"""JSON that keeps money exact: numbers with a fraction are read as Decimal and written back digit for digit.

The standard library can read decimals (`parse_float`) but can only write floats, which would turn a
stored `119.00` into `119.0` and make amounts depend on binary rounding. The writer here is small
because the simulator's data holds only JSON's own types plus Decimal.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from starlette.responses import Response

JsonObject = dict[str, Any]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def loads(text: str | bytes) -> Any:
    """Parse JSON, reading every number with a fraction or exponent as an exact Decimal."""
    return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)


def dumps(value: Any, *, indent: int | None = None) -> str:
    """Serialise JSON types plus Decimal (as a plain JSON number); `indent` pretty-prints."""
    parts: list[str] = []
    _encode(value, parts, indent, 0)
    return "".join(parts)


def _encode(value: Any, parts: list[str], indent: int | None, level: int) -> None:
    if isinstance(value, dict):
        colon = ": " if indent is not None else ":"
        _encode_container(
            [(json.dumps(str(k), ensure_ascii=False) + colon, v) for k, v in value.items()],
            "{",
            "}",
            parts,
            indent,
            level,
        )
    elif isinstance(value, list | tuple):
        _encode_container([("", v) for v in value], "[", "]", parts, indent, level)
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        parts.append(format(value, "f"))
    elif value is None or isinstance(value, bool | int | float | str):
        parts.append(json.dumps(value, ensure_ascii=False, allow_nan=False))
    else:
        raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _encode_container(
    items: list[tuple[str, Any]], opener: str, closer: str, parts: list[str], indent: int | None, level: int
) -> None:
    if not items:
        parts.append(opener + closer)
        return
    separator, inner, outer = ",", "", ""
    if indent is not None:
        inner = "\n" + " " * (indent * (level + 1))
        outer = "\n" + " " * (indent * level)
    parts.append(opener)
    for position, (prefix, item) in enumerate(items):
        parts.append((separator if position else "") + inner + prefix)
        _encode(item, parts, indent, level + 1)
    parts.append(outer + closer)


class DecimalJSONResponse(Response):
    """A JSON response whose Decimal amounts go out exactly as stored."""

    media_type = "application/json; charset=utf-8"

    def render(self, content: Any) -> bytes:
        return dumps(content).encode("utf-8")
