"""Which copy of a case speaks for which of its fields, when several systems hold the case.

The ledger merges whole records, newest change wins — right while one system holds a case. Once the hall's front
desk and a department both hold it (一窗受理), each copy knows only its part: the hall's record has no 办理环节
and keeps its own window time for 受理时间 for ever; a department's may carry no intake office or agent. A copy
merged whole wiped the other's part: the hall touching its own record (a status refresh) erased the department's
acceptance and steps from the case, and the push then erased them inside the department system too.

Two rules, both applied by the merge (``gateway.sync.ingest``) to a copy of a case another system also holds:

- a copy speaks only for the fields its mapping reads (:func:`unmapped_fields`): one the mapping never sets keeps
  the case's current value instead of the model's empty default;
- the department handling a case speaks for its handling (:data:`DEPARTMENT_HANDLING`): once a department
  system holds the case and it has been handled (accepted, decided or stepped), a hall's copy keeps the case's
  acceptance, steps, stages, result, finish and certificate, and its status — unless the hall's copy ends the
  case (withdrawn or deleted at the window), which the department is then told. Before it is handled, the
  hall's copy still speaks: a case returned or refused at the desk ends there.
"""

from __future__ import annotations

from collections.abc import Iterable

from .case import Case

DEPARTMENT_HANDLING: tuple[str, ...] = (
    "accepted_at", "promised_at", "promised_days", "handler", "status", "events", "stages", "result",
    "result_reason", "finished_at", "certificate_name", "certificate_no",
)
"""What the department records when it handles a case (受理, 承诺, 环节, 办结, 证照): its copy is the authority."""

DERIVED: frozenset[str] = frozenset({"quality", "updated_at"})
"""Fields no copy carries over: the quality flags are derived from the merged content, the change time is the
copy's own."""


def unmapped_fields(mapped_targets: Iterable[str]) -> frozenset[str]:
    """The case's top-level fields a mapping whose targets are ``mapped_targets`` (dotted, as its ``fields:``
    keys are written) never sets."""
    mapped = {target.split(".", 1)[0] for target in mapped_targets}
    return frozenset(name for name in Case.model_fields if name not in mapped and name not in DERIVED)


__all__ = ["DEPARTMENT_HANDLING", "DERIVED", "unmapped_fields"]
