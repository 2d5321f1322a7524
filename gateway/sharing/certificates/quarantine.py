"""The harvest's quarantine as operators see it: what an issuer's feed sent that was refused, why, which served
certificate it stands against, and — once someone has checked with the issuer — the resolution.

A refused copy that is a newer version of a certificate the library serves marks that certificate (the gateway
tells every relying department "a newer version from the issuer was refused: <reason>"). The mark goes when the
issuer sends a newer copy that verifies, or when an operator resolves the entry here, saying what the issuer
said::

    for entry in list_quarantine(engine):
        print(entry.id, entry.reason, entry.flags)
    resolve_quarantine(engine, 12, "issuer confirms: the licence stands; the revocation was sent in error")

A resolved entry stays resolved when the harvest reads the same copy again; a different copy is a new entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Engine

from gateway.contract.errors import TongbanError
from gateway.store import certificates as store

__all__ = ["QuarantineEntry", "list_quarantine", "resolve_quarantine"]


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    id: int
    source_system: str
    source_id: str
    identifier: str | None
    reason: str
    created_at: datetime
    resolved_at: datetime | None
    resolution: str | None
    flags: str | None
    """The identifier of the served certificate this entry marks (a refused newer version of it), if any."""

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "source_system": self.source_system, "source_id": self.source_id,
                "identifier": self.identifier, "reason": self.reason, "created_at": self.created_at.isoformat(),
                "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
                "resolution": self.resolution, "flags": self.flags}


def list_quarantine(engine: Engine, *, issuer: str | None = None, include_resolved: bool = False,
                    limit: int = 100) -> list[QuarantineEntry]:
    """Open entries (``include_resolved``: all), newest first."""
    with engine.connect() as conn:
        rows = store.quarantine_entries(conn, source_system=issuer, include_resolved=include_resolved, limit=limit)
    return [QuarantineEntry(*row) for row in rows]


def resolve_quarantine(engine: Engine, entry_id: int, resolution: str, *, now: datetime | None = None) -> list[str]:
    """Resolve an open entry with what the issuer said (required: a resolution nobody can read back is none).
    Returns the identifiers of the certificates it no longer marks. Raises :class:`TongbanError` for an unknown or
    already resolved entry, or an empty resolution."""
    if not resolution.strip():
        raise TongbanError("say how the entry was resolved (what the issuer confirmed)")
    with engine.begin() as conn:
        cleared = store.resolve_quarantine_entry(conn, entry_id, resolution=resolution.strip(),
                                                 at=now or datetime.now(timezone.utc))
    if cleared is None:
        raise TongbanError(f"no open quarantine entry {entry_id} (tongban quarantine list --all shows every entry)")
    return cleared
