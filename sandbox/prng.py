"""Seeded, stateless randomness: every generated value is a pure function of (seed, index, salt).

Stateless hashing is what lets a server answer "record 734,211" without generating the 734,210 before it.
"""

from __future__ import annotations

import random
from typing import Sequence, TypeVar

T = TypeVar("T")

__all__ = ["mix", "unit", "record_rng", "between", "pick"]

_MASK = (1 << 64) - 1


def _splitmix(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def mix(seed: int, index: int, salt: int = 0) -> int:
    """A 64-bit hash of (seed, index, salt); cheap enough to call a million times per second."""
    return _splitmix(_splitmix((seed * 0x100000001B3 + salt) & _MASK) ^ (index & _MASK))


def unit(seed: int, index: int, salt: int = 0) -> float:
    """A uniform float in [0, 1) from (seed, index, salt)."""
    return (mix(seed, index, salt) >> 11) * (1.0 / (1 << 53))


def record_rng(seed: int, index: int, salt: int) -> random.Random:
    """A ``random.Random`` private to one record, for the many small choices a record needs."""
    return random.Random(mix(seed, index, salt))


def between(rng: random.Random, a: int, b: int) -> int:
    """``rng.randint(a, b)`` at a fraction of the cost (one float draw; bias is irrelevant here)."""
    return a + int(rng.random() * (b - a + 1))


def pick(rng: random.Random, seq: Sequence[T]) -> T:
    """``rng.choice(seq)`` at a fraction of the cost."""
    return seq[int(rng.random() * len(seq))]


FateTable = tuple[tuple[float, "str | None"], ...]
"""Cumulative thresholds in ascending order: ``((0.12, None), (0.74, "issued"), ...)``."""


def draw_fate(seed: int, index: int, salt: int, table: FateTable, default: str | None = "issued") -> str | None:
    """How base record ``index`` ends (None: still in progress): the first outcome whose threshold the
    record's seeded unit value falls under. A cheap hash, so tests can count outcomes without a record."""
    u = unit(seed, index, salt)
    for limit, outcome in table:
        if u < limit:
            return outcome
    return default
