"""Fault injection: the ways real systems misbehave, switched on per system through ``/_sandbox/faults``.

Faults apply to the "foreign" API only; the admin API under ``/_sandbox/`` always answers, so a test can switch
a fault off again. Which records are malformed is a pure function of (seed, index), so a test can ask which
ones and why.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from .prng import mix, unit

__all__ = ["Faults", "FaultInjector", "parse_faults", "malformed_kind", "MALFORMED_KINDS"]

MALFORMED_KINDS = ("bad_checksum", "impossible_date", "alt_date_format", "unknown_code")
_SALT_MALFORMED = 0x6D616C66


@dataclass
class Faults:
    latency_ms: int = 0
    error_rate: float = 0.0
    rate_limit: int = 0  # requests per second; 0 = unlimited
    outage: bool | str = False  # True: 503 on everything; "refuse": the API port stops listening
    mutate_per_page: int = 0
    malformed_rate: float = 0.0
    same_time_burst: int = 0  # the next n changes share one change time

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_faults(obj: Any) -> Faults:
    """Validate a ``/_sandbox/faults`` body; ``{}`` clears every fault. Raises ``ValueError`` on nonsense."""
    if not isinstance(obj, dict):
        raise ValueError("faults must be a JSON object")
    unknown = set(obj) - set(Faults.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown fault(s): {sorted(unknown)}")
    f = Faults()
    for key in ("latency_ms", "rate_limit", "mutate_per_page", "same_time_burst"):
        if key in obj:
            v = obj[key]
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{key} must be a non-negative integer")
            setattr(f, key, v)
    for key in ("error_rate", "malformed_rate"):
        if key in obj:
            v = obj[key]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
                raise ValueError(f"{key} must be a number between 0 and 1")
            setattr(f, key, float(v))
    if "outage" in obj:
        v = obj["outage"]
        if v not in (True, False, "refuse"):
            raise ValueError('outage must be true, false or "refuse"')
        f.outage = v
    return f


def malformed_kind(seed: int, index: int, rate: float) -> str | None:
    """The kind of breakage of base record ``index`` at this rate, or None; the set grows with the rate."""
    if rate <= 0 or unit(seed, index, _SALT_MALFORMED) >= rate:
        return None
    return MALFORMED_KINDS[mix(seed, index, _SALT_MALFORMED + 1) % len(MALFORMED_KINDS)]


class FaultInjector:
    """Decides, per API request, whether to delay it, refuse it with 429 or fail it with 503."""

    def __init__(self, seed: int) -> None:
        self.faults = Faults()
        self._rng = random.Random(mix(seed, 0, 0x6661756C))
        self._recent: deque[float] = deque()
        self._lock = threading.Lock()

    def set(self, faults: Faults) -> None:
        with self._lock:
            self.faults = faults
            self._recent.clear()

    def before_request(self) -> tuple[int, dict[str, str], str] | None:
        """None to go on, or (status, headers, message) to answer instead."""
        f = self.faults
        if f.outage is True:
            return 503, {}, "service unavailable (outage)"
        if f.latency_ms:
            time.sleep(f.latency_ms / 1000)
        with self._lock:
            if f.rate_limit:
                now = time.monotonic()
                while self._recent and now - self._recent[0] >= 1.0:
                    self._recent.popleft()
                if len(self._recent) >= f.rate_limit:
                    return 429, {"Retry-After": "1"}, "too many requests"
                self._recent.append(now)
            if f.error_rate and self._rng.random() < f.error_rate:
                return 503, {"Retry-After": "1"}, "service unavailable"
        return None
