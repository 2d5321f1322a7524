"""One run per system at a time, whoever starts it: a lease row in the ledger, not a hope.

The holder renews the lease after every committed page; a holder that died (SIGKILL, OOM, a lost Airflow
worker) stops renewing, and its lease can be taken over once it expires — or at once when the holder was a
process on this same machine that no longer exists, so that an operator re-running a killed sync does not
wait out the TTL.

    with Lease(engine, "sync:sd_civil") as lease:
        for page in pages:
            ...
            lease.renew()
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from gateway.contract.errors import LeaseHeldError
from gateway.models.datetimes import beijing_minute
from gateway.store.tables import leases

DEFAULT_TTL = timedelta(minutes=5)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _lapsed(current: Mapping[str, Any], now: datetime) -> bool:
    """Whether a lease row's holder is gone: past its expiry, or a process of this machine that no longer exists."""
    return bool(current["expires_at"] <= now or (
        current["host"] == socket.gethostname() and not _process_alive(current["pid"])))


def held_by_a_live_run(conn: Connection, name: str, *, now: datetime | None = None) -> bool:
    """Whether a live holder has the lease ``name``: a run row still 'running' without one was left by a process
    that died (``kill -9``, a lost worker) — what status and metrics show, instead of "running" until the next
    run of the system relabels it."""
    current = conn.execute(select(leases).where(leases.c.name == name)).mappings().first()
    return current is not None and not _lapsed(current, now or _now())


class Lease:
    """An exclusive, expiring claim on ``name`` (e.g. ``sync:sd_civil``)."""

    def __init__(self, engine: Engine, name: str, *, ttl: timedelta | None = None) -> None:
        self.engine = engine
        self.name = name
        self.ttl = ttl or DEFAULT_TTL
        self.holder = uuid.uuid4().hex
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.held = False

    def acquire(self) -> None:
        """Take the lease or raise :class:`LeaseHeldError` naming who holds it and until when."""
        now = _now()
        row = {
            "name": self.name,
            "holder": self.holder,
            "host": self.host,
            "pid": self.pid,
            "acquired_at": now,
            "expires_at": now + self.ttl,
        }
        with self.engine.begin() as conn:
            current = conn.execute(select(leases).where(leases.c.name == self.name)).mappings().first()
            if current is None:
                try:
                    with conn.begin_nested():
                        conn.execute(insert(leases).values(**row))
                except IntegrityError:
                    raise LeaseHeldError(f"{self.name} was taken by another run just now") from None
            else:
                if not _lapsed(current, now):
                    raise LeaseHeldError(
                        f"{self.name} is held by pid {current['pid']} on {current['host']} until "
                        f"{beijing_minute(current['expires_at'])}; wait for that run to finish"
                    )
                taken = conn.execute(
                    update(leases)
                    .where(leases.c.name == self.name, leases.c.holder == current["holder"])
                    .values(**row)
                )
                if taken.rowcount != 1:
                    raise LeaseHeldError(f"{self.name} was taken by another run just now")
        self.held = True

    def renew(self, conn: Connection | None = None) -> None:
        """Extend the lease; raises :class:`LeaseHeldError` if it was lost (expired and taken over).

        Pass the page's connection to renew in the same transaction as the data it guards."""
        statement = (
            update(leases)
            .where(leases.c.name == self.name, leases.c.holder == self.holder)
            .values(expires_at=_now() + self.ttl)
        )
        if conn is not None:
            renewed = conn.execute(statement)
        else:
            with self.engine.begin() as own:
                renewed = own.execute(statement)
        if renewed.rowcount != 1:
            self.held = False
            raise LeaseHeldError(f"lost the lease on {self.name}: another run took it over")

    @contextmanager
    def kept_alive(self) -> Iterator[None]:
        """Renew the lease from a background thread every third of its TTL while the block runs: a holder busy in
        one long call (a write to a target that answers slowly, retried) keeps its claim as long as its process
        lives, instead of losing it to the next run, which would then send newer versions while this call's older
        one is still on its way. A renewal that finds the lease lost stops the heartbeat; the holder's own
        :meth:`renew` then raises as usual."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.ttl.total_seconds() / 3):
                try:
                    self.renew()
                except LeaseHeldError:
                    return
                except Exception:  # noqa: BLE001 - a database hiccup: the next beat (or the holder's renew) retries
                    continue

        thread = threading.Thread(target=beat, name=f"lease-heartbeat:{self.name}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=self.ttl.total_seconds())

    def release(self) -> None:
        if not self.held:
            return
        with self.engine.begin() as conn:
            conn.execute(delete(leases).where(leases.c.name == self.name, leases.c.holder == self.holder))
        self.held = False

    def __enter__(self) -> Lease:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
