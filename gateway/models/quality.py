"""Quality flags: what a kept case carries about the rules it breaks, and their per-run tally.

A quality rule (:mod:`gateway.models.rules`) that a case breaks does not keep the case out: the case is
stored and pushed with a :class:`QualityFlag` per broken rule in ``Case.quality``, so the hall and the
department see the finding next to the data. For the people who run the sync, per-record messages are
noise: a million-record run must log one line per rule, with a count and a few examples, and keep no more
than that in memory. :class:`QualityTally` does that across the pages of a run::

    tally = QualityTally()
    for page in pages:
        result = mapper.validate(mapped, refs)     # or validate_cases(mapped, refs, rules=mapper.rules)
        tally.add(result)                          # flags of kept cases + rules that rejected records
    for line in tally.lines():
        log.info(line)    # "flag case.reason_required: 812 records (result_reason), e.g. sd_market:1, …"
    report["quality"] = tally.as_dict()
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from gateway.contract.errors import FieldIssue, RecordRejected


class _Batch(Protocol):
    """What :meth:`QualityTally.add` reads of a :class:`~gateway.models.validation.BatchResult`."""

    @property
    def flags(self) -> Sequence[tuple[int, FieldIssue]]: ...

    @property
    def rejected(self) -> Sequence[tuple[int, RecordRejected]]: ...


class QualityFlag(BaseModel):
    """One quality rule a kept case breaks (see ``docs/canonical-model.md`` for the rules)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    rule: str
    """Stable rule name, e.g. ``case.reason_required``."""
    field: str
    """Dotted path of the field concerned in the canonical case, e.g. ``events.2.started_at``."""
    message: str
    """What is wrong, for people."""


def make_flag(field: str, rule: str, message: str) -> QualityFlag:
    """A :class:`QualityFlag` built without validation (its parts come from Tongban's own rules)."""
    flag = object.__new__(QualityFlag)
    object.__setattr__(flag, "__dict__", {"rule": rule, "field": field, "message": message})
    object.__setattr__(flag, "__pydantic_fields_set__", _ALL_SET.copy())
    object.__setattr__(flag, "__pydantic_extra__", None)
    object.__setattr__(flag, "__pydantic_private__", None)
    return flag


_ALL_SET = {"rule", "field", "message"}


@dataclass(slots=True)
class RuleCount:
    """One rule in a tally: how many records broke it, on which fields, and a few of those records."""

    rule: str
    severity: Literal["flag", "reject"]
    records: int = 0
    fields: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)

    def line(self) -> str:
        """One log line: ``flag case.reason_required: 812 records (result_reason), e.g. a:1, a:2, a:3``."""
        noun = "record" if self.records == 1 else "records"
        text = f"{self.severity} {self.rule}: {self.records} {noun} ({', '.join(self.fields)})"
        return f"{text}, e.g. {', '.join(self.examples)}" if self.examples else text

    def as_dict(self) -> dict[str, Any]:
        return {"severity": self.severity, "records": self.records, "fields": list(self.fields),
                "examples": list(self.examples)}


class QualityTally:
    """Counts rules per record across batches: one :class:`RuleCount` per (severity, rule), bounded memory.

    A record breaking one rule on two fields (no certificate name *and* no number) counts once for the rule.
    ``examples`` keeps the first few record refs (``system:source_id``) per rule.
    """

    __slots__ = ("_counts", "_last", "examples")

    def __init__(self, *, examples: int = 3) -> None:
        self.examples = examples
        self._counts: dict[tuple[str, str], RuleCount] = {}
        self._last: dict[tuple[str, str], str] = {}

    def _count(self, severity: Literal["flag", "reject"], issue: FieldIssue) -> None:
        key = (severity, issue.rule)
        entry = self._counts.get(key)
        if entry is None:
            entry = self._counts[key] = RuleCount(issue.rule, severity)
        generic = generic_path(issue.field)
        if generic not in entry.fields and len(entry.fields) < 10:
            entry.fields.append(generic)
        if self._last.get(key) == issue.record:
            return  # the same record on another field: counted already
        self._last[key] = issue.record
        entry.records += 1
        if len(entry.examples) < self.examples:
            entry.examples.append(issue.record)

    def add_flags(self, flags: Iterable[tuple[int, FieldIssue]] | Iterable[FieldIssue]) -> None:
        """Count quality flags: ``BatchResult.flags`` (``(index, FieldIssue)`` pairs) or bare issues."""
        for item in flags:
            self._count("flag", item[1] if isinstance(item, tuple) else item)

    def add_rejections(self, rejections: Iterable[tuple[int, RecordRejected]] | Iterable[RecordRejected]) -> None:
        """Count the rules that rejected records (``BatchResult.rejected``, or mapping rejections)."""
        for item in rejections:
            rejected = item[1] if isinstance(item, tuple) else item
            for issue in rejected.issues:
                self._count("reject", issue)

    def add(self, result: _Batch) -> None:
        """Count one validated batch: its flags and its rejections."""
        self.add_flags(result.flags)
        self.add_rejections(result.rejected)

    def summary(self) -> list[RuleCount]:
        """Every counted rule, rejections first, then by record count (largest first), then by name."""
        return sorted(self._counts.values(), key=lambda c: (c.severity != "reject", -c.records, c.rule))

    def lines(self) -> list[str]:
        """One log line per rule (see :meth:`RuleCount.line`)."""
        return [c.line() for c in self.summary()]

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """JSON-ready: ``{"flag": {rule: {...}}, "reject": {rule: {...}}}`` for run reports and storage."""
        out: dict[str, dict[str, Any]] = {"flag": {}, "reject": {}}
        for entry in self.summary():
            out[entry.severity][entry.rule] = entry.as_dict()
        return out

    def flag_counts(self) -> dict[str, int]:
        """``{rule: records}`` for the quality flags only."""
        return {c.rule: c.records for c in self.summary() if c.severity == "flag"}

    def __bool__(self) -> bool:
        return bool(self._counts)


def aggregate_flags(flags: Iterable[tuple[int, FieldIssue]] | Iterable[FieldIssue], *,
                    examples: int = 3) -> list[RuleCount]:
    """Per rule: how many records were flagged, on which fields, with up to ``examples`` record refs."""
    tally = QualityTally(examples=examples)
    tally.add_flags(flags)
    return tally.summary()


def generic_path(path: str) -> str:
    """A field path with list positions folded, for counting: ``events.3.started_at`` → ``events[].started_at``: list items count together."""
    if not any(c.isdigit() for c in path):
        return path
    out: list[str] = []
    for part in path.split("."):
        if part.isdigit() and out:
            out[-1] += "[]"
        else:
            out.append(part)
    return ".".join(out)


__all__ = [
    "QualityFlag", "QualityTally", "RuleCount", "aggregate_flags", "generic_path", "make_flag"]
