"""The 通办目录 (``config/tongban_catalogue.yaml``): where an item may be accepted, who handles it, its clocks.

A case accepted at any street office (全城通办) or in another province's hall (跨省通办) must reach exactly the
competent department (实施主体) for its item and division, and nothing outside an office's 通办目录 may be
taken there. :meth:`TongbanCatalogue.route` decides that from configuration alone, so the decision is the same
whoever runs it and can be shown to the citizen as a reason:

    catalogue = TongbanCatalogue.load()
    decision = catalogue.route(case, systems)
    decision.target          # "sd_civil", or None with decision.reason saying why not

Why a configured table rather than the harvested 实施清单 (:mod:`gateway.catalogue`): the harvest says which
department *claims* an item at a level; the 通办目录 is a published decision of which items each office takes
and which department answers for them ("统一收件材料、统一办理时限"). The harvest is the audit of this table, not
its source: a routing decision must not change because a catalogue system was re-harvested overnight.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from gateway.contract.errors import ConfigError
from gateway.kernel.config import REPO_ROOT, SystemsConfig, parse_duration
from gateway.kernel.yamlfile import did_you_mean, load_yaml, read_config_text
from gateway.ops.deadlines.calendar import LimitUnit, WorkCalendar
from gateway.process.officehours import DEFAULT_OFFICE_HOURS, OfficeHours

__all__ = ["DEFAULT_WINDOW", "ItemEntry", "OfficeEntry", "Route", "StagePlan", "TongbanCatalogue"]

DEFAULT_WINDOW = timedelta(minutes=10)
"""超过10分钟未作出受理决定的，视为同意 — the county rule the issue quotes; each item may set its own."""

Unit = Literal["working_day", "calendar_day"]


@dataclass(frozen=True)
class StagePlan:
    """One stage of an item's flow: its name, limit and owner (who answers for it)."""

    name: str
    days: int
    unit: Unit = "working_day"
    owner: str | None = None


@dataclass(frozen=True)
class OfficeEntry:
    code: str
    name: str
    division: str
    catalogue: str


@dataclass(frozen=True)
class ItemEntry:
    item_code: str
    name: str
    catalog_code: str | None
    departments: dict[str, str]
    """Division prefix → the competent department's USCC; the longest matching prefix wins."""
    window: timedelta
    limit_days: int | None = None
    limit_unit: Unit | None = None
    """The unit of ``limit_days`` (``limit: {days: 10, unit: calendar_day}``); None when the 目录 does not say, and
    the calendar's rule (``calendar_day_items``) decides — see :meth:`TongbanCatalogue.unit_for`."""
    stages: tuple[StagePlan, ...] = ()

    def department_for(self, division: str | None) -> str | None:
        best = None
        for prefix, dept in self.departments.items():
            if division and division.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
                best = (prefix, dept)
        return best[1] if best else None


@dataclass(frozen=True)
class Route:
    """Where a front-desk case goes: the department system (``target``), or ``None`` with ``reason`` — a sentence
    naming the case, the office and the rule, written back to the accepting hall as the refusal reason."""

    target: str | None
    dept_code: str | None
    window: timedelta
    reason: str | None = None
    rule: str | None = None

    @property
    def refused(self) -> bool:
        return self.target is None


def office_key(code: str) -> str:
    """An office code as compared: NFKC (full width → half width), no whitespace, upper case."""
    return "".join(unicodedata.normalize("NFKC", code).split()).upper()


@dataclass
class TongbanCatalogue:
    items: dict[str, ItemEntry] = field(default_factory=dict)
    offices: dict[str, OfficeEntry] = field(default_factory=dict)
    catalogues: dict[str, frozenset[str]] = field(default_factory=dict)
    window: timedelta = DEFAULT_WINDOW
    office_hours: OfficeHours = DEFAULT_OFFICE_HOURS
    """When the acceptance windows run (``office_hours``: working days, 09:00–17:00 unless the file says)."""
    tickets: dict[str, int] = field(default_factory=lambda: dict(TICKET_LIMITS))
    departments: dict[str, str] = field(default_factory=dict)
    """USCC → name of the competent departments, written on a routed case whose source named another one."""
    path: Path | None = None

    def office(self, code: str | None) -> OfficeEntry | None:
        """The registered 受理点 a case names, however its code was typed: full-width (``ＪＮ３７０１０２``, a Chinese
        input method's), in another case or with stray spaces it is the same office (:func:`office_key`) — read
        exactly, such a case was refused (不予受理) and closed at the hall."""
        if not code:
            return None
        found = self.offices.get(code)
        if found is not None:
            return found
        if self._office_keys is None or len(self._office_keys) != len(self.offices):
            self._office_keys = {office_key(c): entry for c, entry in self.offices.items()}
        return self._office_keys.get(office_key(code))

    _office_keys: dict[str, OfficeEntry] | None = field(default=None, repr=False, compare=False)

    # -- loading -------------------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path | None = None, *, systems_path: str | Path | None = None) -> TongbanCatalogue:
        """``path``, else ``TONGBAN_TONGBAN_CATALOGUE``, else ``tongban_catalogue.yaml`` next to the systems
        file, else the repository's ``config/tongban_catalogue.yaml``; none of them: an empty catalogue (every
        hand-off goes by the department the case names, with the default window)."""
        candidates = [Path(p) for p in (path, os.environ.get("TONGBAN_TONGBAN_CATALOGUE")) if p]
        if not candidates:
            if systems_path:
                candidates.append(Path(systems_path).resolve().parent / "tongban_catalogue.yaml")
            candidates.append(REPO_ROOT / "config" / "tongban_catalogue.yaml")
        chosen = next((p for p in candidates if p.exists()), None)
        if chosen is None:
            return cls()
        return cls.from_text(read_config_text(chosen), where=str(chosen), path=chosen)

    @classmethod
    def from_text(cls, text: str, *, where: str = "<tongban catalogue>", path: Path | None = None) -> TongbanCatalogue:
        data = load_yaml(text, where=where) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: expected a mapping with items, offices and catalogues")
        window = _duration(data.get("acceptance_window", "10m"), f"{where}: acceptance_window")
        hours = OfficeHours.parse(data["office_hours"], where=f"{where}: office_hours") if "office_hours" in data \
            else DEFAULT_OFFICE_HOURS
        catalogues = {str(name): frozenset(str(c) for c in codes or [])
                      for name, codes in (data.get("catalogues") or {}).items()}
        offices = {}
        for code, spec in (data.get("offices") or {}).items():
            spec = spec or {}
            catalogue = str(spec.get("catalogue") or "")
            if catalogue not in catalogues:
                raise ConfigError(f"{where}: offices.{code}.catalogue: {catalogue!r} is not one of the catalogues "
                                  f"({', '.join(sorted(catalogues)) or 'none'})")
            offices[str(code)] = OfficeEntry(str(code), str(spec.get("name") or code), str(spec.get("division") or ""),
                                             catalogue)
        items = {}
        for code, spec in (data.get("items") or {}).items():
            items[str(code)] = _item(str(code), spec or {}, window, f"{where}: items.{code}")
        tickets = _ticket_limits(data.get("tickets"), f"{where}: tickets")
        departments = {str(k): str(v) for k, v in (data.get("departments") or {}).items()}
        return cls(items=items, offices=offices, catalogues=catalogues, window=window, office_hours=hours,
                   tickets=tickets, departments=departments, path=path)

    # -- questions -----------------------------------------------------------------------------------------
    def item(self, item_code: str | None, catalog_code: str | None = None) -> ItemEntry | None:
        if item_code and item_code in self.items:
            return self.items[item_code]
        if catalog_code:
            return next((i for i in self.items.values() if i.catalog_code == catalog_code), None)
        return None

    def window_for(self, item_code: str | None, catalog_code: str | None = None) -> timedelta:
        """The item's acceptance window; an item is found as :meth:`route` finds it (实施编码, else 基本编码)."""
        entry = self.item(item_code, catalog_code)
        return entry.window if entry is not None else self.window

    def stages_for(self, item_code: str | None, catalog_code: str | None = None) -> tuple[StagePlan, ...]:
        """The item's stage plan; found as :meth:`route` finds it (实施编码, else 基本编码)."""
        entry = self.item(item_code, catalog_code)
        return entry.stages if entry is not None else ()

    def unit_for(self, item_code: str | None, catalog_code: str | None, calendar: WorkCalendar) -> LimitUnit:
        """The unit the item's time limit counts in: the 目录 entry's ``limit.unit`` — the promise of a deemed
        acceptance is made in it, and the case clock must count in the same unit or 按时办结 and the clock disagree
        — else the calendar's rule (``calendar_day_items``, by 实施编码)."""
        entry = self.item(item_code, catalog_code)
        if entry is not None and entry.limit_unit is not None:
            return entry.limit_unit
        return calendar.unit_for(item_code)

    def lists(self, catalogue: str, item_code: str | None, entry: ItemEntry | None) -> bool:
        """Whether the 通办目录 ``catalogue`` lists the item: ``entry`` (found by 实施编码, else 基本编码: another
        level's 实施编码 of a listed item is that item), else ``item_code`` as the case gives it. What routing
        checks at an office, and what the 全城通办 KPI counts by."""
        listed = entry.item_code if entry is not None else item_code
        return listed in self.catalogues.get(catalogue, frozenset())

    def route(self, case: dict[str, Any], systems: SystemsConfig) -> Route:
        """The competent department's system for a front-desk case (canonical dict), or a refusal with its reason.

        1. A case naming an accepting office (受理点) must name a registered one, and its item must be in that
           office's 通办目录.
        2. The department: the item's entry by division (longest prefix of the case's 行政区划); an item not in
           the table, accepted at the hall's own window, goes to the department the case names.
        3. The department must have a connected, writable system.
        """
        case_no = case.get("case_no")
        item_code = case.get("item_code")
        entry = self.item(item_code, case.get("catalog_code"))
        window = entry.window if entry is not None else self.window
        office = case.get("office") if isinstance(case.get("office"), dict) else None
        if office is not None:
            code = str(office.get("code") or "")
            registered = self.office(code)
            if registered is None:
                return Route(None, None, window, f"case {case_no}: office.code {code!r} is not a registered 受理点 "
                             "of the 通办目录", "routing.unknown_office")
            if not self.lists(registered.catalogue, item_code, entry):
                name = entry.name if entry else case.get("item_name")
                return Route(None, None, window, f"case {case_no}: item_code {item_code} ({name}) is not in the "
                             f"通办目录 '{registered.catalogue}' of {registered.name} ({code}); apply where the "
                             "item is handled", "routing.not_in_catalogue")
        division = str(case.get("division_code") or "")
        if entry is not None:
            dept = entry.department_for(division)
            if dept is None:
                return Route(None, None, window, f"case {case_no}: division_code {division} has no competent "
                             f"department for item_code {item_code} in the 通办目录", "routing.no_department")
        else:
            dept = case.get("dept_code")
        target = next((s.name for s in systems.routes()
                       if s.role == "department" and s.writable and dept in s.departments), None)
        if target is None:
            return Route(None, dept, window, f"case {case_no}: department {dept} (item_code {item_code}) has no "
                         "connected system that takes cases", "routing.no_system")
        return Route(target, dept, window)


def _duration(value: Any, where: str) -> timedelta:
    try:
        return parse_duration(value)
    except (ValueError, TypeError, ConfigError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _unit(value: Any, where: str) -> Unit:
    if value not in ("working_day", "calendar_day"):
        raise ConfigError(f"{where}: unit must be working_day or calendar_day, not {value!r}")
    return value  # type: ignore[no-any-return]


TICKET_LIMITS = {"simple": 3, "coordination": 10}
"""办不成事: working days to reply to a simple matter and to one several departments must settle (seed 001)."""


def _ticket_limits(raw: Any, where: str) -> dict[str, int]:
    """The ``tickets:`` limits over the defaults: only ``simple`` and ``coordination``, whole numbers of working
    days above 0 (``3天`` failed every command that loads the 目录 with a bare ValueError, ``simpel: 5`` was kept and
    never read, ``2.9`` became 2 and ``-10`` a clock that never turned)."""
    if raw is None:
        return dict(TICKET_LIMITS)
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping like {{simple: 3, coordination: 10}}, not {raw!r}")
    limits = dict(TICKET_LIMITS)
    for key, value in raw.items():
        if key not in TICKET_LIMITS:
            raise ConfigError(f"{where}.{key}: not a kind of ticket{did_you_mean(str(key), TICKET_LIMITS)}; the "
                              "kinds are simple and coordination")
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ConfigError(f"{where}.{key} must be a whole number of working days above 0, not {value!r}")
        limits[key] = value
    return limits


def _item(code: str, spec: dict[str, Any], default_window: timedelta, where: str) -> ItemEntry:
    limit = spec.get("limit") or {}
    stages = []
    for i, stage in enumerate(spec.get("stages") or []):
        if not isinstance(stage, dict) or not stage.get("name") or not isinstance(stage.get("days"), int):
            raise ConfigError(f"{where}.stages.{i}: a stage needs a name and whole days")
        stages.append(StagePlan(str(stage["name"]), int(stage["days"]),
                                _unit(stage.get("unit", "working_day"), f"{where}.stages.{i}"),
                                str(stage["owner"]) if stage.get("owner") else None))
    departments = {str(k): str(v) for k, v in (spec.get("departments") or {}).items()}
    window = _duration(spec["acceptance_window"], f"{where}.acceptance_window") if "acceptance_window" in spec \
        else default_window
    return ItemEntry(code, str(spec.get("name") or code), str(spec["catalog_code"]) if spec.get("catalog_code") else None,
                     departments, window, int(limit["days"]) if "days" in limit else None,
                     _unit(limit["unit"], f"{where}.limit") if "unit" in limit else None, tuple(stages))
