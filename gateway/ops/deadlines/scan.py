"""The deadline scan: every clock that changed or fell due since the last scan, filed as alerts.

Each case carries when its clocks must be read again (``cases.clock_due_at``, :mod:`gateway.store.clocks`): at
once after any write (a trigger marks it), else the instant one of them turns yellow or red, else never. A scan
reads only the cases due by ``now`` — at a million cases the hourly scan reads the few thousand that changed or
crossed a threshold, not every live case — evaluates every clock of each (the case's, each running stage's,
each deferred material's), makes that case's open ``deadline`` and ``deferred_material`` alerts exactly what it
wants, and files its next instant. So the open alerts afterwards are exactly the cases that are yellow or red
now: a case that finished, or whose clock stopped for a 补正, is read (it changed) and its alert resolves; a yellow
case is read again the second it runs out, and turns red.

A scan reads every clock again (``full``) when the clocks' inputs changed — a new working-day calendar, yellow
threshold or stage plan (their fingerprint differs from the last scan's) — or when asked to read at an earlier
instant than the last scan did; and it then resolves alerts of cases purged from the ledger. ``tongban status``
shows the alerts; the Airflow DAG ``tongban_deadlines`` runs the scan on a schedule.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from gateway.crypto.error_text import describe_error
from gateway.ops.alerts import AlertSpec, apply_alerts, sync_alerts
from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar
from gateway.ops.deadlines.clock import case_clock
from gateway.ops.deadlines.stages import (
    OpenSpecial,
    evaluate_stages,
    evaluate_ticket,
    first_special_of_each_number,
    open_specials,
    overdue_materials,
    specials_ended_by,
    upcoming_materials,
    upcoming_stage_starts,
)
from gateway.store import alerts as alert_store
from gateway.store import clocks, ledger
from gateway.store import process as process_store

if TYPE_CHECKING:
    from gateway.process.catalogue import TongbanCatalogue

_BATCH = 2000
_CASE_KINDS = ("deadline", "deferred_material")
_SCAN_LOGIC = "6"
"""Part of the fingerprint: a change to how clocks are read (this module, the clock) reads every clock again."""


@dataclass
class DeadlineReport:
    """What a scan did. ``checked`` and ``stages_running`` count the cases this scan read (every case with a
    clock on a full scan, what changed or fell due otherwise); ``running``, ``paused``, ``yellow``, ``red`` and
    ``guessed_calendar`` are case clocks over the whole ledger as of this scan, ``stages_yellow``,
    ``stages_red`` and ``materials_overdue`` its open alerts."""

    checked: int = 0
    full: bool = False
    running: int = 0
    paused: int = 0
    yellow: int = 0
    red: int = 0
    new_alerts: int = 0
    resolved_alerts: int = 0
    calendar_known_until: int | None = None
    guessed_calendar: int = 0
    stages_running: int = 0
    stages_yellow: int = 0
    stages_red: int = 0
    materials_overdue: int = 0
    specials_overdue: int = 0
    """Open alerts of special procedures (补正 …) open longer than the calendar's bound (the case clock stopped)."""
    tickets_open: int = 0
    tickets_late: int = 0
    bundles_open: int = 0
    """一件事 bundles not finished nor failed with a due time."""
    bundles_late: int = 0
    """Of those, past their due time (alerted, stage ``一件事``)."""
    red_cases: list[str] = field(default_factory=list)
    """Cases this scan found red (at most the first 50 are kept in ``as_dict``)."""
    errors: dict[str, str] = field(default_factory=dict)
    """``case_no → why`` of the cases whose clocks this scan could not read (each a ``deadline_scan`` alert; their
    deadline alerts stay as they stood, and they are read again in :data:`RETRY_UNREADABLE`)."""

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "red_cases"} | {"red_cases": self.red_cases[:50]}


def clock_fingerprint(calendar: WorkCalendar, catalogue: TongbanCatalogue | None) -> str:
    """What the clocks were read with: the calendar's days off and on, its yellow threshold and calendar-day
    items, the stage plans of the 通办目录, and the scan's own logic version."""
    digest = hashlib.sha256(_SCAN_LOGIC.encode())
    for part in (sorted(calendar.holidays), sorted(calendar.workdays), sorted(calendar.calendar_day_items),
                 calendar.yellow_at, sorted(calendar.known_years), calendar.special_max_days,
                 sorted(calendar.special_max_days_by_type.items())):
        digest.update(repr(part).encode())
    if catalogue is not None:
        for code in sorted(catalogue.items):
            entry = catalogue.items[code]  # the unified limit too: a deemed acceptance's clock runs on it
            digest.update(f"{code}:{catalogue.stages_for(code)!r}:{entry.limit_unit}:{entry.limit_days}:"
                          f"{entry.catalog_code}".encode())
    return digest.hexdigest()


def scan_deadlines(engine: Engine, calendar: WorkCalendar, *, now: datetime | None = None,
                   catalogue: TongbanCatalogue | None = None, full: bool | None = None) -> DeadlineReport:
    """Every clock due by ``now`` against its limit — the case's (a case the 一窗受理 hand-off decided starts its
    clock at that decision, deemed acceptance included), each running stage's (limits from the case or the item's
    plan in ``catalogue``), each deferred material's due date — then every 办不成事 ticket's reply; alerts filed
    per case and kind. ``full``: read every clock (default: only when the fingerprint changed or ``now`` is
    earlier than the last scan's)."""
    now = now or ledger.utcnow()
    report = DeadlineReport(calendar_known_until=calendar.known_until())
    fingerprint = clock_fingerprint(calendar, catalogue)
    with engine.begin() as conn:
        mark = clocks.scan_mark(conn)
        report.full = bool(full) if full is not None else (mark is None or mark[0] != fingerprint or now < mark[1])
        if report.full:
            clocks.mark_every_case_due(conn)
    after: tuple[Any, str] | None = None
    while True:
        with engine.connect() as conn:
            rows = clocks.due_cases(conn, now, after=after, limit=_BATCH)
            if not rows:
                break
            case_nos = [r.case_no for r in rows]
            starts = process_store.clock_starts(conn, case_nos)
            open_now = clocks.open_case_alerts(conn, (*_CASE_KINDS, SCAN_ALERT), case_nos)
        after = (rows[-1].due_key, rows[-1].case_no)
        wanted: dict[str, list[AlertSpec]] = {kind: [] for kind in _CASE_KINDS}
        unreadable: dict[str, str] = {}
        filed = []
        for row in rows:
            report.checked += 1
            if row.deleted:  # no clock runs on a deleted case: its alerts resolve, it is not read again
                filed.append((row.case_no, row.version, None, 0))
                continue
            case = ledger.loads(row.data)
            mine: dict[str, list[AlertSpec]] = {kind: [] for kind in _CASE_KINDS}
            try:
                next_due, flags = _read_case(case, row.origin_system, starts.get(row.case_no), calendar, catalogue,
                                             now, report, mine)
            except Exception as exc:  # noqa: BLE001 - this case's data alone: said, and every other case is read
                report.errors[row.case_no] = unreadable[row.case_no] = describe_error(exc, 500)
                # its flags as they stood: the totals keep counting it as its alerts, held, still say it is
                filed.append((row.case_no, row.version, now + RETRY_UNREADABLE, row.clock_flags or 0))
                continue
            for kind in _CASE_KINDS:
                wanted[kind] += mine[kind]
            filed.append((row.case_no, row.version, next_due, flags))
        with engine.begin() as conn:
            for kind in _CASE_KINDS:  # an unreadable case's alerts stay as they stood: nothing says they changed
                held = {k for (kd, k) in open_now if kd == kind and k.split("/", 1)[0] not in unreadable}
                outcome = apply_alerts(conn, kind, wanted[kind], held, now=now)
                report.new_alerts += outcome["new"]
                report.resolved_alerts += outcome["resolved"]
            # the batch's unreadable cases alerted, and the alerts of the ones read now resolved (only cases this
            # scan read: a case read again in an hour keeps its alert meanwhile)
            outcome = apply_alerts(conn, SCAN_ALERT, [_unreadable_alert(c, e) for c, e in unreadable.items()],
                                   {k for (kd, k) in open_now if kd == SCAN_ALERT}, now=now)
            report.new_alerts += outcome["new"]
            report.resolved_alerts += outcome["resolved"]
            clocks.file_next_checks(conn, filed)
    with engine.begin() as conn:
        if report.full:
            for kind, key in clocks.orphan_case_alerts(conn, (*_CASE_KINDS, SCAN_ALERT)):
                report.resolved_alerts += alert_store.resolve_open(conn, kind, [key], now=now)
        _totals(conn, report)
    outcome = _ticket_alerts(engine, calendar, catalogue, now, report)
    report.new_alerts += outcome["new"]
    report.resolved_alerts += outcome["resolved"]
    outcome = _bundle_alerts(engine, now, report)
    report.new_alerts += outcome["new"]
    report.resolved_alerts += outcome["resolved"]
    _calendar_alert(engine, calendar, report, now)
    with engine.begin() as conn:
        clocks.set_scan_mark(conn, fingerprint, now, ledger.utcnow())
    return report


class UnreadableClock(Exception):
    """A clock of one case the scan cannot read, naming the fields it reads (``clock.unreadable``)."""

    def __init__(self, fields: str, cause: BaseException) -> None:
        super().__init__(f"{fields}: clock.unreadable: {describe_error(cause, 400)}")


@contextmanager
def _reading(fields: str) -> Iterator[None]:
    try:
        yield
    except UnreadableClock:
        raise
    except Exception as exc:  # noqa: BLE001 - named, and the caller isolates the case
        raise UnreadableClock(fields, exc) from exc


SCAN_ALERT = "deadline_scan"
"""The alert kind of a case whose clocks the scan could not read (key: the case number)."""
RETRY_UNREADABLE = timedelta(hours=1)
"""When a case whose clocks could not be read is read again (its data may be mended, or the scan fixed)."""


def _unreadable_alert(case_no: str, error: str) -> AlertSpec:
    return AlertSpec(key=case_no, level="error", case_no=case_no, details={"error": error}, message=(
        f"case {case_no}: the deadline scan cannot read its clocks ({error}); every other case is read, this one's "
        f"alerts stay as they stood and it is read again every hour until it can be"))


def _read_case(case: dict[str, Any], system: str, clock_start: datetime | None, calendar: WorkCalendar,
               catalogue: TongbanCatalogue | None, now: datetime, report: DeadlineReport,
               wanted: dict[str, list[AlertSpec]]) -> tuple[datetime | None, int]:
    """Every clock of one case: its alerts appended to ``wanted``; returns when to read it again and its flags. A
    clock that cannot be read raises :class:`UnreadableClock` naming the part of the case it reads."""
    with _reading("stages"):
        stages = _stage_alerts(case, system, calendar, catalogue, now, report)
    wanted["deadline"] += [spec for spec, _ in stages if spec is not None]
    with _reading("deferred_materials"):
        materials = _material_alerts(case, system, now)
    wanted["deferred_material"] += materials
    with _reading("events"):
        specials = open_specials(case, calendar, now=now)
    # a source may number two procedures alike (jn_estate's xh): the first procedure of a number (by start, open or
    # ended) keeps the number's key and the others are keyed by their type and start too — never by position among
    # the open ones, which handed one procedure's alert (and its acknowledgement) to the other when the first ended
    first = first_special_of_each_number(case) if specials else {}
    wanted["deadline"] += [_special_alert(case, system, sp, "" if first.get(sp.seq, (None, sp.place))[1] == sp.place
                                          else _distinct(sp))
                           for sp in specials if sp.bound_at <= now]
    nexts = ([n for _, n in stages if n is not None] + _material_due_times(case, now)
             + upcoming_stage_starts(case, now=now) + [sp.bound_at for sp in specials if sp.bound_at > now])
    has_clock = bool(stages) or bool(case.get("deferred_materials")) or bool(nexts) or bool(specials)
    flags = 0
    with _reading("accepted_at, promised_days, promised_at, events"):  # the case's own clock
        state = case_clock(case, calendar, catalogue, now=now, clock_start=clock_start)
    if state is not None:
        has_clock = True
        flags |= clocks.FLAG_RUNNING | (clocks.FLAG_PAUSED if state.paused else 0)
        flags |= 0 if state.calendar_known else clocks.FLAG_GUESSED
        if state.next_change_at is not None:
            nexts.append(state.next_change_at)
        if state.paused and state.level != "red" and any(sp.bound_at <= now for sp in specials):
            flags |= _past_limit_at_bound(case, calendar, catalogue, clock_start, now, nexts)
        if state.level is not None:
            flags |= clocks.FLAG_RED if state.level == "red" else clocks.FLAG_YELLOW
            if state.level == "red":
                report.red_cases.append(state.case_no)
                headline = (f"past its time limit ({state.limit_days} {_unit(state.unit)}, "
                            f"due {state.due_at:%Y-%m-%d %H:%M})")
            else:
                headline = (f"{state.fraction:.0%} of its time limit used ({state.limit_days} {_unit(state.unit)}, "
                            f"due {state.due_at:%Y-%m-%d %H:%M})")
            wanted["deadline"].append(AlertSpec(
                key=state.case_no, level=state.level, system=system, case_no=state.case_no,
                message=f"{case.get('item_name', '')} {state.case_no} ({case.get('dept_name', '')}): {headline}"
                        + ("; clock stopped for a special procedure" if state.paused else ""),
                details={**state.as_details(), "stage": None, "promised_at_source": case.get("promised_at"),
                         "dept_code": case.get("dept_code"), "item_code": case.get("item_code")},
            ))
    if not has_clock:
        return None, 0
    return (min(nexts) if nexts else clocks.CLOCK_NEVER), flags


def _past_limit_at_bound(case: dict[str, Any], calendar: WorkCalendar, catalogue: TongbanCatalogue | None,
                         clock_start: datetime | None, now: datetime, nexts: list[datetime]) -> int:
    """:data:`~gateway.store.clocks.FLAG_PAST_LIMIT_AT_BOUND` when the case clock, each special procedure open past
    its bound ended at it (as 按时办结 counts a finished case), is past the limit; else 0, with the instant it
    would be added to ``nexts`` (the stopped clock alone has no next change: a 补正 nobody closes hid its case
    from 超期未办结 for ever)."""
    capped = specials_ended_by(case, calendar, at=now, only_past_bound=True)
    state = case_clock(capped, calendar, catalogue, now=now, clock_start=clock_start)
    if state is None:
        return 0
    if state.level == "red":
        return clocks.FLAG_PAST_LIMIT_AT_BOUND
    if state.next_change_at is not None:
        nexts.append(state.next_change_at)
    return 0


def _totals(conn: Any, report: DeadlineReport) -> None:
    """The whole ledger's case clocks (flags of every case with a clock) and open stage/material alerts."""
    for flags, count in clocks.clock_totals(conn).items():
        if flags & clocks.FLAG_RUNNING:
            report.running += count
            report.paused += count if flags & clocks.FLAG_PAUSED else 0
            report.yellow += count if flags & clocks.FLAG_YELLOW else 0
            report.red += count if flags & clocks.FLAG_RED else 0
            report.guessed_calendar += count if flags & clocks.FLAG_GUESSED else 0
    counts = clocks.open_clock_alert_counts(conn)
    report.stages_yellow = counts.get(("deadline", "stage", "yellow"), 0)
    report.stages_red = counts.get(("deadline", "stage", "red"), 0)
    report.materials_overdue = sum(n for (kind, _, _), n in counts.items() if kind == "deferred_material")
    report.specials_overdue = counts.get(("deadline", "special", "red"), 0)


def _stage_alerts(case: dict[str, Any], system: str, calendar: WorkCalendar, catalogue: TongbanCatalogue | None,
                  now: datetime, report: DeadlineReport) -> list[tuple[AlertSpec | None, datetime | None]]:
    """Per running stage: its ``deadline`` alert when yellow or red (``details["stage"]`` names the stage, the
    console groups by it; None when green) and when to read it again."""
    if not case.get("stages"):
        return []
    plan = catalogue.stages_for(case.get("item_code"), case.get("catalog_code")) if catalogue is not None else ()
    out: list[tuple[AlertSpec | None, datetime | None]] = []
    for st in evaluate_stages(case, calendar, now=now, plan=plan):
        report.stages_running += 1
        if st.level is None:
            out.append((None, st.next_change_at))
            continue
        what = ("past its stage limit" if st.level == "red" else f"{st.fraction:.0%} of its stage limit used")
        out.append((AlertSpec(
            key=f"{st.case_no}/stage/{st.seq}", level=st.level, system=system, case_no=st.case_no,
            message=(f"{case.get('item_name', '')} {st.case_no}: stage {st.stage} ({st.owner or 'no owner'}) {what} "
                     f"({st.limit_days} {_unit(st.unit)}, due {st.due_at:%Y-%m-%d %H:%M})"
                     + ("; clock stopped for a special procedure" if st.paused else "")),
            details={**st.as_details(), "item_code": case.get("item_code"), "dept_code": case.get("dept_code")}),
            st.next_change_at))
    return out


def _distinct(sp: OpenSpecial) -> str:
    """What tells apart open procedures sharing one number: a digest of their type and start."""
    return "#" + hashlib.sha256(f"{sp.special_type}|{sp.started_at.isoformat()}|{sp.name}".encode()).hexdigest()[:8]


def _special_alert(case: dict[str, Any], system: str, sp: OpenSpecial, repeat: str = "") -> AlertSpec:
    """A special procedure open longer than its bound: the case clock has been stopped all that time (stage
    ``特别程序``), keyed per procedure (``repeat``: :func:`_distinct` for open procedures sharing a number); it
    resolves when the source ends the procedure or closes the case."""
    return AlertSpec(
        key=f"{sp.case_no}/special/{sp.seq}{repeat}", level="red", system=system, case_no=sp.case_no,
        message=(f"{case.get('item_name', '')} {sp.case_no}: special procedure {sp.name} open since "
                 f"{sp.started_at:%Y-%m-%d %H:%M}, past {sp.bound_at:%Y-%m-%d %H:%M}; the case clock is stopped "
                 "meanwhile: end it in the source or check the case"),
        details={"stage": clocks.SPECIAL_STAGE, "special_seq": sp.seq, "special_name": sp.name, "special_type": sp.special_type,
                 "special_started_at": sp.started_at.isoformat(), "due_at": sp.bound_at.isoformat(),
                 "item_code": case.get("item_code"), "dept_code": case.get("dept_code")})


def _material_alerts(case: dict[str, Any], system: str, now: datetime) -> list[AlertSpec]:
    """``deferred_material``: a material accepted as missing (容缺) or promised (承诺) is past its due date."""
    out = []
    seen: dict[str, int] = {}
    for m in overdue_materials(case, now=now):
        label = "容缺" if m.kind == "tolerated" else "承诺"
        out.append(AlertSpec(
            key=material_alert_key(m.case_no, m.name, seen), level="red", system=system, case_no=m.case_no,
            message=f"{case.get('item_name', '')} {m.case_no}: deferred material {m.name} ({label}) was due "
                    f"{m.due_at:%Y-%m-%d %H:%M} and has not been received",
            details={"material": m.name, "kind": m.kind, "due_at": m.due_at.isoformat(),
                     "item_code": case.get("item_code"), "dept_code": case.get("dept_code")}))
    return out


def material_alert_key(case_no: str, name: str, seen: dict[str, int]) -> str:
    """The alert key of one overdue material: the case and a digest of the material's name — a name copied from
    the 实施清单 runs to hundreds of characters, and as the key it failed the scan's whole batch on PostgreSQL (an
    alert key holds 160) — with its rank among the case's materials of that name (the applicant's and the agent's
    身份证复印件 are two materials, two alerts). Stable while the source reorders the list."""
    rank = seen[name] = seen.get(name, 0) + 1
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return f"{case_no}/material/{digest}" + (f"#{rank}" if rank > 1 else "")


def _material_due_times(case: dict[str, Any], now: datetime) -> list[datetime]:
    """Due dates still ahead of the case's outstanding deferred materials: the case is read again then."""
    return [m.due_at for m in upcoming_materials(case, now=now)]


def _ticket_alerts(engine: Engine, calendar: WorkCalendar, catalogue: TongbanCatalogue | None, now: datetime,
                   report: DeadlineReport) -> dict[str, int]:
    """办不成事 tickets whose reply is 80% or more of its 3 / 10 working days late; stage ``办不成事答复``. Every
    open ticket is read each scan (they are few); their alerts are the ``deadline`` alerts keyed ``ticket/…``."""
    limits = catalogue.tickets if catalogue is not None else {"simple": 3, "coordination": 10}
    with engine.connect() as conn:
        tickets = process_store.open_tickets(conn)
    out = []
    for t in tickets:
        state = evaluate_ticket(t, limits, calendar, now=now)
        if state is None:
            continue
        report.tickets_open += 1
        if state.level is None:
            continue
        report.tickets_late += state.level == "red"
        out.append(AlertSpec(
            key=f"ticket/{state.ticket_no}", level=state.level, system=None, case_no=t.get("case_no"),
            message=(f"办不成事 ticket {state.ticket_no} ({state.kind}, {t.get('office_code') or 'no office'}): reply "
                     f"{'overdue' if state.level == 'red' else 'due soon'} ({state.limit_days} working days, due "
                     f"{state.due_at:%Y-%m-%d %H:%M}): {t['subject'][:80]}"),
            details={"stage": "办不成事答复", "ticket_no": state.ticket_no, "kind": state.kind,
                     "limit_days": state.limit_days, "due_at": state.due_at.isoformat(),
                     "used_days": round(state.used_days, 2), "office_code": t.get("office_code")}))
    with engine.begin() as conn:
        open_keys = alert_store.open_keys(conn, "deadline", prefix="ticket/")
        return apply_alerts(conn, "deadline", out, open_keys, now=now)


def _bundle_alerts(engine: Engine, now: datetime, report: DeadlineReport) -> dict[str, int]:
    """一件事 bundles past their own due time (``bundle_applications.due_at``: the bundle's limit over all its parts,
    counted when it was applied for) and not finished nor failed: a red ``deadline`` alert keyed ``bundle/…``, stage
    ``一件事``. Every live bundle is read each scan (they are few); the alert resolves when the bundle ends."""
    with engine.connect() as conn:
        bundles = clocks.live_bundles(conn)
    out = []
    for b in bundles:
        report.bundles_open += 1
        if b["due_at"] > now:
            continue
        report.bundles_late += 1
        out.append(AlertSpec(
            key=f"bundle/{b['bundle_no']}", level="red", system=None, case_no=b["bundle_no"],
            message=(f"一件事 {b['bundle_no']} ({b['bundle_code']}, {b['applicant_name']}): {b['status']}, past its due "
                     f"time {b['due_at'].astimezone(BEIJING):%Y-%m-%d %H:%M}"),
            details={"stage": clocks.BUNDLE_STAGE, "bundle_no": b["bundle_no"], "bundle_code": b["bundle_code"],
                     "status": b["status"], "submitted_at": b["submitted_at"].isoformat(),
                     "due_at": b["due_at"].isoformat()}))
    with engine.begin() as conn:
        open_keys = alert_store.open_keys(conn, "deadline", prefix="bundle/")
        return apply_alerts(conn, "deadline", out, open_keys, now=now)


def case_clocks(engine: Engine, case_no: str, calendar: WorkCalendar, *, catalogue: TongbanCatalogue | None = None,
                now: datetime | None = None) -> dict[str, Any] | None:
    """Every clock of one case, for a case page: ``{"case_no", "case": {...} | None, "stages": [{...}],
    "deferred_overdue": [{"name", "kind", "due_at"}]}`` (the same details the alerts carry), or None when the
    ledger has no such case."""
    now = now or ledger.utcnow()
    with engine.connect() as conn:
        case = process_store.read_case(conn, case_no)
        start = process_store.clock_starts(conn, [case_no]).get(case_no)
    if case is None:
        return None
    data = case["data"]
    state = case_clock(data, calendar, catalogue, now=now, clock_start=start)
    plan = catalogue.stages_for(data.get("item_code"), data.get("catalog_code")) if catalogue is not None else ()
    return {
        "case_no": case_no,
        "case": None if state is None else {**state.as_details(), "level": state.level},
        "stages": [{**st.as_details(), "level": st.level}
                   for st in evaluate_stages(data, calendar, now=now, plan=plan)],
        "deferred_overdue": [{"name": m.name, "kind": m.kind, "due_at": m.due_at.isoformat()}
                             for m in overdue_materials(data, now=now)],
    }


_LOOKAHEAD = timedelta(days=60)


def _calendar_alert(engine: Engine, calendar: WorkCalendar, report: DeadlineReport, now: datetime) -> None:
    """``calendar_unknown``: the working-day calendar has no published schedule (调休) for a year that running
    cases' clocks reach, or that starts within two months — say so instead of counting Monday to Friday."""
    today = calendar.local_date(now)
    years = sorted({y for y in (today.year, (today + _LOOKAHEAD).year) if not calendar.is_known(date(y, 1, 1))})
    wanted = []
    if years or report.guessed_calendar:
        label = ", ".join(map(str, years)) or f"after {calendar.known_until()}"
        wanted.append(AlertSpec(
            key="calendar", level="warning",
            message=(f"no published holiday schedule for {label} in the working-day calendar ({calendar.source}): "
                     f"{report.guessed_calendar} running case(s) count Monday-Friday there; update the holidays "
                     f"package or add the year to config/calendar.yaml"),
            details={"years": years, "known_until": calendar.known_until(), "cases": report.guessed_calendar}))
    sync_alerts(engine, "calendar_unknown", wanted)


def _unit(unit: str) -> str:
    return "working days" if unit == "working_day" else "calendar days"


__all__ = ["DeadlineReport", "case_clocks", "scan_deadlines"]
