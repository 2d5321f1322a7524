"""办不成事 tickets: a window where citizens report what they could not get done; a reply is owed within 3 working
days for a simple matter and 10 for one that needs several departments (seed 001). The reply clock is watched
by the deadline scan (:mod:`gateway.ops.deadlines.stages`, alerts with stage ``办不成事答复``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from gateway.contract.errors import ConfigError, TongbanError
from gateway.models.identifiers import normalise
from gateway.store import process as store
from gateway.store.ledger import utcnow

__all__ = ["TicketExists", "TicketKind", "open_ticket", "reply_ticket", "ticket_number"]

TicketKind = Literal["simple", "coordination"]


class TicketExists(TongbanError):
    """A ticket number is taken: a ticket is opened once, and its reply clock is not restarted by opening it
    again. A new matter needs a new number (an API answers 409)."""

    def __init__(self, ticket_no: str) -> None:
        super().__init__(f"ticket {ticket_no} exists: a ticket is opened once (a new matter needs a new number)")
        self.ticket_no = ticket_no


def _short(ticket_no: str, name: str, value: str | None) -> None:
    if value is not None and len(value) > 64:
        raise ConfigError(f"ticket {ticket_no[:64]}: {name}: at most 64 characters, got {len(value)}")


def ticket_number(ticket_no: str) -> str:
    """A ticket number as it is kept and looked up: NFKC, no spaces, upper case — ``T-101 ``, ``Ｔ－１０１`` and
    ``t-101`` are one ticket (opened once; a pasted blank must not open a second one, nor miss the reply)."""
    return normalise(ticket_no)


def open_ticket(engine: Engine, ticket_no: str, kind: TicketKind, subject: str, *, office_code: str | None = None,
                case_no: str | None = None, opened_at: datetime | None = None) -> None:
    """Record a 办不成事 ticket; its reply clock starts the working day after ``opened_at``. A number already
    used raises :class:`TicketExists` (the first ticket and its clock stay as they were); numbers are compared as
    :func:`ticket_number` writes them, office codes likewise."""
    ticket_no = ticket_number(ticket_no)
    if not ticket_no:
        raise ConfigError("ticket: ticket_no: a ticket needs its number")
    office_code = normalise(office_code) or None if office_code is not None else None
    for name, value in (("ticket_no", ticket_no), ("office_code", office_code), ("case_no", case_no)):
        _short(ticket_no, name, value)
    if kind not in ("simple", "coordination"):
        raise ConfigError(f"ticket {ticket_no}: kind must be simple or coordination, not {kind!r}")
    if not subject.strip():
        raise ConfigError(f"ticket {ticket_no}: subject: a ticket says what could not be done")
    try:
        with engine.begin() as conn:
            store.add_ticket(conn, {"ticket_no": ticket_no, "kind": kind, "office_code": office_code,
                                    "case_no": case_no, "subject": subject, "opened_at": opened_at or utcnow(),
                                    "replied_at": None, "reply": None})
    except IntegrityError:
        with engine.connect() as conn:  # the number taken (also by a concurrent open), or another constraint
            if not store.ticket_exists(conn, ticket_no):
                raise
        raise TicketExists(ticket_no) from None


def reply_ticket(engine: Engine, ticket_no: str, reply: str, *, at: datetime | None = None) -> bool:
    """Record the reply (the ticket's deadline alert resolves on the next scan); False if unknown or already
    replied. A reply with no text (empty or only whitespace) is refused: it would stop the clock with nothing
    said to the citizen."""
    if not reply.strip():
        raise ConfigError(f"ticket {ticket_no}: reply: a reply needs its text (empty or only whitespace given)")
    kept, at = ticket_number(ticket_no), at or utcnow()
    with engine.begin() as conn:  # a ticket opened before numbers were kept normalised is found as it was typed
        return store.reply_ticket(conn, kept, at=at, reply=reply) or (
            kept != ticket_no and store.reply_ticket(conn, ticket_no, at=at, reply=reply))
