"""Remembered secrets are blanked out of a server's text in every form it could be echoed in."""

from __future__ import annotations

import base64
import secrets
from urllib.parse import quote, quote_plus

import pytest

from datev_cin7_pipeline.redaction import MASK, redact, redact_json, remember
from datev_cin7_pipeline.store import Secret


def _fresh(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(24)


def test_a_secret_the_vault_handed_out_is_blanked_out_as_sent() -> None:
    value = _fresh()
    Secret(value)

    answer = redact(f"invalid_grant: refresh token {value} is unknown")

    assert answer == f"invalid_grant: refresh token {MASK} is unknown"


@pytest.mark.parametrize("form", ["url", "url_plus", "base64"])
def test_encoded_forms_are_blanked_out(form: str) -> None:
    value = _fresh("a b/c+d=") + "€"  # characters that each encoding changes
    remember(value)
    encoded = {
        "url": quote(value, safe=""),
        "url_plus": quote_plus(value),
        "base64": base64.b64encode(value.encode()).decode(),
    }[form]

    assert value not in redact(encoded)
    assert encoded not in redact(f"echo: {encoded}")
    assert MASK in redact(f"echo: {encoded}")


@pytest.mark.parametrize("client_id", ["a", "ab", "abc", "datev-cin7-app"])
def test_a_basic_header_echoed_back_loses_the_client_secret(client_id: str) -> None:
    """The secret stands after "id:" at any byte offset; its base64 middle is recognised at each."""
    secret = _fresh()
    remember(secret)
    header = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()

    echoed = redact(f"headers: {{'Authorization': '{header}'}}")

    encoded = header.removeprefix("Basic ")
    before, after = echoed.removeprefix("headers: {'Authorization': 'Basic ").removesuffix("'}").split(MASK)
    # What survives is the id's own characters plus at most one group of 4 mixing the id with the
    # secret's first bytes, and at most the last group: nowhere near enough to rebuild the secret.
    assert len(before) <= 4 * ((len(client_id) + 1) // 3) + 4, echoed
    assert len(after) <= 8, echoed
    assert encoded not in echoed


def test_short_values_and_unknown_text_are_left_alone() -> None:
    remember("abc")  # too short to be told from ordinary words
    text = "Die Verarbeitung abc wurde abgebrochen (Fehler 1008834)."

    assert redact(text) == text


def test_json_bodies_are_redacted_in_keys_and_nested_values() -> None:
    value = _fresh()
    remember(value)
    body = {"error": "invalid_request", "detail": [{"header": f"Bearer {value}"}], value: 1, "count": 3}

    assert redact_json(body) == {
        "error": "invalid_request",
        "detail": [{"header": f"Bearer {MASK}"}],
        MASK: 1,
        "count": 3,
    }
