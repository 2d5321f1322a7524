"""What the consistency audit looks for, as a pure function of the catalogue and the ledger's case activity.

For each 基本编码, every entry is compared with the reference entry — the national one (level 1), or, when the
catalogue holds no national entry, the highest level present — element by element (:data:`ELEMENTS`), with
:mod:`gateway.catalogue.normalise` deciding what counts as the same. Finding kinds:

- ``element_differs``: one of the eight elements differs from the reference (法定时限 excepted: below);
- ``time_limit_conflict``: ``legal_differs_from_national`` (the hall's legal limit is not the national one —
  "相差了几个月") or ``promised_exceeds_legal`` (the entry promises longer than the law allows);
- ``unclaimed`` / ``multiply_claimed``: no 实施主体 (空头认领) or several;
- ``dormant``: no case of the entry's 实施编码 in the ledger for ``dormant_months`` (长期无办件) — judged only for
  the entries of departments whose cases reach the ledger (a case of any item whose 实施编码 starts with the same
  department USCC): of a department whose system is not connected, the ledger knows nothing, and calling its
  every item dormant would bury the real findings. It shows the last case as the ledger knows it: the month of
  the last 申请时间 (``found`` ``2026-03``), or, for an item no KPI fact dates, a case's change time;
- ``tongban_materials``: the entries of one item in the 通办目录 do not ask for the same materials, so "统一收件材料"
  does not hold and an office cannot accept for another;
- ``unreadable_field``: the catalogue wrote a field of the entry so that it cannot be read (``1年`` as a 法定时限),
  one finding per :class:`~gateway.catalogue.entry.EntryFlag`, its rule the flag's. The entry's other elements
  are still compared; the unreadable one is not compared either way (with the reference, or, when it is the
  reference's, for any entry), since "differs from nothing" would only repeat the finding.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from gateway.models.datetimes import beijing_minute
from gateway.store.catalogue import CaseActivity

from .entry import TIME_LIMIT_FORMS, TIME_LIMIT_RULE, CatalogueEntry
from .normalise import ELEMENT_LABELS, ELEMENTS, element_key, element_text, same_element

__all__ = ["Finding", "FINDING_KINDS", "find", "months_before"]

FINDING_KINDS = ("element_differs", "time_limit_conflict", "unclaimed", "multiply_claimed", "dormant",
                 "tongban_materials", "unreadable_field")
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

    @property
    def key(self) -> str:
        """What the finding is about, stable across runs (the text it quotes may change, the subject not)."""
        return "|".join((self.kind, self.rule, self.element, self.catalog_code, self.item_code or "",
                         self.level or "", self.division or ""))

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


def _reference(entries: list[CatalogueEntry]) -> CatalogueEntry:
    return min(entries, key=lambda e: (e.level.value, e.division, e.item_code))


def _readable(e: CatalogueEntry, element: str) -> bool:
    unreadable = e.unreadable()
    return not unreadable or not unreadable.intersection(_FIELDS.get(element, (element,)))


def _compare(ref: CatalogueEntry, e: CatalogueEntry) -> Iterable[Finding]:
    ref_where = f"the {_LEVEL.get(ref.level.value, ref.level.value)}级 entry {ref.item_code}"
    for element in ELEMENTS:
        if not (_readable(e, element) and _readable(ref, element)):
            continue
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


def _own_rules(e: CatalogueEntry, activity: Mapping[str, CaseActivity] | None, cutoff: datetime | None,
               dormant_months: int) -> Iterable[Finding]:
    for flag in e.quality:
        top = flag.field.split(".", 1)[0]
        label = ELEMENT_LABELS.get(top, top) + ("" if top == flag.field else f" ({flag.field})")
        expected = f"a time limit like {TIME_LIMIT_FORMS}" if flag.rule == TIME_LIMIT_RULE else "a readable value"
        yield _finding("unreadable_field", flag.rule, flag.field, e, expected,
                       flag.message if flag.value is None else flag.value, f"{label} cannot be read: {flag.message}")
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
    out: list[Finding] = []
    for code in sorted(groups):
        members = groups[code]
        ref = _reference(members)
        for e in members:
            if e is not ref:
                out.extend(_compare(ref, e))
            seen = activity if e.item_code[:_USCC] in connected else None
            out.extend(_own_rules(e, seen, cutoff, dormant_months))
        out.extend(_tongban(code, members))
    return out
