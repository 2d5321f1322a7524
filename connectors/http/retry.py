"""How long to wait before the next attempt: exponential backoff with full jitter, or the server's word.

Full jitter (AWS architecture blog, "Exponential Backoff And Jitter") spreads the retries of many clients
hit by the same outage. When the server says ``Retry-After`` (seconds or an HTTP-date) it knows better than
any formula, so that delay wins, capped at ``max_backoff_seconds`` so a misconfigured proxy cannot park a
sync for an hour.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from .settings import RetryConfig

LONGEST_RETRY_AFTER_S = 86_400.0
"""The longest wait a ``Retry-After`` is read as: a day. ``99999999999999999999`` is finite, and a push that held
it as a ``timedelta`` crashed (OverflowError) out of the drain."""


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header value, at most :data:`LONGEST_RETRY_AFTER_S`;
    ``None`` if absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:  # "inf", "nan", "1e400" are no delay a scheduler can hold (timedelta overflows): unreadable
        return min(max(0.0, seconds), LONGEST_RETRY_AFTER_S) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP-dates are GMT by definition
        return None
    return min(max(0.0, when.timestamp() - now), LONGEST_RETRY_AFTER_S)


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    config: RetryConfig
    random: Callable[[], float] = random.random

    def delay(self, attempt: int, headers: Mapping[str, str] | None = None, *, now: float = 0.0) -> float:
        """Delay after failed attempt number ``attempt`` (1-based)."""
        cap = self.config.max_backoff_seconds
        retry_after = parse_retry_after((headers or {}).get("Retry-After"), now=now)
        if retry_after is not None:
            return min(retry_after, cap)
        ceiling = min(cap, self.config.backoff_seconds * 2 ** (attempt - 1))
        return ceiling * self.random() if self.config.jitter else ceiling


__all__ = ["BackoffPolicy", "parse_retry_after"]
