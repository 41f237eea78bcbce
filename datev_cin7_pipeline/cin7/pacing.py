"""Client-side pacing: never more than N calls in any rolling window, across all threads of a client.

Cin7 allows 60 calls per minute per API application and answers the 61st with 429 or 503. Pacing ahead of
the limit is cheaper than being throttled, and after a throttle every thread waits, not just the one that
was told to.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from typing import Protocol

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from datev_cin7_pipeline.store.database import StateStore
from datev_cin7_pipeline.store.models import ApiCall, ApiPause, Connection

# A second more than Cin7's minute: our clock starts before the request leaves, Cin7's when it arrives.
CIN7_WINDOW_SECONDS = 61.0


class Pacer(Protocol):
    calls: int

    def acquire(self) -> float: ...
    def pause(self, seconds: float) -> None: ...
    def headroom(self) -> int: ...


class RollingWindowPacer:
    def __init__(
        self,
        calls: int,
        window_seconds: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if calls < 1:
            raise ValueError("the pacer needs at least one call per window")
        self.calls = calls
        self.window = window_seconds
        self._clock = clock
        self._sleep = sleep
        self._sent: collections.deque[float] = collections.deque()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Block until one more call fits in the window; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                while self._sent and self._sent[0] <= now - self.window:
                    self._sent.popleft()
                delay = max(
                    self._paused_until - now,
                    (self._sent[0] + self.window - now) if len(self._sent) >= self.calls else 0.0,
                )
                if delay <= 0:
                    self._sent.append(now)
                    return waited
            self._sleep(delay)
            waited += delay

    def pause(self, seconds: float) -> None:
        """Hold every caller back for `seconds` (the server said to slow down)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def headroom(self) -> int:
        """Calls that could go out right now without waiting."""
        with self._lock:
            now = self._clock()
            recent = sum(1 for sent in self._sent if sent > now - self.window)
            return max(0, self.calls - recent)


class SharedWindowPacer:
    """The same rolling window, kept in the state database, so every process of a connection (each Dagster
    run and step, the CLI) shares one Cin7 budget: the calls of the last window are rows, a throttle is a
    pause row, and taking a slot happens under the connection's row lock (SQLite: the write transaction).

    Wall-clock time, since the processes share no monotonic clock; calls older than the window are pruned.
    """

    def __init__(
        self,
        store: StateStore,
        connection_id: int,
        calls: int,
        window_seconds: float = 60.0,
        *,
        api: str = "cin7",
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if calls < 1:
            raise ValueError("the pacer needs at least one call per window")
        self.store = store
        self.connection_id = connection_id
        self.calls = calls
        self.window = window_seconds
        self.api = api
        self._clock = clock
        self._sleep = sleep

    def acquire(self) -> float:
        """Block until one more call fits in the shared window; returns the seconds waited."""
        waited = 0.0
        while True:
            delay = self._try_take()
            if delay <= 0:
                return waited
            self._sleep(delay)
            waited += delay

    def _try_take(self) -> float:
        with self.store.session() as session:
            self._lock(session)
            now = self._clock()
            session.execute(
                delete(ApiCall).where(
                    ApiCall.connection_id == self.connection_id,
                    ApiCall.api == self.api,
                    ApiCall.at <= now - self.window,
                )
            )
            recent = list(
                session.scalars(
                    select(ApiCall.at)
                    .where(ApiCall.connection_id == self.connection_id, ApiCall.api == self.api)
                    .order_by(ApiCall.at)
                    .limit(self.calls)
                )
            )
            paused = session.get(ApiPause, (self.connection_id, self.api))
            delay = max(
                (paused.until - now) if paused else 0.0,
                (recent[0] + self.window - now) if len(recent) >= self.calls else 0.0,
            )
            if delay <= 0:
                session.add(ApiCall(connection_id=self.connection_id, api=self.api, at=now))
            return delay

    def pause(self, seconds: float) -> None:
        """Hold every process back for `seconds` (the server said to slow down)."""
        with self.store.session() as session:
            self._lock(session)
            until = self._clock() + seconds
            paused = session.get(ApiPause, (self.connection_id, self.api))
            if paused is None:
                session.add(ApiPause(connection_id=self.connection_id, api=self.api, until=until))
            elif paused.until < until:
                paused.until = until

    def headroom(self) -> int:
        """Calls that could go out right now without waiting."""
        with self.store.session() as session:
            now = self._clock()
            recent = session.scalar(
                select(func.count())
                .select_from(ApiCall)
                .where(
                    ApiCall.connection_id == self.connection_id, ApiCall.api == self.api, ApiCall.at > now - self.window
                )
            )
            return max(0, self.calls - int(recent or 0))

    def _lock(self, session: Session) -> None:
        # PostgreSQL: one taker at a time per connection; SQLite serialises write transactions already.
        session.execute(select(Connection.id).where(Connection.id == self.connection_id).with_for_update())
