"""A case as the ledger holds it, for the engineer checking that a new system's records arrived canonical: the
merged canonical document (personal data masked as a dead letter's raw input is), which source records it was
merged from, where it was pushed, and the dead letters filed under its number. ``tongban cases show``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from gateway.contract.errors import ConfigError
from gateway.crypto.pii import PiiCodec, redact, redact_document
from gateway.store import ledger, sharing_queries
from gateway.store.queries import case_dead_letters

SEALED = "(sealed: set TONGBAN_KEY_FILE to the key file that sealed it)"


def case_view(engine: Engine, case_no: str, pii: PiiCodec | None) -> dict[str, Any]:
    """The case ``case_no``: ``case_no, version, deleted, origin_system, source_updated_at, updated_at, document``
    (masked), ``sources``, ``deliveries``, ``dead_letters``. A case the ledger does not hold is a
    :class:`ConfigError` saying where to look instead (the record may be a dead letter)."""
    with engine.connect() as conn:
        row = sharing_queries.find_case(conn, case_no)
        letters = case_dead_letters(conn, case_no)
        if row is None:
            held = f"; dead letters under that number: {', '.join(f'#{d.id}' for d in letters)}" if letters else ""
            raise ConfigError(f"no case {case_no!r} in the ledger (tongban dead-letters list shows records that did "
                              f"not arrive{held})")
        copies = sharing_queries.case_source_copies(conn, case_no)
        deliveries = sharing_queries.case_deliveries(conn, case_no)
    document = ledger.loads(row["data"]) or {}
    applicant = document.get("applicant")
    if isinstance(applicant, dict) and PiiCodec.is_sealed(applicant.get("id_number")):
        try:  # opened, then masked below with the rest: never shown whole, never as the sealed blob
            applicant["id_number"] = pii.open(applicant["id_number"]) if pii is not None else SEALED
        except Exception:  # noqa: BLE001 - sealed under a key this process does not hold: say so, show nothing
            applicant["id_number"] = SEALED
    return {
        "case_no": row["case_no"], "version": row["version"], "deleted": bool(row["deleted"]),
        "origin_system": row["origin_system"], "source_updated_at": row["source_updated_at"],
        "updated_at": row["updated_at"],
        "document": ledger.loads(redact_document(ledger.dumps(document))),
        "sources": [{"system": c.system, "source_id": c.source_id, "updated_at": c.updated_at,
                     "deleted": bool(c.deleted)} for c in copies],
        "deliveries": [{"target_system": d.target_system, "version": d.version, "status": d.status,
                        "delivered_at": d.delivered_at} for d in deliveries],
        "dead_letters": [{"id": d.id, "system": d.system, "source_id": d.source_id, "status": d.status,
                          "reason": redact(d.reason or "")} for d in letters],
    }


__all__ = ["case_view"]
