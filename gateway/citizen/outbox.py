"""Delivery of the citizen outbox: ratings, callbacks and appeals to the provincial system; dispatches, returns,
signatures and replies to the 12345 platform — each item once.

An item is queued in the same transaction as the change that calls for it, under a key that names it
(``rating:R1``, ``df:G1:0``). Each delivery is committed on its own, so a crash (kill -9) between the
receiver's answer and our commit loses nothing and leaves one item to send again — with the same key, which
the receiver answers with "already received". Transient failures back off; a refusal for good moves the item
to ``dead`` and to the dead-letter store with the receiver's words; a refused credential stops the run. An
answer the client cannot place (:class:`FatalSyncError`: not XML, an unknown code) fails that item — it backs off
like a transient failure and dies after ``max_attempts`` — and delivery goes on with the next: one poisoned item
never holds up the queue. :data:`FATAL_STREAK` such failures in a row are the receiver, not the items: the run
stops there with the error. One run delivers to a target at a time (:func:`delivery_lease`): two at once sent
each item twice, and out of order.

Some items only make sense after another (:func:`prerequisite`): a callback or an appeal after its rating, a
signature or a reply after the dispatch, the redo's reply after the first. Such an item waits while its
prerequisite is pending — a receiver would refuse it for good otherwise — and dies with it.

On a ledger with keys the payloads are kept sealed (:func:`gateway.store.citizen.enqueue`) and opened here, just
before they are sent; a dead item's dead letter is sealed too, and a receiver's error is kept masked
(:func:`gateway.crypto.pii.redact`): it may quote what it refused.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, Protocol

import orjson
from sqlalchemy import Engine

from gateway.contract.errors import (
    AuthenticationError,
    ConfigError,
    FatalSyncError,
    RetriableSyncError,
    TongbanError,
    WriteRejectedError,
)
from gateway.crypto.pii import PiiCodec, open_text, redact
from gateway.store import citizen as store
from gateway.store import ledger
from gateway.store.lease import Lease
from gateway.store.sealing import require_ledger_keys

__all__ = ["DRAIN_BUDGET", "DeliveryReport", "ResendReport", "Target", "deliver", "delivery_lease", "drain", "prerequisite", "queue_item",
           "resend_dead"]

_log = logging.getLogger(__name__)
Target = Literal["provincial_pj", "hotline"]
MAX_ATTEMPTS = 8
FATAL_STREAK = 3
"""Items failing with :class:`FatalSyncError` one after another, none delivered between, before a run stops."""


class _Sender(Protocol):
    def call(self, __op: str, __data: dict[str, Any]) -> Any: ...


@dataclass
class DeliveryReport:
    target: str
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    waiting: int = 0
    """Items held back because what must arrive before them has not yet."""
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "delivered": self.delivered, "retried": self.retried, "dead": self.dead,
                "waiting": self.waiting, "errors": self.errors[:20]}

    def unreached(self) -> str | None:
        """Why this delivery counts as failed — it reached nothing while items failed (the receiver is down: a
        green run would say otherwise) — or None. One rule for the DAG's task and a sync run from a shell."""
        if not (self.retried and not self.delivered):
            return None
        return (f"{self.target}: nothing delivered, {self.retried} item(s) failed; first: "
                f"{self.errors[0] if self.errors else '?'}")


def key_part(identifier: str) -> str:
    """An identifier as it stands inside an outbox key: ``%`` and ``:`` escaped (``%25``, ``%3A``), so that a rating
    ``PJ-7:1`` is never its own ``rating:PJ-7:1`` — revision 1 of ``PJ-7`` — nor read as a revision (the two
    collided: the page's insert failed and every run stopped on it, or the rating was never forwarded). Identifiers
    without either character stay as they are, and so do the keys already queued."""
    return identifier.replace("%", "%25").replace(":", "%3A") if ":" in identifier or "%" in identifier else identifier


def queue_item(target: Target, key: str, operation: str, payload: dict[str, Any], *, now: datetime) -> dict[str, Any]:
    """An outbox row: ``operation`` is the receiver's (a SOAP operation, a platform path), ``payload`` its fields."""
    return {"target": target, "key": key, "operation": operation, "payload": orjson.dumps(payload).decode(),
            "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now}


def prerequisite(key: str) -> str | None:
    """The key that must be delivered before ``key``: ``callback:R:1``/``appeal:R:3`` → ``rating:R``; the
    rectification ``callback:R:2`` → the callback ``callback:R:1`` (整改 follows 回访: the province must never hold a
    rectification without the callback it answers, nor get it first); a revision ``rating:R:<n>`` →
    ``rating:R:<n-1>`` (``rating:R`` for the first);
    ``qs:G`` → ``zp:G``; ``df:G:0`` → ``qs:G`` (the platform takes no 答复 before the 签收; a reply signs for an
    unsigned order first); ``df:G:1`` → ``df:G:0``. A prerequisite never queued (an order signed on the platform
    itself) does not hold anything back."""
    kind, _, rest = key.partition(":")
    if kind == "rating" and ":" in rest:  # rating:R:<n>, revision n of R: after revision n-1 (R itself for 1)
        rating, _, n = rest.rpartition(":")
        if not (n.isascii() and n.isdigit()):
            return None  # a rating whose id held ':' queued before ids were escaped (rating:A:B): the rating itself
        return f"rating:{rating}" if n == "1" else f"rating:{rating}:{int(n) - 1}"
    if kind == "callback" and rest.endswith(":2"):  # the rectification: after the callback (which is after R)
        return f"callback:{rest.removesuffix(':2')}:1"
    if kind in ("callback", "appeal"):
        return f"rating:{rest.rpartition(':')[0] or rest}"
    if kind == "qs":
        return f"zp:{rest}"
    if kind == "df":
        order, _, round_ = rest.rpartition(":")
        return f"df:{order}:0" if round_ == "1" else f"qs:{order}"
    return None


def _backoff(attempts: int, retry_after: float | None) -> timedelta:
    return timedelta(seconds=max(retry_after or 0, min(600, 2 ** attempts)))


def delivery_lease(engine: Engine, target: Target) -> Lease:
    """The claim one delivery run of ``target`` holds while it sends: two runs at once (the DAG's and an operator's
    ``tongban evaluations sync``) sent every item twice, and a slower one sent a rating's first version after the
    revision the other had sent — which the province takes as the rating revised back."""
    return Lease(engine, f"deliver:{target}")


def deliver(engine: Engine, target: Target, sender: _Sender, *, now: datetime | None = None, limit: int = 500,
            max_attempts: int = MAX_ATTEMPTS, on_item: Any = None, pii: PiiCodec | None = None) -> DeliveryReport:
    """Send what is due for ``target`` (in queue order), up to ``limit`` items, each payload opened with ``pii``
    (the ledger's keys: a sealed ledger refuses a run without them before anything is sent); ``on_item`` is called
    after each item is committed (tests use it to crash at a chosen point). Holds :func:`delivery_lease`: raises
    :class:`LeaseHeldError` while another run delivers to ``target`` (wait for it; it sends what is due)."""
    with delivery_lease(engine, target) as lease, lease.kept_alive():
        return _deliver(engine, target, sender, lease, now=now, limit=limit, max_attempts=max_attempts,
                        on_item=on_item, pii=pii)


def _deliver(engine: Engine, target: Target, sender: _Sender, lease: Lease, *, now: datetime | None, limit: int,
             max_attempts: int = MAX_ATTEMPTS, on_item: Any = None, pii: PiiCodec | None = None) -> DeliveryReport:
    now = now or datetime.now(timezone.utc)
    report = DeliveryReport(target)
    streak = 0
    with engine.begin() as conn:
        require_ledger_keys(conn, pii, what=f"send the queued messages to {target}")
        items = store.due_outbox(conn, target, now=now, limit=limit)

    def dead_letter(conn: Any, item: Any, reason: str) -> None:
        _dead_letter(conn, item, reason, now, pii)

    for item in items:
        before = prerequisite(item["key"])
        if before is not None:
            with engine.connect() as conn:
                state = store.outbox_status(conn, target, before)
            if state == "dead":
                with engine.begin() as conn:
                    store.set_outbox(conn, item["id"], status="dead", last_error=f"{before} is dead")
                    dead_letter(conn, item, f"its prerequisite {before} could not be delivered")
                report.dead += 1
                continue
            if state == "pending":  # not yet: the receiver would refuse it for good
                with engine.begin() as conn:
                    store.set_outbox(conn, item["id"], next_attempt_at=now + timedelta(seconds=30))
                report.waiting += 1
                continue
        try:
            payload = orjson.loads(open_text(item["payload"], pii) or "null")
        except (ConfigError, ValueError) as exc:  # damaged, or sealed under a key not in the key file
            with engine.begin() as conn:  # dead, not a queue stopped behind it for good (resend once it is fixed)
                store.set_outbox(conn, item["id"], status="dead", last_error=_error(exc))
                dead_letter(conn, item, f"its queued message cannot be opened: {exc}")
            report.dead += 1
            report.errors.append(f"{item['key']}: {_error(exc)}")
            continue
        attempts = item["attempts"] + 1
        lease.renew()  # lost (expired, taken over): stop before sending more — the other run carries on
        try:
            sender.call(item["operation"], payload)
        except RetriableSyncError as exc:
            report.retried += 1
            status = "dead" if attempts >= max_attempts else "pending"
            with engine.begin() as conn:
                store.set_outbox(conn, item["id"], attempts=attempts, last_error=_error(exc), status=status,
                                 next_attempt_at=now + _backoff(attempts, exc.retry_after))
                if status == "dead":
                    dead_letter(conn, item, f"gave up after {attempts} attempts: {exc}")
                    report.dead += 1
            report.errors.append(f"{item['key']}: {_error(exc)}")
            continue
        except WriteRejectedError as exc:
            with engine.begin() as conn:
                store.set_outbox(conn, item["id"], attempts=attempts, last_error=_error(exc), status="dead")
                dead_letter(conn, item, str(exc))
            report.dead += 1
            report.errors.append(f"{item['key']}: {_error(exc)}")
            continue
        except (AuthenticationError, ConfigError):
            raise  # the credential or the settings: every item would fail alike — fix them, the queue waits
        except Exception as exc:  # noqa: BLE001 - this item failed in a way the client cannot place (a
            streak += 1             # FatalSyncError, or an answer it could not even read): it, not the queue
            status = "dead" if attempts >= max_attempts else "pending"
            with engine.begin() as conn:
                store.set_outbox(conn, item["id"], attempts=attempts, last_error=_error(exc), status=status,
                                 next_attempt_at=now + _backoff(attempts, None))
                if status == "dead":
                    dead_letter(conn, item, f"gave up after {attempts} attempts: {exc}")
            if status == "dead":
                report.dead += 1
            else:
                report.retried += 1
            report.errors.append(f"{item['key']}: {_error(exc)}")
            if streak >= FATAL_STREAK:
                raise FatalSyncError(f"{target}: {streak} items in a row failed, the last {item['key']}: {_error(exc)}") from exc
            if not isinstance(exc, TongbanError):
                _log.warning("%s: %s failed unexpectedly: %s", target, item["key"], _error(exc), exc_info=exc)
            continue
        streak = 0
        with engine.begin() as conn:
            store.set_outbox(conn, item["id"], attempts=attempts, status="delivered", delivered_at=now,
                             last_error=None)
        report.delivered += 1
        if on_item is not None:
            on_item(item)
    return report


DRAIN_BUDGET = timedelta(minutes=4)
"""How long one scheduled run keeps delivering batches (the DAG runs every 5 minutes): a first read's history —
100,000 ratings at a cut-over — goes up in a few runs, not 500 a run for 17 hours with today's 差评 behind it."""


def drain(engine: Engine, target: Target, sender: _Sender, *, budget: timedelta = DRAIN_BUDGET, limit: int = 500,
          clock: Any = None, pii: PiiCodec | None = None) -> DeliveryReport:
    """:func:`deliver` batch after batch while batches go through whole (no retry: a receiver that struggles is
    not pressed) and ``budget`` lasts; one report for them all."""
    clock = clock or time.monotonic
    started = clock()
    total = DeliveryReport(target)
    with delivery_lease(engine, target) as lease, lease.kept_alive():  # one claim for every batch of the run
        while True:
            batch = _deliver(engine, target, sender, lease, now=None, limit=limit, pii=pii)
            total.delivered += batch.delivered
            total.retried += batch.retried
            total.dead += batch.dead
            total.waiting += batch.waiting
            total.errors.extend(batch.errors)
            if batch.retried or batch.delivered < limit // 2 or clock() - started >= budget.total_seconds():
                return total


def _error(exc: Exception) -> str:
    """A receiver's error as the outbox row keeps it: masked, as it may quote what it refused (an error that is not
    Tongban's says its type: ``ValueError: …`` alone would not say what failed)."""
    said = str(exc) if isinstance(exc, TongbanError) else f"{type(exc).__name__}: {exc}"
    return redact(said)[:2000]


def _dead_letter(conn: Any, item: Any, reason: str, now: datetime, pii: PiiCodec | None) -> None:
    """The dead letter of an outbox item refused for good (sealed with ``pii``). Its raw names the outbox row
    (``outbox_id``, as a case push's dead letter does) beside the payload sent, so that :func:`resend_dead` can
    queue that very row again."""
    try:
        payload = orjson.loads(open_text(item["payload"], pii) or "null")
    except (ConfigError, ValueError):  # the message itself cannot be opened: the dead letter names its row
        payload = None
    raw = {"outbox_id": item["id"], "key": item["key"], "operation": item["operation"], "payload": payload}
    ledger.add_dead_letters(conn, [{
        "kind": "push", "system": item["target"], "stream": item["operation"], "source_id": item["key"],
        "case_no": None, "cursor": None, "raw": orjson.dumps(raw).decode(),
        "reason": redact(f"{item['target']}:{item['key']}: {reason}"),
        "issues": None, "mapping_version": None, "status": "open", "attempts": 1, "created_at": now,
        "updated_at": now}], pii=pii)


@dataclass
class ResendReport:
    target: str
    requeued: int = 0
    unnamed: list[int] = field(default_factory=list)
    """Dead letters written before they named their outbox row (their raw is the bare payload): not re-sent,
    listed by dead-letter id for an operator."""

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "requeued": self.requeued, "unnamed": self.unnamed[:50]}


def _outbox_id(raw: str | None) -> int | None:
    """The outbox row a push dead letter names, or None (a dead letter from before they named it)."""
    try:
        data = orjson.loads(raw or "null")
    except orjson.JSONDecodeError:
        return None
    value = data.get("outbox_id") if isinstance(data, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def resend_dead(engine: Engine, target: Target, *, now: datetime | None = None,
                pii: PiiCodec | None = None) -> ResendReport:
    """Queue every dead item of ``target`` again, once the cause of its refusal is fixed (a credential, a field
    the receiver wanted, the receiver itself): each outbox row goes back to ``pending`` with its attempts reset,
    and its dead letter is resolved in the same transaction. The items keep their keys and queue order, so the
    next :func:`deliver` sends a rating before its callback, the callback before the rectification; the receiver
    answers "already received" for anything it did take. ``pii`` opens dead letters sealed on a ledger with keys
    (a sealed ledger refuses a run without them)."""
    now = now or datetime.now(timezone.utc)
    report = ResendReport(target)
    with engine.begin() as conn:
        require_ledger_keys(conn, pii, what=f"queue {target}'s dead messages again")
        for row in ledger.open_push_dead_letters(conn, target):
            try:
                item_id = _outbox_id(open_text(row.raw, pii))
            except (ConfigError, ValueError):  # sealed under a key not in the key file, or damaged: for a person
                item_id = None
            if item_id is None:
                report.unnamed.append(int(row.id))
                continue
            store.set_outbox(conn, item_id, status="pending", attempts=0, next_attempt_at=now, last_error=None)
            ledger.resolve_dead_letter(conn, row.id)
            report.requeued += 1
    return report
