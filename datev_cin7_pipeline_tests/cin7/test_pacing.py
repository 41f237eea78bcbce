"""The pacer keeps every rolling window at or under the limit, also with several threads, and a server's
"slow down" holds back every caller."""

from __future__ import annotations

import threading
import time

import pytest

from datev_cin7_pipeline.cin7.pacing import RollingWindowPacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_the_call_after_the_limit_waits_until_the_oldest_leaves_the_window() -> None:
    clock = FakeClock()
    pacer = RollingWindowPacer(3, 60, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        assert pacer.acquire() == 0
        clock.now += 5  # calls at t=1000, 1005, 1010
    assert pacer.headroom() == 0
    assert pacer.acquire() == pytest.approx(45)  # until t=1060, when the first call leaves
    assert clock.now == pytest.approx(1060)
    assert pacer.acquire() == pytest.approx(5)  # the second leaves at 1065


def test_a_pause_holds_back_the_next_caller() -> None:
    clock = FakeClock()
    pacer = RollingWindowPacer(60, 60, clock=clock, sleep=clock.sleep)
    pacer.acquire()
    pacer.pause(12.5)
    assert pacer.acquire() == pytest.approx(12.5)
    pacer.pause(3)
    pacer.pause(1)  # a shorter pause never shortens a longer one
    assert pacer.acquire() == pytest.approx(3)


def test_threads_sharing_a_pacer_never_exceed_the_limit_in_any_window() -> None:
    pacer = RollingWindowPacer(5, 0.4)
    stamps: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            pacer.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stamps.sort()
    assert len(stamps) == 20
    busiest = max(sum(1 for t in stamps if start <= t < start + 0.4 - 1e-3) for start in stamps)
    assert busiest <= 5
    assert stamps[-1] - stamps[0] >= 3 * 0.4 - 0.05  # 20 calls at 5 per 0.4 s need at least 3 windows


def test_a_pacer_needs_a_positive_limit() -> None:
    with pytest.raises(ValueError, match="at least one call"):
        RollingWindowPacer(0)
