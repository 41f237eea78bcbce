"""DXSO packages: every generated document.xml and ledger file validates against DATEV's XSDs (lxml), so do
the reference samples, and the consolidate rules are caught by our own checks before any XSD runs."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import zipfile
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree  # type: ignore[import-untyped]

from datev_cin7_pipeline.datev.bookings import BookingLine
from datev_cin7_pipeline.datev.dxso import (
    DxsoDocument,
    DxsoError,
    DxsoJob,
    DxsoSchemas,
    LedgerRecord,
    Party,
    RecordConversionError,
    build_package,
    check_job,
    check_ledger_xml,
    load_schemas,
    records_from_booking_lines,
    schema_errors,
)
from datev_cin7_pipeline.datev.dxso.checks import LEDGER_NS

from .helpers import DATEV_SAMPLES, XSD_DIR

PDF = b"%PDF-1.4\n% test\n"
GUID = "6c1f2b3a-1111-4222-8333-444455556666"


@pytest.fixture(scope="module")
def schemas() -> DxsoSchemas:
    return load_schemas(XSD_DIR)


def sale(**changes: Any) -> DxsoDocument:
    base = DxsoDocument(
        kind="Rechnungsausgang",
        invoice_id="R-2024-101",
        invoice_date=dt.date(2024, 3, 14),
        party=Party("Müller & Söhne GmbH", "Köln", 10100, "DE123456789", "K-0042"),
        records=(
            LedgerRecord(Decimal("1190.00"), 8400, tax_rate=Decimal("19.00"), booking_text="Waren 19 %"),
            LedgerRecord(Decimal("107.00"), 8300, tax_rate=Decimal("7.00"), booking_text="Waren 7 %"),
        ),
        pdf=PDF,
        delivery_date=dt.date(2024, 3, 10),
        due_date=dt.date(2024, 4, 13),
        order_id="SO-1001",
        total=Decimal("1297.00"),
        guid=GUID,
    )
    return dataclasses.replace(base, **changes)


def purchase(**changes: Any) -> DxsoDocument:
    base = DxsoDocument(
        kind="Rechnungseingang",
        invoice_id="ER-77/2024",
        invoice_date=dt.date(2024, 3, 20),
        party=Party("Lieferant AG", "Wien", 70010, "ATU52409200"),
        records=(LedgerRecord(Decimal("-238.00"), 3400, booking_text="Gutschrift Ware", cost_centre_1="LAGER 1"),),
        pdf=PDF,
        currency="USD",
        exchange_rate=Decimal("1.0842"),
    )
    return dataclasses.replace(base, **changes)


def job(*documents: DxsoDocument, **changes: Any) -> DxsoJob:
    kind = documents[0].kind if documents else "Rechnungsausgang"
    base = DxsoJob(
        kind=kind,
        accounting_month=dt.date(2024, 3, 1),
        documents=documents or (sale(),),
        generator_info="Muster Großhandel GmbH",
        account_length=4,
        fiscal_year=(dt.date(2024, 1, 1), dt.date(2024, 12, 31)),
        consultant_number=29098,
        client_number=55003,
        created_at=dt.datetime(2024, 3, 31, 10, 0, tzinfo=dt.UTC),
    )
    return dataclasses.replace(base, **changes)


def test_reference_samples_validate(schemas: DxsoSchemas) -> None:
    document = (DATEV_SAMPLES / "ledger_v060_document.xml").read_bytes()
    assert schema_errors(schemas.document, document) == []
    for name in ("ledger_v060_Rechnungsdaten_RA_R-2023-101.xml", "ledger_v060_Rechnungsdaten_RA_R-2023-101-EU.xml"):
        data = (DATEV_SAMPLES / name).read_bytes()
        assert schema_errors(schemas.ledger, data) == []
        assert check_ledger_xml(data, name) == []


@pytest.mark.parametrize(
    "documents",
    [
        (sale(),),
        (sale(), sale(invoice_id="R-2024-102", records=(LedgerRecord(Decimal("-50.00"), 8400),), total=None)),
        (purchase(),),
        (purchase(party=Party("Einzelfirma", account=None), delivery_date=None, guid=""),),
    ],
    ids=["sale", "sale-and-credit-note", "purchase-foreign", "purchase-minimal"],
)
def test_generated_files_validate_against_datevs_xsds(
    documents: tuple[DxsoDocument, ...], schemas: DxsoSchemas
) -> None:
    package = build_package(job(*documents, repository=("Buchführung", "IMPORT 2024 RA", "03 März")))
    xml_files = [name for name in package.files if name.endswith(".xml")]
    assert xml_files[0] == "document.xml"
    assert len(xml_files) == 1 + len(documents)
    for name in xml_files:
        schema = schemas.document if name == "document.xml" else schemas.ledger
        assert schema_errors(schema, package.files[name]) == [], name
        if name != "document.xml":
            assert check_ledger_xml(package.files[name], name) == []


def test_ledger_file_content() -> None:
    package = build_package(job(sale()))
    root = etree.fromstring(package.files["RA_R_2024_101.xml"])
    ns = {"l": LEDGER_NS}
    assert root.get("version") == "6.0"
    assert root.get("xml_data") == "Kopie nur zur Verbuchung berechtigt nicht zum Vorsteuerabzug"
    assert root.get("generator_info") == "Muster Großhandel GmbH"
    consolidate = root.find("l:consolidate", ns)
    assert dict(consolidate.attrib) == {
        "consolidatedAmount": "1297.00",
        "consolidatedDate": "2024-03-14",
        "consolidatedInvoiceId": "R-2024-101",
        "consolidatedDeliveryDate": "2024-03-10",
        "consolidatedCurrencyCode": "EUR",
        "consolidatedOrderId": "SO-1001",
    }
    first = consolidate.findall("l:accountsReceivableLedger", ns)[0]
    assert [(etree.QName(e).localname, e.text) for e in first] == [
        ("date", "2024-03-14"), ("amount", "1190.00"), ("accountNo", "8400"), ("tax", "19.00"),
        ("currencyCode", "EUR"), ("invoiceId", "R-2024-101"), ("bookingText", "Waren 19 %"), ("partyId", "K-0042"),
        ("vatId", "DE123456789"), ("dueDate", "2024-04-13"), ("bpAccountNo", "10100"), ("deliveryDate", "2024-03-10"),
        ("orderId", "SO-1001"), ("customerName", "Müller & Söhne GmbH"), ("customerCity", "Köln"),
    ]  # fmt: skip


def test_document_xml_content() -> None:
    package = build_package(job(sale()))
    text = package.files["document.xml"].decode()
    root = etree.fromstring(package.files["document.xml"])
    assert root.get("version") == "6.0"
    assert root.findtext("{*}header/{*}date") == "2024-03-31T12:00:00"  # German local time, no zone
    assert root.findtext("{*}header/{*}consultantNumber") == "29098"
    document = root.find("{*}content/{*}document")
    assert (document.get("guid"), document.get("type")) == (GUID, "2")
    assert 'xsi:type="accountsReceivableLedger" datafile="RA_R_2024_101.xml"' in text
    assert '<property key="1" value="2024-03"/>' in text
    assert '<property key="3" value="Ausgangsrechnungen"/>' in text
    assert '<extension xsi:type="File" name="RA_R_2024_101.pdf"/>' in text
    assert "processID" not in text  # 1 (inbox) is not allowed with ledger data


def test_package_is_single_files_for_the_api() -> None:
    package = build_package(job(sale(), sale(invoice_id="R-2024-102", pdf_name="Rechnung R-2024-102 (Kopie).pdf")))
    assert list(package.files) == [
        "document.xml",
        "RA_R_2024_101.xml",
        "RA_R_2024_101.pdf",
        "RA_R_2024_102.xml",
        "Rechnung R-2024-102 (Kopie).pdf",
    ]
    assert package.job_request() == {"import_type": "accountsReceivableLedgerImport", "accounting_month": "2024-03"}
    assert [(name, kind) for name, _, kind in package.uploads()][:3] == [
        ("document.xml", "application/xml"),
        ("RA_R_2024_101.xml", "application/xml"),
        ("RA_R_2024_101.pdf", "application/pdf"),
    ]
    archive = zipfile.ZipFile(io.BytesIO(package.as_zip()))
    assert archive.namelist() == list(package.files)
    assert all("/" not in name for name in archive.namelist())
    assert package.as_zip() == package.as_zip()
    assert build_package(job(purchase())).job_request()["import_type"] == "accountsPayableLedgerImport"


def test_pdfs_named_alike_get_distinct_files_and_the_job_goes() -> None:
    """Cin7 attachments are often all "Rechnung.pdf": each keeps its name behind its document's stem."""
    package = build_package(
        job(
            sale(pdf_name="Rechnung.pdf"),
            sale(invoice_id="R-2", pdf_name="Rechnung.pdf", total=None),
            sale(invoice_id="R-3", pdf_name="eigener Name.pdf", total=None),
        )
    )

    pdfs = sorted(name for name in package.files if name.endswith(".pdf"))
    assert pdfs == ["RA_R_2024_101_Rechnung.pdf", "RA_R_2_Rechnung.pdf", "eigener Name.pdf"]
    index = package.files["document.xml"].decode()
    assert all(f'"{name}"' in index for name in pdfs)


def test_a_pdf_name_from_cin7_cannot_leave_the_package_folder() -> None:
    """The package is written to disk before it is sent; a name with folders in it keeps only its last part."""
    package = build_package(
        job(
            sale(pdf_name="../../../tmp/evil.pdf"),
            sale(invoice_id="R-2", pdf_name="..\\..\\Windows\\boot.pdf", total=None),
        )
    )

    pdfs = sorted(name for name in package.files if name.endswith(".pdf"))
    assert pdfs == ["boot.pdf", "evil.pdf"]
    assert all("/" not in name and "\\" not in name and not name.startswith(".") for name in package.files)


def test_invoice_ids_that_fold_alike_get_distinct_files() -> None:
    package = build_package(job(sale(invoice_id="A-1", total=None), sale(invoice_id="A/1", total=None)))
    names = [n for n in package.files if n.endswith(".xml") and n != "document.xml"]
    assert len(set(names)) == 2
    assert all(n.startswith("RA_A_1_") for n in names)


def test_records_from_booking_lines_signs_and_sides() -> None:
    day = dt.date(2024, 3, 14)
    invoice = BookingLine(Decimal("119.00"), "H", 8400, 10100, day, "R1", "Ware", tax_rate=Decimal("19.00"))
    same_invoice_other_way = BookingLine(Decimal("119.00"), "S", 10100, 8400, day, "R1", "Ware")
    credit_note = BookingLine(Decimal("19.00"), "S", 8400, 10100, day, "R1", "Gutschrift")
    account, records = records_from_booking_lines(
        [invoice, same_invoice_other_way, credit_note], kind="Rechnungsausgang", account_length=4
    )
    assert account == 10100
    assert [(r.amount, r.account) for r in records] == [
        (Decimal("119.00"), 8400),
        (Decimal("119.00"), 8400),
        (Decimal("-19.00"), 8400),
    ]
    assert records[0].tax_rate == Decimal("19.00")
    supplier_invoice = BookingLine(Decimal("238.00"), "S", 3400, 70010, day, "E1", "Ware", tax_key="9")
    supplier_credit = BookingLine(Decimal("38.00"), "S", 70010, 3400, day, "E1", "Gutschrift")
    account, records = records_from_booking_lines(
        [supplier_invoice, supplier_credit], kind="Rechnungseingang", account_length=4
    )
    assert account == 70010
    assert [(r.amount, r.account, r.tax_key) for r in records] == [
        (Decimal("238.00"), 3400, "9"),
        (Decimal("-38.00"), 3400, ""),
    ]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], "at least one"),
        ([("8400", "1200")], "exactly one personal account"),
        ([("10100", "70010")], "exactly one personal account"),
        ([("8400", "10100"), ("8400", "10200")], "differs from 10100"),
    ],
)
def test_records_need_one_personal_and_one_gl_account(lines: list[tuple[str, str]], message: str) -> None:
    bookings = [BookingLine(Decimal("1.00"), "H", int(a), int(b), dt.date(2024, 3, 1), "R1", "x") for a, b in lines]
    with pytest.raises(RecordConversionError, match=message):
        records_from_booking_lines(bookings, kind="Rechnungsausgang", account_length=4)


def _doc(**changes: Any) -> Callable[[], DxsoJob]:
    return lambda: job(sale(**changes))


def _record(**changes: Any) -> Callable[[], DxsoJob]:
    record = dataclasses.replace(sale().records[0], **changes)
    return lambda: job(sale(records=(record,), total=None))


# code, a job breaking exactly that rule
MODEL_CASES: list[tuple[str, Callable[[], DxsoJob]]] = [
    ("DXSO-D001", _doc(records=(), total=None)),
    ("DXSO-D002", _record(amount=Decimal("0.00"))),
    ("DXSO-D002", _record(amount=Decimal("1.005"))),
    ("DXSO-D003", _doc(total=Decimal("1297.01"))),
    ("DXSO-D004", _doc(invoice_id="R_2024_101")),
    ("DXSO-D004", _doc(invoice_id="R" * 37)),
    ("DXSO-D005", _doc(invoice_date=dt.date(2024, 4, 1), due_date=None)),
    ("DXSO-D006", lambda: job(sale(), fiscal_year=(dt.date(2024, 4, 1), dt.date(2025, 3, 31)))),
    ("DXSO-D008", _record(booking_text="t" * 61)),
    ("DXSO-D009", _doc(party=Party("n" * 51, account=10100))),
    ("DXSO-D010", _doc(party=Party("Kunde", account=70010))),
    ("DXSO-D011", _record(account=123456)),
    ("DXSO-D012", _record(tax_key="12345")),
    ("DXSO-D013", _record(tax_rate=Decimal("100.00"))),
    ("DXSO-D014", _doc(currency="eur")),
    ("DXSO-D015", _doc(pdf=b"not a pdf")),
    ("DXSO-D016", _doc(pdf_name="scan.tiff")),
    ("DXSO-D017", _doc(party=Party("Kunde", account=10100, vat_id="DE-123"))),
    ("DXSO-D018", _record(cost_centre_1=" LAGER")),
    ("DXSO-D019", _record(information="i" * 121)),
    ("DXSO-D020", _doc(order_id="SO#1")),
    ("DXSO-D021", lambda: job(sale(), generator_info="")),
    ("DXSO-D022", lambda: job(documents=())),
    ("DXSO-D023", _doc(due_date=dt.date(2024, 3, 1))),
    ("DXSO-D024", _doc(exchange_rate=Decimal("1.0000001"))),
    ("DXSO-D025", lambda: job(sale(), ledger_folder="f" * 41)),
    ("DXSO-D026", lambda: job(sale(), purchase(party=Party("Lieferant AG")), kind="Rechnungsausgang")),
    ("DXSO-D027", lambda: job(sale(), sale())),
    ("DXSO-D028", _doc(guid="not-a-guid")),
]


@pytest.mark.parametrize(("code", "build"), MODEL_CASES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(MODEL_CASES)])
def test_model_rules_are_caught_before_any_xml(code: str, build: Callable[[], DxsoJob]) -> None:
    broken = build()
    if code != "DXSO-D016":  # file names exist only once build_package has made them
        assert {f.code for f in check_job(broken) if f.severity == "error"} == {code}
    with pytest.raises(DxsoError) as caught:
        build_package(broken)  # no schemas given: these are our own checks
    assert {f.code for f in caught.value.findings} == {code}


def test_payables_need_a_booking_text() -> None:
    broken = job(purchase(records=(LedgerRecord(Decimal("10.00"), 3400),)))
    assert {f.code for f in check_job(broken)} == {"DXSO-D008"}
    assert check_job(job(sale(records=(LedgerRecord(Decimal("10.00"), 8400),), total=None))) == []


def test_delivery_after_invoice_is_only_a_warning() -> None:
    findings = check_job(job(sale(delivery_date=dt.date(2024, 3, 20))))
    assert [(f.code, f.severity) for f in findings] == [("DXSO-D007", "warning")]
    assert build_package(job(sale(delivery_date=dt.date(2024, 3, 20))))


def test_every_model_rule_has_a_test() -> None:
    from datev_cin7_pipeline.datev.dxso import checks

    documented = set(checks.__doc__.split("|")) if checks.__doc__ else set()
    codes = {part.strip() for part in documented if part.strip().startswith("DXSO-D")}
    assert codes == {code for code, _ in MODEL_CASES} | {"DXSO-D007"}


def _sample_ledger() -> bytes:
    return (DATEV_SAMPLES / "ledger_v060_Rechnungsdaten_RA_R-2023-101.xml").read_bytes()


@pytest.mark.parametrize(
    ("code", "old", "new"),
    [
        ("DXSO-C001", b'consolidatedAmount="1190.00"', b'consolidatedAmount="1190.01"'),
        ("DXSO-C002", b"<date>2023-01-12</date>", b"<date>2023-01-13</date>"),
        ("DXSO-C003", b"<currencyCode>EUR</currencyCode>", b"<currencyCode>USD</currencyCode>"),
        ("DXSO-C004", b"<invoiceId>R-2023-101</invoiceId>", b"<invoiceId>R-2023-102</invoiceId>"),
        ("DXSO-C005", b"<dueDate>", b"<deliveryDate>2023-01-08</deliveryDate><dueDate>"),
        ("DXSO-C006", b'consolidatedCurrencyCode="EUR"', b'consolidatedCurrencyCode="EUR" consolidatedOrderId="A1"'),
        ("DXSO-C007", b"<consolidate ", b"<consolidated "),
    ],
)
def test_consolidate_rules_on_ledger_files(code: str, old: bytes, new: bytes, schemas: DxsoSchemas) -> None:
    data = _sample_ledger()
    assert old in data
    broken = data.replace(old, new, 1)
    if code == "DXSO-C006":
        broken = broken.replace(b"</bpAccountNo>", b"</bpAccountNo><orderId>A2</orderId>")
    findings = check_ledger_xml(broken, "x.xml")
    assert [f.code for f in findings] == [code]
    assert findings[0].file == "x.xml"
    if code in ("DXSO-C001", "DXSO-C002", "DXSO-C004"):
        assert schema_errors(schemas.ledger, broken) == []  # the XSD cannot see these


def test_xsd_violations_surface_as_findings(schemas: DxsoSchemas) -> None:
    broken = job(sale(currency="XXY"))  # three capital letters, but no ISO 4217 code
    assert check_job(broken) == []
    with pytest.raises(DxsoError) as caught:
        build_package(broken, schemas=schemas)
    codes = {(f.code, f.file) for f in caught.value.findings}
    assert codes == {("DXSO-X001", "RA_R_2024_101.xml")}
    assert build_package(job(sale()), schemas=schemas).files
