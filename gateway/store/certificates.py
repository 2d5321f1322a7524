"""The certificate library's tables: certificates and their holders, quarantine, status events, issuer keys.

What a certificate *means* — mapping, GB/T 36904 identifiers, signature checks, what a client may see — lives in
:mod:`gateway.sharing.certificates`; this module holds the statements that store and read it. Holders are found
by blind index through ``certificate_holders`` (no ID number is ever stored or compared in clear). Writes run
in the caller's transaction: the harvest puts a page's certificates, their events, the webhook deliveries
(:mod:`gateway.store.subscriptions`) and the watermark in one.

Rows come back in ``CERTIFICATE_COLUMNS`` order where a function says so, the order
:class:`gateway.sharing.certificates.library.StoredCertificate` is built from.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, false, literal_column, or_, select, update

from gateway.store.tables import (
    certificate_events,
    certificate_holders,
    certificate_quarantine,
    certificates,
    issuer_keys,
)

__all__ = [
    "CERTIFICATE_COLUMNS",
    "active_issuer_keys",
    "certificate_by_content_hash",
    "certificate_by_identifier",
    "certificates_by_legacy_identifier",
    "certificate_file",
    "certificate_state",
    "certificates_due_to_expire",
    "clear_quarantine",
    "find_certificates_for_holder",
    "find_issuer_key",
    "holders_of_certificate",
    "insert_certificate",
    "insert_certificate_event",
    "insert_certificate_holders",
    "insert_issuer_key",
    "flag_refusal",
    "mark_certificate_expired",
    "quarantine_entries",
    "quarantine_record",
    "resolve_quarantine_entry",
    "supersede_refusals",
    "update_certificate",
]

CERTIFICATE_COLUMNS = (certificates.c.identifier, certificates.c.legacy_identifier, certificates.c.type_code,
                       certificates.c.name, certificates.c.number, certificates.c.issuer_code, certificates.c.status,
                       certificates.c.valid_until, certificates.c.content_hash, certificates.c.document,
                       certificates.c.renewed_as, certificates.c.source_system, certificates.c.updated_at,
                       certificates.c.valid_from, certificates.c.refused_reason, certificates.c.refused_at)
"""What a read of the library returns (the file is read on its own, by :func:`certificate_file`): what a client is
told, the validity dates its status today is derived from, and a refused newer version."""

# -- reads of the library -----------------------------------------------------------------------------------


def find_certificates_for_holder(conn: Connection, holder_bidx: str, types: Sequence[str]) -> list[Row[Any]]:
    """The holder's certificates (of ``types``; all types when empty), by identifier, in ``CERTIFICATE_COLUMNS``."""
    h = certificate_holders.c
    query = (select(*CERTIFICATE_COLUMNS).join(certificate_holders, h.identifier == certificates.c.identifier)
             .where(h.holder_bidx == holder_bidx).order_by(certificates.c.identifier))
    if types:
        query = query.where(h.type_code.in_(list(types)))
    return list(conn.execute(query))


def certificate_by_identifier(conn: Connection, identifier: str) -> Row[Any] | None:
    """In ``CERTIFICATE_COLUMNS``, or ``None``."""
    return conn.execute(select(*CERTIFICATE_COLUMNS).where(certificates.c.identifier == identifier)).first()


def certificates_by_legacy_identifier(conn: Connection, legacy_identifier: str, *, holder_bidx: str | None = None,
                                      limit: int = 2) -> Sequence[Row[Any]]:
    """In ``CERTIFICATE_COLUMNS``: up to ``limit`` certificates an issuer numbered ``legacy_identifier`` (unique per
    issuer only: two issuers may share one), of ``holder_bidx`` when given."""
    query = select(*CERTIFICATE_COLUMNS).where(certificates.c.legacy_identifier == legacy_identifier)
    if holder_bidx is not None:
        h = certificate_holders.c
        query = query.where(select(h.identifier).where(h.identifier == certificates.c.identifier,
                                                       h.holder_bidx == holder_bidx).exists())
    return conn.execute(query.order_by(certificates.c.identifier).limit(limit)).all()


def certificate_by_content_hash(conn: Connection, digest: str) -> Row[Any] | None:
    """In ``CERTIFICATE_COLUMNS``, or ``None`` (``digest``: lower-case hex SHA-256 of the file)."""
    return conn.execute(select(*CERTIFICATE_COLUMNS).where(certificates.c.content_hash == digest)).first()


def holders_of_certificate(conn: Connection, identifier: str) -> set[str]:
    """The blind indexes of the certificate's holders."""
    h = certificate_holders.c
    return {r[0] for r in conn.execute(select(h.holder_bidx).where(h.identifier == identifier))}


def certificate_file(conn: Connection, identifier: str) -> Row[Any] | None:
    """``file, content_hash``: the issuer's file as stored (sealed: :meth:`gateway.crypto.pii.PiiCodec.open_file`
    opens it) and the hash it was verified under, read together; or ``None``."""
    return conn.execute(select(certificates.c.file, certificates.c.content_hash)
                        .where(certificates.c.identifier == identifier)).first()


# -- harvest: upserts, quarantine, events -------------------------------------------------------------------


def certificate_state(conn: Connection, identifier: str) -> Row[Any] | None:
    """What the harvest compares a new copy with: ``status, content_hash, version, renewed_as,
    source_changed_at, source_system, source_id, number, type_code, refused_entry``; ``None`` for a certificate
    not in the library."""
    c = certificates.c
    return conn.execute(select(c.status, c.content_hash, c.version, c.renewed_as, c.source_changed_at,
                               c.source_system, c.source_id, c.number, c.type_code, c.refused_entry)
                        .where(c.identifier == identifier)).first()


def insert_certificate(conn: Connection, identifier: str, *, version: int, created_at: datetime,
                       values: dict[str, Any]) -> None:
    conn.execute(certificates.insert().values(identifier=identifier, version=version, created_at=created_at, **values))


def insert_certificate_holders(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """``identifier, holder_bidx, type_code`` rows (one statement, executemany)."""
    conn.execute(certificate_holders.insert(), rows)


def update_certificate(conn: Connection, identifier: str, *, version: int, values: dict[str, Any]) -> None:
    conn.execute(update(certificates).where(certificates.c.identifier == identifier)
                 .values(version=version, **values))


def insert_certificate_event(conn: Connection, **values: Any) -> int:
    """A ``certificate_events`` row (issued, status, renewed, expired); returns its id."""
    result = conn.execute(certificate_events.insert().values(**values))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def clear_quarantine(conn: Connection, source_system: str, source_id: str) -> None:
    """Forget an earlier rejection of this source record (it is being quarantined again, or it now verified)."""
    q = certificate_quarantine.c
    conn.execute(delete(certificate_quarantine).where(q.source_system == source_system, q.source_id == source_id))


def quarantine_record(conn: Connection, *, source_system: str, source_id: str, identifier: str | None, reason: str,
                      raw: str, payload_hash: str, created_at: datetime,
                      source_changed_at: datetime | None = None) -> Row[Any]:
    """Put a source record in quarantine, replacing an earlier rejection of it (``raw``: the sealed payload).
    The same copy refused for the same reason again (a re-read) keeps its entry as it is — its date, and an
    operator's resolution. Returns the entry: ``id, created_at, resolved_at``."""
    q = certificate_quarantine.c
    kept = conn.execute(select(q.id, q.created_at, q.resolved_at).where(
        q.source_system == source_system, q.source_id == source_id, q.payload_hash == payload_hash,
        q.reason == reason)).first()
    if kept is not None:
        return kept
    clear_quarantine(conn, source_system, source_id)
    conn.execute(certificate_quarantine.insert().values(
        source_system=source_system, source_id=source_id, identifier=identifier, reason=reason, raw=raw,
        payload_hash=payload_hash, created_at=created_at, source_changed_at=source_changed_at))
    return conn.execute(select(q.id, q.created_at, q.resolved_at)
                        .where(q.source_system == source_system, q.source_id == source_id)).one()


def flag_refusal(conn: Connection, *, entry: int, source_system: str, source_id: str, identifier: str | None,
                 reason: str, at: datetime, cursor: datetime | None) -> int:
    """Mark the served certificate a refused copy stands against: the one of the same source record, or of the same
    issuing system under the identifier the copy names — unless the copy is older (``cursor``, its change time)
    than the certificate's last accepted one. Returns how many certificates it marked (0 or 1, rarely 2)."""
    c = certificates.c
    same = and_(c.source_system == source_system, c.source_id == source_id)
    if identifier:
        same = or_(same, and_(c.source_system == source_system, c.identifier == identifier))
    if cursor is not None:
        same = and_(same, or_(c.source_changed_at.is_(None), c.source_changed_at <= cursor))
    result = conn.execute(update(certificates).where(same).values(refused_entry=entry, refused_reason=reason,
                                                                   refused_at=at))
    return max(result.rowcount, 0)


def supersede_refusals(conn: Connection, *, source_system: str, source_id: str, identifier: str,
                       changed: datetime | None) -> None:
    """A copy of ``source_id`` that verified, changed at ``changed``, is the issuer's latest word: its record's own
    quarantine entry is forgotten and the certificate's mark cleared — unless the refused copy is newer still (its
    change time after ``changed``: another record of the issuer claiming the identifier, a copy read out of order)."""
    q, c = certificate_quarantine.c, certificates.c
    still = (q.source_changed_at > changed) if changed is not None else false()
    conn.execute(delete(certificate_quarantine).where(q.source_system == source_system, q.source_id == source_id,
                                                      or_(q.source_changed_at.is_(None), ~still)))
    newer_refusal = select(q.id).where(q.id == c.refused_entry, still).exists()
    conn.execute(update(certificates).where(c.identifier == identifier, c.refused_entry.is_not(None), ~newer_refusal)
                 .values(refused_entry=None, refused_reason=None, refused_at=None))


def quarantine_entries(conn: Connection, *, source_system: str | None = None, include_resolved: bool = False,
                       limit: int = 100) -> Sequence[Row[Any]]:
    """Quarantine entries, newest first: ``id, source_system, source_id, identifier, reason, created_at,
    resolved_at, resolution, flags`` (the identifier of a served certificate the entry stands against, or
    ``None``)."""
    q, c = certificate_quarantine.c, certificates.c
    query = (select(q.id, q.source_system, q.source_id, q.identifier, q.reason, q.created_at, q.resolved_at,
                    q.resolution, c.identifier.label("flags"))
             .select_from(certificate_quarantine.outerjoin(certificates, c.refused_entry == q.id))
             .order_by(q.created_at.desc(), q.id.desc()).limit(limit))
    if source_system is not None:
        query = query.where(q.source_system == source_system)
    if not include_resolved:
        query = query.where(q.resolved_at.is_(None))
    return conn.execute(query).all()


def resolve_quarantine_entry(conn: Connection, entry: int, *, resolution: str, at: datetime) -> list[str] | None:
    """An operator's resolution of an open entry: recorded on it, and the served certificates it marked are marked
    no more. Returns their identifiers; ``None`` when there is no such open entry."""
    q, c = certificate_quarantine.c, certificates.c
    done = conn.execute(update(certificate_quarantine).where(q.id == entry, q.resolved_at.is_(None))
                        .values(resolved_at=at, resolution=resolution))
    if done.rowcount != 1:
        return None
    marked = [r[0] for r in conn.execute(select(c.identifier).where(c.refused_entry == entry))]
    conn.execute(update(certificates).where(c.refused_entry == entry)
                 .values(refused_entry=None, refused_reason=None, refused_at=None))
    return marked


def certificates_due_to_expire(conn: Connection, day: str) -> Sequence[Row[Any]]:
    """``(identifier, type_code)`` of the certificates still ``valid`` whose ``valid_until`` is before ``day``
    (ISO date)."""
    c = certificates.c
    return conn.execute(select(c.identifier, c.type_code).where(
        and_(c.status == "valid", c.valid_until.is_not(None), c.valid_until < day))).all()


def certificates_now_effective(conn: Connection, day: str) -> Sequence[Row[Any]]:
    """``(identifier, type_code)`` of the certificates still ``valid`` whose ``valid_from`` has come (on or before
    ``day``, ISO date) while their latest event still says ``not_yet_valid``: announced before they took effect,
    not yet announced as in effect."""
    c, e = certificates.c, certificate_events.c
    later = certificate_events.alias("later")
    superseded = select(later.c.id).where(later.c.identifier == e.identifier, later.c.id > e.id).exists()
    # the status as a literal, not a bound parameter: the planner then reads the partial index of these events
    # (migration 0014) instead of every event
    return conn.execute(select(e.identifier, e.type_code).join(certificates, c.identifier == e.identifier).where(
        e.status == literal_column("'not_yet_valid'"), ~superseded, c.status == "valid",
        c.valid_from.is_not(None), c.valid_from <= day)).all()


def mark_certificate_expired(conn: Connection, identifier: str, at: datetime) -> None:
    conn.execute(update(certificates).where(certificates.c.identifier == identifier)
                 .values(status="expired", updated_at=at))


# -- issuer keys --------------------------------------------------------------------------------------------


def find_issuer_key(conn: Connection, key_id: str) -> Row[Any] | None:
    """The ``issuer_keys`` row of ``key_id`` (revoked or not), or ``None``."""
    return conn.execute(select(issuer_keys).where(issuer_keys.c.key_id == key_id)).first()


def insert_issuer_key(conn: Connection, *, key_id: str, issuer_code: str, algorithm: str, public_key: str,
                      created_at: datetime) -> None:
    conn.execute(issuer_keys.insert().values(key_id=key_id, issuer_code=issuer_code, algorithm=algorithm,
                                             public_key=public_key, created_at=created_at))


def active_issuer_keys(conn: Connection) -> Sequence[Row[Any]]:
    """Every issuer key not revoked."""
    return conn.execute(select(issuer_keys).where(issuer_keys.c.revoked_at.is_(None))).all()
