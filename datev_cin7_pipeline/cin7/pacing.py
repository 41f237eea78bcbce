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
