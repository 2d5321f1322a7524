"""Dead letters as an operator reads them: grouped by system, rule and field (300 records broken the same way
are one line with a count and examples), and one of them in full with its raw input, personal data masked."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from gateway.contract.errors import ConfigError
from gateway.crypto.pii import PiiCodec, open_text, redact, redact_document
from gateway.models.quality import generic_path
from gateway.store import ledger, queries

_EXAMPLES = 3


@dataclass
class DeadLetterGroup:
    system: str
    kind: str
    rule: str
    field: str
    count: int = 0
    example_ids: list[int] = field(default_factory=list)
    """Dead-letter ids (``tongban dead-letters show ID``)."""
    example_records: list[str | None] = field(default_factory=list)
    """The same examples' source record keys (the record at the source), ``None`` where it had none."""
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"system": self.system, "kind": self.kind, "rule": self.rule, "field": self.field, "count": self.count,
                "example_ids": self.example_ids, "example_records": self.example_records, "message": self.message}

    def examples(self) -> str:
        """``#12 (SL2024…), #15 (?)``: each example's dead-letter id and the record it is."""
        return ", ".join(f"#{i} ({r if r is not None else '?'})" for i, r in zip(self.example_ids, self.example_records,
                                                                                  strict=True))


def grouped_dead_letters(engine: Engine, *, system: str | None = None,
                         include_resolved: bool = False) -> list[DeadLetterGroup]:
    """One group per (system, kind, rule, field), largest first; a record counts once per rule it broke."""
    groups: dict[tuple[str, str, str, str], DeadLetterGroup] = {}
    with engine.connect() as conn:
        for row in queries.dead_letter_issues(conn, system=system, include_resolved=include_resolved):
            issues = ledger.loads(row["issues"]) if row["issues"] else []
            seen: set[tuple[str, str]] = set()
            for issue in issues or [{"rule": row["kind"], "field": "$", "message": row["reason"] or ""}]:
                rule, fld = str(issue.get("rule", "?")), generic_path(str(issue.get("field", "$")))
                if (rule, fld) in seen:
                    continue
                seen.add((rule, fld))
                key = (row["system"], row["kind"], rule, fld)
                group = groups.get(key)
                if group is None:
                    group = groups[key] = DeadLetterGroup(row["system"], row["kind"], rule, fld,
                                                          message=redact(str(issue.get("message", "")))[:200])
                group.count += 1
                if len(group.example_ids) < _EXAMPLES:
                    group.example_ids.append(int(row["id"]))
                    group.example_records.append(row["source_id"])
    return sorted(groups.values(), key=lambda g: (-g.count, g.system, g.rule, g.field))


def dead_letter_detail(engine: Engine, dead_letter_id: int, pii: PiiCodec | None) -> dict[str, Any]:
    """One dead letter in full: its issues and its raw input (opened if sealed, then masked)."""
    with engine.connect() as conn:
        row = queries.dead_letter(conn, dead_letter_id)
    if row is None:
        raise ConfigError(f"no dead letter {dead_letter_id} (tongban dead-letters list shows the ids)")
    raw = row["raw"]
    try:
        raw = open_text(raw, pii)
    except Exception:  # noqa: BLE001 - sealed under a key this process does not hold: say so, show nothing
        raw = "(sealed: set TONGBAN_KEY_FILE to the key file that sealed it to see the raw input)"
    detail = {k: row[k] for k in ("id", "kind", "system", "stream", "source_id", "case_no", "status", "attempts",
                                  "mapping_version", "created_at", "updated_at")}
    detail["issues"] = ledger.loads(row["issues"]) if row["issues"] else []
    detail["reason"] = redact(row["reason"] or "")
    detail["raw"] = redact_document(raw or "")
    return detail


__all__ = ["DeadLetterGroup", "dead_letter_detail", "grouped_dead_letters"]
