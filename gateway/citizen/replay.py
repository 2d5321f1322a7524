"""Re-running a citizen source's dead-lettered records, a page at a time, under the source's own lease.

The 好差评 and 12345 replays differ in what they do with a page (ratings are re-ingested, orders re-routed) and
share the rest: the open record dead letters of the source by id, each page in one transaction, the sync's lease
held (the two must never write the same rating or order at once) and renewed with every page. A dead letter whose
raw text cannot be read back (a lone surrogate, kept escaped as the source sent it — in a record's key, which no
replay can make storable) is not handed on: it stays open for a person, and the replay goes on without it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, Engine

from gateway.store import ledger
from gateway.store.lease import Lease

PAGE = 500


def replay_pages(engine: Engine, source: str, handle: Callable[[Connection, Sequence[Any]], None]) -> None:
    """Call ``handle(transaction, rows)`` for every page of ``source``'s open record dead letters."""
    with Lease(engine, f"citizen:{source}") as lease:
        after = 0
        while True:
            with engine.connect() as conn:
                rows = ledger.open_record_dead_letters_after(conn, source, after, PAGE)
            if not rows:
                return
            after = rows[-1].id
            with engine.begin() as conn:
                handle(conn, [row for row in rows if _readable(row.raw)])
                lease.renew(conn)


def _readable(raw: str | None) -> bool:
    if not raw:
        return True
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return True


__all__ = ["replay_pages"]
