"""Debtor and creditor numbers from the state database: one number per party for good, never two parties
on one number, also when two processes assign at once; a full range is a clear error. Both backends."""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest

from datev_cin7_pipeline.mapping.registry import PersonalAccountRangeExhausted
from datev_cin7_pipeline.mapping.stored_registry import StoredPersonalAccountRegistry
from datev_cin7_pipeline.store import StateStore
from datev_cin7_pipeline.store.audit import history
from datev_cin7_pipeline.store.connections import ensure_connection


def _registry(store: StateStore) -> StoredPersonalAccountRegistry:
    with store.session() as session:
        connection_id = ensure_connection(session, "acme", actor="test")
    return StoredPersonalAccountRegistry(store, connection_id)


def test_a_party_keeps_its_number_and_ranges_are_separate(store: StateStore) -> None:
    registry = _registry(store)
    assert registry.account_for("debtor", "cust-a", 10001, 69999) == 10001
    assert registry.account_for("debtor", "cust-b", 10001, 69999) == 10002
    assert registry.account_for("creditor", "sup-a", 70001, 99999) == 70001
    fresh = _registry(store)  # another run, another process: same answers from the database
    assert fresh.account_for("debtor", "cust-a", 10001, 69999) == 10001
    assert fresh.assigned("debtor") == {"cust-a": 10001, "cust-b": 10002}
    with store.session() as session:
        assert [e.action for e in history(session, "cust-b")] == ["personal_account.assigned"]


def test_a_full_range_is_a_clear_error(store: StateStore) -> None:
    registry = _registry(store)
    registry.account_for("debtor", "one", 10001, 10002)
    registry.account_for("debtor", "two", 10001, 10002)
    with pytest.raises(PersonalAccountRangeExhausted, match="range 10001–10002 is full"):
        registry.account_for("debtor", "three", 10001, 10002)


def _assign(url: str, offset: int, barrier: Any, results: Any) -> None:
    store = StateStore(url)
    with store.session() as session:
        connection_id = ensure_connection(session, "acme", actor="test")
    registry = StoredPersonalAccountRegistry(store, connection_id)
    barrier.wait(60)
    numbers = {
        f"party-{i}": registry.account_for("debtor", f"party-{i}", 10001, 69999) for i in range(offset, offset + 30)
    }
    results.put(numbers)
    store.dispose()


def test_two_processes_never_share_a_number(store: StateStore, database_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results: Any = context.Queue()
    workers = [context.Process(target=_assign, args=(database_url, offset, barrier, results)) for offset in (0, 10)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    first, second = results.get(timeout=5), results.get(timeout=5)
    for party in set(first) & set(second):
        assert first[party] == second[party]  # the same party got the same number in both processes
    everything = {**first, **second}
    assert len(everything) == 40
    assert len(set(everything.values())) == 40  # no number shared by two parties
    assert _registry(store).assigned("debtor") == everything
