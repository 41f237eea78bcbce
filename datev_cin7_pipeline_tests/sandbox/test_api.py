"""The API over real HTTP: keys, paging, filters, views derived from documents, errors, attachments."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
import requests

from datev_cin7_pipeline.sandbox.cin7 import Cin7Account, Cin7Dataset, Cin7SimConfig, jsonio
from datev_cin7_pipeline.sandbox.cin7.dates import parse_cin7_datetime
from datev_cin7_pipeline_tests.sandbox.helpers import HEADERS, TODAY, Sim
from datev_cin7_pipeline_tests.sandbox.pdf_check import check_pdf

ERROR_KEYS = {"ErrorCode", "Exception"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"api-auth-accountid": HEADERS["api-auth-accountid"]},
        {**HEADERS, "api-auth-applicationkey": "wrong"},
        {**HEADERS, "api-auth-accountid": "00000000-0000-0000-0000-000000000000"},
    ],
    ids=["no keys", "no application key", "wrong key", "wrong account"],
)
def test_calls_without_the_right_keys_get_403(sim: Sim, headers: dict[str, str]) -> None:
    response = requests.get(sim.api + "me", headers=headers, timeout=10)
    assert response.status_code == 403
    assert set(response.json()) == ERROR_KEYS
    assert response.json()["ErrorCode"] == 403


def test_several_applications_and_error_bodies_as_lists(serve: Callable[..., Sim], demo: Cin7Dataset) -> None:
    second = Cin7Account(HEADERS["api-auth-accountid"], "second-key")
    sim = serve(Cin7SimConfig(today=TODAY, accounts=(Cin7Account(**_pair()), second), error_body_as_list=True), demo)
    headers = {**HEADERS, "api-auth-applicationkey": "second-key"}
    assert requests.get(sim.api + "me", headers=headers, timeout=10).json()["Company"] == "Elbe & Isar Großhandel GmbH"
    refused = requests.get(sim.api + "me", headers={**HEADERS, "api-auth-applicationkey": "x"}, timeout=10)
    assert refused.status_code == 403
    assert isinstance(refused.json(), list)
    assert set(refused.json()[0]) == ERROR_KEYS


def _pair() -> dict[str, str]:
    return {"account_id": HEADERS["api-auth-accountid"], "application_key": HEADERS["api-auth-applicationkey"]}


def test_paths_and_parameter_names_ignore_case(sim: Sim) -> None:
    response = sim.session.get(sim.root + "/externalapi/v2/SALELIST?page=2&LIMIT=3", headers=HEADERS, timeout=10)
    assert response.status_code == 200
    assert (response.json()["Page"], len(response.json()["SaleList"])) == (2, 3)


def test_paging_walks_every_row_once(sim: Sim, demo: Cin7Dataset) -> None:
    seen: list[str] = []
    page = 1
    while True:
        body = sim.get("saleList", Page=page, Limit=7).json()
        assert body["Total"] == len(demo.sales)
        assert body["Page"] == page
        seen += [row["SaleID"] for row in body["SaleList"]]
        if page * 7 >= body["Total"]:
            break
        page += 1
    assert sorted(seen) == sorted(demo.sales)
    assert len(seen) == len(set(seen))
    assert page == -(-len(demo.sales) // 7)
    beyond = sim.get("saleList", Page=page + 1, Limit=7).json()
    assert beyond["SaleList"] == []
    assert beyond["Total"] == len(demo.sales)
    default = sim.get("customer").json()
    assert (default["Page"], default["Total"], len(default["CustomerList"])) == (1, 12, 12)


@pytest.mark.parametrize("params", [{"Limit": 0}, {"Limit": 1001}, {"Limit": "ten"}, {"Page": 0}])
def test_bad_paging_is_a_400(sim: Sim, params: dict[str, object]) -> None:
    response = sim.get("purchaseList", **params)
    assert response.status_code == 400
    assert set(response.json()) == ERROR_KEYS
    assert sim.get("purchaseList", Limit=1000).status_code == 200


def test_updated_since_filters_sales_and_purchases(sim: Sim, demo: Cin7Dataset) -> None:
    updated = sorted(sale["LastModifiedOn"] for sale in demo.sales.values())
    cutoff = updated[-5]
    rows = sim.get("saleList", UpdatedSince=cutoff).json()
    assert rows["Total"] == 4  # strictly after the cutoff
    assert all(parse_cin7_datetime(r["Updated"]) > parse_cin7_datetime(cutoff) for r in rows["SaleList"])
    assert sim.get("saleList", UpdatedSince="2000-01-01T00:00:00.0000000").json()["Total"] == len(demo.sales)
    purchase_times = sorted(p["LastUpdatedDate"] for p in demo.purchases.values())
    assert sim.get("purchaseList", UpdatedSince=purchase_times[-3]).json()["Total"] == 2
    assert sim.get("saleList", UpdatedSince="last week").status_code == 400


def test_modified_since_filters_customers_and_suppliers(sim: Sim) -> None:
    recent = sim.get("customer", ModifiedSince="2025-06-01T00:00:00Z").json()
    assert [customer["Name"] for customer in recent["CustomerList"]] == ["Hotel Seeblick Timmendorfer Strand GmbH"]
    suppliers = sim.get("supplier", ModifiedSince="2025-06-01").json()["SupplierList"]
    assert [supplier["Name"] for supplier in suppliers] == ["Solinger Schneidwaren Weber & Söhne KG"]
    assert sim.get("customer", IncludeDeprecated="true").json()["Total"] == 13
    by_name = sim.get("customer", Name="bergblick").json()["CustomerList"]
    assert [customer["TaxNumber"] for customer in by_name] == ["CHE-116.281.710 MWST"]


def test_list_filters_by_status_and_search(sim: Sim, demo: Cin7Dataset) -> None:
    voided = sim.get("saleList", Status="VOIDED").json()["SaleList"]
    assert len(voided) == 1
    assert voided[0]["CombinedPaymentStatus"] == "VOIDED"
    credited = sim.get("saleList", CombinedInvoiceStatus="INVOICED / CREDITED").json()["SaleList"]
    assert credited
    assert all(row["CreditNoteNumber"].startswith("CR-") for row in credited)
    search = sim.get("saleList", Search="bella vista").json()["SaleList"]
    assert search
    assert {row["Customer"] for row in search} == {"Trattoria Bella Vista S.r.l."}
    open_purchases = sim.get("purchaseList", InvoiceStatus="AUTHORISED").json()["PurchaseList"]
    assert open_purchases
    assert all(row["CombinedPaymentStatus"] != "PAID" for row in open_purchases)
    assert sim.get("purchaseList", Search="Ü-").json()["PurchaseList"][0]["Supplier"].startswith("Solinger")


def test_sale_views_agree_with_the_sale(sim: Sim, demo: Cin7Dataset) -> None:
    sale = next(s for s in demo.sales.values() if any(note["Refunds"] for note in s["CreditNotes"]))
    served = sim.get("sale", ID=sale["ID"].upper())
    assert jsonio.loads(served.content)["Invoices"] == sale["Invoices"]
    invoices = sim.get("sale/invoice", SaleID=sale["ID"]).json()
    assert invoices["SaleID"] == sale["ID"]
    assert [i["InvoiceNumber"] for i in invoices["Invoices"]] == [sale["Invoices"][0]["InvoiceNumber"]]
    assert "ProductCustomField1" not in invoices["Invoices"][0]["Lines"][0]
    with_info = sim.get("sale/invoice", SaleID=sale["ID"], IncludeProductInfo="true").json()
    assert "ProductCustomField1" in with_info["Invoices"][0]["Lines"][0]
    payments = sim.get("sale/payment", SaleID=sale["ID"]).json()
    assert [p["Type"] for p in payments] == ["Payment", "Refund"]
    assert payments[1]["CreditNoteNumber"] == sale["CreditNotes"][0]["CreditNoteNumber"]
    notes = sim.get("sale/creditnote", SaleID=sale["ID"], IncludePaymentInfo="true").json()["CreditNotes"]
    assert notes[0]["CreditNoteBalance"] == 0
    assert notes[0]["Payments"][0]["Type"] == "Refund"


def test_purchase_endpoints_know_simple_from_advanced(sim: Sim, demo: Cin7Dataset) -> None:
    advanced = next(p for p in demo.purchases.values() if p["Type"] == "Advanced Purchase")
    simple = next(p for p in demo.purchases.values() if p["Type"] == "Simple Purchase" and p["Invoice"]["Payments"])
    assert sim.get("advanced-purchase", ID=advanced["ID"]).status_code == 200
    wrong = sim.get("purchase", ID=advanced["ID"])
    assert wrong.status_code == 400
    assert "advanced-purchase" in wrong.json()["Exception"]
    assert sim.get("advanced-purchase", ID=simple["ID"]).status_code == 400
    invoices = sim.get("advanced-purchase/invoice", PurchaseID=advanced["ID"]).json()["Invoices"]
    assert [i["TaskID"] for i in invoices] == [i["TaskID"] for i in advanced["Invoice"]]
    assert all(i["InvoiceTotalAmount"] == i["Total"] for i in invoices)
    payments = sim.get("advanced-purchase/payment", PurchaseID=advanced["ID"]).json()
    assert payments
    assert all(p["PurchaseID"] == advanced["ID"] for p in payments)
    invoice = sim.get("purchase/invoice", TaskID=simple["ID"]).json()
    assert (invoice["TaskID"], invoice["InvoiceNumber"]) == (simple["ID"], simple["Invoice"]["InvoiceNumber"])
    payments = jsonio.loads(sim.get("purchase/payment", TaskID=simple["ID"]).content)
    assert payments == demo.purchase_payments[simple["ID"]]
    assert sum((p["Amount"] for p in payments), Decimal(0)) == simple["Invoice"]["Paid"]
    assert sim.get("purchase/creditnote", TaskID=simple["ID"]).json()["Status"] == "NOT AVAILABLE"


@pytest.mark.parametrize(
    ("endpoint", "params", "status"),
    [
        ("sale", {"ID": "00000000-0000-0000-0000-000000000000"}, 400),
        ("sale", {"ID": "not-a-guid"}, 400),
        ("sale", {}, 400),
        ("purchase/invoice", {"TaskID": "00000000-0000-0000-0000-000000000000"}, 400),
        ("Products", {}, 404),
    ],
)
def test_unknown_things_get_cin7_errors(sim: Sim, endpoint: str, params: dict[str, str], status: int) -> None:
    response = sim.get(endpoint, **params)
    assert response.status_code == status
    assert set(response.json()) == ERROR_KEYS


def test_a_wrong_method_is_a_405(sim: Sim) -> None:
    response = sim.session.delete(sim.api + "saleList", headers=HEADERS, timeout=10)
    assert response.status_code == 405
    assert response.json()["ErrorCode"] == 405


def test_attachments_are_served_from_the_simulator_itself(sim: Sim, demo: Cin7Dataset) -> None:
    sale = next(iter(demo.sales.values()))
    lines = sim.get("sale/attachment", SaleID=sale["ID"]).json()["Lines"]
    assert [line["FileName"] for line in lines] == [f"{sale['Invoices'][0]['InvoiceNumber']}.pdf"]
    url = lines[0]["DownloadUrl"]
    assert url.startswith(sim.root + "/Attachment/Download?ID=")
    assert "ContentType=application/pdf" in url
    download = requests.get(url, timeout=10)  # no API keys needed, as in Cin7's examples
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/pdf"
    assert download.content == demo.attachments[sale["ID"]][lines[0]["FileName"]]
    assert check_pdf(download.content) == []
    purchase = next(iter(demo.purchases.values()))
    purchase_lines = sim.get("purchase/attachment", TaskID=purchase["ID"]).json()["Lines"]
    assert requests.get(purchase_lines[0]["DownloadUrl"], timeout=10).content.startswith(b"%PDF-")
    missing = requests.get(sim.root + "/Attachment/Download?ID=00000000-0000-0000-0000-000000000000", timeout=10)
    assert missing.status_code == 404


def test_downloads_can_require_the_keys(serve: Callable[..., Sim], demo: Cin7Dataset) -> None:
    sim = serve(Cin7SimConfig(today=TODAY, attachment_download_requires_auth=True), demo)
    sale = next(iter(demo.sales.values()))
    url = sim.get("sale", ID=sale["ID"]).json()["Attachments"][0]["DownloadUrl"]
    assert requests.get(url, timeout=10).status_code == 403
    assert requests.get(url, headers=HEADERS, timeout=10).content.startswith(b"%PDF-")


def test_reference_data_endpoints(sim: Sim, demo: Cin7Dataset) -> None:
    assert sim.get("me").json()["TimeZone"] == "Europe/Berlin"
    assert sim.get("ref/account", Limit=5).json()["Total"] == len(demo.accounts)
    assert [a["Code"] for a in sim.get("ref/account", Type="BANK").json()["AccountsList"]] == ["1200", "1210", "1220"]
    purchase_rules = sim.get("ref/tax", IsTaxForPurchase="true").json()["TaxRuleList"]
    assert "Reverse Charge §13b" in {rule["Name"] for rule in purchase_rules}
    assert all(rule["IsTaxForPurchase"] for rule in purchase_rules)
    assert [loc["Name"] for loc in sim.get("ref/location").json()["LocationList"]] == ["Hamburg", "München"]
    assert sim.get("ref/account/bank").json()["BankAccountsList"][1]["Currency"] == "USD"
