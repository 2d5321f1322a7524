"""Facts about the ledger as a whole (table ``ledger_marks``): one JSON value per name, read and written whole.

``pii.sealed`` (:mod:`gateway.store.sealing`) says the ledger's personal data is sealed; ``rate_limit.processes``
(:mod:`gateway.sharing.access.shared_ratelimit`) how many gateway processes were last seen sharing one quota —
what a process started while the rate-limit store is down divides a quota by.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, select

from gateway.store.ledger import _insert, utcnow
from gateway.store.tables import ledger_marks

__all__ = ["read_mark", "write_mark"]


def read_mark(conn: Connection, name: str) -> Any | None:
    """The mark's value, None when the ledger has none of that name."""
    value = conn.execute(select(ledger_marks.c.value).where(ledger_marks.c.name == name)).scalar_one_or_none()
    return None if value is None else json.loads(value)


def write_mark(conn: Connection, name: str, value: Any) -> None:
    """Set the mark (insert, or replace what it held)."""
    text, now = json.dumps(value, ensure_ascii=False), utcnow()
    conn.execute(_insert(conn, ledger_marks).values(name=name, value=text, updated_at=now)
                 .on_conflict_do_update(index_elements=["name"], set_={"value": text, "updated_at": now}))
