"""Service KPIs from the ledger: 即办件比例, 提速率, 网办率, 办结率, 按时办结率, 材料减免, 只跑一次/一次不跑, 通办.

The reports these numbers go into were written by hand from case data. Here each case contributes one narrow
row (:func:`case_fact`), refreshed only when the case's version moves (:func:`refresh_facts`), and the KPIs
are sums of those rows grouped by item, department, office, channel or month (:func:`compute`); item-based
figures come from the catalogue store. Every KPI's definition is in :data:`DEFINITIONS` and ``docs/kpi.md``.
Channel and accepting office are not on every case yet: the figures that need them (网办率, 全城通办, 跨省) are
``None`` — absent — until some case carries them, and appear as soon as one does.

What counts as a case (办件量) follows the canonical result (:class:`~gateway.models.CaseResult`): a case refused
before acceptance (不予受理 — the hand-off's routing refusal writes one, with a finish time) or withdrawn (撤回) was
never handled, so it is in no case KPI and is counted apart (``not_accepted_cases``, ``withdrawn_cases``). Whether
a case finished on time is what the deadline clock says (:func:`_on_time`), special procedures given back.

    refresh_facts(engine)                       # after a sync; reads only the cases that changed
    compute(engine, by="month", period="2026")  # list of KpiRow
    kpi_summary(engine)                         # for the ops console
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal, get_args

import orjson
from sqlalchemy import Connection, Engine

from gateway.models.codes import CaseResult
from gateway.models.datetimes import BEIJING, beijing_iso, parse_instant
from gateway.ops.deadlines.calendar import LimitUnit, WorkCalendar
from gateway.ops.deadlines.clock import catalogue_limit, evaluate, limit_unit
from gateway.ops.deadlines.scan import clock_fingerprint
from gateway.ops.deadlines.stages import specials_ended_by
from gateway.ops.periods import period_range
from gateway.store import kpi as store
from gateway.store import process as process_store

if TYPE_CHECKING:
    from gateway.process.catalogue import TongbanCatalogue

__all__ = ["CITY_CATALOGUE", "DEFINITIONS", "ITEM_DIMENSIONS", "SET_ASIDE_RESULTS", "KpiDefinition", "KpiRow",
           "RefreshReport", "case_fact", "compare", "compute", "item_kpis", "kpi_summary", "partial_base",
           "period_range", "previous_period", "refresh_facts", "with_base"]

Dimension = Literal["item", "department", "office", "channel", "month"]
DIMENSIONS: tuple[str, ...] = get_args(Dimension)
ItemDimension = Literal["department", "level", "division"]
ITEM_DIMENSIONS: tuple[str, ...] = get_args(ItemDimension)
ONLINE_CHANNELS = frozenset({"2", "online", "mobile", "网上", "移动端", "app"})
"""Channel values that count as handled online: the national code 2 (网上) and the mobile channel."""
SET_ASIDE_RESULTS: tuple[CaseResult, ...] = (CaseResult.NOT_ACCEPTED, CaseResult.WITHDRAWN)
"""Results of cases nobody handled — 不予受理 (refused before acceptance, routing refusals included) and 撤回 (taken
back by the applicant): out of 办件量, 办结率 and every other case KPI, and each counted on its own
(``not_accepted_cases``, ``withdrawn_cases``) so that no case vanishes from the report."""
CITY_CATALOGUE = "city"
"""The 通办目录 (``catalogues:`` in ``config/tongban_catalogue.yaml``) whose cases are 全城通办件."""
_FACT_LOGIC = "9"
"""Part of the refresh's fingerprint: a change to what a row holds (this module) computes every row again."""
_PAGE = 2000


@dataclass(frozen=True)
class KpiDefinition:
    name: str
    label: str
    basis: Literal["case", "item"]
    definition: str


DEFINITIONS: tuple[KpiDefinition, ...] = (
    KpiDefinition("cases", "办件量", "case", "live cases (not deleted or voided) that were not refused before "
                  "acceptance (不予受理) nor withdrawn (撤回): every case KPI below counts these"),
    KpiDefinition("not_accepted_cases", "不予受理件", "case", "live cases with result 不予受理 (routing refusals "
                  "included), and cases returned before acceptance (退件/补正超时驳回 with no 受理时间): counted "
                  "apart, in no other case KPI"),
    KpiDefinition("withdrawn_cases", "撤回件", "case", "live cases with result 撤回: counted apart, in no other case "
                  "KPI"),
    KpiDefinition("instant_ratio", "即办件比例", "case", "即办件 cases / 办件量"),
    KpiDefinition("instant_item_ratio", "即办件比例（事项）", "item", "entries promising 0 days / active entries"),
    KpiDefinition("speedup", "提速率", "case", "1 − Σ promised days / Σ legal days, over cases with a promise "
                  "whose item has a legal limit in working days (the catalogue's 法定时限)"),
    KpiDefinition("speedup_item", "提速率（事项）", "item", "1 − Σ 承诺时限 / Σ 法定时限, over active entries with "
                  "both limits in the same unit and a legal limit > 0"),
    KpiDefinition("online_ratio", "网办率", "case", "cases handled online (channel 网上 or 移动端) / cases with "
                  "a known channel; absent while no case carries a channel"),
    KpiDefinition("finished_ratio", "办结率", "case", "finished cases (办结时间 set) / 办件量"),
    KpiDefinition("on_time_ratio", "按时办结率", "case", "finished cases the deadline clock had not run out on when "
                  "they finished (the limit counted from acceptance, special procedures such as 补正 given back; "
                  "承诺办结时间 for a case without a limit or acceptance time) / finished cases with a deadline; a case "
                  "finished before its acceptance (case.date_order) is left out of both"),
    KpiDefinition("overdue_ratio", "超期办结率", "case", "1 − 按时办结率 (finished late / finished with a deadline)"),
    KpiDefinition("overdue_open_cases", "超期未办结", "case", "open cases past their time limit at the last deadline "
                  "scan (special procedures given back, one open past its bound only up to it, as 按时办结 reads a "
                  "finished case) — as things stand now, counted in the case's month"),
    KpiDefinition("overdue_all_ratio", "超期率（含未办结）", "case", "(finished late + 超期未办结) / (finished with a "
                  "deadline + 超期未办结): 超期办结率 counts only what finished, so a department that leaves its late "
                  "cases open looks better by it"),
    KpiDefinition("materials_reused", "材料复用", "case", "Σ materials received as 证照复用 (certificate reuse)"),
    KpiDefinition("submissions_saved", "材料减免", "case", "Σ over cases of the most materials any of the gateway's "
                  "materials answers spared (submissions_saved: materials a valid certificate replaced)"),
    KpiDefinition("zero_visit_items", "一次不跑", "item", "active entries with 到现场次数 = 0"),
    KpiDefinition("one_visit_items", "只跑一次", "item", "active entries with 到现场次数 = 1"),
    KpiDefinition("tongban_city_cases", "全城通办件", "case", "cases accepted at an office (受理点) of the city "
                  "通办目录 for an item in that 目录 (config/tongban_catalogue.yaml, as routing reads it), not across "
                  "provinces; absent while no case names an office"),
    KpiDefinition("cross_province_cases", "跨省通办件", "case", "cases whose accepting office is in another "
                  "province than the case's 行政区划; absent while no case names an office"),
    KpiDefinition("evaluation_coverage", "评价率", "case", "distinct cases with a 好差评 rating / live cases with a "
                  "finish time, 不予受理 and 撤回 included: they can be rated too (target ≥ 70%); "
                  "gateway.citizen.evaluation_summary"),
    KpiDefinition("good_review_ratio", "好评率", "case", "ratings 基本满意 or better / ratings"),
    KpiDefinition("bad_review_reply_ratio", "差评回复率", "case", "bad reviews called back / bad reviews not set aside "
                  "by an upheld appeal, both due after the cut-over of callbacks (target 100%)"),
    KpiDefinition("bad_review_rectification_ratio", "差评整改率", "case", "bad reviews rectified (整改 recorded done) / "
                  "bad reviews received after the cut-over (target 100%)"),
    KpiDefinition("rectification_on_time_ratio", "限时整改率", "case", "rectifications of bad reviews finished by their "
                  "due time / rectifications done or due (target 100%)"),
    KpiDefinition("hotline_satisfaction", "12345满意率", "case", "12345 work orders rated 满意 or 基本满意 / rated, the "
                  "latest rating of each; gateway.citizen.workorder_summary"),
    KpiDefinition("hotline_sign_on_time_ratio", "12345按时签收率", "case", "12345 work orders signed for by their sign "
                  "due time / orders signed for or past it unsigned"),
    KpiDefinition("hotline_reply_on_time_ratio", "12345按时答复率", "case", "replies by their due time / replies given "
                  "or owed past their due time"),
)


@dataclass
class KpiRow:
    """One group's sums and the KPIs computed from them (``None``: not defined for this group)."""

    key: str | None
    sums: dict[str, int]
    kpis: dict[str, float | int | None] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, **self.kpis, "sums": self.sums}


@dataclass
class RefreshReport:
    read: int = 0
    """Case rows read from the ledger (only those whose version moved, unless ``rebuilt``)."""
    written: int = 0
    saved_updates: int = 0
    audit_read: int = 0
    rebuilt: bool = False
    """Every row was computed again: asked (``full``), or what the rows are computed with changed (the working-day
    calendar, the 通办目录's limit units, the clock's or this module's logic)."""
    swept: bool = False
    """Every case's version was compared with its row's, not only those changed since the watermark."""
    duration_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"read": self.read, "written": self.written, "saved_updates": self.saved_updates,
                "audit_read": self.audit_read, "rebuilt": self.rebuilt, "swept": self.swept,
                "duration_s": round(self.duration_s, 3)}


def _office(data: dict[str, Any]) -> tuple[str | None, str | None]:
    """The accepting office (受理点) if the case names one, in any of the spellings the model may settle on."""
    office = data.get("office") or data.get("accepting_office")
    if isinstance(office, dict):
        return (office.get("code") or office.get("office_code") or None), (office.get("division")
                                                                            or office.get("division_code") or None)
    if isinstance(office, str) and office:
        return office, data.get("office_division")
    return data.get("office_code") or None, data.get("office_division") or None


def _moment(value: Any) -> datetime | None:
    """An instant of the document; one written without an offset is Beijing time (DOMAIN.md), so that it compares
    with the clock's due time instead of failing the refresh."""
    return parse_instant(value, naive=BEIJING)


def _beijing_month(value: Any) -> str | None:
    """``YYYY-MM`` of an instant in Beijing time: a document written with another offset (a hall sending UTC,
    ``…T16:30:00Z`` on the 31st) belongs to the month it was in Beijing."""
    if isinstance(value, datetime):
        return (value if value.tzinfo is not None else value.replace(tzinfo=BEIJING)).astimezone(BEIJING) \
            .strftime("%Y-%m")
    if not isinstance(value, str) or not value:
        return None
    if value.endswith("+08:00") or len(value) <= 10:  # Beijing already, or a date: the text says it
        return value[:7]
    moment = _moment(value)
    if moment is None or moment.tzinfo is None:
        return value[:7]
    return moment.astimezone(BEIJING).strftime("%Y-%m")


def _limit(value: Any) -> int | None:
    """A time limit in whole days, or None (a bool is not a number of days)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _on_time(data: dict[str, Any], finished_at: datetime | None, promised_at: datetime | None,
             calendar: WorkCalendar, catalogue: TongbanCatalogue, clock_start: datetime | None,
             unit: LimitUnit) -> tuple[bool, bool]:
    """``(with a deadline, finished on time)`` as the deadline clock judges it.

    A 承诺办结时间 is fixed when the case is accepted; the clock gives back the time a special procedure (补正, 听证 …)
    stopped it, so a case finished inside its limit plus its 补正 was never red, and is on time here too. The clock
    is the deadline scan's own (:func:`~gateway.ops.deadlines.clock.evaluate`, from the same acceptance or hand-off
    decision, limit, unit — :func:`~gateway.ops.deadlines.clock.limit_unit`, the 通办目录's where it says — and
    events), read at the instant the case finished, on the case as it stood open: on
    time when it finished by the clock's due time — the clock had not turned red before. Only a case with no clock
    to run (no limit, or no acceptance time) is judged by its 承诺办结时间.
    """
    if clock_start is not None and finished_at is not None and clock_start >= finished_at \
            and not data.get("accepted_at"):
        # the hand-off registered a case the hall had finished already, with no 受理时间: the moment it registered
        # it is no acceptance, and read as one the case "finished before it was accepted" and left 按时办结率
        clock_start = None
    started = clock_start or _moment(data.get("accepted_at"))
    if finished_at is not None and started is not None and finished_at < started:
        # finished before it was accepted (dates out of order, flagged on the case as ``case.date_order``): no clock
        # ran before the finish, so "on time" would be an artefact of the bad dates — judged neither way
        return False, False
    state = None
    # a case the hand-off decided whose record states no limit runs on the 通办目录's (the scan files it red by it)
    unified = catalogue_limit(data, clock_start, catalogue)
    # a case stating only its promised finish time runs on a clock to the end of that day, as the scan reads it
    if finished_at is not None and (_limit(data.get("promised_days")) is not None or unified is not None
                                    or (promised_at is not None and started is not None)):
        # a special procedure still open at the finish ends there, or at its bound: flagged on the case as
        # ``case.special_open_at_finish`` (left open, it stopped the clock to the finish)
        running = specials_ended_by({**data, "status": "in_progress", "finished_at": None, "deleted": False},
                                    calendar, at=finished_at)
        try:
            state = evaluate(running, calendar, now=finished_at, clock_start=clock_start,
                             unit=unit, limit_days=unified)
        except (AttributeError, TypeError, ValueError, OverflowError):  # no clock reads it: judged by the promise
            state = None
    if state is not None and finished_at is not None:
        return True, finished_at <= state.due_at
    if promised_at is None:
        return False, False
    return True, finished_at is not None and finished_at <= promised_at


def _tongban_scope(office_code: str | None, item_code: str | None, catalog_code: str | None,
                   catalogue: TongbanCatalogue) -> str | None:
    """The 通办目录 under which the accepting office took the item (``city``, ``cross_province`` …), or None.

    Taken from the 通办目录 routing uses, read as :meth:`TongbanCatalogue.route` reads it: the office must be a
    registered 受理点 and the item — found by 实施编码, else 基本编码 (another level's 实施编码 of a listed item is
    that item) — in its 目录; not from the harvested 实施清单's ``tongban`` field, which no routing decision reads
    (a city item harvested without it counted 0 全城通办件). Stamped on the row when the row is computed rather than
    looked up when the KPIs are summed: the row is computed when the case changes — accepted, handled, finished,
    each under the 目录 in force then — so a later revision of the 目录 does not rewrite a month already reported
    (the 1,080 cases of a report stay 1,080), and a case keeps its scope through its later changes while the same
    office handles the same item (:func:`_page_facts`); ``tongban kpi --full-refresh`` applies a corrected 目录 to
    every case on purpose. It also keeps the KPIs one ``GROUP BY`` over the narrow rows, with no list of items to bind in.
    """
    office = catalogue.office(office_code)
    if office is None:
        return None
    listed = catalogue.lists(office.catalogue, item_code, catalogue.item(item_code, catalog_code))
    return office.catalogue if listed else None


def case_fact(case_no: str, version: int, data: dict[str, Any], *, deleted: bool, dept_code: str | None,
              item_code: str | None, now: datetime, calendar: WorkCalendar | None = None,
              catalogue: TongbanCatalogue | None = None, clock_start: datetime | None = None) -> dict[str, Any]:
    """What one case contributes to the KPIs (a ``kpi_case_facts`` row), from its canonical document.

    ``calendar`` (the working-day calendar the deadline scan uses) and ``catalogue`` (the 通办目录) default to the
    configured ones — pass them when computing many rows; ``clock_start``: where the hand-off started the case's
    clock (``gateway.store.process.clock_starts``), as the deadline scan reads it.
    """
    calendar = calendar if calendar is not None else WorkCalendar.load()
    catalogue = catalogue if catalogue is not None else _configured_catalogue()
    finished_at, promised_at = _moment(data.get("finished_at")), _moment(data.get("promised_at"))
    unit = limit_unit(data, calendar, catalogue)  # the case clock's unit: 按时办结 and 提速率 read it alike
    with_deadline, on_time = _on_time(data, finished_at, promised_at, calendar, catalogue, clock_start, unit)
    channel = data.get("channel")
    channel = str(channel)[:16] if channel not in (None, "") else None
    office_code, office_division = _office(data)
    division = str(data.get("division_code") or "")
    cross = None if not office_division or not division else str(office_division)[:2] != division[:2]
    materials = [m for m in data.get("materials") or [] if isinstance(m, dict)]
    result = data.get("result")
    result = str(result)[:24] if result not in (None, "") else None
    if _returned_before_acceptance(data, result):
        result = CaseResult.NOT_ACCEPTED.value  # counted with 不予受理: no case was handled
    promised_days = data.get("promised_days")
    if unit != "working_day":
        # 提速率 sets the promised days against the legal limit in working days: a promise the clock counts in
        # calendar days (30 自然日) is not comparable, and summed as working days it read as no speed-up at all
        promised_days = None
    return {
        "case_no": case_no, "case_version": version, "month": _beijing_month(data.get("applied_at")),
        "accepted_month": _beijing_month(clock_start or data.get("accepted_at")),
        "finished_month": _beijing_month(finished_at),
        "item_code": item_code, "dept_code": dept_code, "office_code": office_code,
        "office_division": office_division, "channel": channel,
        "live": store.is_live(deleted, result), "result": result,
        "instant": data.get("case_type") == "instant", "finished": finished_at is not None,
        "with_deadline": with_deadline, "on_time": on_time,
        "online": None if channel is None else channel.lower() in ONLINE_CHANNELS,
        "cross_province": cross,
        "tongban_scope": _tongban_scope(office_code, item_code, data.get("catalog_code"), catalogue),
        "promised_days": promised_days if isinstance(promised_days, int) else None,
        "materials": len(materials),
        "materials_reused": sum(1 for m in materials if m.get("source") == "certificate_reuse"),
        "submissions_saved": 0, "refreshed_at": now,
    }


_RETURNED_RESULTS = frozenset({CaseResult.RETURNED.value, CaseResult.CORRECTION_TIMEOUT.value})


def _returned_before_acceptance(data: dict[str, Any], result: str | None) -> bool:
    """A case sent back before anyone accepted it — 预审退回 (result ``returned``, or status ``returned`` with no
    result), 补正超时驳回 — with no 受理时间: never handled, as the hand-off reads the same record (``refused``,
    :func:`gateway.process.unaccepted.ended_unaccepted`). Counted as handled and finished, an online hall's
    pre-check returns (common) inflated 办件量 and 办结率. 不予许可 without a 受理时间 stays a handled case: a
    permit is refused only after acceptance, so the time is missing, not the acceptance."""
    if data.get("accepted_at"):
        return False
    return result in _RETURNED_RESULTS or (result is None and data.get("status") == "returned")


def _configured_catalogue() -> TongbanCatalogue:
    """The configured 通办目录, imported when a row is computed: reading the KPIs (the console) needs none of it."""
    from gateway.process.catalogue import TongbanCatalogue

    return TongbanCatalogue.load()


def _fingerprint(calendar: WorkCalendar, catalogue: TongbanCatalogue) -> str:
    """What the rows are computed with, besides the cases: the clock's inputs (calendar, yellow threshold, the 目录's
    limit units and stages, the clock's logic: :func:`~gateway.ops.deadlines.scan.clock_fingerprint`) and this
    module's logic. Which items each office's 目录 lists is left out on purpose (see :func:`_tongban_scope`)."""
    return f"{_FACT_LOGIC}:{clock_fingerprint(calendar, catalogue)}"


SWEEP_EVERY = timedelta(hours=1)
"""How often the refresh compares every case's version with its row's, not only those of cases changed since the
watermark (see :func:`refresh_facts`)."""


def refresh_facts(engine: Engine, *, lookback: timedelta = timedelta(minutes=10), full: bool = False,
                  sweep: bool | None = None, calendar: WorkCalendar | None = None,
                  catalogue: TongbanCatalogue | None = None) -> RefreshReport:
    """Bring the contribution rows up to date with the ledger; the cost follows the changed cases.

    Cases are read from the watermark minus ``lookback`` (a writer may commit an older ``updated_at`` late), and of
    those only the ones whose version differs from their row's, a page at a time. Every writer stamps
    ``cases.updated_at`` with the wall clock; one that did not (a bug, a hand-made fix in the database) would leave a
    case its row never catches up with, so once every :data:`SWEEP_EVERY` (``sweep``: now, or never when False) the
    refresh compares every case's version with its row's, whatever ``updated_at`` says — a join of two narrow
    tables (~0.3 s at 200,000 cases on SQLite: bench/scale.py), rather than a trigger or change log taxing every
    write of the sync.
    Materials answers are read from the audit log after the last sequence read; one for a case with no row yet gets
    its row computed now, one for a case not in the ledger yet is kept pending (never dropped). Every row is computed
    again (``rebuilt``) when ``full`` is asked, or when what the rows are computed with changed since the last
    refresh (:func:`_fingerprint`: a new working-day calendar or limit unit moves deadlines) — so pass the
    ``calendar`` and ``catalogue`` (the 通办目录) the deadline scan uses (default: the configured ones), or two
    callers with different ones rebuild every row in turn.
    """
    started = time.perf_counter()
    report = RefreshReport()
    now = datetime.now(timezone.utc)
    calendar = calendar if calendar is not None else WorkCalendar.load()
    catalogue = catalogue if catalogue is not None else _configured_catalogue()
    fingerprint = _fingerprint(calendar, catalogue)
    with engine.begin() as conn:
        mark = store.get_checkpoint(conn)
        report.rebuilt = full or mark["fingerprint"] != fingerprint
        report.swept = report.rebuilt or (sweep if sweep is not None else
                                          mark["swept_at"] is None or now - mark["swept_at"] >= SWEEP_EVERY)
        # Answers first, cases second: the gateway answers only for a case already in the ledger, so every
        # case an answer read here names is committed before the case read below.
        logged, seq = store.materials_answers_after(conn, 0 if full else mark["audit_seq"])
        report.audit_read = len(logged)
        answers = dict(logged)
        for case_no, n in ({} if full else mark["pending_saved"]).items():  # answered before their row existed
            answers[case_no] = max(answers.get(case_no, 0), n)
        since = None if report.swept or mark["cases"] is None else mark["cases"] - lookback
        high = mark["cases"]

        def compute(rows: Sequence[Any]) -> None:
            nonlocal high
            report.read += len(rows)
            store.write_facts(conn, _page_facts(conn, rows, now, calendar, catalogue, retake_scope=full))
            report.written += len(rows)
            for r in rows:
                if high is None or r.updated_at > high:
                    high = r.updated_at

        after: str | None = None
        while True:
            rows = store.changed_cases(conn, since, after=after, limit=_PAGE, every=report.rebuilt)
            compute(rows)
            if len(rows) < _PAGE:
                break
            after = rows[-1].case_no
        # an answered case with no row yet (its row lags the answer): computed now, so that the answer lands on it;
        # one not in the ledger at all stays pending
        answered = list(answers)
        for first in range(0, len(answered), _PAGE):
            compute(store.changed_cases(conn, only=answered[first:first + _PAGE], limit=_PAGE))
        report.saved_updates, pending = store.set_submissions_saved(conn, answers)
        store.set_checkpoint(conn, cases_at=high, audit_seq=seq, fingerprint=fingerprint, pending_saved=pending,
                             swept_at=now if report.swept else mark["swept_at"])
    report.duration_s = time.perf_counter() - started
    return report


def _page_facts(conn: Connection, rows: Any, now: datetime, calendar: WorkCalendar,
                catalogue: TongbanCatalogue, *, retake_scope: bool = False) -> list[dict[str, Any]]:
    """The rows of one page of changed cases; where the hand-off started a finished case's clock is asked once for
    the page (only finished cases need it: an open case has no 按时办结 yet).

    A case keeps the 通办目录 scope it was accepted under while the same office handles the same item: the row is
    computed again at each change of the case (handled, finished), and an item the 目录 dropped in between was
    still taken under it. ``retake_scope`` (``--full-refresh``: a corrected 目录 applied to every case on purpose)
    takes it from the 目录 in force now."""
    documents = [orjson.loads(r.data) if r.data else {} for r in rows]
    finished = [r.case_no for r, data in zip(rows, documents, strict=True) if data.get("finished_at")]
    starts = process_store.clock_starts(conn, finished)
    facts = []
    for r, data in zip(rows, documents, strict=True):
        fact = case_fact(r.case_no, r.version, data, deleted=bool(r.deleted), dept_code=r.dept_code,
                         item_code=r.item_code, now=now, calendar=calendar, catalogue=catalogue,
                         clock_start=starts.get(r.case_no))
        fact["submissions_saved"] = r.saved_before or 0
        if not retake_scope and r.had_row and (r.office_before, r.item_before) == (fact["office_code"],
                                                                                  fact["item_code"]):
            fact["tongban_scope"] = r.scope_before
        facts.append(fact)
    return facts


def _ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


def _case_kpis(s: dict[str, int]) -> dict[str, float | int | None]:
    on_time = _ratio(s["on_time"], s["finished_with_deadline"])
    offices = s["office_cases"] > 0
    return {
        "cases": s["cases"],
        "not_accepted_cases": s[CaseResult.NOT_ACCEPTED.value],
        "withdrawn_cases": s[CaseResult.WITHDRAWN.value],
        "instant_ratio": _ratio(s["instant"], s["cases"]),
        "speedup": None if s["legal_days"] == 0 else 1 - s["promised_days"] / s["legal_days"],
        "online_ratio": _ratio(s["online"], s["channel_known"]),
        "finished_ratio": _ratio(s["finished"], s["cases"]),
        "on_time_ratio": on_time,
        "overdue_ratio": None if on_time is None else 1 - on_time,
        "overdue_open_cases": s["overdue_open"],
        "overdue_all_ratio": _ratio(s["finished_with_deadline"] - s["on_time"] + s["overdue_open"],
                                    s["finished_with_deadline"] + s["overdue_open"]),
        "materials_reused": s["materials_reused"],
        "submissions_saved": s["submissions_saved"],
        "tongban_city_cases": s["tongban_city"] if offices else None,
        "cross_province_cases": s["cross_province"] if offices else None,
    }


def previous_period(period: str, against: Literal["previous", "year"] = "previous") -> str:
    """The period to compare with: the month or year before, or (``year``) the same month a year earlier. A
    ``ValueError`` names the period the caller gave (not the one computed from it) when there is none."""
    if against not in ("previous", "year"):
        raise ValueError(f"compare {against!r} is neither 'previous' nor 'year'")
    period_range(period)
    if len(period) == 4:
        other = f"{int(period) - 1:04d}"
    else:
        year, month = int(period[:4]), int(period[5:])
        if against == "year":
            other = f"{year - 1:04d}-{month:02d}"
        else:
            other = f"{year - 1:04d}-12" if month == 1 else f"{year:04d}-{month - 1:02d}"
    try:
        period_range(other)
    except ValueError:
        raise ValueError(f"period {period!r} has no {'previous' if against == 'previous' else 'year-earlier'} "
                         "period to compare with") from None
    return other


def months_counted(engine: Engine) -> list[str]:
    """The first and last month the KPIs count cases in (empty: none yet), for a report that found none."""
    with engine.connect() as conn:
        first, last = store.month_span(conn)
    return [m for m in (first, last) if m]


MonthOf = Literal["applied", "accepted", "finished"]
MONTHS_OF: tuple[str, ...] = get_args(MonthOf)
"""Which of a case's months a period and ``--by month`` read: 申请时间 (the default: a month's applications),
受理时间 (its acceptances; the hand-off's clock start for a deemed acceptance) or 办结时间 (its finishes: 办结量 and
按时办结率 of what was finished that month — a month that no longer moves once it is over)."""


def compute(engine: Engine, *, by: Dimension | None = None, period: str | None = None,
            month_of: MonthOf = "applied") -> list[KpiRow]:
    """Case-based KPIs per group of ``by`` (None: one overall row) over ``period`` (month, year or all), the
    months being those of ``month_of`` (:data:`MONTHS_OF`)."""
    month_from, month_to = period_range(period)
    with engine.connect() as conn:
        sums = store.aggregate(conn, by, month_from=month_from, month_to=month_to, month_of=month_of,
                               set_aside=[r.value for r in SET_ASIDE_RESULTS], city_scope=CITY_CATALOGUE)
    out = []
    for s in sums:
        values = {k: int(v) for k, v in s.items() if k != "key"}
        out.append(KpiRow(None if s["key"] is None else str(s["key"]), values, _case_kpis(values)))
    return out


def item_kpis(engine: Engine, *, by: ItemDimension | None = None, division: str | None = None) -> list[KpiRow]:
    """Item-based KPIs from the catalogue store (即办件比例, 提速率, 一次不跑, 只跑一次), per group of ``by``
    (:data:`ITEM_DIMENSIONS`; None: one overall row). They describe the catalogue as it is now: no period. The
    harvested catalogue holds an item once per level and district that implements it: a district reports its own
    实施清单 with ``division`` (its code), or reads them side by side ``by="division"``; the overall row counts
    every entry."""
    with engine.connect() as conn:
        sums = store.item_aggregate(conn, by, division=division)
    out = []
    for s in sums:
        values = {k: int(v) for k, v in s.items() if k != "key"}
        out.append(KpiRow(None if s["key"] is None else str(s["key"]), values, {
            "items": values["items"], "instant_item_ratio": _ratio(values["instant"], values["items"]),
            "speedup_item": None if values["legal_days"] == 0 else 1 - values["promised_days"] / values["legal_days"],
            "zero_visit_items": values["zero_visits"], "one_visit_items": values["one_visit"]}))
    return out


def compare(engine: Engine, period: str, *, against: Literal["previous", "year"] = "previous",
            by: Dimension | None = None, month_of: MonthOf = "applied") -> dict[str, Any]:
    """This period against the previous one (or the same month last year), KPI by KPI, with the change."""
    other = previous_period(period, against)
    now = {r.key: r for r in compute(engine, by=by, period=period, month_of=month_of)}
    then = {r.key: r for r in compute(engine, by=by, period=other, month_of=month_of)}
    rows = []
    for key in sorted(set(now) | set(then), key=lambda k: k or ""):
        a, b = now.get(key), then.get(key)
        names = (a or b).kpis.keys()  # type: ignore[union-attr]
        change = {}
        for name in names:
            x = a.kpis.get(name) if a else None
            y = b.kpis.get(name) if b else None
            change[name] = {"now": x, "before": y, "change": None if x is None or y is None else x - y}
        rows.append({"key": key, "kpis": change, "sums": {"now": a.sums if a else None, "before": b.sums if b else None}})
    return {"period": period, "compared_with": other, "by": by, "month_of": month_of, "rows": rows}


PARTIAL_BASES: dict[str, tuple[str, str]] = {
    "online_ratio": ("channel_known", "with a channel"),
    "on_time_ratio": ("finished_with_deadline", "finished with a time limit"),
    "overdue_ratio": ("finished_with_deadline", "finished with a time limit"),
}
"""A case ratio counted over a part of the cases only (the sum that is its base, what the base holds): 网办率 over
the cases whose channel is known; 按时办结率 and 超期办结率 over the finished cases with a time limit (in a month
still under way most cases are open: "100%" of 2 cases out of 17 read as the month's)."""


def partial_base(name: str, sums: Mapping[str, Any] | None) -> str | None:
    """What a KPI counted over under half of its group's cases is counted over — "of 14 with a channel" — else None.

    Shown beside the figure wherever it is read (the CLI's tables, the console): 14 cases out of 1,396 would read
    as the district's 网办率."""
    base_key, what = PARTIAL_BASES.get(name, (None, ""))
    if base_key is None or not sums or base_key not in sums or "cases" not in sums:
        return None
    base, cases = int(sums[base_key] or 0), int(sums["cases"] or 0)
    return f"of {base:,} {what}" if 2 * base < cases else None


def with_base(shown: str, name: str, value: Any, sums: Mapping[str, Any] | None) -> str:
    """A figure as shown (``shown``, formatted by the caller), followed by its :func:`partial_base` when it has one:
    "7.14% (of 14 with a channel)"."""
    base = partial_base(name, sums) if value is not None else None
    return f"{shown} ({base})" if base else shown


def kpi_summary(engine: Engine, *, period: str | None = None, month_of: MonthOf = "applied") -> dict[str, Any]:
    """For the ops console: overall case KPIs, this month against last month, item KPIs, freshness.

    ``{"overall": {kpi: value}, "overall_sums": {sum: n}, "this_month": {"period", "compared_with", "kpis": {kpi:
    {"now", "before", "change"}}, "sums": {"now", "before"}}, "items": {kpi: value}, "definitions": [{"name", "label", "basis", "definition"}],
    "facts": {"rows": n, "refreshed_through": ISO | None}, "citizen": {"evaluation_coverage", "good_review_ratio",
    "bad_review_reply_ratio", "rectification_on_time_ratio", "hotline_satisfaction"}}``; ratios are fractions
    (0.5276), absent KPIs None. ``period``: the month (or year) set against the one before it (default: this Beijing
    month), read by ``month_of`` (:data:`MONTHS_OF`).
    """
    month = period or datetime.now(timezone(timedelta(hours=8))).strftime("%Y-%m")
    with engine.connect() as conn:
        mark = store.get_checkpoint(conn)
        # the sums join the catalogue's legal limits in (提速率): a harvest moves them without a refresh
        limits = store.catalogue_mark(conn)
    key = (mark["cases"], mark["audit_seq"], mark["refreshed_at"], limits)
    report = (str(engine.url), month, month_of)  # one entry per report asked for: two operators on two periods
    cached = _FACT_SUMS.get(report)  # (the overview refreshes itself) no longer evict each other
    if cached is not None and cached[0] == key:
        overall, this_month, rows = cached[1]
    else:  # the facts moved (a refresh ran): sum them again — once per refresh, not once per console request
        overall = compute(engine)
        this_month = compare(engine, month, month_of=month_of)
        with engine.connect() as conn:
            rows = store.fact_count(conn)
        _FACT_SUMS.pop(report, None)
        _FACT_SUMS[report] = (key, (overall, this_month, rows))
        while len(_FACT_SUMS) > _FACT_SUMS_KEPT:
            del _FACT_SUMS[next(iter(_FACT_SUMS))]  # the oldest
    items = item_kpis(engine)
    # the cases that can be rated (live, finished, 不予受理 and 撤回 included), from the same sums: None before the
    # first refresh
    rateable = int(overall[0].sums["finished_any"]) if overall and rows else None
    return {
        "overall": overall[0].kpis if overall else {},
        "overall_sums": overall[0].sums if overall else {},
        "this_month": {"period": month, "compared_with": this_month["compared_with"], "month_of": month_of,
                       "kpis": this_month["rows"][0]["kpis"] if this_month["rows"] else {},
                       "sums": this_month["rows"][0]["sums"] if this_month["rows"] else {"now": None, "before": None}},
        "items": items[0].kpis if items else {},
        "definitions": [{"name": d.name, "label": d.label, "basis": d.basis, "definition": d.definition}
                        for d in DEFINITIONS],
        "facts": {"rows": rows, "refreshed_through": beijing_iso(mark["cases"]) if mark["cases"] else None,
                  "rateable_cases": rateable},
        "citizen": _citizen_kpis(engine, rateable),
    }


_FACT_SUMS_KEPT = 32
"""Reports whose sums :func:`kpi_summary` keeps (ledger × period × month of a case), the oldest dropped first."""
_FACT_SUMS: dict[tuple[str, str, str], tuple[tuple[Any, ...], tuple[list[KpiRow], dict[str, Any], int]]] = {}
"""Per ledger: the sums of the KPI facts as of a checkpoint and a catalogue (its legal limits are joined in when
the facts are summed). The facts change only when a refresh moves the checkpoint, the limits only with a harvest,
and summing a million fact rows on every 30-second console refresh cost more than the rest of the page."""


def _citizen_kpis(engine: Engine, rateable: int | None) -> dict[str, float | None]:
    """The 好差评 and 12345 figures beside the service KPIs (their own summaries hold the detail); the cases that
    can be rated counted from the same facts as the service KPIs (from the ledger before their first refresh)."""
    from gateway.citizen import evaluation_summary, workorder_summary

    ev, wo = evaluation_summary(engine, rateable_cases=rateable), workorder_summary(engine)
    return {"evaluation_coverage": ev["coverage"], "good_review_ratio": ev["good_ratio"],
            "bad_review_reply_ratio": ev["reply_ratio"], "bad_review_rectification_ratio": ev["rectification_ratio"],
            "rectification_on_time_ratio": ev["rectification_on_time_ratio"],
            "hotline_satisfaction": wo["satisfaction"], "hotline_sign_on_time_ratio": wo["sign_on_time_ratio"],
            "hotline_reply_on_time_ratio": wo["reply_on_time_ratio"]}
