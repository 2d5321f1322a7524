"""Subscriptions to certificate status changes and their webhook deliveries (an outbox).

The delivery rules — which events match a subscription, the payload, signing, back-off, when a delivery is dead —
live in :mod:`gateway.sharing.certificates.webhooks`; the API's subscription endpoints in
:mod:`gateway.sharing.api.routers.subscriptions`. This module holds the statements they run. Deliveries are
queued in the harvest's transaction (the same one that wrote the ``certificate_events``), so an event is never
lost nor queued twice (``ON CONFLICT (subscription_id, event_id) DO NOTHING``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, case, func, or_, select, update

from gateway.store.ledger import bulk_write, in_chunks
from gateway.store.tables import (
    api_clients,
    audit_log,
    certificate_events,
    certificate_holders,
    webhook_deliveries,
    webhook_subscriptions,
)

__all__ = [
    "active_subscriptions",
    "active_subscriptions_of_client",
    "cancel_client_subscriptions",
    "cancel_subscription",
    "certificate_events_by_id",
    "claim_deliveries",
    "due_deliveries",
    "insert_subscription",
    "mark_delivery_dead",
    "mark_delivery_delivered",
    "list_deliveries",
    "queue_deliveries",
    "released_to",
    "revive_dead_deliveries",
    "schedule_delivery_retry",
]

# -- subscriptions ------------------------------------------------------------------------------------------


def _client_live(now: datetime) -> Any:
    """The subscribing client may still be told: not revoked, not expired."""
    c = api_clients.c
    return and_(c.revoked_at.is_(None), or_(c.expires_at.is_(None), c.expires_at > now))


def active_subscriptions(conn: Connection, now: datetime) -> Sequence[Row[Any]]:
    """Every active subscription of every client still live at ``now`` (the fan-out matches events against them),
    with its client's ``client_name``: a revoked or expired client is told nothing more."""
    s = webhook_subscriptions.c
    return conn.execute(select(webhook_subscriptions, api_clients.c.name.label("client_name"))
                        .join(api_clients, api_clients.c.client_id == s.client_id)
                        .where(s.active.is_(True), _client_live(now))).all()


def cancel_client_subscriptions(conn: Connection, client_id: str) -> int:
    """Deactivate every subscription of a client (it was revoked); how many were active."""
    s = webhook_subscriptions.c
    result = conn.execute(update(webhook_subscriptions).where(s.client_id == client_id, s.active.is_(True))
                          .values(active=False))
    return max(result.rowcount, 0)


def active_subscriptions_of_client(conn: Connection, client_id: str) -> Sequence[Row[Any]]:
    """The client's active subscriptions, oldest first."""
    s = webhook_subscriptions.c
    return conn.execute(select(webhook_subscriptions).where(s.client_id == client_id, s.active.is_(True))
                        .order_by(s.created_at)).all()


def count_active_subscriptions(conn: Connection, client_id: str) -> int:
    s = webhook_subscriptions.c
    return int(conn.execute(select(func.count()).select_from(webhook_subscriptions)
                            .where(s.client_id == client_id, s.active.is_(True))).scalar_one())


def insert_subscription(conn: Connection, row: dict[str, Any]) -> Row[Any] | None:
    """Insert a subscription and read it back as stored."""
    conn.execute(webhook_subscriptions.insert().values(**row))
    return conn.execute(select(webhook_subscriptions).where(
        webhook_subscriptions.c.subscription_id == row["subscription_id"])).first()


def cancel_subscription(conn: Connection, client_id: str, subscription_id: str) -> int:
    """Deactivate the client's active subscription; how many were (0: none such, or not this client's)."""
    s = webhook_subscriptions.c
    result = conn.execute(update(webhook_subscriptions).where(
        s.subscription_id == subscription_id, s.client_id == client_id, s.active.is_(True)).values(active=False))
    return max(result.rowcount, 0)


# -- deliveries ---------------------------------------------------------------------------------------------


def certificate_events_by_id(conn: Connection, event_ids: list[int]) -> Sequence[Row[Any]]:
    e = certificate_events.c
    return conn.execute(select(certificate_events).where(e.id.in_(event_ids))).all()


def released_to(conn: Connection, identifiers: Sequence[str]) -> set[tuple[str, str]]:
    """``(client_id, identifier)`` for each certificate of ``identifiers`` that was released to a client before
    (a ``released`` entry of the audit log naming the client and the certificate: a fetch, a query, a deferred
    material received by reuse). Read through each certificate's holders and the log's ``(holder_ref, seq)`` index,
    so the cost is the holders' own entries, never the whole log."""
    a, h = audit_log.c, certificate_holders.c
    found: set[tuple[str, str]] = set()
    for chunk in in_chunks(sorted(set(identifiers))):
        found.update((r[0], r[1]) for r in conn.execute(
            select(a.client_id, a.certificate).distinct()
            .select_from(certificate_holders.join(audit_log, and_(a.holder_ref == h.holder_bidx,
                                                                  a.certificate == h.identifier)))
            .where(h.identifier.in_(chunk), a.outcome == "released", a.client_id.is_not(None))))
    return found


def queue_deliveries(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Queue ``webhook_deliveries`` rows; a (subscription, event) already queued is left as it is."""
    bulk_write(conn, webhook_deliveries, rows, conflict="ON CONFLICT (subscription_id, event_id) DO NOTHING")


def due_deliveries(conn: Connection, now: datetime, limit: int) -> Sequence[Row[Any]]:
    """Pending deliveries due by ``now``, oldest first: ``id, payload, attempts, event_id``, the subscription's
    ``url, active, client_id`` and ``client_live`` (its client neither revoked nor expired: a delivery queued
    before the client was revoked is not sent), and the event's ``identifier, event, status`` (None if the event
    is gone)."""
    d, s, e = webhook_deliveries.c, webhook_subscriptions.c, certificate_events.c
    return conn.execute(
        select(d.id, d.payload, d.attempts, d.event_id, d.subscription_id, d.created_at, s.url, s.active,
               s.client_id, case((and_(api_clients.c.client_id.is_not(None), _client_live(now)), True),
                                 else_=False).label("client_live"),
               e.identifier, e.event, e.status)
        .join(webhook_subscriptions, s.subscription_id == d.subscription_id)
        .join(api_clients, api_clients.c.client_id == s.client_id, isouter=True)
        .join(certificate_events, e.id == d.event_id, isouter=True)
        .where(d.status == "pending", d.next_attempt_at <= now).order_by(d.id).limit(limit)).all()


def claim_deliveries(conn: Connection, delivery_ids: Sequence[int], *, now: datetime, until: datetime) -> set[int]:
    """Claim due pending deliveries for one sender: their next attempt moves to ``until`` in one UPDATE, and only
    the rows this statement changed are returned. A second sender running at the same moment (the API server's
    loop and a harvest) finds them not due and sends nothing; a sender that dies mid-send leaves them due again
    at ``until`` (at-least-once, never lost). On PostgreSQL the row lock makes the loser re-check ``next_attempt_at``
    and skip the row; on SQLite writers are serialised."""
    if not delivery_ids:
        return set()
    d = webhook_deliveries.c
    return set(conn.execute(
        update(webhook_deliveries)
        .where(d.id.in_(list(delivery_ids)), d.status == "pending", d.next_attempt_at <= now)
        .values(next_attempt_at=until)
        .returning(d.id)).scalars())


def mark_delivery_delivered(conn: Connection, delivery_id: int, *, attempts: int, at: datetime) -> None:
    conn.execute(update(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id).values(
        status="delivered", attempts=attempts, delivered_at=at, last_error=None))


def _still_claimed(delivery_id: int, claimed_until: datetime | None) -> Any:
    """The row, if it is still this sender's (pending, claimed until ``claimed_until``): a sender whose claim
    lapsed must not overwrite what the sender that took the row over recorded (a late "dead" over a delivery)."""
    d = webhook_deliveries.c
    where = d.id == delivery_id
    return where if claimed_until is None else and_(where, d.status == "pending", d.next_attempt_at == claimed_until)


def mark_delivery_dead(conn: Connection, delivery_id: int, *, attempts: int, error: str,
                       claimed_until: datetime | None = None) -> None:
    conn.execute(update(webhook_deliveries).where(_still_claimed(delivery_id, claimed_until)).values(
        status="dead", attempts=attempts, last_error=error))


def schedule_delivery_retry(conn: Connection, delivery_id: int, *, attempts: int, error: str,
                            next_attempt_at: datetime, claimed_until: datetime | None = None) -> None:
    conn.execute(update(webhook_deliveries).where(_still_claimed(delivery_id, claimed_until)).values(
        attempts=attempts, last_error=error, next_attempt_at=next_attempt_at))


def list_deliveries(conn: Connection, *, status: str | None, limit: int) -> Sequence[Row[Any]]:
    """Deliveries of ``status`` (None: any), newest first, with their subscription's client and target: ``id,
    status, attempts, last_error, created_at, delivered_at, next_attempt_at, event_id, subscription_id, url, active,
    client_id, client_name``."""
    d, s = webhook_deliveries.c, webhook_subscriptions.c
    stmt = (select(d.id, d.status, d.attempts, d.last_error, d.created_at, d.delivered_at, d.next_attempt_at,
                   d.event_id, d.subscription_id, s.url, s.active, s.client_id, api_clients.c.name.label("client_name"))
            .join(webhook_subscriptions, s.subscription_id == d.subscription_id)
            .join(api_clients, api_clients.c.client_id == s.client_id, isouter=True)
            .order_by(d.id.desc()).limit(limit))
    if status is not None:
        stmt = stmt.where(d.status == status)
    return conn.execute(stmt).all()


def revive_dead_deliveries(conn: Connection, delivery_ids: Sequence[int] | None, *, now: datetime) -> list[int]:
    """Dead deliveries (all, or those of ``delivery_ids``) of an active subscription of a live client made pending
    again, due ``now``, with a fresh count of attempts and a fresh ``webhook_retry_for`` window (as if queued now:
    one more failure would have made an old row dead at once). The ids revived, in order."""
    d, s = webhook_deliveries.c, webhook_subscriptions.c
    sendable = (select(s.subscription_id).join(api_clients, api_clients.c.client_id == s.client_id)
                .where(s.active.is_(True), _client_live(now)))
    where = and_(d.status == "dead", d.subscription_id.in_(sendable))
    if delivery_ids is not None:
        where = and_(where, d.id.in_(list(delivery_ids)))
    return sorted(conn.execute(update(webhook_deliveries).where(where).values(
        status="pending", attempts=0, next_attempt_at=now, created_at=now).returning(d.id)).scalars())
