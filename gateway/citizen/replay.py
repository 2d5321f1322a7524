"""Re-running a citizen source's dead-lettered records, a page at a time, under the source's own lease.

The 好差评 and 12345 replays differ in what they do with a page (ratings are re-ingested, orders re-routed) and
share the rest: the open record dead letters of the source by id, each page in one transaction, the sync's lease
held (the two must never write the same rating or order at once) and renewed with every page. A dead letter whose
raw text cannot be read back (a lone surrogate, kept escaped as the source sent it — in a record's key, which no
replay can make storable) is not handed on: it stays open for a person, and the replay goes on without it. Nor is
one sealed under a key this process does not hold (a sealed ledger refuses a process without its keys before
this: :func:`gateway.store.sealing.require_ledger_keys`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Connection, Engine

from gateway.contract.errors import ConfigError
from gateway.crypto.pii import PiiCodec, open_text
from gateway.store import ledger
from gateway.store.lease import Lease
from gateway.store.sealing import require_ledger_keys

PAGE = 500


class DeadRecord(NamedTuple):
    """An open record dead letter as a replay reads it: its raw payload opened (JSON text)."""

    id: int
    source_id: str | None
    cursor: Any
    raw: str | None


def replay_pages(engine: Engine, source: str, handle: Callable[[Connection, Sequence[DeadRecord]], None], *,
                 pii: PiiCodec | None = None, what: str) -> None:
    """Call ``handle(transaction, rows)`` for every page of ``source``'s open record dead letters, their raw
    payloads opened with ``pii``; ``what`` names the replay in the refusal of a process without the ledger's keys."""
    with Lease(engine, f"citizen:{source}") as lease:
        with engine.begin() as conn:
            require_ledger_keys(conn, pii, what=what)
        after = 0
        while True:
            with engine.connect() as conn:
                rows = ledger.open_record_dead_letters_after(conn, source, after, PAGE)
            if not rows:
                return
            after = rows[-1].id
            readable = [dead for dead in (_opened(row, pii) for row in rows) if dead is not None]
            with engine.begin() as conn:
                handle(conn, readable)
                lease.renew(conn)


def _opened(row: Any, pii: PiiCodec | None) -> DeadRecord | None:
    """The dead letter with its raw payload opened, or None when it cannot be read back: sealed under a key not in
    this key file, or text no replay can store (both stay open, for a person)."""
    try:
        raw = open_text(row.raw, pii)
    except (ConfigError, ValueError):  # a key not in the key file; a sealed text damaged (not base64)
        return None
    return DeadRecord(row.id, row.source_id, row.cursor, raw) if _readable(raw) else None


def _readable(raw: str | None) -> bool:
    if not raw:
        return True
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return True


__all__ = ["DeadRecord", "replay_pages"]
