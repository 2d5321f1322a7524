"""Which copy of a case speaks for which of its fields, when several systems hold the case (一窗受理, 通办).

While one system holds a case, its newest copy is the case: the merge takes it whole. Once the hall's front desk
and a department both hold it, each copy knows only its part — the hall's record has no 办理环节 and says nothing
of the department's acceptance; a department's may carry no intake office or agent — and a copy merged whole
wiped the other's part: the hall touching its own record (a status refresh) erased the department's acceptance
and steps from the case, and the push then erased them inside the department's system too.

So a copy of a case another copy has shaped is merged field by field, three ways (:func:`merge_copy`):

- **a copy speaks for what it changed**: each top-level field is compared with the same record's previous copy
  (``base``, mapped again with the same mapping). A field the copy did not change keeps the case's value, whoever
  set it. Without a previous copy to compare with (the system's first copy of the case, or one read under another
  mapping) the copy speaks for the fields its mapping reads (``reads``), never for one it cannot hold;
- **a change nobody else made since applies**, whatever its time: the case still holds the copy's previous value;
- **a department speaks for its handling** (:data:`HANDLING`: acceptance, deadline, steps, status, result,
  certificate) whole, whenever its copy is merged: the handling fields its mapping reads are its copy's, changed
  or not (a department's refusal within the window replaces Tongban's deemed acceptance, 视为受理 step and all);
- **a collision** (the case changed the field too since the copy's previous version) goes to the newer change —
  but a case that ended (:func:`ends_case`) stays ended: only a copy that ends it too wins a collision there, and
  a department's handling does not overwrite it (its acceptance read after the applicant withdrew at the hall does
  not bring the case back half alive);
- **the hall never overrides a department's handling** (the :data:`HANDLING` fields a department holding the case
  reads: ``department_reads``) — except to end the case (:func:`ends_case`: withdrawn, voided, returned or refused
  at the desk), which ends it whatever the department said.

Quality flags and the change time are not merged field by field (:data:`NOT_MERGED`): the caller validates the
merged document again and carries each side's flags for the fields it gave.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .case import Case
from .codes import CaseResult, CaseStatus

HANDLING: frozenset[str] = frozenset({
    "accepted_at", "promised_at", "promised_days", "handler", "status", "events", "stages", "result",
    "result_reason", "finished_at", "certificate_name", "certificate_no",
})
"""What the department records when it handles a case (受理, 承诺, 环节, 办结, 证照): its copy is the authority."""

NOT_MERGED: frozenset[str] = frozenset({"quality", "updated_at"})
"""Fields no copy gives field by field: the quality flags follow the fields they name, the change time is the
merged version's own."""

MERGED_FIELDS: tuple[str, ...] = tuple(name for name in Case.model_fields if name not in NOT_MERGED)

_ENDING_STATUSES = frozenset({CaseStatus.RETURNED.value, CaseStatus.VOIDED.value, CaseStatus.DELETED.value})
_ENDING_RESULTS = frozenset({CaseResult.WITHDRAWN.value, CaseResult.VOIDED.value, CaseResult.DELETED.value,
                             CaseResult.RETURNED.value, CaseResult.NOT_ACCEPTED.value})


def ends_case(document: Mapping[str, Any]) -> bool:
    """Whether a copy says the case ended without being handled to its end: a tombstone, or status
    returned/voided/deleted, or result withdrawn/voided/deleted/returned/not accepted (撤回, 作废, 退件, 不予受理)."""
    status, result = document.get("status"), document.get("result")
    return document.get("deleted") is True or (isinstance(status, str) and status in _ENDING_STATUSES) or \
        (isinstance(result, str) and result in _ENDING_RESULTS)


def top_level(targets: Iterable[str]) -> frozenset[str]:
    """The case's top-level fields among a mapping's targets (its ``fields:`` keys, dotted)."""
    return frozenset(target.split(".", 1)[0] for target in targets)


@dataclass(frozen=True, slots=True)
class Merged:
    """The case after one copy was merged into it."""

    document: dict[str, Any]
    """The merged document (:data:`NOT_MERGED` fields as the case had them)."""
    taken: tuple[str, ...]
    """The fields whose value came from the copy (it changed them, and they stand)."""
    overruled: tuple[str, ...]
    """The fields the copy changed that the case keeps: another copy speaks for them."""


def merge_copy(case: Mapping[str, Any], copy: Mapping[str, Any], base: Mapping[str, Any] | None, *,
               reads: frozenset[str], from_hall: bool, department_reads: frozenset[str], newer: bool) -> Merged:
    """Merge one system's copy of a case into the case, field by field (the module's rules).

    ``case``, ``copy`` and ``base`` are whole case documents (JSON values, every top-level field present):
    the merged case, the incoming copy, and the same record's previous copy mapped again (None when there is none
    to compare with). ``reads``: the top-level fields the copy's mapping sets. ``from_hall``: the copy is a hall's.
    ``department_reads``: the top-level fields the mappings of the department systems holding the case read.
    ``newer``: the copy changed later than the case's current version."""
    merged = dict(case)
    taken: list[str] = []
    overruled: list[str] = []
    ending = ends_case(copy) and (base is None or not ends_case(base))
    ended = ends_case(case) and (base is None or not ends_case(base))  # ended by another: not the copy's to undo
    for name in MERGED_FIELDS:
        theirs = copy.get(name)
        ours = case.get(name)
        if theirs == ours:
            continue
        handling = name in HANDLING
        if not from_hall and handling and name in reads and not ended:
            merged[name] = theirs  # the department speaks for its handling whole (over a deemed acceptance too)
            taken.append(name)
            continue
        if base is not None:
            before = base.get(name)
            if theirs == before:
                continue  # the copy did not change it: the case's value stands, whoever set it
            collided = ours != before
        else:
            if name not in reads:
                continue  # a field the copy's mapping never sets: it cannot speak for it
            collided = True
        if from_hall and handling and name in department_reads and not ending:
            overruled.append(name)
            continue
        if collided and not ending and (ended or not (newer or (handling and not from_hall))):
            overruled.append(name)  # an ended case stays ended; else the department's handling, or the newer
            continue
        merged[name] = theirs
        taken.append(name)
    return Merged(merged, tuple(taken), tuple(overruled))


__all__ = ["HANDLING", "MERGED_FIELDS", "NOT_MERGED", "Merged", "ends_case", "merge_copy", "top_level"]
