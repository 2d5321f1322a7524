"""办不成事 tickets: a window where citizens report what they could not get done; a reply is owed within 3 working
days for a simple matter and 10 for one that needs several departments (seed 001). The reply clock is watched
by the deadline scan (:mod:`gateway.ops.deadlines.stages`, alerts with stage ``办不成事答复``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import Engine

from gateway.contract.errors import ConfigError
from gateway.store import process as store
from gateway.store.ledger import utcnow

__all__ = ["TicketKind", "open_ticket", "reply_ticket"]

TicketKind = Literal["simple", "coordination"]


def open_ticket(engine: Engine, ticket_no: str, kind: TicketKind, subject: str, *, office_code: str | None = None,
                case_no: str | None = None, opened_at: datetime | None = None) -> None:
    """Record a 办不成事 ticket; its reply clock starts the working day after ``opened_at``."""
    if kind not in ("simple", "coordination"):
        raise ConfigError(f"ticket {ticket_no}: kind must be simple or coordination, not {kind!r}")
    if not subject.strip():
        raise ConfigError(f"ticket {ticket_no}: subject: a ticket says what could not be done")
    with engine.begin() as conn:
        store.add_ticket(conn, {"ticket_no": ticket_no, "kind": kind, "office_code": office_code, "case_no": case_no,
                                "subject": subject, "opened_at": opened_at or utcnow(), "replied_at": None,
                                "reply": None})


def reply_ticket(engine: Engine, ticket_no: str, reply: str, *, at: datetime | None = None) -> bool:
    """Record the reply (the ticket's deadline alert resolves on the next scan); False if already replied."""
    with engine.begin() as conn:
        return store.reply_ticket(conn, ticket_no, at=at or utcnow(), reply=reply)
