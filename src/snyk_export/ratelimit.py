"""The general per-credential request limit (§13.2), kept in memory.

A sliding log: each credential keeps the times of its requests inside the
window. One process serves one embedded deployment, so memory is the right
place; replicas of a production deployment need a shared counter instead.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

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
