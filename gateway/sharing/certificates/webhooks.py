"""Subscriptions to certificate status changes: fan-out in the harvest transaction, signed delivery, retries.

A status change (issued, revoked, expired, renewed, effective — a licence valid from a later day takes effect…) becomes a ``certificate_events`` row; in the same
transaction each active subscription for that certificate type gets a ``webhook_deliveries`` row (an outbox:
crash anywhere and nothing is lost). Delivery is **at-least-once**: each due delivery is claimed by one sender
before it is sent (so the API server's loop and a harvest never both send it), but a sender that dies after the
POST and before recording it sends it again later — receivers de-duplicate on ``Tongban-Event-Id`` (also
``event_id`` in the body). Delivery POSTs the JSON payload with a detached JWS of the body in
``Tongban-Signature``; failures back off exponentially (up to an hour) and, after ``webhook_max_attempts`` *and*
``webhook_retry_for`` (a day) since it was queued, the delivery is dead (kept, never retried silently). A receiver
that fails has its other deliveries wait for the next pass, and a pass stops after :data:`PASS_BUDGET`: one slow or
dead receiver does not hold every other department's. Payloads carry no personal data: identifier, type, status, time,
and the subscription and client they are for. A department is told only of certificates released to it before
(:func:`fan_out`), and each delivery is in the holders' access log (``notify``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import requests
from sqlalchemy import Connection

from gateway.sharing.access.audit import AuditEntry, append_entries
from gateway.sharing.certificates.webhook_targets import PinnedAdapter, checked_target
from gateway.store import subscriptions as store
from gateway.store.certificates import holders_of_certificate

__all__ = ["DeliveryReport", "deliver_webhooks", "fan_out", "retry_dead"]


CLAIM_FOR = timedelta(minutes=5)
"""How long a claimed delivery is one sender's: longer than any POST (webhook_timeout), short enough that a
sender that died is replaced soon."""
PASS_BUDGET = CLAIM_FOR / 2
"""A pass sends until this much time has gone, then stops: its last sends are recorded well within its claim
(a pass that outlived its claim let a second sender send the same rows again). What it did not reach is due
again when its claim lapses."""


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def fan_out(conn: Connection, event_ids: list[int], *, policy: Any = None, now: datetime | None = None) -> int:
    """Queue one delivery per (event, matching active subscription of a live client); returns how many were queued.

    A subscription matches an event when it names the certificate's type and the certificate was released to its
    client before (:func:`gateway.store.subscriptions.released_to`): a department is told that a certificate it
    relied on was revoked, renewed or expired — never that a certificate it was not given exists (a subscription
    by type alone told an entitled department every identifier of the type as it was issued, without the
    holders' consent; a fetch answers such an identifier as unknown). With the sharing ``policy``, only the types
    the policy still gives the client: checked when it subscribed, and a rule withdrawn since stops the events.
    Each payload names its subscription and client, so a receiver can tell one signed for another."""
    if not event_ids:
        return 0
    now = now or _utcnow()
    subs = store.active_subscriptions(conn, now)
    if not subs:
        return 0
    wanted = {}
    for sub in subs:
        types = set(orjson.loads(sub.certificate_types))
        if policy is not None:
            types &= policy.types_for((sub.client_name, sub.client_id))
        wanted[sub.subscription_id] = types
    events = store.certificate_events_by_id(conn, event_ids)
    told = store.released_to(conn, [ev.identifier for ev in events])
    rows = []
    for ev in events:
        about = {"event_id": ev.id, "event": ev.event, "identifier": ev.identifier, "type_code": ev.type_code,
                 "status": ev.status, "previous_status": ev.previous_status, "renewed_as": ev.renewed_as,
                 "at": ev.at.isoformat()}
        for sub in subs:
            if ev.type_code in wanted[sub.subscription_id] and (sub.client_id, ev.identifier) in told:
                payload = orjson.dumps({**about, "subscription_id": sub.subscription_id,
                                        "client_id": sub.client_id}).decode()
                rows.append({"subscription_id": sub.subscription_id, "event_id": ev.id, "payload": payload,
                             "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now})
    store.queue_deliveries(conn, rows)
    return len(rows)


@dataclass
class DeliveryReport:
    delivered: int = 0
    retried: int = 0
    dead: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"delivered": self.delivered, "retried": self.retried, "dead": self.dead}


def _pinned(address: Any) -> requests.Session:
    """A session that connects to ``address`` whatever the URL's host name resolves to by then."""
    pinned = requests.Session()
    adapter = PinnedAdapter(address)
    pinned.mount("http://", adapter)
    pinned.mount("https://", adapter)
    return pinned


def _post_pinned(session: requests.Session | None, addresses: list[str], url: str, body: bytes,
                 headers: dict[str, str], timeout: float) -> requests.Response:
    """POST to ``url`` connecting to each checked address in turn until one takes the connection (a connection
    refused or timed out tries the next; any answer is the answer)."""
    total = 2 * timeout + 1  # a connection and an answer, each within timeout: the whole exchange within this
    if session is not None:
        return _within(total, lambda: _status_only(session.post(
            url, data=body, timeout=timeout, allow_redirects=False, headers=headers, stream=True)))
    last: requests.ConnectionError | None = None
    for address in addresses:
        sender = _pinned(address)
        try:
            return _within(total, lambda sender=sender: _status_only(sender.post(  # type: ignore[misc]
                url, data=body, timeout=timeout, allow_redirects=False, headers=headers, stream=True)))
        except requests.ConnectionError as exc:  # ConnectTimeout is one too
            last = exc
        finally:
            sender.close()
    raise last or requests.ConnectionError(f"no address to deliver to for {url}")


def _within(seconds: float, call: Callable[[], requests.Response]) -> requests.Response:
    """``call()`` if it ends within ``seconds``, else :class:`requests.Timeout`: requests' timeout bounds each socket
    read, and a receiver sending its status line and headers a byte at a time held the pass (every department's
    notifications) as long as it liked. The call goes on in a daemon thread until its own reads time out."""
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["answer"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller as it is
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="webhook-post", daemon=True).start()
    if not done.wait(seconds):
        raise requests.Timeout(f"no complete answer within {seconds:.0f} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["answer"]


def _status_only(response: requests.Response) -> requests.Response:
    """The answer's status is all a delivery needs: the body is never read (a receiver answering 200 with 400 MiB
    filled the API server's memory; one dripping its body a byte at a time held every other delivery, and its 200
    counted as a failure when the read timed out)."""
    response.close()
    return response


def _told_entries(conn: Connection, row: Any) -> list[AuditEntry]:
    """One ``notify`` entry per holder of the certificate a delivery told its client about: what a department
    was told of a holder's certificate is a use of their data, and their access log shows it."""
    if row.identifier is None:
        return []
    return [AuditEntry(action="notify", outcome="delivered", client_id=row.client_id, holder_ref=ref,
                       certificate=row.identifier,
                       detail=f"status change told by webhook: {row.event}, now {row.status} "
                              f"(subscription {row.subscription_id}, event {row.event_id})")
            for ref in sorted(holders_of_certificate(conn, row.identifier))]


def deliver_webhooks(gw: Any, *, now: datetime | None = None, limit: int = 200,
                     session: requests.Session | None = None) -> DeliveryReport:
    """Send due deliveries once each (call it periodically; the API server runs it in the background)."""
    now = now or _utcnow()
    report = DeliveryReport()
    with gw.engine.begin() as conn:
        due = store.due_deliveries(conn, now, limit)
        claim = now + CLAIM_FOR  # the updates below are recorded only while this claim is still ours
        mine = store.claim_deliveries(conn, [row.id for row in due], now=now, until=claim)
    due = [row for row in due if row.id in mine]
    if not due:
        return report
    max_attempts, retry_for = gw.settings.webhook_max_attempts, gw.settings.webhook_retry_for
    started = _utcnow()
    failing: set[str] = set()  # subscriptions whose receiver failed in this pass: their other rows wait
    for row in due:
        if _utcnow() - started > PASS_BUDGET or row.subscription_id in failing:
            continue  # left claimed: due again when the claim lapses, never lost, never sent twice
        body = row.payload.encode()
        error = None
        refused, addresses = (None, []) if not (row.active and row.client_live) else \
            checked_target(row.url, gw.settings.webhook_allowed_hosts)
        if not row.active:
            error = "subscription cancelled"
        elif not row.client_live:
            error = "client revoked or expired"
        elif refused is not None:  # the name resolves somewhere else now: never retried
            error = f"refused: {refused}"
        else:
            headers = {"Content-Type": "application/json", "Tongban-Event-Id": str(row.event_id),
                       "Tongban-Signature": gw.signer.sign_detached(body)}
            try:  # no redirects: a 307 to 169.254.169.254 must not take the POST along
                # to an address just checked, each in turn until one connects (a name with an unreachable IPv6
                # record or a node down keeps being delivered to); a caller's own session is used as given
                response = _post_pinned(session, addresses, row.url, body, headers, gw.settings.webhook_timeout)
                if not 200 <= response.status_code < 300:
                    error = f"HTTP {response.status_code}"
            except requests.RequestException as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
            if error is not None:  # its other deliveries wait for the next pass, whatever becomes of this one
                failing.add(row.subscription_id)
        attempts = row.attempts + 1
        with gw.engine.begin() as conn:
            if error is None:
                store.mark_delivery_delivered(conn, row.id, attempts=attempts, at=_utcnow())
                append_entries(conn, _told_entries(conn, row), gw.settings.audit_hash)
                report.delivered += 1
            elif (attempts >= max_attempts and _utcnow() - row.created_at >= retry_for) \
                    or not (row.active and row.client_live) or refused is not None:
                store.mark_delivery_dead(conn, row.id, attempts=attempts, error=error, claimed_until=claim)
                report.dead += 1
            else:
                wait = timedelta(seconds=min(3600, 2 ** attempts))
                store.schedule_delivery_retry(conn, row.id, attempts=attempts, error=error,
                                              next_attempt_at=_utcnow() + wait, claimed_until=claim)
                report.retried += 1
    return report



def retry_dead(engine: Any, delivery_ids: list[int] | None = None, *,
               now: datetime | None = None) -> tuple[list[int], list[int]]:
    """After the receiver is mended: dead deliveries (all, or ``delivery_ids``) queued again, due at once, with a
    fresh count of attempts and a fresh ``webhook_retry_for`` (``tongban webhooks retry``); the next pass sends them.
    Returns ``(revived, left)``: ``left`` are the asked-for ids not revived — not dead, unknown, or for a cancelled
    subscription or a revoked client (sent, they would only die again, and the client may no longer be told)."""
    now = now or _utcnow()
    with engine.begin() as conn:
        revived = store.revive_dead_deliveries(conn, delivery_ids, now=now)
    left = sorted(set(delivery_ids or ()) - set(revived))
    return revived, left
