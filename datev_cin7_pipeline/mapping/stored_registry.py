"""Debtor and creditor numbers kept in the state database, so a number is never handed out twice.

A party keeps its number for good (DATEV's open items hang on it); a new party gets the next free number of
its range. Assignments for one connection are serialised by locking its row (SQLite's write transaction
does the same), so two processes never race for the next number; the unique constraint stays as the last
word, and a loser of that race simply tries again.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from datev_cin7_pipeline.mapping.registry import PartyKind, PersonalAccountRangeExhausted
from datev_cin7_pipeline.store.audit import record_event
from datev_cin7_pipeline.store.database import StateStore
from datev_cin7_pipeline.store.models import Connection, PersonalAccount, utcnow

MAX_ATTEMPTS = 20


class StoredPersonalAccountRegistry:
    def __init__(self, store: StateStore, connection_id: int, *, actor: str = "pipeline") -> None:
        self.store = store
        self.connection_id = connection_id
        self.actor = actor
        self._known: dict[tuple[str, str], int] = {}

    def account_for(self, kind: PartyKind, party_id: str, first: int, last: int) -> int:
        if (kind, party_id) in self._known:
            return self._known[(kind, party_id)]
        for _ in range(MAX_ATTEMPTS):
            try:
                number = self._assign(kind, party_id, first, last)
            except IntegrityError:
                continue  # another process took that number a moment ago: try the next
            self._known[(kind, party_id)] = number
            return number
        raise PersonalAccountRangeExhausted(
            f"Could not assign a {kind} number for {party_id} after {MAX_ATTEMPTS} tries."
        )

    def _assign(self, kind: PartyKind, party_id: str, first: int, last: int) -> int:
        with self.store.session() as session:
            # Held until commit: the next process reads the maximum only after this number is visible.
            session.execute(select(Connection.id).where(Connection.id == self.connection_id).with_for_update())
            existing = session.scalar(
                select(PersonalAccount.account_number).where(
                    PersonalAccount.connection_id == self.connection_id,
                    PersonalAccount.party_kind == kind,
                    PersonalAccount.cin7_party_id == party_id,
                )
            )
            if existing is not None:
                return int(existing)
            highest = session.scalar(
                select(func.max(PersonalAccount.account_number)).where(
                    PersonalAccount.connection_id == self.connection_id,
                    PersonalAccount.account_number.between(first, last),
                )
            )
            number = int(highest) + 1 if highest is not None else first
            if number > last:
                raise PersonalAccountRangeExhausted(
                    f"The {kind} range {first}–{last} is full; widen it in the mapping file."
                )
            session.add(
                PersonalAccount(
                    connection_id=self.connection_id,
                    party_kind=kind,
                    cin7_party_id=party_id,
                    account_number=number,
                    assigned_at=utcnow(),
                )
            )
            session.flush()
            record_event(
                session,
                action="personal_account.assigned",
                subject_type=kind,
                subject_id=party_id,
                actor=self.actor,
                connection_id=self.connection_id,
                detail={"account": number},
                refs=[str(number)],
            )
            return number

    def assigned(self, kind: PartyKind) -> Mapping[str, int]:
        with self.store.session() as session:
            rows = session.execute(
                select(PersonalAccount.cin7_party_id, PersonalAccount.account_number).where(
                    PersonalAccount.connection_id == self.connection_id, PersonalAccount.party_kind == kind
                )
            )
            return {str(party): int(number) for party, number in rows}
