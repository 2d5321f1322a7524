"""Retention and key rotation for the personal data the ledger keeps.

``purge`` drops what is past its retention period: resolved dead letters (their raw payloads), delivered or
superseded outbox rows, delivered and dead webhook deliveries, source records of deleted cases (their raw
payloads), quarantined certificates (except an open entry that marks a served certificate: its refusal is what
the gateway tells relying departments until an operator resolves it) and expired consents. The audit log stays:
it holds blind-index holder references, not ID numbers, and removing rows would break the chain it exists for.

``reseal_all`` re-seals every sealed value under the codec's current key (``tongban keys rotate``); the old key
can be dropped from the key file afterwards.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Engine, and_, delete, exists, func, select, tuple_, update

from gateway.crypto.pii import PiiCodec
from gateway.store import payloads
from gateway.store.outbox import DELIVERED, SUPERSEDED
from gateway.store.tables import (
    cases,
    certificate_quarantine,
    certificates,
    consents,
    dead_letters,
    outbox,
    source_records,
    webhook_deliveries,
)

__all__ = ["purge", "reseal_all"]

_FIELD_TOKEN = re.compile(r"enc:v1:[A-Za-z0-9]+:[A-Za-z0-9+/=]+")


def purge(engine: Engine, retention: timedelta, *, dry_run: bool = False,
          now: datetime | None = None) -> dict[str, int]:
    cutoff = (now or datetime.now(timezone.utc)) - retention
    plans: list[tuple[str, Any, Any]] = [
        ("dead letters (resolved)", dead_letters, and_(dead_letters.c.status == "resolved",
                                                       dead_letters.c.updated_at < cutoff)),
        ("outbox rows (delivered/superseded)", outbox, and_(outbox.c.status.in_([DELIVERED, SUPERSEDED]),
                                                            outbox.c.created_at < cutoff)),
        ("webhook deliveries (delivered/dead)", webhook_deliveries,
         and_(webhook_deliveries.c.status.in_(["delivered", "dead"]), webhook_deliveries.c.created_at < cutoff)),
        ("raw payloads of deleted records", source_records, and_(source_records.c.deleted.is_(True),
                                                                 source_records.c.updated_at < cutoff)),
        ("quarantined certificates", certificate_quarantine, and_(
            certificate_quarantine.c.created_at < cutoff,
            ~exists().where(certificates.c.refused_entry == certificate_quarantine.c.id))),
        ("expired consents", consents, consents.c.expires_at < cutoff),
    ]
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        for label, table, where in plans:
            if dry_run:
                counts[label] = int(conn.execute(select(func.count()).select_from(table).where(where)).scalar_one())
            else:
                counts[label] = max(conn.execute(delete(table).where(where)).rowcount, 0)
    return counts


def reseal_all(engine: Engine, codec: PiiCodec, *, batch: int = 1000) -> dict[str, int]:
    counts: dict[str, int] = {}

    def blobs(table: Any, key: Any, column: str) -> int:
        done, last = 0, None
        while True:
            with engine.begin() as conn:
                query = select(key, table.c[column]).order_by(key).limit(batch)
                if last is not None:
                    query = query.where(key > last)
                rows = conn.execute(query).all()
                if not rows:
                    return done
                for k, value in rows:
                    if value and codec.is_sealed(value):
                        new = codec.reseal(value) if value.startswith("encb:") else \
                            _FIELD_TOKEN.sub(lambda m: codec.reseal(m.group(0)), value)
                    elif value and "enc:v1:" in value:
                        new = _FIELD_TOKEN.sub(lambda m: codec.reseal(m.group(0)), value)
                    else:
                        continue
                    if new != value:
                        conn.execute(update(table).where(key == k).values({column: new}))
                        done += 1
                last = rows[-1][0]

    counts["source_records.raw"] = blobs(source_records, source_records.c.system + ":" + source_records.c.source_id,
                                         "raw")
    counts["source_records.payload"] = _reseal_payloads(engine, codec, batch)
    counts["dead_letters.raw"] = blobs(dead_letters, dead_letters.c.id, "raw")
    counts["certificate_quarantine.raw"] = blobs(certificate_quarantine, certificate_quarantine.c.id, "raw")
    counts["cases.data"] = blobs(cases, cases.c.case_no, "data")
    counts["certificates.document"] = blobs(certificates, certificates.c.identifier, "document")
    return counts


def _reseal_payloads(engine: Engine, codec: PiiCodec, batch: int) -> int:
    """Re-seal the compressed raw payloads (``source_records.payload``) sealed under an old key."""
    s = source_records.c
    done, last = 0, ("", "")
    while True:
        with engine.begin() as conn:
            rows = conn.execute(
                select(s.system, s.source_id, s.payload)
                .where(tuple_(s.system, s.source_id) > tuple_(*last), s.payload.is_not(None))
                .order_by(s.system, s.source_id).limit(batch)).all()
            if not rows:
                return done
            for system, source_id, payload in rows:
                if not payloads.is_sealed_with(payload, codec.current, codec):
                    conn.execute(update(source_records).where(s.system == system, s.source_id == source_id)
                                 .values(payload=payloads.reseal(payload, codec)))
                    done += 1
            last = (rows[-1].system, rows[-1].source_id)
