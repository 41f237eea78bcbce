"""One Cin7 budget per connection across processes: the shared window in the state database lets no more
than N calls out in any window however many processes call, and a throttle holds them all back. Both
database backends."""

from __future__ import annotations

import multiprocessing
import time
from typing import Any

from datev_cin7_pipeline.cin7.pacing import SharedWindowPacer
from datev_cin7_pipeline.store import StateStore
from datev_cin7_pipeline.store.connections import ensure_connection


def _connection(store: StateStore, name: str = "acme") -> int:
    with store.session() as session:
        return ensure_connection(session, name, actor="test")


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_the_call_after_a_full_window_waits_for_its_oldest_call(store: StateStore) -> None:
    fake = FakeTime()
    pacer = SharedWindowPacer(store, _connection(store), 3, 10.0, clock=fake.clock, sleep=fake.sleep)
    other = SharedWindowPacer(store, _connection(store), 3, 10.0, clock=fake.clock, sleep=fake.sleep)

    waits = [pacer.acquire(), other.acquire()]
    fake.now += 4
    waits.append(pacer.acquire())
    assert pacer.headroom() == 0
    waits.append(other.acquire())  # the fourth call in 10 s: waits until the first one is 10 s old

    assert waits == [0.0, 0.0, 0.0, 6.0]
    assert fake.slept == [6.0]
    assert other.headroom() == 1  # the first call has left the window; calls two to four are in it


def test_a_throttle_holds_every_process_back(store: StateStore) -> None:
    fake = FakeTime()
    pacer = SharedWindowPacer(store, _connection(store), 60, 61.0, clock=fake.clock, sleep=fake.sleep)
    other = SharedWindowPacer(store, _connection(store), 60, 61.0, clock=fake.clock, sleep=fake.sleep)

    pacer.pause(30)
    other.pause(5)  # a shorter pause never shortens a longer one

    assert other.acquire() == 30.0


def test_connections_and_apis_have_their_own_windows(store: StateStore) -> None:
    fake = FakeTime()
    first = SharedWindowPacer(store, _connection(store, "one"), 1, 60.0, clock=fake.clock, sleep=fake.sleep)
    second = SharedWindowPacer(store, _connection(store, "two"), 1, 60.0, clock=fake.clock, sleep=fake.sleep)

    assert [first.acquire(), second.acquire()] == [0.0, 0.0]


def _take(url: str, barrier: Any, results: Any) -> None:
    store = StateStore(url)
    with store.session() as session:
        connection_id = ensure_connection(session, "acme", actor="test")
    pacer = SharedWindowPacer(store, connection_id, 5, 1.5)
    barrier.wait(60)
    stamps = []
    for _ in range(8):
        pacer.acquire()
        stamps.append(time.time())
    results.put(stamps)
    store.dispose()


def test_two_processes_never_exceed_the_window_together(store: StateStore, database_url: str) -> None:
    _connection(store)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results: Any = context.Queue()
    workers = [context.Process(target=_take, args=(database_url, barrier, results)) for _ in range(2)]
    for worker in workers:
        worker.start()
    stamps = sorted(results.get(timeout=120) + results.get(timeout=120))
    for worker in workers:
        worker.join(30)

    assert len(stamps) == 16
    # 16 calls at 5 per 1.5 s: no 1.5 s window holds more than 5 (a little slack for the stamp after the call).
    busiest = max(sum(1 for t in stamps if start <= t < start + 1.5 - 0.02) for start in stamps)
    assert busiest <= 5
    assert stamps[-1] - stamps[0] >= 3 * 1.5 - 0.1  # 16 calls need at least three full windows
