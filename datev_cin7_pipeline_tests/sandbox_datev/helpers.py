"""Helpers for the DATEV simulator tests: a served simulator with login, EXTF and DXSO builders, samples."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from datev_cin7_pipeline.sandbox.datev import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    HEADING_COLUMNS,
    datev_urls,
    s256,
)
from datev_cin7_pipeline_tests.sandbox.helpers import FakeClock

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "datev"
XSD_FOLDER = REFERENCE / "xsd" / "v060"
SAMPLES = REFERENCE / "samples"
CLIENT = "29098-55003"
CLIENT_WITHOUT_EXTF = "29098-55004"
REDIRECT_URI = "http://127.0.0.1:53682/callback"
ALL_SCOPES = (
    "openid offline_access datev:accounting:clients datev:accounting:extf-files-import "
    "accounting:clients:read accounting:documents accounting:dxso-jobs"
)
GUID = "3f2a1c9e-5b7d-4e2f-9a1b-2c3d4e5f6a7b"
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"

__all__ = ["FakeClock"]


@dataclass
class DatevSim:
    """A served simulator; `login()` gives the session a Bearer token and the client id header."""

    root: str
    app: Any
    clock: FakeClock
    session: requests.Session = field(default_factory=requests.Session)
    tokens: dict[str, Any] = field(default_factory=dict)

    @property
    def urls(self) -> dict[str, str]:
        return datev_urls(self.root)

    @property
    def state(self) -> Any:
        return self.app.state.datev.state

    def authorize(self, **params: str) -> requests.Response:
        return requests.get(self.urls["authorize"], params=params, allow_redirects=False, timeout=10)

    def code(self, verifier: str, scope: str = ALL_SCOPES, client_id: str = DEMO_CLIENT_ID) -> str:
        """Drive /authorize as a browser would (no redirect followed) and read the code from Location."""
        answer = self.authorize(
            response_type="code",
            client_id=client_id,
            redirect_uri=REDIRECT_URI,
            scope=scope,
            state="st-1",
            code_challenge=s256(verifier),
            code_challenge_method="S256",
        )
        assert answer.status_code == 302, answer.text
        query = parse_qs(urlsplit(answer.headers["Location"]).query)
        assert query["state"] == ["st-1"]
        return query["code"][0]

    def token(
        self, data: Mapping[str, str], auth: tuple[str, str] | None = (DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
    ) -> requests.Response:
        return requests.post(self.urls["token"], data=dict(data), auth=auth, timeout=10)

    def login(self, scope: str = ALL_SCOPES) -> dict[str, Any]:
        verifier = secrets.token_urlsafe(48)
        code = self.code(verifier, scope)
        answer = self.token(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
        )
        assert answer.status_code == 200, answer.text
        self.tokens = answer.json()
        self.session.headers.update(
            {"Authorization": f"Bearer {self.tokens['access_token']}", "X-DATEV-Client-Id": DEMO_CLIENT_ID}
        )
        return self.tokens

    def url(self, api: str, path: str) -> str:
        return self.urls[api] + path

    def admin(self, path: str, body: Any = None) -> requests.Response:
        return requests.post(f"{self.root}/_sim/{path}", json=body, timeout=10)

    def admin_get(self, path: str) -> Any:
        answer = requests.get(f"{self.root}/_sim/{path}", timeout=10)
        assert answer.status_code == 200
        return answer.json()

    def upload_extf(
        self, data: bytes, filename: str = "EXTF_Buchungsstapel_2025_06.csv", **headers: str
    ) -> requests.Response:
        sent = {"Filename": filename, "Content-Type": "application/octet-stream", **headers}
        return self.session.post(
            self.url("accounting-extf-files", f"/clients/{CLIENT}/extf-files/import"),
            data=data,
            headers=sent,
            timeout=30,
        )

    def job(self, location: str) -> dict[str, Any]:
        answer = self.session.get(self.urls["accounting-extf-files"] + location, timeout=10)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def put_document(
        self,
        guid: str = GUID,
        *,
        name: str = "RE-2025-001.pdf",
        data: bytes = PDF,
        content_type: str | None = "application/pdf",
        metadata: Any = None,
        client: str = CLIENT,
    ) -> requests.Response:
        file_part: tuple[Any, ...] = (name, data, content_type) if content_type else (name, data)
        files: dict[str, Any] = {"file": file_part}
        if metadata is not None:
            text = metadata if isinstance(metadata, str) else json.dumps(metadata)
            files["metadata"] = (None, text, "application/json")
        return self.session.put(
            self.url("accounting-documents", f"/clients/{client}/documents/{guid}"), files=files, timeout=30
        )


# --- EXTF builders ---------------------------------------------------------------------------------------

HEADER_FIELDS: tuple[str, ...] = (
    '"EXTF"', "700", "21", '"Buchungsstapel"', "13", "20250615120000000", "", '"RE"', '""', '""',
    "29098", "55003", "20250101", "4", "20250601", "20250630", '"Juni 2025"', '"WD"', "1", "0",
    "0", '"EUR"', "", '""', "", "", '"03"', "", "", '""', '""',
)  # fmt: skip
"""A valid header (DATEV's sample layout) for client 29098-55003, June 2025; text fields quoted."""


def header_line(changes: Mapping[int, str] | None = None, *, fields: int = 31) -> str:
    """The header with some fields replaced (1-based positions, raw text incl. quotes)."""
    values = list(HEADER_FIELDS)
    for position, raw in (changes or {}).items():
        values[position - 1] = raw
    return ";".join(values[:fields])


def booking_row(changes: Mapping[int, str] | None = None) -> str:
    """One valid booking line (125 fields): 119,00 H on 8400 against debtor 10000, 15.06., RE-2025-001."""
    values = [""] * len(HEADING_COLUMNS)
    defaults = {
        1: "119,00",
        2: '"H"',
        3: '"EUR"',
        7: "8400",
        8: "10000",
        9: '""',
        10: "1506",
        11: '"RE-2025-001"',
        14: '"Rechnung RE-2025-001 Müller"',
        20: f'"BEDI ""{GUID.upper()}"""',
        115: "15062025",
    }
    for position, raw in {**defaults, **(changes or {})}.items():
        values[position - 1] = raw
    return ";".join(values)


def extf_file(
    rows: Sequence[str] | None = None,
    *,
    header: str | None = None,
    headings: str | None = None,
    encoding: str = "utf-8-sig",
) -> bytes:
    """A whole file with CRLF line ends; `encoding` "utf-16-be-bom" writes UTF-16BE with its BOM."""
    lines = [
        header or header_line(),
        headings or ";".join(HEADING_COLUMNS),
        *(rows if rows is not None else [booking_row()]),
    ]
    text = "\r\n".join(lines) + "\r\n"
    if encoding == "utf-16-be-bom":
        return b"\xfe\xff" + text.encode("utf-16-be")
    if encoding == "utf-16-le-bom":
        return b"\xff\xfe" + text.encode("utf-16-le")
    return text.encode(encoding)


# --- DXSO builders ---------------------------------------------------------------------------------------

DOCUMENT_NS = "http://xml.datev.de/bedi/tps/document/v06.0"


def document_xml(
    ledger_file: str = "RA-2025-001.xml",
    pdf: str = "RA-2025-001.pdf",
    month: str = "2025-06",
    kind: str = "accountsReceivableLedger",
    extra_header: str = "",
) -> bytes:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<archive xmlns="{DOCUMENT_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="{DOCUMENT_NS} Document_v060.xsd" version="6.0" generatingSystem="datev-cin7-pipeline">
 <header><date>2025-06-15T12:00:00</date>{extra_header}</header>
 <content>
  <document>
   <extension xsi:type="{kind}" datafile="{ledger_file}">
    <property key="1" value="{month}"/>
    <property key="3" value="Ausgangsrechnungen"/>
   </extension>
   <extension xsi:type="File" name="{pdf}"/>
  </document>
 </content>
</archive>
""".encode()


def ledger_xml(amount: str = "1190.00", consolidated: str | None = None, invoice_id: str = "RA-2025-001") -> bytes:
    """Receivables ledger data for one invoice, valid against the v060 XSD (shaped like DATEV's sample)."""
    return f"""<?xml version="1.0" encoding="utf-8"?>
<LedgerImport xmlns="http://xml.datev.de/bedi/tps/ledger/v060" version="6.0" generator_info="datev-cin7"
  generating_system="datev-cin7-pipeline" xml_data="Kopie nur zur Verbuchung berechtigt nicht zum Vorsteuerabzug">
 <consolidate consolidatedAmount="{consolidated or amount}" consolidatedDate="2025-06-15"
   consolidatedInvoiceId="{invoice_id}" consolidatedCurrencyCode="EUR">
  <accountsReceivableLedger>
   <date>2025-06-15</date>
   <amount>{amount}</amount>
   <accountNo>8400</accountNo>
   <tax>19.00</tax>
   <currencyCode>EUR</currencyCode>
   <invoiceId>{invoice_id}</invoiceId>
   <bookingText>Rechnung {invoice_id}</bookingText>
   <bpAccountNo>10000</bpAccountNo>
   <customerName>Musterkunde</customerName>
  </accountsReceivableLedger>
 </consolidate>
</LedgerImport>
""".encode()
