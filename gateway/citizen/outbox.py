"""Delivery of the citizen outbox: ratings, callbacks and appeals to the provincial system; dispatches, returns,
signatures and replies to the 12345 platform — each item once.

An item is queued in the same transaction as the change that calls for it, under a key that names it
(``rating:R1``, ``df:G1:0``). Each delivery is committed on its own, so a crash (kill -9) between the
receiver's answer and our commit loses nothing and leaves one item to send again — with the same key, which
the receiver answers with "already received". Transient failures back off; a refusal for good moves the item
to ``dead`` and to the dead-letter store with the receiver's words; a refused credential stops the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, Protocol

import orjson
from sqlalchemy import Engine

from gateway.contract.errors import RetriableSyncError, WriteRejectedError
from gateway.store import citizen as store
from gateway.store import ledger

__all__ = ["DeliveryReport", "Target", "deliver", "queue_item"]

Target = Literal["provincial_pj", "hotline"]
MAX_ATTEMPTS = 8


class _Sender(Protocol):
    def call(self, __op: str, __data: dict[str, Any]) -> Any: ...


@dataclass
class DeliveryReport:
    target: str
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "delivered": self.delivered, "retried": self.retried, "dead": self.dead,
                "errors": self.errors[:20]}


def queue_item(target: Target, key: str, operation: str, payload: dict[str, Any], *, now: datetime) -> dict[str, Any]:
    """An outbox row: ``operation`` is the receiver's (a SOAP operation, a platform path), ``payload`` its fields."""
    return {"target": target, "key": key, "operation": operation, "payload": orjson.dumps(payload).decode(),
            "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now}


def _backoff(attempts: int, retry_after: float | None) -> timedelta:
    return timedelta(seconds=max(retry_after or 0, min(600, 2 ** attempts)))


def deliver(engine: Engine, target: Target, sender: _Sender, *, now: datetime | None = None, limit: int = 500,
            max_attempts: int = MAX_ATTEMPTS, on_item: Any = None) -> DeliveryReport:
    """Send what is due for ``target`` (in queue order), up to ``limit`` items; ``on_item`` is called after each
    item is committed (tests use it to crash at a chosen point)."""
    now = now or datetime.now(timezone.utc)
    report = DeliveryReport(target)
    with engine.connect() as conn:
        items = store.due_outbox(conn, target, now=now, limit=limit)
    for item in items:
        payload = orjson.loads(item["payload"])
        attempts = item["attempts"] + 1
        try:
            sender.call(item["operation"], payload)
        except RetriableSyncError as exc:
            report.retried += 1
            status = "dead" if attempts >= max_attempts else "pending"
            with engine.begin() as conn:
                store.set_outbox(conn, item["id"], attempts=attempts, last_error=str(exc)[:2000], status=status,
                                 next_attempt_at=now + _backoff(attempts, exc.retry_after))
                if status == "dead":
                    _dead_letter(conn, item, f"gave up after {attempts} attempts: {exc}", now)
                    report.dead += 1
            report.errors.append(f"{item['key']}: {exc}")
            continue
        except WriteRejectedError as exc:
            with engine.begin() as conn:
                store.set_outbox(conn, item["id"], attempts=attempts, last_error=str(exc)[:2000], status="dead")
                _dead_letter(conn, item, str(exc), now)
            report.dead += 1
            report.errors.append(f"{item['key']}: {exc}")
            continue
        with engine.begin() as conn:
            store.set_outbox(conn, item["id"], attempts=attempts, status="delivered", delivered_at=now,
                             last_error=None)
        report.delivered += 1
        if on_item is not None:
            on_item(item)
    return report


def _dead_letter(conn: Any, item: Any, reason: str, now: datetime) -> None:
    ledger.add_dead_letters(conn, [{
        "kind": "push", "system": item["target"], "stream": item["operation"], "source_id": item["key"],
        "case_no": None, "cursor": None, "raw": item["payload"], "reason": f"{item['target']}:{item['key']}: {reason}",
        "issues": None, "mapping_version": None, "status": "open", "attempts": 1, "created_at": now,
        "updated_at": now}])
