"""Harvest: certificates from issuing systems into the library, verified, with status changes propagated.

For each record of an issuer's feed (read through its connector, incrementally from the watermark):

1. the issuer's certificate mapping turns it into canonical GB/T 36903 metadata;
2. the identifier is checked after GB/T 36904 (ISO 7064 MOD 37,36 check character). A pre-standard local
   identifier is kept as ``legacy_identifier`` with a warning, and the certificate gets a GB/T 36904 identifier
   built from its type, issuer and number; a *standard-shaped* identifier with a wrong check character is an
   error (a mistyped or forged identifier must not be served);
3. the file must hash to the feed's content hash, its signature must verify against the issuer's registered
   key, and the metadata embedded in the signed file must agree with the feed's;
4. anything that fails goes to ``certificate_quarantine`` (raw payload sealed) and is never served — also a
   record that would take over what the library holds: an identifier naming another issuer, an identifier
   that belongs to another source record (a legacy identifier converting onto an existing one, or another
   issuer's), the same identifier with another number, type or holders, a revoked / cancelled / withdrawn
   certificate coming back to life, a renewal pointing at itself, another issuer or no identifier at all, a
   validity that ends before it starts, a change time in the future, a record the connector could not read.
   When the refused copy is a newer version of a certificate the library serves (the same source record, or
   its identifier from the same issuer), that certificate is marked: it stays served, saying that a newer
   version was refused and why — a revocation with a bad signature must not leave a relying department
   trusting the old licence unawares — until a newer copy verifies or an operator resolves the entry;
5. verified certificates are upserted (with their validity dates as columns: the status *today* is derived on
   every read); a new certificate, a status change (revoked, cancelled…), a renewal or an expiry becomes a
   ``certificate_events`` row and, in the same transaction, one webhook delivery per matching subscription.
   Subscribers are notified right after the cycle.

One harvest of an issuer at a time (a lease), a page per transaction, the watermark advancing with it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import Connection
from sqlalchemy.exc import DataError, IntegrityError

from gateway.mapping.mapper import Mapper
from gateway.models import Certificate, certificate_identifier, issues_from_error
from gateway.models.certificate import status_on
from gateway.models.certificate_id import PREFIX, parse_certificate_identifier
from gateway.models.datetimes import change_horizon
from gateway.models.hashing import content_hash, unreadable_record
from gateway.models.text import fitted
from gateway.store import certificates as store
from gateway.store import ledger
from gateway.store.lease import Lease
from gateway.store.tables import certificate_quarantine, certificates

from .library import announce_effective, expire_due, today_beijing
from .ofd import cross_check, file_metadata
from .signatures import IssuerKey, load_issuer_keys, verify_signature
from .webhooks import deliver_webhooks, fan_out

__all__ = ["HarvestReport", "harvest"]

_SERIAL = re.compile(r"[^0-9A-Z]")


@dataclass
class HarvestReport:
    issuer: str
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    events: int = 0
    notified: int = 0
    warnings: Counter[str] = field(default_factory=Counter)
    quarantine_reasons: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"issuer": self.issuer, "read": self.read, "inserted": self.inserted, "updated": self.updated,
                "unchanged": self.unchanged, "quarantined": self.quarantined, "events": self.events,
                "notified": self.notified, "warnings": dict(self.warnings),
                "quarantine_reasons": self.quarantine_reasons[:20], "duration_s": round(self.duration_s, 3)}


class _Reject(Exception):
    def __init__(self, reason: str, identifier: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.identifier = identifier


def harvest(gw: Any, issuer: str, *, full_refresh: bool = False, connector: Any = None,
            notify: bool = True) -> HarvestReport:
    """One harvest cycle of ``issuer`` (a name under ``issuers:`` in the gateway file)."""
    config = gw.settings.issuers.get(issuer)
    if config is None:
        from gateway.contract.errors import ConfigError

        raise ConfigError(f"unknown issuer {issuer!r} (configured: {', '.join(sorted(gw.settings.issuers)) or 'none'})")
    started = time.perf_counter()
    report = HarvestReport(issuer)
    mapper = Mapper.from_file(config.mapping_path, model=Certificate)
    stream = config.stream
    own = connector is None
    source = connector or config.build_connector()
    try:
        with Lease(gw.engine, f"harvest:{issuer}") as lease:
            with gw.engine.connect() as conn:
                watermark = ledger.get_watermark(conn, issuer, stream)
            since = None if full_refresh or watermark is None else watermark - config.lookback
            high = watermark
            for page in source.read(stream, since=since, mode="full_refresh" if full_refresh else "incremental"):
                with gw.engine.begin() as conn:
                    keys = load_issuer_keys(conn)
                    events: list[int] = []
                    for record in page.records:
                        report.read += 1
                        events.extend(_ingest(conn, gw, issuer, record, mapper, keys, report))
                    for reject in page.rejects:  # unreadable: kept in quarantine, never silently gone
                        report.read += 1
                        _quarantine_unreadable(conn, gw, issuer, reject, report)
                    report.events += len(events)
                    fan_out(conn, events, policy=gw.policy)
                    horizon = change_horizon()  # a future cursor never moves it
                    page_high = max((r.cursor for r in page.records if r.cursor is not None and r.cursor <= horizon),
                                    default=None)
                    if page_high is not None and (high is None or page_high > high):
                        ledger.set_watermark(conn, issuer, stream, page_high)
                        high = page_high
                    lease.renew(conn)
            with gw.engine.begin() as conn:
                dated = announce_effective(conn) + expire_due(conn)
                report.events += len(dated)
                fan_out(conn, dated, policy=gw.policy)
    finally:
        if own:
            source.close()
    if notify:
        report.notified = deliver_webhooks(gw).delivered
    report.duration_s = time.perf_counter() - started
    return report


QUARANTINE_ID_CHARS = int(certificate_quarantine.c.source_id.type.length or 128)
QUARANTINE_IDENTIFIER_CHARS = int(certificate_quarantine.c.identifier.type.length or 160)


def _quarantine(conn: Connection, gw: Any, issuer: str, source_id: str, payload: Any, reason: str,
                identifier: str | None, report: HarvestReport, cursor: datetime | None = None) -> None:
    """Quarantine the copy and mark the served certificate it is a newer version of, if any (see the module doc);
    a copy already refused and resolved by an operator marks nothing again when it is read again."""
    now = datetime.now(timezone.utc)
    # a record refused *for* its over-long identifier or id must still fit its quarantine row (PostgreSQL refused
    # it, and the page — a revocation after it included — rolled back, run after run)
    source_id = fitted(source_id, QUARANTINE_ID_CHARS) or ""
    identifier = fitted(identifier, QUARANTINE_IDENTIFIER_CHARS) if identifier is not None else None
    entry = store.quarantine_record(conn, source_system=issuer, source_id=source_id, identifier=identifier,
                                    reason=reason, raw=gw.pii.seal_blob(ledger.dumps(payload)),
                                    payload_hash=content_hash({"payload": payload}), created_at=now,
                                    source_changed_at=cursor)
    if entry.resolved_at is None:
        store.flag_refusal(conn, entry=entry.id, source_system=issuer, source_id=source_id, identifier=identifier,
                           reason=reason, at=entry.created_at, cursor=cursor)
    report.quarantined += 1
    report.quarantine_reasons.append(f"{issuer}:{source_id}: {reason}")


def _quarantine_unreadable(conn: Connection, gw: Any, issuer: str, reject: Any, report: HarvestReport) -> None:
    """A record the connector could not read (a change time in another format, bad bytes): a revocation among
    them must not vanish without a trace."""
    source_id, raw = unreadable_record(reject)
    _quarantine(conn, gw, issuer, source_id, raw, str(reject), None, report)


def _validate(mapper: Mapper, payload: Any, report: HarvestReport) -> tuple[Certificate, dict[str, Any], str | None]:
    canonical, issues = mapper.map(payload)
    if issues:
        raise _Reject("; ".join(f"{f}: {m} [{r}]" for f, r, m in issues), canonical.get("identifier"))
    extra = {k: canonical.pop(k) for k in list(canonical) if k.startswith("_")}
    legacy = None
    identifier = str(canonical.get("identifier") or "")
    if not identifier.startswith(PREFIX + "."):
        legacy = identifier
        serial = _SERIAL.sub("", identifier.upper())[-24:] or "0"
        try:
            canonical["identifier"] = certificate_identifier(str(canonical.get("type_code")),
                                                             str(canonical.get("issuer_code")), serial, 1)
        except Exception as exc:  # noqa: BLE001 - a type or issuer code that cannot form an identifier
            raise _Reject(f"legacy identifier {identifier!r} cannot be converted: {exc}", identifier) from None
        report.warnings["certificate_id.legacy"] += 1
    warnings: list[Any] = []
    try:
        cert = Certificate.model_validate(canonical, context={"warnings": warnings})
    except ValidationError as exc:
        found = issues_from_error(f"certificate:{identifier}", exc)
        raise _Reject("; ".join(str(i) for i in found), identifier) from None
    for _, _, rule, _ in warnings:
        report.warnings[rule] += 1
    return cert, extra, legacy


def _verify(cert: Certificate, extra: dict[str, Any], legacy: str | None, keys: dict[str, IssuerKey]) -> bytes:
    try:
        content = base64.b64decode(str(extra.get("_file") or ""), validate=True)
    except (binascii.Error, ValueError):
        raise _Reject("the file is not valid base64", cert.identifier) from None
    if not content:
        raise _Reject("the certificate has no file", cert.identifier)
    digest = hashlib.sha256(content).hexdigest()
    if cert.content_hash and cert.content_hash.lower() != digest:
        raise _Reject("the file does not match its content hash", cert.identifier)
    key = keys.get(str(extra.get("_key_id") or ""))
    if key is None:
        candidates = [k for k in keys.values() if k.issuer_code == cert.issuer_code]
        key = candidates[0] if len(candidates) == 1 else None
    if key is None:
        raise _Reject(f"no registered key of issuer {cert.issuer_code} (key id {extra.get('_key_id')!r})", cert.identifier)
    if key.issuer_code != cert.issuer_code:
        raise _Reject(f"key {key.key_id} belongs to issuer {key.issuer_code}, not {cert.issuer_code}", cert.identifier)
    if (cert.signature_algorithm or key.algorithm).upper() != key.algorithm.upper():
        raise _Reject(f"signed with {cert.signature_algorithm}, but the issuer's key is {key.algorithm}", cert.identifier)
    if not cert.signature or not verify_signature(key, content, cert.signature):
        raise _Reject("bad signature: the file does not verify against the issuer's registered key", cert.identifier)
    stated = {"证照名称": cert.name, "证照类型代码": cert.type_code, "颁发机构": cert.issuer_name,
              "颁发机构代码": cert.issuer_code, "颁发日期": cert.issued_on.isoformat(),
              "持证主体": ";".join(h.name for h in cert.holders)}
    problems = cross_check(file_metadata(content), identifier=legacy or cert.identifier, number=cert.number,
                           holders=[h.model_dump() for h in cert.holders], valid_from=cert.valid_from.isoformat(),
                           valid_until=cert.valid_until.isoformat() if cert.valid_until else None, stated=stated)
    if problems:
        raise _Reject("; ".join(problems), cert.identifier)
    cert.content_hash = digest
    return content


_FINAL = frozenset({"revoked", "cancelled", "withdrawn"})
"""撤销, 注销, 吊销: a certificate in one of these states is never valid again; the issuer issues a new one."""
_ALIVE = frozenset({"valid", "suspended"})


def _claims(conn: Connection, gw: Any, issuer: str, record: Any, cert: Certificate, existing: Any,
            changed: datetime | None, renewed_as: str | None = None) -> None:
    """Refuse (``_Reject``) a verified record that would take over what the library holds; see the module doc."""
    ident = cert.identifier
    if renewed_as:  # a renewal points at the new certificate: a real identifier of the same issuer, not itself
        try:
            successor = parse_certificate_identifier(renewed_as)
        except Exception:  # noqa: BLE001 - IdentifierError: say which rule it breaks
            raise _Reject(f"renewed_as {renewed_as!r} is not a GB/T 36904 identifier", ident) from None
        if str(successor) == ident.upper():
            raise _Reject(f"renewed_as names the certificate itself ({ident})", ident)
        if successor.issuer_code != cert.issuer_code:
            raise _Reject(f"renewed_as {renewed_as} is issuer {successor.issuer_code}'s, not {cert.issuer_code}'s",
                          ident)
    try:
        named = parse_certificate_identifier(ident).issuer_code
    except Exception:  # noqa: BLE001 - validated already; a legacy identifier converted here always parses
        named = cert.issuer_code
    if named != cert.issuer_code:
        raise _Reject(f"identifier {ident} is issuer {named}'s, not {cert.issuer_code}'s", ident)
    if changed is not None and changed > change_horizon():
        raise _Reject(f"changed at {changed.isoformat()}, after this machine's clock: a wrong change time would "
                      f"make every later change of the certificate look older", ident)
    if existing is None:
        return
    if (existing.source_system, existing.source_id) != (issuer, record.source_id):
        raise _Reject(f"identifier {ident} belongs to {existing.source_system}:{existing.source_id} in the library; "
                      f"{issuer}:{record.source_id} cannot take it over (a legacy identifier converting onto it?)",
                      ident)
    if (existing.number, existing.type_code) != (cert.number, cert.type_code):
        raise _Reject(f"identifier {ident} holds certificate {existing.type_code} {existing.number} in the library; "
                      f"the issuer now sends {cert.type_code} {cert.number} under it", ident)
    if store.holders_of_certificate(conn, ident) != {gw.pii.bidx(h.id_number) for h in cert.holders}:
        raise _Reject(f"identifier {ident} names other holders than the library holds: a certificate is not "
                      f"transferred by changing its holders", ident)
    if existing.status in _FINAL and cert.status.value in _ALIVE:  # (a renewal's bookkeeping may still move it)
        raise _Reject(f"a {existing.status} certificate cannot become {cert.status.value} again; the issuer must "
                      f"issue a new certificate", ident)


def _ingest(conn: Connection, gw: Any, issuer: str, record: Any, mapper: Mapper, keys: dict[str, IssuerKey],
            report: HarvestReport) -> list[int]:
    """One record, in a savepoint of its own: what the library cannot store of it (a value PostgreSQL refuses past
    the checks: a DataError, an IntegrityError) quarantines *this* record, never the page — a revocation later in
    the page must apply. An error that would not repeat (a lock timeout, a deadlock) still fails the page."""
    try:
        with conn.begin_nested():
            return _ingest_record(conn, gw, issuer, record, mapper, keys, report)
    except (DataError, IntegrityError) as exc:  # this record's, every time; a lock timeout or a deadlock is not:
        # it fails the page, read again by the next run (quarantined, the watermark moved past a revocation)
        reason = f"the library cannot store this record: {type(exc.orig).__name__}: {str(exc.orig).splitlines()[0]}"
        _quarantine(conn, gw, issuer, str(record.source_id), record.payload, reason[:500], None, report, record.cursor)
        return []


def _fits_library(cert: Certificate, legacy: str | None, source_id: str) -> None:
    """Each value the library keeps in a bounded column fits it: one that does not is a refusal naming the field
    and the limit (the quarantine keeps the record), not a database error for the page."""
    values = {"identifier": cert.identifier, "legacy_identifier": legacy, "source_id": source_id,
              "type_code": cert.type_code, "name": cert.name, "number": cert.number, "issuer_code": cert.issuer_code}
    for column, value in values.items():
        limit = certificates.c[column].type.length
        if value is not None and limit is not None and len(value) > limit:
            raise _Reject(f"{column} is {len(value)} characters, longer than the library's {limit}", cert.identifier)


def _ingest_record(conn: Connection, gw: Any, issuer: str, record: Any, mapper: Mapper,
                   keys: dict[str, IssuerKey], report: HarvestReport) -> list[int]:
    payload = record.payload
    try:
        cert, extra, legacy = _validate(mapper, payload, report)
        _fits_library(cert, legacy, str(record.source_id))
        content = _verify(cert, extra, legacy, keys)
        changed_at = extra.get("_changed_at")
        changed = datetime.fromisoformat(changed_at) if isinstance(changed_at, str) else None
        existing = store.certificate_state(conn, cert.identifier)
        _claims(conn, gw, issuer, record, cert, existing, changed, extra.get("_renewed_as") or None)
    except _Reject as exc:
        _quarantine(conn, gw, issuer, record.source_id, payload, exc.reason, exc.identifier, report, record.cursor)
        return []
    now = datetime.now(timezone.utc)
    doc = cert.model_dump(mode="json", exclude={"signature"})
    for holder in doc["holders"]:
        holder["id_number"] = gw.pii.seal(holder["id_number"])
    renewed_as = extra.get("_renewed_as") or None
    status = cert.status.value
    values = {"legacy_identifier": legacy, "source_system": issuer, "source_id": record.source_id,
              "type_code": cert.type_code, "name": cert.name, "number": cert.number, "issuer_code": cert.issuer_code,
              "status": status, "valid_from": cert.valid_from.isoformat(),
              "valid_until": cert.valid_until.isoformat() if cert.valid_until else None,
              "content_hash": cert.content_hash, "document": orjson.dumps(doc).decode(),
              "renewed_as": renewed_as,
              "warnings": "certificate_id.legacy" if legacy else None, "source_changed_at": changed, "updated_at": now}
    events: list[int] = []

    def event(kind: str, previous: str | None) -> None:
        # the status a subscriber can rely on today: a licence valid only from next month is announced
        # not_yet_valid, and announced again (``effective``) the day it takes effect
        stated = status_on(status, values["valid_from"], values["valid_until"], today_beijing())
        events.append(store.insert_certificate_event(
            conn, identifier=cert.identifier, type_code=cert.type_code, event=kind, status=stated,
            previous_status=previous, renewed_as=renewed_as, at=now))

    if existing is None:
        try:
            with conn.begin_nested():
                store.insert_certificate(conn, cert.identifier, version=1, created_at=now,
                                         values={**values, "file": gw.pii.seal_file(content)})
        except IntegrityError:  # this source record already holds another certificate: it changed identifier
            _quarantine(conn, gw, issuer, record.source_id, payload,
                        f"record {record.source_id} already holds another certificate in the library; it now claims "
                        f"identifier {cert.identifier} (an issuer re-numbering certificates must say so)",
                        cert.identifier, report, record.cursor)
            return []
        store.clear_quarantine(conn, issuer, record.source_id)
        holder_rows = {(cert.identifier, gw.pii.bidx(h.id_number)) for h in cert.holders}
        store.insert_certificate_holders(conn, [{"identifier": i, "holder_bidx": b, "type_code": cert.type_code}
                                                for i, b in holder_rows])
        report.inserted += 1
        event("issued", None)
        return events
    if existing.source_changed_at is not None and changed is not None and changed < existing.source_changed_at:
        report.unchanged += 1  # an older copy (lookback overlap): never overwrite newer, nor forget a refusal
        return events
    # the library's "expired" is what expire_due made of the issuer's "valid" past its end date: the issuer saying
    # "valid" again of that certificate is no change (it was rewritten, announced valid and expired again each read)
    same_status = existing.status == status or (existing.status == "expired" and status_on(
        status, values["valid_from"], values["valid_until"], today_beijing()) == "expired")
    if same_status and (existing.content_hash, existing.renewed_as) == (cert.content_hash, renewed_as):
        if changed is None or existing.source_changed_at is None or changed > existing.source_changed_at:
            # the issuer's latest word is what is served (not a replay of it): a refusal before it is superseded
            store.supersede_refusals(conn, source_system=issuer, source_id=record.source_id,
                                     identifier=cert.identifier, changed=changed)
        report.unchanged += 1
        return events
    # the file is sealed only when written (an unchanged copy, read again every harvest, costs no encryption)
    store.update_certificate(conn, cert.identifier, version=existing.version + 1,
                             values={**values, "file": gw.pii.seal_file(content)})
    store.supersede_refusals(conn, source_system=issuer, source_id=record.source_id,  # a newer version verified
                             identifier=cert.identifier, changed=changed)
    report.updated += 1
    if renewed_as and renewed_as != existing.renewed_as:
        event("renewed", existing.status)
    elif existing.status != status:
        event("status", existing.status)
    return events
