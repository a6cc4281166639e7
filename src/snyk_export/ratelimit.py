"""The general per-credential request limit (§13.2), in memory or shared.

A sliding log: each credential keeps the times of its requests inside the
window. One process serves one embedded deployment, so memory is the right
place; replicas of a production deployment share a counter in PostgreSQL.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from snyk_export.errors import Throttled


class SlidingWindowLimiter:
    """At most ``limit`` requests per ``window_seconds`` for each key."""

    def __init__(
        self,
        limit: int | None,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self.clock = clock
        self._log: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> None:
        """Count a request for ``key``, or raise 429 if the window is full."""
        if self.limit is None:
            return
        now = self.clock()
        with self._lock:
            log = self._log.setdefault(key, deque())
            while log and log[0] <= now - self.window_seconds:
                log.popleft()
            if len(log) >= self.limit:
                oldest = log[0] if log else now  # a limit of 0 admits nothing
                wait = oldest + self.window_seconds - now
                raise Throttled(
                    "too many requests for this token",
                    retry_after_seconds=math.ceil(wait),
                )
            log.append(now)


class RequestLimiter(Protocol):
    """Counts API requests per credential; raises 429 once over the limit."""

    def hit(self, key: str) -> None: ...


class RequestCounter(Protocol):
    """Where a shared limiter keeps its counts (the PostgreSQL backend)."""

    def count_request(
        self, key: str, window_seconds: int
    ) -> tuple[int, int, int, float]: ...
    def uncount_request(self, key: str, bucket: int) -> None: ...
    def forget_requests_before(self, bucket: int) -> None: ...


class SharedWindowLimiter:
    """The same limit across every replica, counted in the database.

    Requests are counted in fixed windows, and the limit applies to a sliding
    estimate: the current window's count plus the previous window's, weighted
    by how much of it the sliding window still covers. A refused request is
    taken back, so, as with the in-memory limiter, refusals cost nothing.
    """

    CLEANUP_EVERY = 1000

    def __init__(
        self, counter: RequestCounter, limit: int | None, window_seconds: int
    ) -> None:
        self.counter = counter
        self.limit = limit
        self.window_seconds = window_seconds
        self._hits = 0

    def hit(self, key: str) -> None:
        if self.limit is None:
            return
        window = self.window_seconds
        bucket, hits, previous, elapsed = self.counter.count_request(key, window)
        self._hits += 1
        if self._hits % self.CLEANUP_EVERY == 0:
            self.counter.forget_requests_before(bucket - 1)
        overlap = max(0.0, 1.0 - elapsed / window)
        if hits + previous * overlap <= self.limit:
            return
        self.counter.uncount_request(key, bucket)
        if hits > self.limit or previous == 0:
            wait = window - elapsed  # full until this window ends
        else:
            # The previous window's weight falls until the estimate fits again.
            room = max(0.0, self.limit - hits + 1)
            wait = max(0.0, (1.0 - room / previous) * window - elapsed)
        raise Throttled(
            "too many requests for this token",
            retry_after_seconds=max(1, math.ceil(wait)),
        )
