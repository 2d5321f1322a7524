"""Whether the ledger's personal data is sealed, and whether this process holds the ledger's keys to write it.

Sealing is a property of the ledger, not of one process: once ID numbers and raw payloads are sealed at rest, a
writer without the key file (a worker whose ``TONGBAN_KEY_FILE`` was not mounted) would write them in clear beside
the sealed ones — and ``tongban keys rotate``, which looks at sealed values, would then call the ledger clean — and a
writer with another key file (generated afresh on a new machine) would seal under keys no other process holds, with
another blind index: holders' lookups would stop finding the cases sealed before. The ledger keeps the mark
``pii.sealed`` (table ``ledger_marks``, migration 0021) with a fingerprint of the blind-index key it was sealed
under; :func:`require_ledger_keys` is asked before a writer writes, and refuses — nothing written — a process without
keys on a sealed ledger, or with keys of another ledger. The first writer with keys marks the ledger.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, update

from gateway.contract.errors import ConfigError
from gateway.store.ledger import _insert, utcnow
from gateway.store.marks import read_mark
from gateway.store.tables import ledger_marks

SEALED = "pii.sealed"
_PROBE = "tongban:ledger-blind-index-fingerprint"
"""A fixed text whose blind index names the blind-index key without telling anything about it or any holder."""


def fingerprint(pii: Any) -> str:
    """The fingerprint of ``pii``'s blind-index key (the one key a ledger's lookups depend on: PII keys rotate, the
    blind-index key never does)."""
    return str(pii.bidx(_PROBE))[:24]


def sealed_mark(conn: Connection) -> dict[str, Any] | None:
    """``{"since": ISO, "blind_index": fingerprint | None}`` when the ledger's personal data is sealed, else None."""
    return read_mark(conn, SEALED)


def require_ledger_keys(conn: Connection, pii: Any, *, what: str) -> None:
    """Refuse (:class:`ConfigError`, before anything is written) to ``what`` — "sync sd_civil" — into a sealed
    ledger without its keys; mark the ledger sealed when a writer with keys writes to it first.

    A ledger marked before a fingerprint was kept (upgraded past 0021) takes the fingerprint of the first writer
    with keys."""
    mark = sealed_mark(conn)
    if pii is None:
        if mark is not None:
            raise ConfigError(
                f"cannot {what}: this ledger's personal data is sealed at rest (since {mark.get('since')}) and this "
                "process has no key file — set TONGBAN_KEY_FILE to the ledger's key file (the one `tongban keys` "
                "manages). Nothing was written: without keys ID numbers and raw payloads would be written in clear "
                "beside the sealed ones")
        return
    mine = fingerprint(pii)
    if mark is None or mark.get("blind_index") is None:
        mark = _claim(conn, mark, mine)
    if mark.get("blind_index") != mine:
        raise ConfigError(
            f"cannot {what}: the key file (TONGBAN_KEY_FILE) is not this ledger's — its blind-index key differs from "
            f"the one the ledger's personal data was sealed under (since {mark.get('since')}). Use the ledger's key "
            "file; nothing was written: with these keys new data would be sealed under keys the other processes do "
            "not hold, and holders' lookups would stop finding the cases sealed before")


def _claim(conn: Connection, seen: dict[str, Any] | None, mine: str) -> dict[str, Any]:
    """Write this writer's fingerprint into a mark that has none — absent, or kept by a migration without one — and
    return the mark as it then stands. Two first writers at once (parallel first syncs): the insert does nothing
    when the other's row is there, the update only when the row is still the one read; either way the mark is read
    again, and a writer with another key file finds the other's fingerprint, not its own."""
    value = json.dumps({**(seen or {}), "since": (seen or {}).get("since") or utcnow().isoformat(),
                        "blind_index": mine})
    if seen is None:
        conn.execute(_insert(conn, ledger_marks).values(name=SEALED, value=value, updated_at=utcnow())
                     .on_conflict_do_nothing(index_elements=["name"]))
    else:
        conn.execute(update(ledger_marks).where(ledger_marks.c.name == SEALED,
                                                ledger_marks.c.value == json.dumps(seen))
                     .values(value=value, updated_at=utcnow()))
    return sealed_mark(conn) or {}
