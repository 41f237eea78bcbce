"""Waiting for DATEV jobs without pestering DATEV: DATEV calls thirty status reads per upload inefficient.

Reads are spaced exponentially (the first after the `Retry-After` DATEV gave, then doubling, capped), with a
little jitter so many jobs do not poll in step. A job that takes five minutes is seen finished after about
six reads. A job still pending when the run's patience ends is left for the job sensor, not waited for.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class PollSchedule:
    first_delay: float = 5.0
    factor: float = 2.0
    max_delay: float = 300.0
    max_wait: float = 600.0  # then leave the job pending for a later poll
    jitter: float = 0.1
    max_reads: int | None = None  # the job sensor reads once per tick and never waits

    def delay(self, read_number: int, retry_after: float | None, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait before read `read_number` (1-based); the server's Retry-After wins for the first."""
        if read_number == 1 and retry_after is not None:
            return max(0.0, retry_after)
        base = min(self.max_delay, self.first_delay * self.factor ** (read_number - 1))
        return base * (1 + self.jitter * (2 * rng() - 1))


DEFAULT_SCHEDULE = PollSchedule()


@dataclass(frozen=True)
class PollOutcome(Generic[T]):
    last: T | None
    finished: bool
    reads: int
    waited: float


def wait_for_job(
    read: Callable[[], T],
    is_finished: Callable[[T], bool],
    *,
    schedule: PollSchedule = DEFAULT_SCHEDULE,
    retry_after: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: Callable[[], float] = random.random,
) -> PollOutcome[T]:
    waited = 0.0
    reads = 0
    last: T | None = None
    while True:
        if schedule.max_reads is not None and reads >= schedule.max_reads:
            return PollOutcome(last, False, reads, waited)
        delay = schedule.delay(reads + 1, retry_after, rng)
        if waited + delay > schedule.max_wait:
            return PollOutcome(last, False, reads, waited)
        sleep(delay)
        waited += delay
        last = read()
        reads += 1
        if is_finished(last):
            return PollOutcome(last, True, reads, waited)
