"""A token bucket per connector, so that Tongban never floods a department system.

Department systems are small servers shared with front-desk staff; many answer a burst with HTTP 429 or
worse, slow down for everyone. The bucket spaces requests at ``requests_per_second`` on average and allows a
short ``burst`` (default: one second's worth). ``clock`` and ``sleep`` are injectable so tests run instantly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """Blocks in :meth:`acquire` until a request may go out."""

    def __init__(
        self,
        rate: float,
        burst: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = float(burst if burst is not None else max(1, int(rate)))
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping if the bucket is empty. Returns the seconds waited."""
        with self._lock:
            self._refill()
            wait = 0.0
            if self._tokens < 1:
                wait = (1 - self._tokens) / self.rate
                self._sleep(wait)
                self._refill()
                self._tokens = max(self._tokens, 1.0)  # an injected sleep may not move the clock
            self._tokens -= 1
            return wait

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._last)  # a wall clock stepped backwards must not drain the bucket
        self._last = now
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)


__all__ = ["TokenBucket"]
