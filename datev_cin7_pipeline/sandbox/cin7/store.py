"""The running simulator's copy of the data, with the look-ups the endpoints and admin actions need.

The app works on its own deep copy, so a test's dataset is never changed behind its back by admin
actions. Cin7 ids are GUIDs that clients may send in any case, so look-ups ignore case.
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Iterable
from decimal import Decimal

from datev_cin7_pipeline.sandbox.cin7.dataset import Cin7Dataset
from datev_cin7_pipeline.sandbox.cin7.demo_company import tax_percents
from datev_cin7_pipeline.sandbox.cin7.jsonio import JsonObject


def _find(documents: dict[str, JsonObject], document_id: str) -> JsonObject | None:
    found = documents.get(document_id)
    if found is not None:
        return found
    wanted = document_id.lower()
    return next((document for key, document in documents.items() if key.lower() == wanted), None)


def next_number(prefix: str, existing: Iterable[object]) -> str:
    """The next number of a Cin7 series such as INV-00042: one above the highest one in use."""
    pattern = re.compile(rf"^{re.escape(prefix)}(\d+)$")
    numbers = [int(match[1]) for value in existing if (match := pattern.match(str(value)))]
    return f"{prefix}{max(numbers, default=0) + 1:05d}"


class Cin7Store:
    """The dataset a simulator serves, plus a lock for the admin actions that change it."""

    def __init__(self, dataset: Cin7Dataset) -> None:
        self.data = copy.deepcopy(dataset)
        self.lock = threading.RLock()

    def sale(self, sale_id: str) -> JsonObject | None:
        return _find(self.data.sales, sale_id)

    def purchase(self, purchase_id: str) -> JsonObject | None:
        return _find(self.data.purchases, purchase_id)

    def files_of(self, document_id: str) -> dict[str, bytes]:
        return self.data.attachments.get(document_id, {})

    def attachment(self, attachment_id: str) -> tuple[JsonObject, bytes] | None:
        """An attachment entry and its bytes, found by the attachment ID in any sale or purchase."""
        wanted = attachment_id.lower()
        for document in [*self.data.sales.values(), *self.data.purchases.values()]:
            for entry in document.get("Attachments") or []:
                content = self.files_of(document["ID"]).get(entry.get("FileName", ""))
                if str(entry.get("ID", "")).lower() == wanted and content is not None:
                    return entry, content
        return None

    def location_ids(self) -> dict[str, str]:
        return {str(location["Name"]): str(location["ID"]) for location in self.data.locations}

    def tax_percents(self) -> dict[str, Decimal]:
        return tax_percents(self.data.tax_rules)

    def bank_accounts(self) -> list[JsonObject]:
        """The stored bank account list, or one derived from the chart's accounts of Type BANK."""
        if self.data.bank_accounts is not None:
            return self.data.bank_accounts
        return [
            {
                "AccountID": account.get("BankAccountId"),
                "AccountCode": account.get("Code"),
                "AccountName": account.get("Name"),
                "Bank": "",
                "AccountNumber": account.get("BankAccountNumber"),
                "Currency": account.get("Currency"),
                "BalanceInDear": 0,
                "InitialBalance": 0,
                "StatementBalance": 0,
            }
            for account in self.data.accounts
            if account.get("Type") == "BANK"
        ]

    def sale_numbers(self, field: str) -> list[object]:
        """Every value of an invoice/credit-note number field across the sales (for `next_number`)."""
        return [
            task.get(field)
            for sale in self.data.sales.values()
            for task in [*(sale.get("Invoices") or []), *(sale.get("CreditNotes") or [])]
        ]
