"""Per-client rate limits: a token bucket answering how long to wait, in memory (one gateway process) or shared.

A client's quota is one quota, however many gateway processes serve it. :class:`RateLimiter` keeps the buckets
in this process — right for the embedded demo and a single ``tongban serve``; behind a load balancer with N
processes each would admit the full rate, N × in total. ``rate_limit_store: redis://…`` in the gateway file
shares the buckets through Redis (:mod:`.shared_ratelimit`, which also says what happens when Redis is down).

    limiter = make_rate_limiter(settings)          # memory or Redis, from the gateway file (.shared_ratelimit)
    wait = limiter.allow(client_id, rate)          # 0.0: admitted; else seconds until one would be (Retry-After)
"""

from __future__ import annotations

import math
import time
from typing import Protocol, runtime_checkable

__all__ = ["RateLimit", "RateLimiter", "effective_rate", "retry_after_header"]


@runtime_checkable
class RateLimit(Protocol):
    """What the API asks of a limiter."""

    local: bool
    """True when :meth:`allow` never leaves the process (the API then calls it on the event loop)."""

    def allow(self, client_id: str, rate: float | None = None) -> float:
        """0.0 when a request of ``client_id`` is admitted now, else the seconds until one would be."""

    def close(self) -> None:
        """Release connections (no-op in memory)."""


def effective_rate(rate: float | None, default: float) -> float:
    """The requests/s a client is allowed: its own rate, else the gateway's default. A rate that is not positive
    (a row written before ``clients add`` refused one) is no rate: the default applies — never "no limit"."""
    return rate if rate is not None and rate > 0 else default


def retry_after_header(wait: float) -> str:
    """``Retry-After`` in whole seconds, at least 1."""
    return str(max(1, math.ceil(wait)))


class RateLimiter:
    """``allow(client, rate)`` → 0.0 when admitted, else the seconds until a request would be (Retry-After).

    A bucket holds ``rate × burst_seconds`` tokens (at least 1) and refills at ``rate`` per second."""

    local = True

    def __init__(self, default_rate: float = 50.0, burst_seconds: float = 1.0) -> None:
        self.default_rate = default_rate
        self.burst_seconds = burst_seconds
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, client_id: str, rate: float | None = None) -> float:
        r = effective_rate(rate, self.default_rate)
        capacity = max(1.0, r * self.burst_seconds)
        now = time.monotonic()
        tokens, last = self._buckets.get(client_id, (capacity, now))
        tokens = min(capacity, tokens + (now - last) * r)
        if tokens >= 1.0:
            self._buckets[client_id] = (tokens - 1.0, now)
            return 0.0
        self._buckets[client_id] = (tokens, now)
        return max(0.001, (1.0 - tokens) / r)

    def close(self) -> None:
        pass

    retry_after_header = staticmethod(retry_after_header)
