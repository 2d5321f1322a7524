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
import uuid
from datetime import datetime, timedelta, timezone

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


class Lease:
    """An exclusive, expiring claim on ``name`` (e.g. ``sync:sd_civil``)."""

    def __init__(self, engine: Engine, name: str, *, ttl: timedelta = DEFAULT_TTL) -> None:
        self.engine = engine
        self.name = name
        self.ttl = ttl
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
                stale = current["expires_at"] <= now or (
                    current["host"] == self.host and not _process_alive(current["pid"])
                )
                if not stale:
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
