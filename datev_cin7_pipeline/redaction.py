"""Keeping secrets out of the texts a server wrote.

Our own messages never name a secret, but a server's may: an OAuth server that quotes the refresh token
it refused, a proxy or gateway that echoes the request's headers in its error page. Such text goes into
exceptions, and from there into Dagster's event log, the ledger and the terminal. So every value the
vault hands out is remembered for the life of the process, and `redact` blanks it out of a server's text
(as sent, base64-encoded as in a Basic header, or URL-encoded) before the text is used anywhere.
"""

from __future__ import annotations

import base64
import threading
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "[redacted]"
MIN_LENGTH = 8  # shorter values (a scope, a flag) would blank out ordinary words
MAX_REMEMBERED = 2000  # rotating tokens add a few per hour; the oldest are let go

_lock = threading.Lock()
_remembered: dict[str, None] = {}  # an ordered set: value → None, oldest first
_forms: tuple[str, ...] = ()  # every form of every remembered value, longest first


def remember(value: str) -> None:
    """From now on, `value` is blanked out of every text `redact` sees in this process."""
    global _forms
    if len(value) < MIN_LENGTH:
        return
    with _lock:
        if value in _remembered:
            return
        _remembered[value] = None
        while len(_remembered) > MAX_REMEMBERED:
            del _remembered[next(iter(_remembered))]
        _forms = tuple(sorted({form for known in _remembered for form in _forms_of(known)}, key=len, reverse=True))


def redact(text: str) -> str:
    """`text` with every remembered secret replaced by a mask."""
    for form in _forms:
        if form in text:
            text = text.replace(form, MASK)
    return text


def redact_json(value: Any) -> Any:
    """A parsed JSON body with every string redacted (keys included), for keeping a server's answer."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(k)): redact_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_json(v) for v in value]
    return value


def _forms_of(value: str) -> set[str]:
    raw = value.encode()
    forms = {value, quote(value, safe=""), quote_plus(value)}
    # base64 of the value alone; inside a Basic header the value stands after "id:", at any of 3 offsets,
    # so the stable middle of each alignment is what can be recognised.
    for pad in (b"", b"x", b"xx"):
        encoded = base64.b64encode(pad + raw).decode()
        start = 4 if pad else 0  # skip the group that mixes the value with what stands before it
        middle = encoded[start : len(encoded) - 4]  # and the last group, which may mix in what follows
        if len(middle) >= MIN_LENGTH:
            forms.add(middle)
            forms.add(middle.replace("+", "-").replace("/", "_"))
    return {form for form in forms if len(form) >= MIN_LENGTH}
