"""The simulator's data, and the folder of JSON files it is kept in.

The folder holds files shaped exactly like the API's own responses, so a real account's answers (or the
documentation's samples) can be dropped in unchanged:

    me.json              GET /me
    accounts.json        GET /ref/account          {"AccountsList": [...], "Total": n, "Page": 1}
    tax_rules.json       GET /ref/tax              {"TaxRuleList": [...], ...}
    locations.json       GET /ref/location         {"LocationList": [...], ...}
    customers.json       GET /customer             {"CustomerList": [...], ...}
    suppliers.json       GET /supplier             {"SupplierList": [...], ...}
    bank_accounts.json   GET /ref/account/bank     optional; without it, derived from accounts of Type BANK
    customer_credits.json   GET /ref/customer/credits   optional   {"CustomerCredits": [...], "Page": 1}
    supplier_deposits.json  GET /ref/supplier/deposits  optional   {"SupplierDeposits": [...], "Page": 1}
    sales/*.json         GET /sale?ID=             one sale per file
    purchases/*.json     GET /purchase?ID= or GET /advanced-purchase?ID=   (advanced: `Invoice` is a list)
    purchase_payments/<purchase id>.json           GET /purchase/payment?TaskID= (an array)
    attachments/<sale or purchase id>/<file name>  the bytes of an entry in that document's `Attachments`

Only the list items of the list responses are kept; `Total` and `Page` are recomputed when served.
A malformed folder is refused with an error that names the offending file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datev_cin7_pipeline.sandbox.cin7 import jsonio
from datev_cin7_pipeline.sandbox.cin7.jsonio import JsonObject

LIST_FILES: dict[str, str] = {
    "accounts.json": "AccountsList",
    "tax_rules.json": "TaxRuleList",
    "locations.json": "LocationList",
    "customers.json": "CustomerList",
    "suppliers.json": "SupplierList",
}
BANK_ACCOUNTS_FILE = "bank_accounts.json"
BANK_ACCOUNTS_KEY = "BankAccountsList"
# Optional lists that Cin7 pages without a Total (as its examples show).
UNTOTALLED_FILES: dict[str, str] = {
    "customer_credits.json": "CustomerCredits",
    "supplier_deposits.json": "SupplierDeposits",
}
DOCUMENT_FOLDERS = ("sales", "purchases", "purchase_payments", "attachments")


class DataFolderError(ValueError):
    """The data folder does not have the documented layout; the message names the file."""


@dataclass
class Cin7Dataset:
    """One Cin7 company's data. Documents are kept exactly as `GET /sale` / `GET /purchase` return them."""

    me: JsonObject
    accounts: list[JsonObject]
    tax_rules: list[JsonObject]
    locations: list[JsonObject]
    customers: list[JsonObject]
    suppliers: list[JsonObject]
    bank_accounts: list[JsonObject] | None = None
    customer_credits: list[JsonObject] = field(default_factory=list)
    supplier_deposits: list[JsonObject] = field(default_factory=list)
    sales: dict[str, JsonObject] = field(default_factory=dict)
    purchases: dict[str, JsonObject] = field(default_factory=dict)
    purchase_payments: dict[str, list[JsonObject]] = field(default_factory=dict)
    attachments: dict[str, dict[str, bytes]] = field(default_factory=dict)


def is_advanced_purchase(purchase: JsonObject) -> bool:
    """Advanced purchases have several invoices, so their `Invoice` is a list."""
    if isinstance(purchase.get("Invoice"), list):
        return True
    return str(purchase.get("Type", "")).lower() == "advanced purchase"


# --- reading -------------------------------------------------------------------------------------


def load_dataset(folder: Path | str) -> Cin7Dataset:
    """Read a data folder (layout in the module docstring), refusing anything malformed."""
    root = Path(folder)
    if not root.is_dir():
        raise DataFolderError(f"{root}: not a folder")
    _refuse_unknown_files(root)
    lists = {name: _read_list(root / name, key) for name, key in LIST_FILES.items()}
    bank_file = root / BANK_ACCOUNTS_FILE
    dataset = Cin7Dataset(
        me=_read_object(root / "me.json"),
        accounts=lists["accounts.json"],
        tax_rules=lists["tax_rules.json"],
        locations=lists["locations.json"],
        customers=lists["customers.json"],
        suppliers=lists["suppliers.json"],
        bank_accounts=_read_list(bank_file, BANK_ACCOUNTS_KEY) if bank_file.exists() else None,
        customer_credits=_read_optional_list(root, "customer_credits.json"),
        supplier_deposits=_read_optional_list(root, "supplier_deposits.json"),
        sales=_read_documents(root / "sales"),
        purchases=_read_documents(root / "purchases"),
    )
    dataset.purchase_payments = _read_purchase_payments(root / "purchase_payments", dataset.purchases)
    dataset.attachments = _read_attachments(root / "attachments", {**dataset.sales, **dataset.purchases})
    return dataset


def _refuse_unknown_files(root: Path) -> None:
    """Catch typos such as `customer.json` early; other files (a README, say) may sit beside the data."""
    known = {"me.json", BANK_ACCOUNTS_FILE, *LIST_FILES, *UNTOTALLED_FILES}
    for entry in root.iterdir():
        unknown_folder = entry.is_dir() and entry.name not in DOCUMENT_FOLDERS
        unknown_json = entry.is_file() and entry.suffix == ".json" and entry.name not in known
        if unknown_folder or unknown_json:
            raise DataFolderError(
                f"{entry}: not part of a Cin7 data folder (expected {sorted(known)} and folders "
                f"{list(DOCUMENT_FOLDERS)})"
            )


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise DataFolderError(f"{path}: missing")
    try:
        return jsonio.loads(path.read_bytes())
    except ValueError as exc:
        raise DataFolderError(f"{path}: not valid JSON ({exc})") from exc


def _read_object(path: Path) -> JsonObject:
    value = _read_json(path)
    if not isinstance(value, dict):
        raise DataFolderError(f"{path}: expected a JSON object, found {type(value).__name__}")
    return value


def _read_list(path: Path, key: str) -> list[JsonObject]:
    response = _read_object(path)
    items = response.get(key)
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise DataFolderError(f"{path}: expected the API's list response with a list of objects under {key!r}")
    return items


def _read_optional_list(root: Path, name: str) -> list[JsonObject]:
    path = root / name
    return _read_list(path, UNTOTALLED_FILES[name]) if path.exists() else []


def _json_files(folder: Path) -> list[Path]:
    if not folder.exists():
        return []
    files = sorted(folder.iterdir())
    for path in files:
        if not (path.is_file() and path.suffix == ".json"):
            raise DataFolderError(f"{path}: only .json files belong in {folder.name}/")
    return files


def _read_documents(folder: Path) -> dict[str, JsonObject]:
    documents: dict[str, JsonObject] = {}
    origin: dict[str, Path] = {}
    for path in _json_files(folder):
        document = _read_object(path)
        document_id = document.get("ID")
        if not isinstance(document_id, str) or not document_id:
            raise DataFolderError(f"{path}: the document has no string ID")
        if document_id.lower() in origin:
            raise DataFolderError(f"{path}: ID {document_id} is also used by {origin[document_id.lower()]}")
        _check_document_shape(path, document)
        origin[document_id.lower()] = path
        documents[document_id] = document
    return documents


def _check_document_shape(path: Path, document: JsonObject) -> None:
    for key in ("Invoices", "CreditNotes", "Attachments"):
        if key in document and not isinstance(document[key], list):
            raise DataFolderError(f"{path}: {key} must be a list")
    if "Invoice" in document and not isinstance(document["Invoice"], dict | list):
        raise DataFolderError(f"{path}: Invoice must be an object (simple purchase) or a list (advanced)")
    for attachment in document.get("Attachments", []):
        if not isinstance(attachment, dict) or not attachment.get("ID") or not attachment.get("FileName"):
            raise DataFolderError(f"{path}: every attachment needs an ID and a FileName")


def _read_purchase_payments(folder: Path, purchases: dict[str, JsonObject]) -> dict[str, list[JsonObject]]:
    ids = {purchase_id.lower(): purchase_id for purchase_id in purchases}
    payments: dict[str, list[JsonObject]] = {}
    for path in _json_files(folder):
        purchase_id = ids.get(path.stem.lower())
        if purchase_id is None:
            raise DataFolderError(f"{path}: no purchase with ID {path.stem} in purchases/")
        value = _read_json(path)
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise DataFolderError(f"{path}: expected the array GET /purchase/payment returns")
        payments[purchase_id] = value
    return payments


def _read_attachments(folder: Path, documents: dict[str, JsonObject]) -> dict[str, dict[str, bytes]]:
    if not folder.exists():
        return {}
    ids = {document_id.lower(): document_id for document_id in documents}
    attachments: dict[str, dict[str, bytes]] = {}
    for document_folder in sorted(folder.iterdir()):
        document_id = ids.get(document_folder.name.lower())
        if not document_folder.is_dir() or document_id is None:
            raise DataFolderError(f"{document_folder}: expected a folder named after a sale or purchase ID")
        declared = {entry["FileName"] for entry in documents[document_id].get("Attachments", [])}
        files: dict[str, bytes] = {}
        for path in sorted(document_folder.iterdir()):
            if path.name not in declared:
                raise DataFolderError(f"{path}: not listed in the Attachments of document {document_id}")
            files[path.name] = path.read_bytes()
        attachments[document_id] = files
    return attachments


# --- writing -------------------------------------------------------------------------------------


def write_data_folder(dataset: Cin7Dataset, path: Path | str) -> Path:
    """Write `dataset` in the layout `load_dataset` reads (into a new or empty folder); return the folder."""
    root = Path(path)
    if root.exists() and any(root.iterdir()):
        raise DataFolderError(f"{root}: refusing to write into a folder that is not empty")
    root.mkdir(parents=True, exist_ok=True)
    _write_json(root / "me.json", dataset.me)
    lists = {
        "accounts.json": dataset.accounts,
        "tax_rules.json": dataset.tax_rules,
        "locations.json": dataset.locations,
        "customers.json": dataset.customers,
        "suppliers.json": dataset.suppliers,
    }
    for name, items in lists.items():
        _write_json(root / name, list_response(LIST_FILES[name], items, len(items), 1))
    if dataset.bank_accounts is not None:
        _write_json(
            root / BANK_ACCOUNTS_FILE,
            list_response(BANK_ACCOUNTS_KEY, dataset.bank_accounts, len(dataset.bank_accounts), 1),
        )
    for name, items in (
        ("customer_credits.json", dataset.customer_credits),
        ("supplier_deposits.json", dataset.supplier_deposits),
    ):
        if items:
            _write_json(root / name, {UNTOTALLED_FILES[name]: items, "Page": 1})
    for folder, documents in (("sales", dataset.sales), ("purchases", dataset.purchases)):
        for document_id, document in documents.items():
            _write_json(root / folder / f"{document_id}.json", document)
    for purchase_id, payments in dataset.purchase_payments.items():
        _write_json(root / "purchase_payments" / f"{purchase_id}.json", payments)
    for document_id, files in dataset.attachments.items():
        for file_name, content in files.items():
            if Path(file_name).name != file_name:
                raise DataFolderError(f"attachment {file_name!r} of {document_id}: a file name may not hold a path")
            target = root / "attachments" / document_id / file_name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
    return root


def list_response(key: str, items: list[JsonObject], total: int, page: int) -> JsonObject:
    """A paginated list response as Cin7 shapes it."""
    return {key: items, "Total": total, "Page": page}


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(jsonio.dumps(value, indent=2) + "\n", encoding="utf-8")
