"""The data folder: a lossless round trip, clear refusals, and Cin7's own samples served back unchanged."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from datev_cin7_pipeline.sandbox.cin7 import (
    Cin7Dataset,
    Cin7SimConfig,
    DataFolderError,
    jsonio,
    load_dataset,
    write_data_folder,
)
from datev_cin7_pipeline_tests.sandbox.helpers import SAMPLES, TODAY, Sim

SAMPLE_FILES = {
    "me.json": "me.get.response.json",
    "accounts.json": "ref-account.get.response.json",
    "tax_rules.json": "ref-tax.get.response.json",
    "locations.json": "ref-location.get.response.json",
    "customers.json": "customer.get.response.json",
    "suppliers.json": "supplier.get.response.json",
    "bank_accounts.json": "ref-account-bank.get.response.json",
    "customer_credits.json": "ref-customer-credits.get.response.json",
    "supplier_deposits.json": "ref-supplier-deposits.get.response.json",
}


def _sample(name: str) -> Any:
    return jsonio.loads((SAMPLES / name).read_bytes())


def _sample_folder(folder: Path) -> Path:
    """A data folder made of the documentation's samples, files copied byte for byte."""
    folder.mkdir()
    for target, source in SAMPLE_FILES.items():
        shutil.copyfile(SAMPLES / source, folder / target)
    for kind, sources in (
        ("sales", ["sale.get.response.json"]),
        ("purchases", ["purchase.get.response.json", "advanced-purchase.get.response.json"]),
    ):
        (folder / kind).mkdir()
        for source in sources:
            shutil.copyfile(SAMPLES / source, folder / kind / f"{_sample(source)['ID']}.json")
    return folder


def test_round_trip_is_lossless(demo: Cin7Dataset, tmp_path: Path) -> None:
    first = write_data_folder(demo, tmp_path / "first")
    loaded = load_dataset(first)
    assert loaded == demo
    second = write_data_folder(loaded, tmp_path / "second")
    files = sorted(path.relative_to(first) for path in first.rglob("*") if path.is_file())
    assert files == sorted(path.relative_to(second) for path in second.rglob("*") if path.is_file())
    assert all((first / name).read_bytes() == (second / name).read_bytes() for name in files)
    assert any(name.parts[0] == "attachments" and name.suffix == ".pdf" for name in files)


def test_writing_into_a_used_folder_is_refused(demo: Cin7Dataset, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DataFolderError, match="not empty"):
        write_data_folder(demo, tmp_path)


def test_samples_load_and_are_served_back_unchanged(tmp_path: Path, serve: Callable[..., Sim]) -> None:
    dataset = load_dataset(_sample_folder(tmp_path / "samples"))
    sim = serve(Cin7SimConfig(today=TODAY), dataset)
    for endpoint, source in [
        ("me", "me.get.response.json"),
        ("ref/account", "ref-account.get.response.json"),
        ("ref/tax", "ref-tax.get.response.json"),
        ("ref/location", "ref-location.get.response.json"),
        ("ref/account/bank", "ref-account-bank.get.response.json"),
        ("customer", "customer.get.response.json"),
        ("supplier", "supplier.get.response.json"),
    ]:
        assert jsonio.loads(sim.get(endpoint).content) == _sample(source), endpoint
    credits = _sample("ref-customer-credits.get.response.json")
    assert jsonio.loads(sim.get("ref/customer/credits", ShowUsedCredits="true").content) == credits
    open_credits = sim.get("ref/customer/credits", CustomerID=credits["CustomerCredits"][0]["CustomerID"]).json()
    assert [credit["CreditID"] for credit in open_credits["CustomerCredits"]] == [
        credits["CustomerCredits"][0]["CreditID"]
    ]
    deposits = _sample("ref-supplier-deposits.get.response.json")
    assert jsonio.loads(sim.get("ref/supplier/deposits", ShowUsedDeposits="true").content) == deposits
    for endpoint, source in [
        ("sale", "sale.get.response.json"),
        ("purchase", "purchase.get.response.json"),
        ("advanced-purchase", "advanced-purchase.get.response.json"),
    ]:
        sample = _sample(source)
        assert jsonio.loads(sim.get(endpoint, ID=sample["ID"]).content) == sample, endpoint


def test_list_rows_are_derived_from_the_samples(tmp_path: Path, serve: Callable[..., Sim]) -> None:
    sim = serve(Cin7SimConfig(today=TODAY), load_dataset(_sample_folder(tmp_path / "samples")))
    sale = _sample("sale.get.response.json")
    [row] = sim.get("saleList").json()["SaleList"]
    assert (row["SaleID"], row["OrderNumber"], row["InvoiceNumber"], row["Updated"]) == (
        sale["ID"],
        "SO-00001",
        "INV-00001",
        "2017-11-22T10:10:49.75Z",
    )
    assert row["InvoiceAmount"] == 358
    assert set(row) == set(_sample("sale-list.get.response.json")["SaleList"][0])
    rows = {row["OrderNumber"]: row for row in sim.get("purchaseList").json()["PurchaseList"]}
    assert rows["PO-00001"]["InvoiceNumber"] == "1"  # read from the documented typo `InvocieNumber`
    assert rows["PO-00069"]["Type"] == "Advanced Purchase"
    assert set(rows["PO-00001"]) == set(_sample("purchase-list.get.response.json")["PurchaseList"][0])
    invoice = sim.get("purchase/invoice", TaskID=rows["PO-00001"]["ID"]).json()
    assert (invoice["InvoiceNumber"], invoice["InvoiceTotalAmount"], invoice["Total"]) == ("1", 9, 9)


def _break(folder: Path, change: str) -> str:
    """Damage a sample folder in one way; returns the file name the error must mention."""
    sale_file = next((folder / "sales").iterdir())
    if change == "missing me":
        (folder / "me.json").unlink()
        return "me.json"
    if change == "invalid json":
        (folder / "customers.json").write_text("{not json")
        return "customers.json"
    if change == "wrong list key":
        (folder / "tax_rules.json").write_text('{"TaxRules": []}')
        return "tax_rules.json"
    if change == "duplicate sale":
        shutil.copyfile(sale_file, folder / "sales" / "copy.json")
        return "copy.json"
    if change == "payments of an unknown purchase":
        (folder / "purchase_payments").mkdir()
        (folder / "purchase_payments" / "00000000-0000-0000-0000-000000000000.json").write_text("[]")
        return "00000000-0000-0000-0000-000000000000.json"
    if change == "unlisted attachment":
        target = folder / "attachments" / sale_file.stem
        target.mkdir(parents=True)
        (target / "stray.pdf").write_bytes(b"%PDF-")
        return "stray.pdf"
    if change == "unknown file":
        (folder / "customer.json").write_text("{}")
        return "customer.json"
    raise AssertionError(change)


@pytest.mark.parametrize(
    "change",
    [
        "missing me",
        "invalid json",
        "wrong list key",
        "duplicate sale",
        "payments of an unknown purchase",
        "unlisted attachment",
        "unknown file",
    ],
)
def test_a_malformed_folder_is_refused_naming_the_file(tmp_path: Path, change: str) -> None:
    folder = _sample_folder(tmp_path / "samples")
    culprit = _break(folder, change)
    with pytest.raises(DataFolderError, match=culprit.replace(".", r"\.")):
        load_dataset(folder)
