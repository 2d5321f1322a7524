"""Service KPIs from the ledger: 即办件比例, 提速率, 网办率, 办结率, 按时办结率, 材料减免, 只跑一次/一次不跑, 通办.

The reports these numbers go into were written by hand from case data. Here each case contributes one narrow
row (:func:`case_fact`), refreshed only when the case's version moves (:func:`refresh_facts`), and the KPIs
are sums of those rows grouped by item, department, office, channel or month (:func:`compute`); item-based
figures come from the catalogue store. Every KPI's definition is in :data:`DEFINITIONS` and ``docs/kpi.md``.
Channel and accepting office are not on every case yet: the figures that need them (网办率, 全城通办, 跨省) are
``None`` — absent — until some case carries them, and appear as soon as one does.

    refresh_facts(engine)                       # after a sync; reads only the cases that changed
    compute(engine, by="month", period="2026")  # list of KpiRow
    kpi_summary(engine)                         # for the ops console
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, get_args

import orjson
from sqlalchemy import Engine

from gateway.models.datetimes import BEIJING
from gateway.store import kpi as store

__all__ = ["DEFINITIONS", "KpiDefinition", "KpiRow", "RefreshReport", "case_fact", "compare", "compute",
           "item_kpis", "kpi_summary", "period_range", "previous_period", "refresh_facts"]

Dimension = Literal["item", "department", "office", "channel", "month"]
DIMENSIONS: tuple[str, ...] = get_args(Dimension)
ONLINE_CHANNELS = frozenset({"2", "online", "mobile", "网上", "移动端", "app"})
"""Channel values that count as handled online: the national code 2 (网上) and the mobile channel."""
_DEAD_RESULTS = frozenset({"voided", "deleted"})


@dataclass(frozen=True)
class KpiDefinition:
    name: str
    label: str
    basis: Literal["case", "item"]
    definition: str


DEFINITIONS: tuple[KpiDefinition, ...] = (
    KpiDefinition("instant_ratio", "即办件比例", "case", "即办件 cases / live cases"),
    KpiDefinition("instant_item_ratio", "即办件比例（事项）", "item", "entries promising 0 days / active entries"),
    KpiDefinition("speedup", "提速率", "case", "1 − Σ promised days / Σ legal days, over live cases with a promise "
                  "whose item has a legal limit in working days (the catalogue's 法定时限)"),
    KpiDefinition("speedup_item", "提速率（事项）", "item", "1 − Σ 承诺时限 / Σ 法定时限, over active entries with "
                  "both limits in the same unit and a legal limit > 0"),
    KpiDefinition("online_ratio", "网办率", "case", "cases handled online (channel 网上 or 移动端) / live cases with "
                  "a known channel; absent while no case carries a channel"),
    KpiDefinition("finished_ratio", "办结率", "case", "finished cases (办结时间 set) / live cases"),
    KpiDefinition("on_time_ratio", "按时办结率", "case", "cases finished at or before 承诺办结时间 / finished cases "
                  "with a 承诺办结时间"),
    KpiDefinition("overdue_ratio", "超期办结率", "case", "1 − 按时办结率 (finished late / finished with a deadline)"),
    KpiDefinition("materials_reused", "材料复用", "case", "Σ materials received as 证照复用 (certificate reuse)"),
    KpiDefinition("submissions_saved", "材料减免", "case", "Σ over cases of the gateway's latest materials answer "
                  "(submissions_saved: materials a valid certificate replaced)"),
    KpiDefinition("zero_visit_items", "一次不跑", "item", "active entries with 到现场次数 = 0"),
    KpiDefinition("one_visit_items", "只跑一次", "item", "active entries with 到现场次数 = 1"),
    KpiDefinition("tongban_city_cases", "全城通办件", "case", "live cases accepted at an office (受理点) for an item "
                  "in the 通办目录 (city scope), not across provinces; absent while no case names an office"),
    KpiDefinition("cross_province_cases", "跨省通办件", "case", "live cases whose accepting office is in another "
                  "province than the case's 行政区划; absent while no case names an office"),
    KpiDefinition("evaluation_coverage", "评价率", "case", "distinct cases with a 好差评 rating / live cases with a "
                  "finish time (target ≥ 70%); gateway.citizen.evaluation_summary"),
    KpiDefinition("good_review_ratio", "好评率", "case", "ratings 基本满意 or better / ratings"),
    KpiDefinition("bad_review_reply_ratio", "差评回复率", "case", "bad reviews called back / bad reviews not set aside "
                  "by an upheld appeal (target 100%)"),
    KpiDefinition("rectification_on_time_ratio", "限时办结率", "case", "rectifications of bad reviews finished by their "
                  "due time / rectifications done or due (target 100%)"),
    KpiDefinition("hotline_satisfaction", "12345满意率", "case", "12345 work orders rated 满意 or 基本满意 / rated, the "
                  "latest rating of each; gateway.citizen.workorder_summary"),
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
    """Case rows read from the ledger (only those whose version moved)."""
    written: int = 0
    saved_updates: int = 0
    audit_read: int = 0
    duration_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"read": self.read, "written": self.written, "saved_updates": self.saved_updates,
                "audit_read": self.audit_read, "duration_s": round(self.duration_s, 3)}


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
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _beijing_month(value: Any) -> str | None:
    """``YYYY-MM`` of an instant in Beijing time: a document written with another offset (a hall sending UTC,
    ``…T16:30:00Z`` on the 31st) belongs to the month it was in Beijing."""
    if not isinstance(value, str) or not value:
        return None
    if value.endswith("+08:00") or len(value) <= 10:  # Beijing already, or a date: the text says it
        return value[:7]
    moment = _moment(value)
    if moment is None or moment.tzinfo is None:
        return value[:7]
    return moment.astimezone(BEIJING).strftime("%Y-%m")


def case_fact(case_no: str, version: int, data: dict[str, Any], *, deleted: bool, dept_code: str | None,
              item_code: str | None, now: datetime) -> dict[str, Any]:
    """What one case contributes to the KPIs (a ``kpi_case_facts`` row), from its canonical document."""
    finished_at, promised_at = _moment(data.get("finished_at")), _moment(data.get("promised_at"))
    finished = finished_at is not None
    with_deadline = promised_at is not None
    channel = data.get("channel")
    channel = str(channel)[:16] if channel not in (None, "") else None
    office_code, office_division = _office(data)
    division = str(data.get("division_code") or "")
    cross = None if not office_division or not division else str(office_division)[:2] != division[:2]
    materials = [m for m in data.get("materials") or [] if isinstance(m, dict)]
    promised_days = data.get("promised_days")
    return {
        "case_no": case_no, "case_version": version, "month": _beijing_month(data.get("applied_at")),
        "item_code": item_code, "dept_code": dept_code, "office_code": office_code,
        "office_division": office_division, "channel": channel,
        "live": not deleted and data.get("result") not in _DEAD_RESULTS,
        "instant": data.get("case_type") == "instant", "finished": finished, "with_deadline": with_deadline,
        "on_time": bool(finished and with_deadline and finished_at <= promised_at),  # type: ignore[operator]
        "online": None if channel is None else channel.lower() in ONLINE_CHANNELS,
        "cross_province": cross,
        "promised_days": promised_days if isinstance(promised_days, int) else None,
        "materials": len(materials),
        "materials_reused": sum(1 for m in materials if m.get("source") == "certificate_reuse"),
        "submissions_saved": 0, "refreshed_at": now,
    }


def refresh_facts(engine: Engine, *, lookback: timedelta = timedelta(minutes=10), full: bool = False) -> RefreshReport:
    """Bring the contribution rows up to date with the ledger; the cost follows the changed cases.

    Cases are read from the watermark minus ``lookback`` (a writer may commit an older ``updated_at`` late),
    and of those only the ones whose version differs from their row's; materials answers from the audit log
    after the last sequence read. ``full`` rebuilds every row.
    """
    started = time.perf_counter()
    report = RefreshReport()
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        mark = store.get_checkpoint(conn)
        # Answers first, cases second: the gateway answers only for a case already in the ledger, so every
        # case an answer read here names is committed before the case read below and has its row by the time
        # the answers are applied.
        answers, seq = store.materials_answers_after(conn, 0 if full else mark["audit_seq"])
        since = None if full or mark["cases"] is None else mark["cases"] - lookback
        rows = store.changed_cases(conn, since)
        report.read = len(rows)
        facts = []
        high = mark["cases"]
        for r in rows:
            data = orjson.loads(r.data) if r.data else {}
            fact = case_fact(r.case_no, r.version, data, deleted=bool(r.deleted), dept_code=r.dept_code,
                             item_code=r.item_code, now=now)
            fact["submissions_saved"] = r.saved_before or 0
            facts.append(fact)
            if high is None or r.updated_at > high:
                high = r.updated_at
        store.write_facts(conn, facts)
        report.written = len(facts)
        report.audit_read = len(answers)
        report.saved_updates = store.set_submissions_saved(conn, answers)
        store.set_checkpoint(conn, cases_at=high, audit_seq=seq)
    report.duration_s = time.perf_counter() - started
    return report


def _ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


def _case_kpis(s: dict[str, int]) -> dict[str, float | int | None]:
    on_time = _ratio(s["on_time"], s["finished_with_deadline"])
    offices = s["office_cases"] > 0
    return {
        "cases": s["cases"],
        "instant_ratio": _ratio(s["instant"], s["cases"]),
        "speedup": None if s["legal_days"] == 0 else 1 - s["promised_days"] / s["legal_days"],
        "online_ratio": _ratio(s["online"], s["channel_known"]),
        "finished_ratio": _ratio(s["finished"], s["cases"]),
        "on_time_ratio": on_time,
        "overdue_ratio": None if on_time is None else 1 - on_time,
        "materials_reused": s["materials_reused"],
        "submissions_saved": s["submissions_saved"],
        "tongban_city_cases": s["tongban_city"] if offices else None,
        "cross_province_cases": s["cross_province"] if offices else None,
    }


def period_range(period: str | None) -> tuple[str | None, str | None]:
    """``"2026-11"`` → that month; ``"2026"`` → its twelve months; None → everything."""
    if period is None:
        return None, None
    if len(period) == 4 and period.isdigit():
        return f"{period}-01", f"{period}-12"
    if len(period) == 7 and period[4] == "-" and period[:4].isdigit() and period[5:].isdigit() \
            and 1 <= int(period[5:]) <= 12:
        return period, period
    raise ValueError(f"period {period!r} is neither a year (2026) nor a month (2026-11)")


def previous_period(period: str, against: Literal["previous", "year"] = "previous") -> str:
    """The period to compare with: the month or year before, or (``year``) the same month a year earlier."""
    period_range(period)
    if len(period) == 4:
        return str(int(period) - 1)
    year, month = int(period[:4]), int(period[5:])
    if against == "year":
        return f"{year - 1}-{month:02d}"
    return f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"


def compute(engine: Engine, *, by: Dimension | None = None, period: str | None = None) -> list[KpiRow]:
    """Case-based KPIs per group of ``by`` (None: one overall row) over ``period`` (month, year or all)."""
    month_from, month_to = period_range(period)
    with engine.connect() as conn:
        sums = store.aggregate(conn, by, month_from=month_from, month_to=month_to)
    out = []
    for s in sums:
        values = {k: int(v) for k, v in s.items() if k != "key"}
        out.append(KpiRow(None if s["key"] is None else str(s["key"]), values, _case_kpis(values)))
    return out


def item_kpis(engine: Engine, *, by: Literal["department", "level"] | None = None) -> list[KpiRow]:
    """Item-based KPIs from the catalogue store (即办件比例, 提速率, 一次不跑, 只跑一次)."""
    with engine.connect() as conn:
        sums = store.item_aggregate(conn, by)
    out = []
    for s in sums:
        values = {k: int(v) for k, v in s.items() if k != "key"}
        out.append(KpiRow(None if s["key"] is None else str(s["key"]), values, {
            "items": values["items"], "instant_item_ratio": _ratio(values["instant"], values["items"]),
            "speedup_item": None if values["legal_days"] == 0 else 1 - values["promised_days"] / values["legal_days"],
            "zero_visit_items": values["zero_visits"], "one_visit_items": values["one_visit"]}))
    return out


def compare(engine: Engine, period: str, *, against: Literal["previous", "year"] = "previous",
            by: Dimension | None = None) -> dict[str, Any]:
    """This period against the previous one (or the same month last year), KPI by KPI, with the change."""
    other = previous_period(period, against)
    now = {r.key: r for r in compute(engine, by=by, period=period)}
    then = {r.key: r for r in compute(engine, by=by, period=other)}
    rows = []
    for key in sorted(set(now) | set(then), key=lambda k: k or ""):
        a, b = now.get(key), then.get(key)
        names = (a or b).kpis.keys()  # type: ignore[union-attr]
        change = {}
        for name in names:
            x = a.kpis.get(name) if a else None
            y = b.kpis.get(name) if b else None
            change[name] = {"now": x, "before": y, "change": None if x is None or y is None else x - y}
        rows.append({"key": key, "kpis": change})
    return {"period": period, "compared_with": other, "by": by, "rows": rows}


def kpi_summary(engine: Engine) -> dict[str, Any]:
    """For the ops console: overall case KPIs, this month against last month, item KPIs, freshness.

    ``{"overall": {kpi: value}, "this_month": {"period", "compared_with", "kpis": {kpi: {"now", "before",
    "change"}}}, "items": {kpi: value}, "definitions": [{"name", "label", "basis", "definition"}],
    "facts": {"rows": n, "refreshed_through": ISO | None}, "citizen": {"evaluation_coverage", "good_review_ratio",
    "bad_review_reply_ratio", "rectification_on_time_ratio", "hotline_satisfaction"}}``; ratios are fractions
    (0.5276), absent KPIs None.
    """
    month = datetime.now(timezone(timedelta(hours=8))).strftime("%Y-%m")
    with engine.connect() as conn:
        mark = store.get_checkpoint(conn)
    key = (mark["cases"], mark["audit_seq"], mark["refreshed_at"], month)
    cached = _FACT_SUMS.get(str(engine.url))
    if cached is not None and cached[0] == key:
        overall, this_month, rows = cached[1]
    else:  # the facts moved (a refresh ran): sum them again — once per refresh, not once per console request
        overall = compute(engine)
        this_month = compare(engine, month)
        with engine.connect() as conn:
            rows = store.fact_count(conn)
        _FACT_SUMS[str(engine.url)] = (key, (overall, this_month, rows))
    items = item_kpis(engine)
    # the cases that can be rated (live, finished), from the same sums: None before the first refresh
    rateable = int(overall[0].sums["finished"]) if overall and rows else None
    return {
        "overall": overall[0].kpis if overall else {},
        "this_month": {"period": month, "compared_with": this_month["compared_with"],
                       "kpis": this_month["rows"][0]["kpis"] if this_month["rows"] else {}},
        "items": items[0].kpis if items else {},
        "definitions": [{"name": d.name, "label": d.label, "basis": d.basis, "definition": d.definition}
                        for d in DEFINITIONS],
        "facts": {"rows": rows, "refreshed_through": mark["cases"].isoformat() if mark["cases"] else None,
                  "rateable_cases": rateable},
        "citizen": _citizen_kpis(engine, rateable),
    }


_FACT_SUMS: dict[str, tuple[tuple[Any, ...], tuple[list[KpiRow], dict[str, Any], int]]] = {}
"""Per ledger: the sums of the KPI facts as of a checkpoint. The facts change only when a refresh moves the
checkpoint, and summing a million fact rows on every 30-second console refresh cost more than the rest of the page."""


def _citizen_kpis(engine: Engine, rateable: int | None) -> dict[str, float | None]:
    """The 好差评 and 12345 figures beside the service KPIs (their own summaries hold the detail); the cases that
    can be rated counted from the same facts as the service KPIs (from the ledger before their first refresh)."""
    from gateway.citizen import evaluation_summary, workorder_summary

    ev, wo = evaluation_summary(engine, rateable_cases=rateable), workorder_summary(engine)
    return {"evaluation_coverage": ev["coverage"], "good_review_ratio": ev["good_ratio"],
            "bad_review_reply_ratio": ev["reply_ratio"],
            "rectification_on_time_ratio": ev["rectification_on_time_ratio"],
            "hotline_satisfaction": wo["satisfaction"]}
