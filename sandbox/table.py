"""A lazily generated, ordered table: a million base records that exist only as a formula, plus an overlay.

Base record ``i`` is generated on demand and changed at ``base_time(i)``, which grows with ``i``. Changes made
while the server runs (mutations, deletions, writes) go to an overlay: a dict of full records and a list of
``(time, id)`` kept sorted, with times from an ``OverlayClock`` (after every base time). The ordered view is
"base records in the index range, minus the overridden indexes, then overlay records" — so page 10,000 is found
with arithmetic on the index and a bisect over the sorted overridden indexes, never by scanning.
"""

from __future__ import annotations

import random
import threading
from bisect import bisect_left, bisect_right, insort
from dataclasses import dataclass
from typing import Any, Callable, Iterator

__all__ = ["LazyTable", "Entry", "Row", "Position"]

Record = dict[str, Any]
# Where a row sits in the ordered view: ("b", index) for a base record, ("o", time, id) for an overlay record.
Position = tuple[Any, ...]


@dataclass
class Entry:
    time: int
    record: Record
    index: int | None  # base index this record replaces, None if it exists only in the overlay
    written: bool = False  # last changed by a client write (then it is the client's data, not generated)


@dataclass(frozen=True)
class Row:
    time: int
    record: Record
    index: int | None
    written: bool
    pos: Position


class LazyTable:
    """Ordered records by (change time, id); not thread-safe by itself — hold ``lock`` around calls."""

    def __init__(
        self,
        n_base: int,
        base_time: Callable[[int], int],
        first_at_or_after: Callable[[int], int],
        make_base: Callable[[int], Record],
    ) -> None:
        self.n = n_base
        self._base_time = base_time
        self._first_at = first_at_or_after
        self._make = make_base
        self._entries: dict[str, Entry] = {}
        self._order: list[tuple[int, str]] = []
        self._overridden: list[int] = []
        self._index_ids: dict[int, str] = {}
        self._extra_ids: list[str] = []
        self.lock = threading.RLock()

    # -- reading -------------------------------------------------------------------------------------------
    def _lo(self, since: int | None) -> int:
        return 0 if since is None else min(self.n, self._first_at(since))

    def _overlay_start(self, since: int | None) -> int:
        return 0 if since is None else bisect_left(self._order, (since, ""))

    def _free_base(self, lo: int) -> int:
        ov = self._overridden
        return (self.n - lo) - (len(ov) - bisect_left(ov, lo))

    def count(self, since: int | None = None) -> int:
        """How many records changed at or after ``since``."""
        return self._free_base(self._lo(since)) + len(self._order) - self._overlay_start(since)

    def _kth_free(self, lo: int, k: int) -> int:
        """The ``k``-th (0-based) base index >= ``lo`` that the overlay has not replaced."""
        ov = self._overridden
        a = bisect_left(ov, lo)
        left, right = 0, len(ov) - a
        while left < right:  # count overridden indexes with fewer than k+1 free indexes before them
            mid = (left + right) // 2
            if ov[a + mid] - lo - mid <= k:
                left = mid + 1
            else:
                right = mid
        return lo + k + left

    def _base_rows(self, start: int, limit: int, out: list[Row]) -> None:
        ov, n = self._overridden, self.n
        j = bisect_left(ov, start)
        i = start
        while len(out) < limit and i < n:
            if j < len(ov) and ov[j] == i:
                j += 1
            else:
                out.append(Row(self._base_time(i), self._make(i), i, False, ("b", i)))
            i += 1

    def _overlay_rows(self, start: int, limit: int, out: list[Row]) -> None:
        for t, rid in self._order[start: start + max(0, limit - len(out))]:
            e = self._entries[rid]
            out.append(Row(t, e.record, e.index, e.written, ("o", t, rid)))

    def page(self, since: int | None, offset: int, limit: int) -> list[Row]:
        """Rows ``offset .. offset+limit`` of the ordered view of records changed at or after ``since``."""
        lo = self._lo(since)
        free = self._free_base(lo)
        out: list[Row] = []
        o_start = self._overlay_start(since)
        if offset < free:
            self._base_rows(self._kth_free(lo, offset), limit, out)
            self._overlay_rows(o_start, limit, out)
        else:
            self._overlay_rows(o_start + offset - free, limit, out)
        return out

    def after(self, since: int | None, pos: Position | None, limit: int) -> list[Row]:
        """Keyset paging: up to ``limit`` rows strictly after ``pos`` (from the start when ``pos`` is None)."""
        if pos is None:
            return self.page(since, 0, limit)
        out: list[Row] = []
        o_start = self._overlay_start(since)
        if pos[0] == "b":
            self._base_rows(max(int(pos[1]) + 1, self._lo(since)), limit, out)
        else:
            o_start = max(o_start, bisect_right(self._order, (int(pos[1]), str(pos[2]))))
        self._overlay_rows(o_start, limit, out)
        return out

    def iterate(self, since: int | None = None, chunk: int = 1000) -> Iterator[Row]:
        """Every row in order, taking the lock one chunk at a time (a long export does not block writers)."""
        pos: Position | None = None
        while True:
            with self.lock:
                rows = self.after(since, pos, chunk)
            yield from rows
            if len(rows) < chunk:
                return
            pos = rows[-1].pos

    def current(self, index: int) -> Entry:
        """The current state of base record ``index`` (overlay if changed, else freshly generated)."""
        rid = self._index_ids.get(index)
        if rid is not None:
            return self._entries[rid]
        return Entry(self._base_time(index), self._make(index), index)

    def get(self, rid: str) -> Entry | None:
        """An overlay entry by id (base records are looked up by index with ``current``)."""
        return self._entries.get(rid)

    def overlay(self) -> list[Entry]:
        return list(self._entries.values())

    @property
    def extra_count(self) -> int:
        return len(self._extra_ids)

    @property
    def overridden(self) -> list[int]:
        return self._overridden

    # -- writing -------------------------------------------------------------------------------------------
    def put(self, rid: str, t: int, record: Record, index: int | None = None, written: bool = False) -> None:
        """Store ``record`` as the newest version of ``rid``, changed at ``t`` (from the overlay clock)."""
        old = self._entries.get(rid)
        if old is not None:
            k = bisect_left(self._order, (old.time, rid))
            if k < len(self._order) and self._order[k] == (old.time, rid):
                del self._order[k]
            index = old.index
        elif index is not None:
            insort(self._overridden, index)
            self._index_ids[index] = rid
        else:
            self._extra_ids.append(rid)
        self._entries[rid] = Entry(t, record, index, written)
        if not self._order or self._order[-1] < (t, rid):
            self._order.append((t, rid))
        else:
            insort(self._order, (t, rid))

    def pick(self, rng: random.Random, n: int) -> list[tuple[int | None, str | None]]:
        """``n`` random records from the whole table (base index or overlay-only id), for background churn."""
        total = self.n + len(self._extra_ids)
        out: list[tuple[int | None, str | None]] = []
        for _ in range(min(n, total)):
            r = rng.randrange(total)
            out.append((r, None) if r < self.n else (None, self._extra_ids[r - self.n]))
        return out
