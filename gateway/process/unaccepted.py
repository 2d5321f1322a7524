"""A front-desk case that ended before anyone accepted it — withdrawn (撤回), refused at the desk (不予受理, 退件),
voided — read from what its own newest version says.

The 一窗受理 hand-off must never deem such a case accepted nor hand it to a department (:mod:`.handoff`). Only
tombstones used to count, but a hall may keep a withdrawn case and write ``result: withdrawn`` with ``status:
returned``; so the case was deemed accepted when its window ended, and one first read already withdrawn was
registered "accepted by the hall" and pushed to the department with the applicant's data. The words are the
canonical model's own (:class:`~gateway.models.CaseResult`, :class:`~gateway.models.CaseStatus`,
:data:`~gateway.models.REASON_REQUIRED_RESULTS`), not a list of this module's making:

    ended = ended_unaccepted(case, "370102202611020000001", "sd_civil")
    ended.state, ended.reason   # ("withdrawn", "case …: version 2 from sd_hall has result withdrawn (撤回), …")
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.models import REASON_REQUIRED_RESULTS, CaseResult, CaseStatus
from gateway.models.datetimes import parse_instant

__all__ = ["Ended", "ended_unaccepted"]

_WITHDRAWN_RESULTS = frozenset({CaseResult.WITHDRAWN, CaseResult.VOIDED, CaseResult.DELETED})
"""Results saying the case was taken back (撤回) or voided (作废/删除): nothing is left for anyone to decide."""
_TOMBSTONE_STATUSES = frozenset({CaseStatus.VOIDED, CaseStatus.DELETED})
"""Statuses of a tombstone (the model's ``CaseStatus``: voided/deleted cases still propagate)."""


@dataclass(frozen=True)
class Ended:
    """Why a front-desk case ended unaccepted: the hand-off's terminal ``state`` (``withdrawn`` | ``refused``), the
    ``reason`` naming the case, the version and the field that says so, when it ended (if the version says), and
    who ended it (``hall`` | ``department``: the hand-off's ``decided_by``)."""

    state: str
    reason: str
    at: datetime | None
    by: str


def ended_unaccepted(case: dict[str, Any] | None, case_no: str, target: str | None) -> Ended | None:
    """Whether the case's newest version (``version``, ``data``, and where known ``origin_system``, ``deleted``)
    says it ended before anyone accepted it — None when it does not. A tombstone or a result
    ``withdrawn``/``voided``/``deleted`` is ``withdrawn``; ``not_accepted`` (不予受理) is ``refused`` whatever else
    the version says; with no ``accepted_at``, a result of ``REASON_REQUIRED_RESULTS`` (ended without what was asked
    for: 退件, 补正超时驳回 …) or status ``returned`` is ``refused``. A case the hall finished itself (出证办结 at the
    window) is not among them: the hall decided it. ``target`` is the department system: a version it wrote is
    the department's doing. No case at all (purged) is ``withdrawn``."""
    if case is None:
        return Ended("withdrawn", f"case {case_no}: no longer in the ledger (purged) before anyone accepted it",
                     None, "hall")
    data = case["data"] if isinstance(case.get("data"), dict) else {}
    result, status = data.get("result"), data.get("status")
    origin = case.get("origin_system")
    where = f"case {case_no}: version {case.get('version')}" + (f" from {origin}" if origin else "")
    decider = case.get("handled_by") or origin  # who gave the result, also in a version another system wrote
    by = "department" if decider is not None and decider == target else "hall"
    at = parse_instant(data.get("finished_at")) or parse_instant(data.get("updated_at"))
    if case.get("deleted") or data.get("deleted") or status in _TOMBSTONE_STATUSES:
        said, state = f"is a tombstone (status {status})", "withdrawn"
    elif result in _WITHDRAWN_RESULTS:
        said, state = f"has result {result} ({CaseResult(result).label})", "withdrawn"
    elif result == CaseResult.NOT_ACCEPTED or (not data.get("accepted_at") and result in REASON_REQUIRED_RESULTS):
        # 不予受理 decides whatever else the version says; "no accepted_at" only where it is so
        said = f"has result {result} ({CaseResult(result).label})" + ("" if data.get("accepted_at") else
                                                                    " and no accepted_at")
        state = "refused"
    elif not data.get("accepted_at") and status == CaseStatus.RETURNED:
        said, state = f"has status {status} ({CaseStatus(status).label}) and no accepted_at", "refused"
    else:
        return None
    why = f": {data['result_reason']}" if data.get("result_reason") else ""
    return Ended(state, f"{where} {said}, before anyone accepted it{why}", at, by)
