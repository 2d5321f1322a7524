"""The certificate library in the ledger: storing harvested certificates and reading them for the API.

Holder ID numbers are sealed inside ``certificates.document`` and looked up by blind index through
``certificate_holders``, so the library answers "which certificates of these types does this holder have"
without decrypting anything and without holding an ID number in clear.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

import orjson
from sqlalchemy import Connection, and_, select, update

from gateway.crypto.pii import PiiCodec, mask
from gateway.store.tables import certificate_events, certificate_holders, certificates

__all__ = ["StoredCertificate", "by_content_hash", "expire_due", "find_for_holder", "get_certificate", "today_beijing"]

BEIJING = timezone(timedelta(hours=8))
_COLUMNS = (certificates.c.identifier, certificates.c.legacy_identifier, certificates.c.type_code,
            certificates.c.name, certificates.c.number, certificates.c.issuer_code, certificates.c.status,
            certificates.c.valid_until, certificates.c.content_hash, certificates.c.document,
            certificates.c.renewed_as, certificates.c.source_system, certificates.c.updated_at)


def today_beijing() -> date:
    return datetime.now(BEIJING).date()


@dataclass(slots=True)
class StoredCertificate:
    identifier: str
    legacy_identifier: str | None
    type_code: str
    name: str
    number: str
    issuer_code: str
    status: str
    valid_until: str | None
    content_hash: str
    document: str
    renewed_as: str | None
    source_system: str
    updated_at: datetime

    def effective_status(self, today: date | None = None) -> str:
        """``expired`` once the validity has run out, even before the next harvest has marked it."""
        if self.status == "valid" and self.valid_until and self.valid_until < (today or today_beijing()).isoformat():
            return "expired"
        return self.status

    def metadata_json(self, pii: PiiCodec, *, full_ids: bool) -> orjson.Fragment:
        """:meth:`metadata` as ready JSON to embed in an answer, remembered per certificate state: a certificate
        is released many times between changes, and each time its document was parsed, its holders' ID numbers
        opened and masked, and the result serialised again. The key is everything the rendering depends on
        (the stored document itself, status as of today, renewal, legacy identifier, update time, scope)."""
        return _rendered_metadata(self.document, self.effective_status(), self.renewed_as, self.legacy_identifier,
                                  self.updated_at, pii, full_ids)

    def metadata(self, pii: PiiCodec, *, full_ids: bool) -> dict[str, Any]:
        """The metadata a client sees: holder ID numbers masked unless the client's scope allows them."""
        return _metadata_dict(self.document, self.effective_status(), self.renewed_as, self.legacy_identifier,
                              self.updated_at, pii, full_ids)


def _metadata_dict(document: str, status: str, renewed_as: str | None, legacy_identifier: str | None,
                   updated_at: datetime, pii: PiiCodec, full_ids: bool) -> dict[str, Any]:
    doc = orjson.loads(document)
    for holder in doc.get("holders", []):
        number = pii.open(holder["id_number"])
        holder["id_number"] = number if full_ids else mask(number)
    doc["status"] = status
    doc["renewed_as"] = renewed_as
    doc["legacy_identifier"] = legacy_identifier
    doc["updated_at"] = updated_at.isoformat()
    return doc


@functools.lru_cache(maxsize=4096)
def _rendered_metadata(document: str, status: str, renewed_as: str | None, legacy_identifier: str | None,
                       updated_at: datetime, pii: PiiCodec, full_ids: bool) -> orjson.Fragment:
    return orjson.Fragment(orjson.dumps(_metadata_dict(document, status, renewed_as, legacy_identifier, updated_at,
                                                       pii, full_ids)))


def _stored(row: Any) -> StoredCertificate:
    return StoredCertificate(*row)


def stored_from_row(row: tuple[Any, ...]) -> StoredCertificate:
    """From a plain driver row in ``_COLUMNS`` order (``updated_at`` as SQLite text or a naive UTC datetime)."""
    values = list(row)
    updated = values[12]
    if isinstance(updated, str):
        updated = datetime.fromisoformat(updated)
    values[12] = updated.replace(tzinfo=timezone.utc) if updated.tzinfo is None else updated
    return StoredCertificate(*values)


def find_for_holder(conn: Connection, holder_bidx: str, types: Sequence[str]) -> list[StoredCertificate]:
    h = certificate_holders.c
    query = (select(*_COLUMNS).join(certificate_holders, h.identifier == certificates.c.identifier)
             .where(h.holder_bidx == holder_bidx).order_by(certificates.c.identifier))
    if types:
        query = query.where(h.type_code.in_(list(types)))
    return [_stored(r) for r in conn.execute(query)]


def get_certificate(conn: Connection, identifier: str) -> StoredCertificate | None:
    ident = identifier.strip().upper()
    row = conn.execute(select(*_COLUMNS).where(certificates.c.identifier == ident)).first()
    if row is None:
        row = conn.execute(select(*_COLUMNS).where(certificates.c.legacy_identifier == identifier.strip())).first()
    return _stored(row) if row is not None else None


def holders_of(conn: Connection, identifier: str) -> set[str]:
    h = certificate_holders.c
    return {r[0] for r in conn.execute(select(h.holder_bidx).where(h.identifier == identifier))}


def certificate_file(conn: Connection, identifier: str) -> str | None:
    return conn.execute(select(certificates.c.file).where(certificates.c.identifier == identifier)).scalar_one_or_none()


def by_content_hash(conn: Connection, digest: str) -> StoredCertificate | None:
    row = conn.execute(select(*_COLUMNS).where(certificates.c.content_hash == digest.lower())).first()
    return _stored(row) if row is not None else None


def expire_due(conn: Connection, *, today: date | None = None, now: datetime | None = None) -> list[int]:
    """Mark valid certificates whose validity ended as expired; returns the new event ids."""
    day = (today or today_beijing()).isoformat()
    now = now or datetime.now(timezone.utc)
    c = certificates.c
    due = conn.execute(select(c.identifier, c.type_code).where(
        and_(c.status == "valid", c.valid_until.is_not(None), c.valid_until < day))).all()
    events = []
    for identifier, type_code in due:
        conn.execute(update(certificates).where(c.identifier == identifier).values(status="expired", updated_at=now))
        result = conn.execute(certificate_events.insert().values(
            identifier=identifier, type_code=type_code, event="expired", status="expired", previous_status="valid",
            renewed_as=None, at=now))
        events.append(int(result.inserted_primary_key[0]))  # type: ignore[index]
    return events
