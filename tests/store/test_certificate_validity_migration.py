"""Migration 0013 on a library that already holds certificates: ``valid_from`` is backfilled from what each stored
document says (and left empty where it says nothing usable), and a served certificate with a refusal standing in
the quarantine (its own source record's, or its identifier from the same issuing system), refused after the copy
the library last accepted, carries the mark from then on; the migration goes back down cleanly."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import orjson
from alembic import command
from sqlalchemy import select

from gateway.sharing.certificates.library import get_certificate
from gateway.store.db import make_engine
from gateway.store.migrate import alembic_config, head_revision, upgrade
from gateway.store.tables import certificate_quarantine, certificates

BEFORE = "0012_bundle_submitter"
NOW = datetime(2026, 12, 1, 8, tzinfo=timezone.utc)
REFUSED = datetime(2026, 12, 2, 9, tzinfo=timezone.utc)


def _certificate(identifier: str, source_id: str, document: str, system: str = "sd_licences") -> dict[str, object]:
    """A row as 0012 knew it (no column of 0013)."""
    return {"identifier": identifier, "legacy_identifier": None, "source_system": system, "source_id": source_id,
            "type_code": "T1", "name": "营业执照", "number": f"N-{source_id}", "issuer_code": "ISSUER",
            "status": "valid", "valid_until": None, "content_hash": source_id.ljust(64, "0"), "document": document,
            "file": "", "renewed_as": None, "warnings": None, "version": 1, "source_changed_at": NOW,
            "created_at": NOW, "updated_at": NOW}


def _entry(source_id: str, identifier: str | None, reason: str, system: str = "sd_licences") -> dict[str, object]:
    return {"source_system": system, "source_id": source_id, "identifier": identifier, "reason": reason, "raw": "x",
            "created_at": REFUSED}


def test_0013_backfills_the_validity_start_and_the_refusals(database_url: str) -> None:
    engine = make_engine(database_url)
    assert upgrade(engine, BEFORE) == BEFORE
    old_columns = [c for c in certificates.c if c.name not in ("valid_from", "refused_entry", "refused_reason",
                                                               "refused_at")]
    rows = [_certificate("C-LATER", "R1", orjson.dumps({"valid_from": "2099-01-01", "holders": []}).decode()),
            _certificate("C-NOW", "R2", orjson.dumps({"valid_from": "2024-03-05"}).decode()),
            _certificate("C-SILENT", "R3", "{}"),
            _certificate("C-BROKEN", "R4", "not json"),
            _certificate("C-ODD", "R5", orjson.dumps({"valid_from": 20240305}).decode()),
            _certificate("C-NAMED", "R6", "{}"),
            _certificate("C-ELSEWHERE", "R7", "{}", system="other_issuer"),
            {**_certificate("C-MOVED-ON", "R11", "{}"), "updated_at": REFUSED + timedelta(hours=1)}]
    with engine.begin() as conn:
        conn.execute(certificates.insert(), [{c.name: r[c.name] for c in old_columns} for r in rows])
        q = certificate_quarantine.c
        old_q = [q.source_system, q.source_id, q.identifier, q.reason, q.raw, q.created_at]
        conn.execute(certificate_quarantine.insert(), [{c.name: e[c.name] for c in old_q} for e in [
            _entry("R2", "C-NOW", "bad signature: the file does not verify against the issuer's registered key"),
            _entry("R9", "C-NAMED", "identifier C-NAMED belongs to sd_licences:R6 in the library"),
            _entry("R8", "C-ELSEWHERE", "identifier C-ELSEWHERE is issuer X's, not Y's"),  # another system's
            _entry("R10", None, "unreadable"),
            _entry("R11", "C-MOVED-ON", "bad signature")]])  # refused, then a newer copy verified after it

    assert upgrade(engine) == head_revision()
    c = certificates.c
    with engine.connect() as conn:
        got = {r.identifier: (r.valid_from, r.refused_reason) for r in
               conn.execute(select(c.identifier, c.valid_from, c.refused_reason))}
        ids = dict(conn.execute(select(q.source_id, q.id)).all())
        marked = dict(conn.execute(select(c.identifier, c.refused_entry).where(c.refused_entry.is_not(None))).all())
        later, now = get_certificate(conn, "C-LATER"), get_certificate(conn, "C-NOW")
    assert got == {
        "C-LATER": ("2099-01-01", None),
        "C-NOW": ("2024-03-05", "bad signature: the file does not verify against the issuer's registered key"),
        "C-SILENT": (None, None), "C-BROKEN": (None, None), "C-ODD": (None, None),
        "C-NAMED": (None, "identifier C-NAMED belongs to sd_licences:R6 in the library"),
        "C-ELSEWHERE": (None, None), "C-MOVED-ON": (None, None),
    }
    assert marked == {"C-NOW": ids["R2"], "C-NAMED": ids["R9"]}
    assert later is not None and later.effective_status() == "not_yet_valid"
    assert now is not None and now.effective_status() == "valid" and now.refused_at == REFUSED
    assert [f["rule"] for f in now.quality()] == ["certificate.newer_version_refused"]

    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, BEFORE)
    assert upgrade(engine) == head_revision()  # and up again
    engine.dispose()
