"""The bounds of the canonical model's numbers, times and free text: what a real value can be.

A source's typo or filler value (a promise of 9999 or 10^20 days, ``0001-01-01`` for "no time", a step number
beyond any column) must be caught by validation, where it is named — dead-lettered when the case depends on it
(``range.le`` on a step number, ``datetime.implausible``), else left out and flagged (``range.implausible``,
``case.implausible_time``) — not later in the ledger, where it would fail the whole page (orjson
writes integers of at most 64 bits; year 1 at +08:00 has no UTC).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

MAX_DAYS = 3650
"""The longest promise or stage limit, in days: ten years (legal time limits are weeks or months)."""

MAX_COUNT = 1_000_000
"""The most copies or pages of one material."""

MAX_SEQ = 2**31 - 1
"""The highest step number: what a source's integer column holds."""

TIME_FLOOR = "1900"
"""Times sort as their ISO text at +08:00: one below this (before 1900) is not a real time of a case."""

TEXT_MAX = 100_000
"""The longest optional free text kept whole; a longer one is kept truncated and flagged (``text.truncated``)."""

FreeText = Annotated[str, StringConstraints(max_length=TEXT_MAX)]
"""Optional free text. The constraint also makes pydantic-core read it as UTF-8, so lone surrogates (bad decoding
upstream, which no encoding can write) surface as an error the case repairs (U+FFFD, ``text.replaced``)."""

__all__ = ["MAX_COUNT", "MAX_DAYS", "MAX_SEQ", "TEXT_MAX", "TIME_FLOOR", "FreeText"]
