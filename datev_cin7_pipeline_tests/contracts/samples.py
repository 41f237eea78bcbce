"""The published Cin7 sample payloads (shared reference folder) and the operation each belongs to."""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

from datev_cin7_pipeline_tests.contracts.cin7_openapi import repo_root

SAMPLES_DIR = repo_root().parent / "shared" / "reference" / "cin7" / "samples"

# The documentation's example credentials; our client sends both headers on every call.
AUTH = {
    "api-auth-accountid": "704ef231-cd93-49c9-a201-26b4b5d0d35b",
    "api-auth-applicationkey": "0342a546-e0c2-0dff-f0be-6a5e17154033",
}
JSON_HEADERS = {**AUTH, "Content-Type": "application/json"}
BASE_URL = "https://inventory.dearsystems.com/ExternalApi/v2"


class Sample(NamedTuple):
    file: str
    method: str
    documented_key: str
    kind: str  # "request" or "response"

    @property
    def url(self) -> str:
        """Base URL plus the documented path; the query template is left out (responses ignore it)."""
        return BASE_URL + self.documented_key.split("?", 1)[0].strip()


# The README's second table ("Files from another public repository") names these operations only in prose.
_EXTRA = (
    Sample(
        "sale-creditnote.get.response.json",
        "GET",
        "/sale/creditnote?SaleID={SaleID}&CombineAdditionalCharges={CombineAdditionalCharges}"
        "&IncludeProductInfo={IncludeProductInfo}&IncludePaymentInfo={IncludePaymentInfo}",
        "response",
    ),
    Sample("sale-attachment.post.request.json", "POST", "/sale/attachment", "request"),
)
_README_ROW = re.compile(
    r"^\| `(?P<file>[^`]+\.json)` \| `(?P<method>[A-Z]+) (?P<key>[^`]+)` \| (?P<kind>\w+) \|", re.M
)


def documented_samples() -> list[Sample]:
    """Every sample with its operation, from the main table of samples/README.md plus the two extras."""
    readme = (SAMPLES_DIR / "README.md").read_text(encoding="utf-8")
    rows = [Sample(m["file"], m["method"], m["key"], m["kind"]) for m in _README_ROW.finditer(readme)]
    return rows + list(_EXTRA)


def load_sample(name: str) -> Any:
    return json.loads((SAMPLES_DIR / name).read_text(encoding="utf-8"))
