"""What of an exception may leave the process — stored in a run, raised as an alert, written to a task log.

An exception's text quotes what it was working on. A SQLAlchemy error carries the statement's parameters (names,
ID numbers, addresses of the records in the batch); PostgreSQL adds the row it refused (``DETAIL: Failing row
contains (王秀英, …)``) or the key it found twice, and a bad value in its one-line reason (``invalid input syntax
for type integer: "王秀英"``). An Airflow task log, an alert and a run's error are read by more people than the
ledger's sealed documents — and a chained cause is printed whole under the error that wraps it. So every place
that turns an exception into text that leaves the process goes through :func:`describe_error`, and a traceback
through :func:`masked_traceback`: the type, the reason, where it happened — never the data.
"""

from __future__ import annotations

import re
import traceback

from sqlalchemy.exc import StatementError

from gateway.crypto.pii import redact

__all__ = ["describe_error", "masked_traceback"]

_QUOTED = re.compile(r'"([^"]*)"')
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_STATEMENT_HEAD = re.compile(r"\s*((?:\w+\s+){0,2}\w+)")


def describe_error(exc: BaseException, limit: int = 2000) -> str:
    """``Type: reason``, with personal data masked (:func:`~gateway.crypto.pii.redact`) and, for a database error,
    only the driver's one-line reason and the statement's first words: never its parameters nor the row or key
    the database quotes."""
    return redact(f"{type(exc).__name__}: {_reason(exc)}")[:limit]


def masked_traceback(exc: BaseException) -> str:
    """A traceback of ``exc`` and its causes as Python prints it — frames and source lines, which hold no data —
    with each exception's text given by :func:`describe_error`."""
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    parts = []
    for error in reversed(chain):  # the first cause first, as Python prints a chain
        frames = "".join(traceback.format_tb(error.__traceback__)) if error.__traceback__ is not None else ""
        parts.append(f"Traceback (most recent call last):\n{frames}{describe_error(error)}\n" if frames
                     else f"{describe_error(error)}\n")
    return "\nThe above exception was the cause of the following exception:\n\n".join(parts)


def _reason(exc: BaseException) -> str:
    if _is_driver_error(exc):
        return _driver_reason(exc)
    if not isinstance(exc, StatementError):
        return str(exc)
    orig = exc.orig
    reason = _driver_reason(orig) if orig is not None else ""
    head = _STATEMENT_HEAD.match(exc.statement or "")
    where = f" (in {head.group(1)} …)" if head else ""
    named = type(orig).__name__ if orig is not None else ""
    return f"{named}: {reason}{where}" if named and named != type(exc).__name__ else f"{reason}{where}"


_DRIVERS = frozenset({"psycopg", "psycopg2", "sqlite3", "asyncpg", "pg8000"})


def _is_driver_error(exc: BaseException) -> bool:
    """A database driver's own exception (``psycopg.errors.CheckViolation``, ``sqlite3.IntegrityError``): its text
    goes on after the first line with the refused row (``DETAIL: Failing row contains (…)``)."""
    return type(exc).__module__.split(".")[0] in _DRIVERS


def _driver_reason(exc: BaseException) -> str:
    """The first line of a driver's message, a quoted value in it masked (a quoted table or constraint name kept)."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    return _QUOTED.sub(lambda m: m.group(0) if _IDENTIFIER.fullmatch(m.group(1)) else '"…"', first)
