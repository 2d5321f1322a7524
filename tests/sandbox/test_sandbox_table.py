"""The lazy ordered table: page-number and keyset paging over base + overlay agree with a brute-force model."""

from __future__ import annotations

import random
from typing import Any

from sandbox.table import LazyTable


def make(n: int) -> LazyTable:
    return LazyTable(n, lambda i: 10 * i, lambda t: max(0, -(-t // 10)), lambda i: {"id": f"b{i:08d}", "i": i})


def model(t: LazyTable, overlay: dict[str, tuple[int, int | None]], since: int | None) -> list[str]:
    """Expected ids in order: base records not overridden, then overlay by (time, id)."""
    overridden = {idx for _, idx in overlay.values() if idx is not None}
    base = [f"b{i:08d}" for i in range(t.n) if i not in overridden and (since is None or 10 * i >= since)]
    over = sorted((tm, rid) for rid, (tm, _) in overlay.items() if since is None or tm >= since)
    return base + [rid for _, rid in over]


def test_paging_matches_model_under_random_changes() -> None:
    rng = random.Random(1)
    t = make(200)
    overlay: dict[str, tuple[int, int | None]] = {}
    clock = 10_000
    for step in range(300):
        clock += rng.choice((0, 1, 1, 2))  # ties on purpose
        if rng.random() < 0.7:
            i = rng.randrange(200)
            rid = f"b{i:08d}"
            t.put(rid, clock, {"id": rid}, i)
            overlay[rid] = (clock, i)
        else:
            rid = f"x{rng.randrange(50):03d}"
            t.put(rid, clock, {"id": rid})
            overlay[rid] = (clock, None)
        if step % 20:
            continue
        for since in (None, 0, 555, 1999, 10_050, clock + 1):
            want = model(t, overlay, since)
            assert t.count(since) == len(want)
            for size in (1, 7, 50):
                got = [r.record["id"] for k in range(0, len(want) + size, size) for r in t.page(since, k, size)]
                assert got == want
                got, pos = [], None
                while True:
                    rows = t.after(since, pos, size)
                    got += [r.record["id"] for r in rows]
                    if not rows:
                        break
                    pos = rows[-1].pos
                assert got == want


def test_deep_page_of_ten_million_is_arithmetic() -> None:
    """The page is found by arithmetic over the overlay, not by walking the five million records before it: what
    it costs is counted in calls of the table's formulas (a clock would fail on a loaded machine)."""
    calls = [0]

    def counted(f: Any) -> Any:
        def call(x: Any) -> Any:
            calls[0] += 1
            return f(x)
        return call

    t = LazyTable(10_000_000, counted(lambda i: 10 * i), counted(lambda t: max(0, -(-t // 10))),
                  counted(lambda i: {"id": f"b{i:08d}", "i": i}))
    rng = random.Random(2)
    overridden = sorted(rng.sample(range(10_000_000), 20_000))
    for k, i in enumerate(overridden):
        t.put(f"b{i:08d}", 10**9 + k, {"id": f"b{i:08d}"}, i)
    calls[0] = 0
    rows = t.page(None, 5_000_000, 500)
    assert calls[0] < 50_000, calls  # the page and a search of the overlay, not millions
    s = set(overridden)
    first = rows[0].index
    assert first is not None and first not in s
    assert first - sum(1 for x in overridden if x < first) == 5_000_000  # exactly 5,000,000 free indexes before it
    assert len(rows) == 500 and all(r.index not in s for r in rows)
    assert [r.index for r in rows] == sorted(r.index for r in rows)
