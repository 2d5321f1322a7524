"""Withdrawn consents: recording a withdrawal, and telling every gateway process about it.

A consent token is checked by its MAC (no database read per release), so a withdrawal has to reach each
process's :class:`~gateway.sharing.access.tokens.ConsentTokens`. The process that records it marks it at once;
the others poll ``consents.revoked_at`` (indexed) every ``consent_revocation_poll`` seconds — the longest a
withdrawn consent can still be used elsewhere — and at startup load every revocation still within its expiry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine

from gateway.sharing.access.tokens import ConsentTokens
from gateway.store import access as store

__all__ = ["RevocationFeed", "WithdrawnConsent", "withdraw"]


@dataclass(frozen=True, slots=True)
class WithdrawnConsent:
    consent_id: str
    revoked_at: datetime
    newly: bool  # False: it had been withdrawn before (withdrawing is idempotent)


def withdraw(engine: Engine, tokens: ConsentTokens, consent_id: str, holder_bidx: str) -> WithdrawnConsent | None:
    """Record that the holder withdrew ``consent_id``; ``None`` if the holder has no such consent."""
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        row = store.find_consent_of_holder(conn, consent_id, holder_bidx)
        if row is None:
            return None
        # only the first of two concurrent withdrawals sets the time (and is the one audited)
        newly = row.revoked_at is None and store.mark_consent_withdrawn(conn, consent_id, now)
        revoked_at = now if newly else (row.revoked_at or store.consent_revoked_at(conn, consent_id))
    tokens.mark_revoked([(consent_id, row.expires_at.timestamp())])
    return WithdrawnConsent(consent_id, revoked_at, newly=newly)


class RevocationFeed:
    """Polls for withdrawals recorded by any process since the last poll.

    Each poll re-reads the withdrawals of the last ``overlap`` before the previous poll began: a withdrawal
    is stamped with its recorder's clock when its transaction starts, so one that commits just after a poll
    — or comes from a host whose clock runs a little behind — still falls inside the next poll's window.
    Reading one twice is harmless."""

    def __init__(self, engine: Engine, tokens: ConsentTokens, *, overlap: timedelta = timedelta(minutes=1)) -> None:
        self.engine = engine
        self.tokens = tokens
        self.overlap = overlap
        self._since: datetime | None = None

    def poll(self) -> int:
        """Mark what was withdrawn since the last poll (first poll: every withdrawal not yet expired)."""
        started = datetime.now(timezone.utc)
        with self.engine.connect() as conn:
            withdrawn = store.withdrawn_consents(conn, since=self._since, now=started)
        found = [(consent_id, expires_at.timestamp()) for consent_id, expires_at in withdrawn]  # aware UTC
        self.tokens.mark_revoked(found)
        self._since = started - self.overlap
        return len(found)
