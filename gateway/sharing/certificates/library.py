"""The certificate library in the ledger: storing harvested certificates and reading them for the API.

Holder ID numbers are sealed inside ``certificates.document`` and looked up by blind index through
``certificate_holders``, so the library answers "which certificates of these types does this holder have"
without decrypting anything and without holding an ID number in clear.

What a client is told about a certificate's standing is derived when it asks, from columns: its status *today*
(:meth:`StoredCertificate.effective_status`: ``not_yet_valid`` before 有效期起, ``expired`` after 有效期止) and,
when a newer version from the issuer was refused by the harvest, a quality flag saying so
(:meth:`StoredCertificate.quality`) — the same ``{rule, field, message}`` shape a case's quality flags have.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

import orjson
from sqlalchemy import Connection

from gateway.crypto.pii import PiiCodec, mask
from gateway.models.certificate import status_on
from gateway.store import certificates as store

__all__ = ["REFUSED_NEWER_VERSION", "AmbiguousIdentifier", "StoredCertificate", "by_content_hash", "expire_due", "find_for_holder",
           "get_certificate", "today_beijing", "announce_effective"]

REFUSED_NEWER_VERSION = "certificate.newer_version_refused"
"""The quality flag of a served certificate whose issuer sent a newer version the harvest refused (quarantined):
what is served may be out of date — revoked, even — until the issuer sends a version that verifies or an operator
resolves the quarantine entry."""

BEIJING = timezone(timedelta(hours=8))


def today_beijing() -> date:
    return datetime.now(BEIJING).date()


@dataclass(slots=True)
class StoredCertificate:
    """A certificate of the library, from a row in :data:`gateway.store.certificates.CERTIFICATE_COLUMNS` order."""

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
    valid_from: str | None = None
    refused_reason: str | None = None
    refused_at: datetime | None = None

    def effective_status(self, today: date | None = None) -> str:
        """The status today (Beijing): ``not_yet_valid`` before the validity starts, ``expired`` once it has run
        out (even before the next harvest has marked it), else the issuer's (:func:`~gateway.models.status_on`)."""
        return status_on(self.status, self.valid_from, self.valid_until, today or today_beijing())

    def quality(self) -> tuple[dict[str, str], ...]:
        """The certificate's quality flags, as a case's (``rule, field, message``): a refused newer version."""
        return _quality(self.refused_reason, self.refused_at)

    def metadata_json(self, pii: PiiCodec, *, full_ids: bool) -> orjson.Fragment:
        """:meth:`metadata` as ready JSON to embed in an answer, remembered per certificate state: a certificate
        is released many times between changes, and each time its document was parsed, its holders' ID numbers
        opened and masked, and the result serialised again. The key is everything the rendering depends on
        (the stored document itself, status as of today, renewal, legacy identifier, update time, a refused
        newer version, scope)."""
        return _rendered_metadata(self.document, self.effective_status(), self.renewed_as, self.legacy_identifier,
                                  self.updated_at, self.refused_reason, self.refused_at, pii, full_ids)

    def metadata(self, pii: PiiCodec, *, full_ids: bool) -> dict[str, Any]:
        """The metadata a client sees: holder ID numbers masked unless the client's scope allows them."""
        return _metadata_dict(self.document, self.effective_status(), self.renewed_as, self.legacy_identifier,
                              self.updated_at, self.refused_reason, self.refused_at, pii, full_ids)


def _quality(refused_reason: str | None, refused_at: datetime | None) -> tuple[dict[str, str], ...]:
    if refused_reason is None:
        return ()
    when = f" on {refused_at.isoformat()}" if refused_at is not None else ""
    return ({"rule": REFUSED_NEWER_VERSION, "field": "status",
             "message": f"a newer version from the issuer was refused{when}: {refused_reason}; what is served may be "
                        f"out of date (revoked, even): check with the issuer"},)


def _metadata_dict(document: str, status: str, renewed_as: str | None, legacy_identifier: str | None,
                   updated_at: datetime, refused_reason: str | None, refused_at: datetime | None, pii: PiiCodec,
                   full_ids: bool) -> dict[str, Any]:
    doc = orjson.loads(document)
    for holder in doc.get("holders", []):
        number = pii.open(holder["id_number"])
        holder["id_number"] = number if full_ids else mask(number)
    doc["status"] = status
    doc["renewed_as"] = renewed_as
    doc["legacy_identifier"] = legacy_identifier
    doc["updated_at"] = updated_at.isoformat()
    doc["quality"] = list(_quality(refused_reason, refused_at))
    return doc


@functools.lru_cache(maxsize=4096)
def _rendered_metadata(document: str, status: str, renewed_as: str | None, legacy_identifier: str | None,
                       updated_at: datetime, refused_reason: str | None, refused_at: datetime | None, pii: PiiCodec,
                       full_ids: bool) -> orjson.Fragment:
    return orjson.Fragment(orjson.dumps(_metadata_dict(document, status, renewed_as, legacy_identifier, updated_at,
                                                       refused_reason, refused_at, pii, full_ids)))


def _stored(row: Any) -> StoredCertificate:
    return StoredCertificate(*row)


def _utc(value: Any) -> Any:
    """A time as SQLite text or a naive UTC datetime (a plain driver row), aware."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value


def stored_from_row(row: tuple[Any, ...]) -> StoredCertificate:
    """From a plain driver row in ``CERTIFICATE_COLUMNS`` order (times as SQLite text or naive UTC datetimes)."""
    values = list(row)
    values[12] = _utc(values[12])
    values[15] = _utc(values[15])
    return StoredCertificate(*values)


def find_for_holder(conn: Connection, holder_bidx: str, types: Sequence[str]) -> list[StoredCertificate]:
    return [_stored(r) for r in store.find_certificates_for_holder(conn, holder_bidx, types)]


class AmbiguousIdentifier(LookupError):
    """A legacy identifier that names certificates of more than one issuer, and nothing told which is meant: the
    caller must ask by the GB/T 36904 identifier (or for a holder who holds just one of them)."""

    def __init__(self, identifier: str, *, held: int | None = None) -> None:
        super().__init__(f"legacy identifier {identifier!r} names certificates of more than one issuer; ask by the "
                         "GB/T 36904 identifier")
        self.identifier = identifier
        self.held = held
        """How many of them the holder asked about holds (None: no holder was given)."""


def get_certificate(conn: Connection, identifier: str, *, holder_bidx: str | None = None) -> StoredCertificate | None:
    """By GB/T 36904 identifier (any case), else by the issuer's legacy identifier — unique per issuer only, so
    among those ``holder_bidx`` holds when given. Raises :class:`AmbiguousIdentifier` rather than pick one of
    several: another holder's certificate answered (and its denial written to that holder's log) otherwise."""
    row = store.certificate_by_identifier(conn, identifier.strip().upper())
    if row is not None:
        return _stored(row)
    legacy = identifier.strip()
    rows = store.certificates_by_legacy_identifier(conn, legacy)
    if len(rows) > 1 and holder_bidx is not None:
        held = store.certificates_by_legacy_identifier(conn, legacy, holder_bidx=holder_bidx)
        if len(held) != 1:
            raise AmbiguousIdentifier(legacy, held=len(held))
        rows = held
    if len(rows) > 1:
        raise AmbiguousIdentifier(legacy)
    return _stored(rows[0]) if rows else None


def holders_of(conn: Connection, identifier: str) -> set[str]:
    return store.holders_of_certificate(conn, identifier)


def certificate_file(conn: Connection, identifier: str, pii: PiiCodec) -> tuple[bytes, str] | None:
    """The issuer's file as issued, opened (the library keeps it sealed: holders' names and numbers are inside),
    with the SHA-256 the harvest verified it under (read with it: a harvest may change both meanwhile); None for
    a certificate not in the library. A file that cannot be opened raises :class:`ConfigError` (its key is not in
    the key file) or ``ValueError`` (not what the library writes)."""
    row = store.certificate_file(conn, identifier)
    return None if row is None else (pii.open_file(row.file), row.content_hash)


def by_content_hash(conn: Connection, digest: str) -> StoredCertificate | None:
    row = store.certificate_by_content_hash(conn, digest.lower())
    return _stored(row) if row is not None else None


def announce_effective(conn: Connection, *, today: date | None = None, now: datetime | None = None) -> list[int]:
    """An ``effective`` event (``not_yet_valid`` → ``valid``) for each certificate whose validity began since it was
    announced: a subscriber told "not yet valid" at issue learns the day it can rely on it. Returns the event ids."""
    day = (today or today_beijing()).isoformat()
    now = now or datetime.now(timezone.utc)
    return [store.insert_certificate_event(conn, identifier=identifier, type_code=type_code, event="effective",
                                           status="valid", previous_status="not_yet_valid", renewed_as=None, at=now)
            for identifier, type_code in store.certificates_now_effective(conn, day)]


def expire_due(conn: Connection, *, today: date | None = None, now: datetime | None = None) -> list[int]:
    """Mark valid certificates whose validity ended as expired; returns the new event ids."""
    day = (today or today_beijing()).isoformat()
    now = now or datetime.now(timezone.utc)
    events = []
    for identifier, type_code in store.certificates_due_to_expire(conn, day):
        store.mark_certificate_expired(conn, identifier, now)
        events.append(store.insert_certificate_event(
            conn, identifier=identifier, type_code=type_code, event="expired", status="expired",
            previous_status="valid", renewed_as=None, at=now))
    return events
