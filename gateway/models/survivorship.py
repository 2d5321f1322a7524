"""Which copy of a case speaks for which of its fields, when several systems hold the case (一窗受理, 通办).

While one system holds a case, its newest copy is the case: the merge takes it whole. Once the hall's front desk
and a department both hold it, each copy knows only its part — the hall's record has no 办理环节 and says nothing
of the department's acceptance; a department's may carry no intake office, agent or applicant's phone — and a copy
merged whole wiped the other's part: the hall touching its own record (a status refresh) erased the department's
acceptance and steps from the case, and the push then erased them inside the department's system too.

So a copy of a case another copy has shaped is merged value by value (:func:`merge_copy`): every leaf of the
document — a top-level field, a part of the applicant, office or agent (``applicant.phone``), a list whole — is
judged on its own, three ways, and the merged version remembers who set each value (its *setters*, stored sparse
beside the case: ``cases.field_sources``):

- **a copy speaks for what it changed**: each value is compared with the same record's previous copy (``base``,
  its stored raw payload mapped again). A value it did not change keeps the case's, whoever set it. Without a
  previous copy to compare with (the system's first copy of the case, or the same bytes mapped again by a remap)
  it speaks for the values its mapping reads (``reads``) — and where another system set the value last, only if
  it is the newer change;
- **a department's first copy does not empty what the hall set**: where it has nothing and the hall set a value
  that is not handling (an agent added after the hand-over, before Tongban read the department) its "nothing"
  is stale — the case keeps the hall's (``merge.another_system_speaks``); a value of its own is its edit;
- **a change nobody else made since applies**, whatever its time (a phone number corrected at the window and read
  after the department's acceptance is not lost); **a collision** (the case changed the value too) goes to the
  newer change;
- **the hall never overrides the handling a department or Tongban set** (:data:`HANDLING`: acceptance, deadline,
  steps, status, result, certificate; a hall's status refresh is counted ``merge.another_system_speaks``) unless
  it ends the case (:func:`ends_case`: withdrawn, voided, returned or refused at the desk). What the hall set
  itself (its deadline, before any department changed it) stays the hall's to change;
- **a department that decides speaks for its handling whole**: a copy that ends the case or gives its acceptance,
  in time (no later than the acceptance the case holds), replaces every handling value its mapping reads (a
  refusal within the window clears Tongban's deemed acceptance, 视为受理 step and all, also when Tongban deemed
  the case before it read the answer: the hand-off records the deemed acceptance overruled) — else its handling
  merges value by value like anything else; a copy read again byte for byte decides nothing;
- **an ending is about handling**: it wins the handling and the outcome over the hall's and Tongban's values;
  what is not handling (an agent, a phone) goes to the newer change, as for any copy;
- **what Tongban set stands**: a copy older than a version Tongban wrote (``settled``) that gives no answer and
  does not end the case (the hall's withdrawal made within the window, read after the deemed version, ends it)
  gives none of the handling Tongban set, and a department's answer after the deemed acceptance (a late one, however
  it is read) moves neither the acceptance nor the promise (:data:`CLOCK`) — the case clock started then; its
  other changes still apply (a late refusal is the case's result), and its steps stand with Tongban's own
  (视为受理) beside them;
- **a department the case was moved away from handles nothing** (``released``: an operator moved the case to
  another department, and it was told to let it go): its acceptance, refusal or steps are not the competent
  department's, whatever their time;
- **a case another copy ended stays ended**: its collisions go to the ending, and the outcome (:data:`OUTCOME`:
  status, result, reason, finish, tombstone) is taken together or not at all — never a live case whose status
  says deleted.

The merged document's quality flags follow the values they were found on (:func:`carried_flags`); the caller
validates it again, which recomputes the cross-field rules (:data:`RECHECKED_RULES`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .case import Case
from .codes import CaseResult, CaseStatus

HANDLING: frozenset[str] = frozenset({
    "accepted_at", "promised_at", "promised_days", "handler", "status", "events", "stages", "result",
    "result_reason", "finished_at", "certificate_name", "certificate_no",
})
"""What the department records when it handles a case (受理, 承诺, 环节, 办结, 证照): its copy is the authority."""

CLOCK: frozenset[str] = frozenset({"accepted_at", "promised_at", "promised_days"})
"""When the case clock started and what it promises: set by Tongban (a deemed acceptance and the item's unified
limit), they stand against a department's later answer — only its answer in time replaces them."""

OUTCOME: frozenset[str] = frozenset({"status", "result", "result_reason", "finished_at", "deleted"})
"""Where a case stands and how it ended: taken from one copy together, or not at all."""

NOT_MERGED: frozenset[str] = frozenset({"quality", "updated_at"})
"""Fields no copy gives value by value: the quality flags follow the values they name, the change time is the
merged version's own."""

MERGED_FIELDS: tuple[str, ...] = tuple(name for name in Case.model_fields if name not in NOT_MERGED)

RECHECKED_RULES: frozenset[str] = frozenset({
    "case.certificate_required", "case.reason_required", "case.result_requires_finish", "case.finished_while_open",
    "case.special_open_at_finish", "case.date_order",
    "case.instant_promise", "case.office_division", "case.agent_authorisation", "case.deferred_due",
    "division.unknown", "text.outside_gbk", "resident_id.place_code", "residence_permit.address_code",
})
"""Quality rules read from the values as they stand (cross-field, or of a value kept as it is): validating the
merged document finds them again, so no copy's flag of them is carried (it may no longer hold). The others are
repairs (a truncated text, a dropped implausible number): the value no longer shows them, so the flag travels
with it."""

_ENDING_STATUSES = frozenset({CaseStatus.RETURNED.value, CaseStatus.VOIDED.value, CaseStatus.DELETED.value})
_ENDING_RESULTS = frozenset({CaseResult.WITHDRAWN.value, CaseResult.VOIDED.value, CaseResult.DELETED.value,
                             CaseResult.RETURNED.value, CaseResult.NOT_ACCEPTED.value})
ANY = "*"
"""The setters' entry for every value they do not name (``{"*": "sd_civil", "agent.name": "sd_hall"}``)."""
TONGBAN = "tongban."
"""How the origin of a version Tongban wrote itself begins (``tongban.handoff``, ``tongban.bundle``)."""


def ends_case(document: Mapping[str, Any] | None) -> bool:
    """Whether a copy says the case ended without being handled to its end: a tombstone, or status
    returned/voided/deleted, or result withdrawn/voided/deleted/returned/not accepted (撤回, 作废, 退件, 不予受理)."""
    if not isinstance(document, Mapping):
        return False
    status, result = document.get("status"), document.get("result")
    return document.get("deleted") is True or (isinstance(status, str) and status in _ENDING_STATUSES) or \
        (isinstance(result, str) and result in _ENDING_RESULTS)


def top_level(targets: Iterable[str]) -> frozenset[str]:
    """The case's top-level fields among a mapping's targets (its ``fields:`` keys, dotted)."""
    return frozenset(target.split(".", 1)[0] for target in targets)


def value_at(document: Mapping[str, Any] | None, path: str) -> Any:
    """The value at a dotted path through objects (a list, or anything else on the way, is the value there)."""
    node: Any = document
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return node if isinstance(node, list) else None
        node = node.get(part)
    return node


def _set(document: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = document
    for part in parents:
        child = node.get(part)
        child = dict(child) if isinstance(child, dict) else {}
        node[part] = child
        node = child
    node[leaf] = value


def _leaves(values: tuple[Any, ...], prefix: str) -> Iterator[str]:
    """The paths of the values to judge one by one: inside objects (every side an object or nothing); a list, a
    scalar, or an object on one side and something else on another, is one value."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, dict) for v in present):
        for key in dict.fromkeys(k for v in values if isinstance(v, dict) for k in v):
            yield from _leaves(tuple(v.get(key) if isinstance(v, dict) else None for v in values), f"{prefix}.{key}")
    else:
        yield prefix


def _empty_part(value: Any) -> bool:
    """An object part with no value at all (an office whose every part went): no part, None."""
    return isinstance(value, dict) and all(v is None for v in value.values())


def _collapsed(document: Mapping[str, Any]) -> Mapping[str, Any]:
    """The document with its empty object parts as None (itself when it has none: the usual case)."""
    empty = [name for name, value in document.items() if _empty_part(value)]
    return {**document, **dict.fromkeys(empty)} if empty else document


def _collapse(document: dict[str, Any]) -> None:
    """:func:`_collapsed`, in place (the merged document the merge builds)."""
    for name, value in document.items():
        if _empty_part(value):
            document[name] = None


class Reads:
    """The values a mapping reads, from its dotted targets: a target reads every value inside it
    (``applicant`` reads ``applicant.phone``) and a value on the way to one (``office`` for ``office.code``)."""

    def __init__(self, targets: Iterable[str]) -> None:
        self.targets = frozenset(targets)
        self.on_the_way = frozenset(".".join(t.split(".")[:i]) for t in self.targets
                                    for i in range(1, t.count(".") + 1))

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, str):
            return False
        if path in self.targets or path in self.on_the_way:
            return True
        parts = path.split(".")
        return any(".".join(parts[:i]) in self.targets for i in range(1, len(parts)))


EVERYTHING = Reads(MERGED_FIELDS)


@dataclass(frozen=True, slots=True)
class Merged:
    """The case after one copy was merged into it."""

    document: dict[str, Any]
    """The merged document (:data:`NOT_MERGED` fields as the case had them)."""
    taken: tuple[str, ...]
    """The values (dotted paths) that came from the copy."""
    overruled: tuple[str, ...]
    """The values the copy changed that the case keeps: another copy speaks for them."""
    setters: dict[str, str]
    """Who set each value of the merged document, where it is not the copy's system (stored sparse: read them
    with :func:`setter_of`)."""
    late_acceptance: datetime | None = None
    """When the copy's department accepted the case, given after Tongban's deemed acceptance: the case clock keeps
    the deemed time (:data:`CLOCK`), so the case no longer shows it — the caller records it on the hand-off as the
    department's late answer, or it is lost."""


def merge_copy(case: Mapping[str, Any], copy: Mapping[str, Any], base: Mapping[str, Any] | None, *,
               system: str, reads: Reads, from_hall: bool, origin: str, setters: Mapping[str, str],
               role_of: Callable[[str], str | None], newer: bool, settled: bool = False,
               restating: bool = False, released: bool = False) -> Merged:
    """Merge ``system``'s copy of a case into the case, value by value (the module's rules).

    ``case``, ``copy`` and ``base``: whole case documents (JSON values) — the merged case, the incoming copy and
    the same record's previous copy mapped again (None when there is none to compare with). ``origin`` wrote the
    case's current version and ``setters`` names who set a value where it was not ``origin``; ``role_of`` gives a
    system's role (``hall`` / ``department``, None when it is not configured). ``newer``: the copy changed later
    than the case's current version; ``settled``: a version Tongban wrote is newer than the copy (the handling
    Tongban set stands); ``restating``: the copy is the bytes the ledger held, read again (a remap, a replay) —
    it says nothing new, so it neither ends nor decides anything; ``released``: the copy's system was told to let
    the case go (an operator moved it to another department) — it gives none of the handling: its answer is not
    the competent department's."""
    case, copy = _collapsed(case), _collapsed(copy)  # an object part with no value at all is no part (None)
    base = None if base is None else _collapsed(base)
    default = setters.get(ANY, origin)  # who set what the stored setters do not name

    def setter(path: str) -> str:
        return setter_of(setters, origin, path)

    ended = ends_case(case) and not ends_case(base)  # ended by another: not the copy's to undo
    ending = not restating and ends_case(copy) and not ends_case(base)
    deemed = setter("accepted_at").startswith(TONGBAN) and case.get("accepted_at") is not None
    answer = _answer(case, copy, base, ending, deemed) if not (from_hall or restating or released) else None
    deciding = answer == "in time" and not ended
    late = answer == "late"  # a late answer to a deemed acceptance: its result is recorded, the clock stays

    def another_department(path: str) -> bool:
        """The value was set by another department (two departments holding one case number: the newer speaks)."""
        who = setter(path)
        return who != system and role_of(who) == "department"

    def others(path: str) -> bool:
        """The value was set by a department or by Tongban (the hall may not override it)."""
        who = setter(path)
        return who != system and (who.startswith(TONGBAN) or role_of(who) == "department")

    decisions: dict[str, bool] = {}  # path → take (True) or overrule (False), for the values the copy changed
    for name in MERGED_FIELDS:
        theirs_whole, ours_whole = copy.get(name), case.get(name)
        if theirs_whole == ours_whole:
            continue  # most fields: nothing to judge (and no walk of their parts)
        handling = name in HANDLING
        before_whole = None if base is None else base.get(name)
        if base is not None and theirs_whole == before_whole and not (deciding and handling):
            continue  # the copy did not change the field at all
        for path in _leaves((ours_whole, theirs_whole, before_whole), name):
            theirs, ours = value_at(copy, path), value_at(case, path)
            if theirs == ours:
                continue
            if deciding and handling and path in reads and not another_department(path):
                decisions[path] = True  # the department decides: its handling whole (over the hall's, Tongban's)
                continue
            if base is not None:
                before = value_at(base, path)
                if theirs == before:
                    continue  # the copy did not change it: the case's value stands, whoever set it
                collided = ours != before
            else:
                if path not in reads:
                    continue  # a value the copy's mapping never sets: it cannot speak for it
                collided = setter(path) != system
                if (collided and not from_hall and theirs is None and ours is not None
                        and not (handling or name in OUTCOME) and role_of(setter(path)) == "hall"):
                    # a department's first copy that has nothing where the hall set a value (an agent the hall
                    # added after the hand-over) is stale, not an edit: it does not empty the case's. A value of
                    # its own there (a corrected name) is its edit and speaks as any newer change; between two
                    # departments holding one case number, the newer change speaks, as before.
                    decisions[path] = False
                    continue
            if handling and (released or (settled and answer is None and not ending
                                          and setter(path).startswith(TONGBAN))
                             or (from_hall and not ending and others(path))
                             or (late and name in CLOCK)):
                decisions[path] = False
            elif late and name == "events":
                decisions[path] = True  # a late answer's steps, entered before the deemed version was written: kept,
                # with Tongban's 视为受理 beside them (below) — overruled as older, the push wrote 视为受理 over them
            elif collided and (ended or not newer) and (not (ending and (handling or name in OUTCOME))
                                                          or another_department(path)):
                # an ending wins the handling over the hall's and Tongban's values (not another department's); what
                # is not handling (an agent, a phone) goes to the newer change, as for any copy
                decisions[path] = False
            else:
                decisions[path] = True
    outcome = [path for path in decisions if path.split(".", 1)[0] in OUTCOME]
    if outcome and not all(decisions[p] for p in outcome):
        decisions.update(dict.fromkeys(outcome, False))  # the outcome together, or not at all
    merged = dict(case)
    taken = [path for path, take in decisions.items() if take]
    for path in taken:
        _set(merged, path, value_at(copy, path))
    if decisions.get("events") and not deciding:  # Tongban's own steps (视为受理) stay unless the department decides
        merged["events"] = _with_tongban_steps(case.get("events"), merged["events"])
    if deciding and deemed:  # the answer in time replaces the deemed acceptance, also where its mapping cannot say
        for name in CLOCK:
            if name not in reads and setter(name).startswith(TONGBAN) and merged.get(name) is not None:
                merged[name] = None
                taken.append(name)
        if "events" not in reads and isinstance(merged.get("events"), list):
            kept = [e for e in merged["events"] if not _tongban_step(e)]
            if len(kept) != len(merged["events"]):
                merged["events"] = [{**e, "seq": i} for i, e in enumerate(kept, 1)]
                taken.append("events")
    _collapse(merged)
    return Merged(merged, tuple(taken), tuple(p for p, take in decisions.items() if not take),
                  _new_setters(merged, taken, setters, setter, default, system),
                  _instant(copy.get("accepted_at")) if late and not ending else None)


def _answer(case: Mapping[str, Any], copy: Mapping[str, Any], base: Mapping[str, Any] | None, ending: bool,
            deemed: bool) -> str | None:
    """What a department's copy says of the case: ``"in time"`` when it decides it — ends it (a refusal, a void)
    or gives its acceptance — no later than Tongban's deemed acceptance (an answer dated within the window stands
    however late it is read; the echo of the deemed acceptance itself is no answer); ``"late"`` when it answers
    after it (the hand-off records a late answer; the case clock started at the deemed time); None when it says
    nothing of the kind. An acceptance the case holds from anyone else (the hall's window) is no deadline.

    The copy accepts when its previous copy held no acceptance — or held only Tongban's deemed one, read back from
    the department's system: a clerk accepting after that (the department's system holds the deemed time until
    then) is the department's late answer, not an edit of the acceptance time that moves the case clock."""
    held = _instant(case.get("accepted_at")) if deemed else None
    before = (base or {}).get("accepted_at")
    accepting = bool(copy.get("accepted_at")) and (not before or _same_instant(_instant(before), held))
    if not (ending or accepting):
        return None
    if held is None:
        return "in time"
    given = _instant(copy.get("accepted_at")) if accepting else None
    if _same_instant(given, held):  # Tongban's own acceptance come back
        if not ending:
            return None
        given = None  # an ending beside it: judged by when it ended
    if given is None:
        given = _instant(copy.get("finished_at") or copy.get("updated_at"))
    if given is None:
        return "in time"
    return "in time" if given <= held else "late"


def _same_instant(a: datetime | None, b: datetime | None) -> bool:
    """Two known instants less than a second apart (a system that keeps whole seconds gives Tongban's back so)."""
    return a is not None and b is not None and abs((a - b).total_seconds()) < 1


def _tongban_step(event: Any) -> bool:
    return isinstance(event, dict) and str(event.get("handler") or "").startswith(TONGBAN)


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        found = datetime.fromisoformat(value)
    except ValueError:
        return None
    return found if found.tzinfo is not None else None


def _with_tongban_steps(held: Any, events: Any) -> Any:
    """``events`` with the steps Tongban wrote itself (``handler`` ``tongban.…``: the 视为受理 of a deemed
    acceptance) that ``held`` has and it lacks — a legal record no department's copy drops, whether its system
    never had it (a mapping without steps) or had not received it yet — in time order, numbered again."""
    if not isinstance(held, list) or not isinstance(events, list):
        return events
    ours = [e for e in held if _tongban_step(e)]

    def key(event: Any) -> tuple[Any, ...]:
        if not isinstance(event, dict):
            return (event,)
        return event.get("kind"), event.get("name"), _instant(event.get("started_at"))

    present = {key(e) for e in events}
    missing = [e for e in ours if key(e) not in present]
    if not missing:
        return events
    joined = [*events, *missing]
    far = datetime.max.replace(tzinfo=timezone.utc)
    joined.sort(key=lambda e: (_instant(e.get("started_at")) or far) if isinstance(e, dict) else far)
    return [{**e, "seq": i} if isinstance(e, dict) else e for i, e in enumerate(joined, 1)]


def setter_of(setters: Mapping[str, str] | None, origin: str, path: str) -> str:
    """Who set the value at ``path`` of a version ``origin`` wrote, by its stored setters: the value's own entry,
    else one inside it (a part set value by value, judged whole now), else the part it is inside of (an office
    set whole, then read apart), else ``*``, else the writer."""
    setters = setters or {}
    if path in setters:
        return setters[path]
    inside = next((who for at, who in setters.items() if at.startswith(path + ".")), None)
    if inside is not None:
        return inside
    while "." in path:
        path = path.rsplit(".", 1)[0]
        if path in setters:
            return setters[path]
    return setters.get(ANY, origin)


def _new_setters(merged: Mapping[str, Any], taken: list[str], setters: Mapping[str, str],
                 setter: Callable[[str], str], default: str, system: str) -> dict[str, str]:
    """Who set each value of the merged version, sparse, for its writer ``system``: the fields the copy gave a
    value to named value by value (the copy's own values left out), the others' entries kept as they were, and
    ``*`` for whoever set everything else (left out when that is the writer)."""
    touched = {path.split(".", 1)[0] for path in taken}
    mine = set(taken)
    out: dict[str, str] = {}
    for path, who in setters.items():
        if path != ANY and path.split(".", 1)[0] not in touched:
            out[path] = who
    for name in touched:
        for path in _leaves((merged.get(name),), name):
            who = system if path in mine else setter(path)
            if who != default:
                out[path] = who
    if default != system:
        out[ANY] = default
    return out




def carried_flags(merged: Mapping[str, Any], copy: Mapping[str, Any], case: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The quality flags the merged document keeps from its two sides: each side's flag on a value the merged
    document took from it (the copy's first), never one of :data:`RECHECKED_RULES` (validation finds those again).
    A repair's flag (``range.implausible``, ``case.catalog_code``, ``text.truncated``) so travels with the value it
    was found on, also when the other side already held the same repaired value."""
    kept: dict[tuple[Any, Any], dict[str, Any]] = {}
    for side in (copy, case):
        for flag in side.get("quality") or ():
            if not isinstance(flag, Mapping) or flag.get("rule") in RECHECKED_RULES:
                continue
            where = str(flag.get("field", ""))
            if value_at(merged, where) == value_at(side, where):
                kept.setdefault((flag.get("field"), flag.get("rule")), dict(flag))
    return list(kept.values())


def rewritten_setters(before: Mapping[str, Any], after: Mapping[str, Any], *, origin: str,
                      setters: Mapping[str, str] | None, writer: str) -> dict[str, str] | None:
    """Who set each value of a version ``writer`` wrote over ``before`` (``origin``'s version, with its
    ``setters``) as ``after``: what it changed is the writer's, the rest keeps its setter — Tongban's deemed
    acceptance is Tongban's, the hall's deadline under it still the hall's. None when the writer set everything."""
    before, after = _collapsed(before), _collapsed(after)
    changed = [path for name in MERGED_FIELDS if before.get(name) != after.get(name)
               for path in _leaves((before.get(name), after.get(name)), name)
               if value_at(before, path) != value_at(after, path)]
    setters = setters or {}
    found = _new_setters(after, changed, setters, lambda path: setter_of(setters, origin, path),
                         setters.get(ANY, origin), writer)
    return found or None


def handled_by(origin: str, setters: Mapping[str, str] | None, data: Mapping[str, Any]) -> str:
    """Who gave the case's handling as it stands: the setter of its result when it has one, else of its
    acceptance, else the version's writer — what the hand-off reads to tell a department's decision from the
    hall's echo of it, now that a version the hall wrote can carry a department's values."""
    for name in ("result", "accepted_at"):
        if data.get(name) is not None:
            return setter_of(setters, origin, name)
    return origin


__all__ = ["ANY", "CLOCK", "EVERYTHING", "HANDLING", "MERGED_FIELDS", "NOT_MERGED", "OUTCOME", "RECHECKED_RULES", "TONGBAN",
           "Merged", "Reads", "carried_flags", "ends_case", "handled_by", "merge_copy", "rewritten_setters", "setter_of",
           "top_level", "value_at"]
