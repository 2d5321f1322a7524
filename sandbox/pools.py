"""Pre-built case stories and people, shared by many records of one seed: generation at page speed.

Building a case from scratch costs ~50 µs of Python; a 500-record page would take 25 ms. Instead, record ``i``
combines a story template (item, steps, durations, outcome — one of ``STORY_SLOTS`` per outcome, built on first
use) with a person from a pool of ``PEOPLE_SLOTS``, both picked by hashing (seed, i), and shifts the story's
times onto its own change time. Ids, case numbers, certificate numbers and times stay unique per record.
"""

from __future__ import annotations

import random
import threading
import zlib
from functools import lru_cache
from typing import Callable

from .clock import BASE_START
from .lifecycle import Story
from .people import Party, person
from .prng import record_rng

__all__ = ["STORY_SLOTS", "PEOPLE_SLOTS", "PEOPLE_AT", "StoryPool", "people"]

STORY_SLOTS = 512
PEOPLE_SLOTS = 4096
PEOPLE_AT = BASE_START + 365 * 86400


@lru_cache(maxsize=16)
def people(seed: int) -> tuple[Party, ...]:
    """The natural persons who apply for things under this seed."""
    return tuple(person(record_rng(seed, k, 0x9E0), PEOPLE_AT) for k in range(PEOPLE_SLOTS))


class StoryPool:
    """Story templates (last event at time 0) per (seed, outcome, slot), built lazily by ``build``."""

    def __init__(self, salt: int, build: Callable[[random.Random, str | None], Story]) -> None:
        self._salt = salt
        self._build = build
        self._cache: dict[tuple[int, str | None, int], Story] = {}
        self._lock = threading.Lock()

    def get(self, seed: int, outcome: str | None, slot: int) -> Story:
        key = (seed, outcome, slot)
        story = self._cache.get(key)
        if story is None:
            rng = record_rng(seed, slot, self._salt + zlib.crc32((outcome or "").encode()))
            story = self._build(rng, outcome)
            with self._lock:
                if len(self._cache) > 16 * 8 * STORY_SLOTS:  # many seeds in one process: start afresh
                    self._cache.clear()
                self._cache[key] = story
        return story
