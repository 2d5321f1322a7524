"""What the consistency audit looks for, as a pure function of the catalogue and the ledger's case activity.

For each 基本编码, every entry is compared with the reference entry — the national one (level 1), or, when the
catalogue holds no national entry, the highest level present; when several entries share that level (peers), on
each element the one saying what most entries say — element by element (:data:`ELEMENTS`), with
:mod:`gateway.catalogue.normalise` deciding what counts as the same. Finding kinds:

- ``element_differs``: one of the eight elements differs from the reference (法定时限 excepted: below);
- ``time_limit_conflict``: ``legal_differs_from_national`` (the hall's legal limit is not the national one —
  "相差了几个月") or ``promised_exceeds_legal`` (the entry promises longer than the law allows);
- ``unclaimed`` / ``multiply_claimed``: no 实施主体 (空头认领) or several;
- ``dormant``: no case of the entry's 实施编码 in the ledger for ``dormant_months`` (长期无办件) — judged only for
  the entries of departments whose cases reach the ledger (a case of another entry of the same 实施主体, or of an
  item whose 实施编码 starts with the same department USCC): of a department whose system is not connected, the ledger knows nothing, and calling its
  every item dormant would bury the real findings. It shows the last case as the ledger knows it: the month of
  the last 申请时间 (``found`` ``2026-03``), or, for an item no KPI fact dates, a case's change time;
- ``tongban_materials``: the entries of one item in the 通办目录 do not ask for the same materials, so "统一收件材料"
  does not hold and an office cannot accept for another;
- ``copy_differs``: two catalogue systems list one entry (the national catalogue and the province's copy of it)
  and say different things in one of the eight elements: the copy of the first system by name is the one compared
  (:func:`one_of_each`), the other named with its source; every other finding is about that one copy;
- ``unreadable_field``: the catalogue wrote a field of the entry so that it cannot be read (``1年`` as a 法定时限),
  one finding per :class:`~gateway.catalogue.entry.EntryFlag`, its rule the flag's. The entry's other elements
  are still compared; the unreadable one is not compared either way (with the reference, or, when it is the
  reference's, for any entry), since "differs from nothing" would only repeat the finding.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from gateway.models.datetimes import beijing_minute
from gateway.store.catalogue import CaseActivity

from .entry import TIME_LIMIT_FORMS, TIME_LIMIT_RULE, UNSTORABLE_RULE, CatalogueEntry
from .normalise import ELEMENT_LABELS, ELEMENTS, element_key, element_text, same_element

__all__ = ["Copy", "Finding", "FINDING_KINDS", "find", "months_before", "one_of_each"]

FINDING_KINDS = ("element_differs", "time_limit_conflict", "unclaimed", "multiply_claimed", "dormant",
                 "tongban_materials", "copy_differs", "unreadable_field")
_FIELDS = {"service_object": ("service_objects",), "fee": ("fee", "fee_basis")}
"""The entry fields an element is read from, where not the element's own name."""
_LEVEL = {"1": "国家", "2": "省", "3": "市", "4": "县", "5": "镇"}


@dataclass(frozen=True)
class Finding:
    kind: str
    rule: str
    element: str
    catalog_code: str
    item_code: str | None
    level: str | None
    division: str | None
    expected: str | None
    found: str | None
    message: str
    source: str | None = None
    """The catalogue system whose copy of the entry the finding is about, when it is not the copy compared (a
    ``copy_differs``, or a field of that copy that cannot be read)."""

    @property
    def key(self) -> str:
        """What the finding is about, stable across runs (the text it quotes may change, the subject not)."""
        subject = (self.kind, self.rule, self.element, self.catalog_code, self.item_code or "", self.level or "",
                   self.division or "")
        return "|".join(subject if self.source is None else (*subject, self.source))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def months_before(moment: datetime, months: int) -> datetime:
    """The same day-of-month ``months`` calendar months earlier (clamped to the month's last day)."""
    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    month += 1
    days = [31, 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28, 31, 30, 31, 30, 31, 31, 30,
            31, 30, 31][month - 1]
    return moment.replace(year=year, month=month, day=min(moment.day, days))


def _where(e: CatalogueEntry) -> str:
    return f"{e.item_code} ({_LEVEL.get(e.level.value, e.level.value)}级 {e.division})"


def _finding(kind: str, rule: str, element: str, e: CatalogueEntry, expected: str | None, found: str | None,
             message: str) -> Finding:
    return Finding(kind, rule, element, e.catalog_code, e.item_code, e.level.value, e.division, expected, found,
                   f"{_where(e)} {e.name}: {message}")


_COMPARED_PARTS = {"materials": "name"}
"""Of a list element's items, the part compared: an unreadable 必要性 of one material (``materials.0.required``)
does not stop the materials' names being compared — it hid a dropped 身份证."""


def _readable(e: CatalogueEntry, element: str) -> bool:
    unreadable = e.unreadable()
    if not unreadable or not unreadable.intersection(_FIELDS.get(element, (element,))):
        return True
    part = _COMPARED_PARTS.get(element)
    return part is not None and all(
        len(path := flag.field.split(".")) == 3 and path[2] != part
        for flag in e.quality if flag.field.split(".", 1)[0] == element and flag.rule != UNSTORABLE_RULE)


def _references(members: list[CatalogueEntry]) -> dict[str, CatalogueEntry]:
    """Element → the entry the others are compared with on it (``members`` in reference order): the highest-level
    entry that states it readably — one whose 法定时限 reads ``1年`` hid every other level's disagreement — and when
    several share that level (peers: the districts' entries of an item with no national or provincial one), the
    peer saying what most entries say: else one outlier district made every other district's finding."""
    chosen = {}
    for element in ELEMENTS:
        readable = [e for e in members if _readable(e, element)]
        if not readable:
            chosen[element] = members[0]
            continue
        peers = [e for e in readable if e.level == readable[0].level]
        said = Counter(element_key(e, element) for e in readable) if len(peers) > 1 else None
        # max keeps the first of equals: the lowest division, as the reference always was
        chosen[element] = peers[0] if said is None else max(peers, key=lambda e: said[element_key(e, element)])
    return chosen


def _compare(refs: Mapping[str, CatalogueEntry], e: CatalogueEntry) -> Iterable[Finding]:
    for element in ELEMENTS:
        ref = refs[element]
        if e is ref or not (_readable(e, element) and _readable(ref, element)):
            continue
        ref_where = f"the {_LEVEL.get(ref.level.value, ref.level.value)}级 entry {ref.item_code}"
        if same_element(e, ref, element):
            continue
        expected, found = element_text(ref, element), element_text(e, element)
        label = ELEMENT_LABELS[element]
        if element == "legal_limit":
            yield _finding("time_limit_conflict", "legal_differs_from_national", element, e, expected, found,
                           f"{label} {found or '(none)'} differs from {ref_where}: {expected or '(none)'}")
        else:
            yield _finding("element_differs", "element_differs", element, e, expected, found,
                           f"{label} differs from {ref_where}: expected {expected!r}, found {found!r}")


def _unreadable(e: CatalogueEntry) -> Iterable[Finding]:
    for flag in e.quality:
        top = flag.field.split(".", 1)[0]
        label = ELEMENT_LABELS.get(top, top) + ("" if top == flag.field else f" ({flag.field})")
        expected = f"a time limit like {TIME_LIMIT_FORMS}" if flag.rule == TIME_LIMIT_RULE else "a readable value"
        yield _finding("unreadable_field", flag.rule, flag.field, e, expected,
                       flag.message if flag.value is None else flag.value, f"{label} cannot be read: {flag.message}")


def _own_rules(e: CatalogueEntry, activity: Mapping[str, CaseActivity] | None, cutoff: datetime | None,
               dormant_months: int) -> Iterable[Finding]:
    yield from _unreadable(e)
    legal, promised = e.legal_limit, e.promised_limit
    if legal is not None and promised is not None:
        longer = promised.days > legal.days if promised.unit == legal.unit else \
            promised.calendar_days() > legal.calendar_days()
        if longer:
            yield _finding("time_limit_conflict", "promised_exceeds_legal", "promised_limit", e, str(legal),
                           str(promised), f"承诺时限 {promised} is longer than 法定时限 {legal}")
    claimants = {(d.code or d.name) for d in e.departments}
    if not claimants:
        yield _finding("unclaimed", "unclaimed", "departments", e, "one 实施主体", "", "no 实施主体 claims the entry")
    elif len(claimants) > 1:
        found = element_text(e, "departments")
        yield _finding("multiply_claimed", "multiply_claimed", "departments", e, "one 实施主体", found,
                       f"{len(claimants)} 实施主体 claim the entry: {found}")
    if activity is not None and cutoff is not None:
        last = activity.get(e.item_code)
        if last is None or last.latest < cutoff:  # for a month of 申请时间, its end: the latest it can have been
            # what is shown is what is known: the month of the last 申请时间 (its end, compared above, is no time
            # anyone applied); a case's change time, or never, in Beijing time as every time Tongban shows
            if last is not None and last.month is not None:
                seen, said = last.month, f"last application in {last.month}"
            else:
                seen = beijing_minute(last.latest) if last else "never"
                said = f"last: {seen}"
            yield _finding("dormant", "dormant", "cases", e, f"a case within {dormant_months} months", seen,
                           f"no case for {dormant_months} months ({said})")


@dataclass(frozen=True)
class Copy:
    """An entry as one catalogue system lists it (``changed_at``: when that system last changed it, if it says)."""

    source: str
    changed_at: datetime | None
    entry: CatalogueEntry

    @property
    def key(self) -> tuple[str, str, str, str]:
        e = self.entry
        return e.catalog_code, e.item_code, e.level.value, e.division


def one_of_each(copies: Iterable[Copy]) -> tuple[list[CatalogueEntry], list[Finding]]:
    """(one entry per key, the findings of the copies set aside): of an entry several systems list, the copy of the
    first system by name stands for it — the copy every other reader takes too (:func:`~gateway.store.catalogue.
    one_copy`), and a choice no edit moves: chosen by change time, an edit of the other system's copy swapped the
    two, closed the ``copy_differs`` finding and opened it again under the other name. Each other copy is compared
    with it element by element (``copy_differs``) and its unreadable fields are reported under its source. Entries
    one system lists pass through."""
    by_key: dict[tuple[str, str, str, str], list[Copy]] = defaultdict(list)
    for c in copies:
        by_key[c.key].append(c)
    entries: list[CatalogueEntry] = []
    out: list[Finding] = []
    for key in sorted(by_key):
        group = sorted(by_key[key], key=lambda c: c.source)
        chosen = group[0]
        entries.append(chosen.entry)
        for other in group[1:]:
            out.extend(_copy_differs(chosen, other))
            out.extend(replace(f, source=other.source) for f in _unreadable(other.entry))
    return entries, out


def _copy_differs(chosen: Copy, other: Copy) -> Iterable[Finding]:
    ref, e = chosen.entry, other.entry
    for element in ELEMENTS:
        if not (_readable(e, element) and _readable(ref, element)) or same_element(e, ref, element):
            continue
        expected, found = element_text(ref, element), element_text(e, element)
        yield replace(_finding("copy_differs", "copy_differs", element, e, expected, found,
                               f"{ELEMENT_LABELS[element]} as {other.source} lists it: {found!r}; as "
                               f"{chosen.source} lists it: {expected!r}"), source=other.source)


def _tongban(code: str, entries: list[CatalogueEntry]) -> Iterable[Finding]:
    listed = [e for e in entries if e.tongban is not None and _readable(e, "materials")]
    sets = Counter(element_key(e, "materials") for e in listed)
    if len(sets) <= 1:
        return
    common = sets.most_common(1)[0][0]
    odd = sorted(f"{e.division}:{element_text(e, 'materials')}" for e in listed if element_key(e, "materials") != common)
    ref = next(e for e in listed if element_key(e, "materials") == common)
    yield Finding("tongban_materials", "tongban_materials", "materials", code, None, None, None,
                  element_text(ref, "materials"), "; ".join(odd),
                  f"{code} {ref.name}: in the 通办目录 but its {len(listed)} entries ask for {len(sets)} different "
                  f"sets of materials ({len(odd)} differ from the rest)")


_USCC = 18
"""A 实施编码 begins with its department's 统一社会信用代码."""


def find(entries: Iterable[CatalogueEntry], *, activity: Mapping[str, CaseActivity] | None = None,
         now: datetime | None = None, dormant_months: int = 12) -> list[Finding]:
    """Every finding over ``entries`` (active ones). ``activity`` (实施编码 → its last case) turns the dormant
    check on, for the departments it holds cases of; without it, or with ``now`` None, nothing is called dormant."""
    groups: dict[str, list[CatalogueEntry]] = defaultdict(list)
    for e in entries:
        groups[e.catalog_code].append(e)
    cutoff = months_before(now, dormant_months) if now is not None and activity is not None else None
    connected = {code[:_USCC] for code in activity or ()}
    # a department is connected when a case of one of its entries reached the ledger: read from the 实施主体, since
    # an 实施编码 need not begin with its department's USCC (370102-MZ-0001 never did, and no such entry was judged)
    departments = {d.code for members in groups.values() for e in members if activity and e.item_code in activity
                   for d in e.departments if d.code}
    out: list[Finding] = []
    for code in sorted(groups):
        members = sorted(groups[code], key=lambda e: (e.level.value, e.division, e.item_code))
        refs = _references(members)
        for e in members:
            out.extend(_compare(refs, e))
            judged = e.item_code[:_USCC] in connected or any(d.code in departments for d in e.departments if d.code)
            seen = activity if judged else None
            out.extend(_own_rules(e, seen, cutoff, dormant_months))
        out.extend(_tongban(code, members))
    return out
