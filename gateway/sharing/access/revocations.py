"""Withdrawn consents: recording a withdrawal, and telling every gateway process about it.

A consent token is checked by its MAC (no database read per release), so a withdrawal has to reach each
process's :class:`~gateway.sharing.access.tokens.ConsentTokens`. The process that records it marks it at once;
the others read every withdrawal still within its expiry (``consents.revoked_at``, indexed) every
``consent_revocation_poll`` seconds — the longest a withdrawn consent can still be used elsewhere, whatever the
hosts' clocks say.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

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
    """Polls for the withdrawals recorded by any process: every poll reads every withdrawn consent that has not
    expired yet.

    A window of "withdrawn since the last poll" (what this did) compares the recorder's clock with the poller's: a
    gateway host whose clock ran a minute or more behind stamped withdrawals that every other process's window had
    already passed, and the withdrawn consent stayed usable there until it expired (up to ``consent_max_ttl``). The
    set read instead depends on no clock but the expiry's, and stays small: a consent lives a day at most
    (``consent_max_ttl``) and withdrawals are few (an index on ``revoked_at``). Marking one twice is harmless."""

    def __init__(self, engine: Engine, tokens: ConsentTokens) -> None:
        self.engine = engine
        self.tokens = tokens

    def poll(self) -> int:
        """Mark every withdrawal not yet expired; returns how many there are."""
        with self.engine.connect() as conn:
            withdrawn = store.withdrawn_consents(conn, now=datetime.now(timezone.utc))
        found = [(consent_id, expires_at.timestamp()) for consent_id, expires_at in withdrawn]  # aware UTC
        self.tokens.mark_revoked(found)
        return len(found)
