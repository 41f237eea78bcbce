"""Personal accounts (Debitoren/Kreditoren): assigned once per Cin7 customer or supplier, never reused.

A debtor number derived from a database id loses leading zeros and collides with G/L accounts
(ANCHORS §5.4); a number handed out twice merges two customers' open items. So numbers come from a
configured range, in order of first use, and the assignment is stored. The booking rules only see the
`PersonalAccountRegistry` protocol; this module has the in-memory implementation used by tests and
dry runs. The database-backed one needs a table (see the issue note):

    CREATE TABLE personal_accounts (
        connection_id  INTEGER      NOT NULL REFERENCES connections (id),
        party_kind     VARCHAR(8)   NOT NULL CHECK (party_kind IN ('debtor', 'creditor')),
        cin7_party_id  VARCHAR(64)  NOT NULL,
        account_number BIGINT       NOT NULL,
        assigned_at    TIMESTAMP    NOT NULL,
        PRIMARY KEY (connection_id, party_kind, cin7_party_id),
        UNIQUE (connection_id, account_number)
    );
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Protocol

PartyKind = Literal["debtor", "creditor"]


class PersonalAccountRangeExhausted(RuntimeError):
    """Every number of the configured range is taken; widen the range (never reuse a number)."""


class PersonalAccountRegistry(Protocol):
    """Hands out personal account numbers; the same party always gets the same number."""

    def account_for(self, kind: PartyKind, party_id: str, first: int, last: int) -> int:
        """The party's number, assigning the next free one in `first..last` on first use.

        Raises PersonalAccountRangeExhausted when the range is full.
        """
        ...

    def assigned(self, kind: PartyKind) -> Mapping[str, int]:
        """Every number handed out so far for `kind`, by Cin7 party id (for the DATEV master-data export)."""
        ...


class InMemoryPersonalAccountRegistry:
    """A registry kept in a dict: for tests, dry runs and `mapping check` previews."""

    def __init__(self, initial: Mapping[tuple[PartyKind, str], int] | None = None) -> None:
        self._numbers: dict[tuple[PartyKind, str], int] = dict(initial or {})

    def account_for(self, kind: PartyKind, party_id: str, first: int, last: int) -> int:
        key = (kind, party_id)
        if key in self._numbers:
            return self._numbers[key]
        taken = set(self._numbers.values())
        in_range = [number for number in taken if first <= number <= last]
        candidate = max(in_range) + 1 if in_range else first
        while candidate in taken:  # a number assigned outside this range's bookkeeping is never reused
            candidate += 1
        if candidate > last:
            raise PersonalAccountRangeExhausted(f"no free {kind} account left in {first}–{last}")
        self._numbers[key] = candidate
        return candidate

    def assigned(self, kind: PartyKind) -> Mapping[str, int]:
        return {party: number for (party_kind, party), number in self._numbers.items() if party_kind == kind}
