"""Per-client rate limits: a token bucket in memory (one gateway process), answering how long to wait."""

from __future__ import annotations

import math
import time

__all__ = ["RateLimiter"]


class RateLimiter:
    """``allow(client, rate)`` → 0.0 when admitted, else the seconds until a request would be (Retry-After)."""

    def __init__(self, default_rate: float = 50.0, burst_seconds: float = 1.0) -> None:
        self.default_rate = default_rate
        self.burst_seconds = burst_seconds
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, client_id: str, rate: float | None = None) -> float:
        r = self.default_rate if rate is None else rate
        if r <= 0:
            return 0.0
        capacity = max(1.0, r * self.burst_seconds)
        now = time.monotonic()
        tokens, last = self._buckets.get(client_id, (capacity, now))
        tokens = min(capacity, tokens + (now - last) * r)
        if tokens >= 1.0:
            self._buckets[client_id] = (tokens - 1.0, now)
            return 0.0
        self._buckets[client_id] = (tokens, now)
        return max(0.001, (1.0 - tokens) / r)

    @staticmethod
    def retry_after_header(wait: float) -> str:
        return str(max(1, math.ceil(wait)))
