"""KPIs on a generated ledger whose true values the generator knows: each KPI is computed here again, in plain
Python from the generated cases (not by the code under test), and must match to the case; after 1% of the cases
change, the refresh reads exactly those (counted). 按时办结 is the deadline clock's judgement (the truth asks the
clock, :func:`gateway.ops.deadlines.evaluate`, whether the open case was red when it finished); 全城通办 follows the
通办目录 routing reads (``TONGBAN``), never the harvested catalogue's ``tongban`` field (wrong here on purpose)."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from kpi_testlib import log_materials_answer
from sqlalchemy import Engine, update

from gateway.catalogue import CatalogueEntry
from gateway.catalogue.harvest import entry_row
from gateway.ops import kpi
from gateway.ops.deadlines import WorkCalendar, evaluate
from gateway.process import TongbanCatalogue
from gateway.store import catalogue as catalogue_store
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import cases

BJ = timezone(timedelta(hours=8))
# 实施编码 → (legal limit text, the harvested catalogue's ``tongban`` field); I4's limit is in calendar days: outside
# the case-based 提速率. The harvested field is wrong on purpose: 全城通办 reads the 通办目录 below, as routing does.
ITEMS = {"I0": ("20个工作日", "city"), "I1": ("30个工作日", None), "I2": ("即办", "city"), "I3": ("15个工作日", None),
         "I4": ("60日", None), "I5": (None, None)}
DEPTS = ("D1", "D2", "D3")
OFFICES = (("S1", "370102"), ("S2", "370103"), ("X9", "110101"))  # X9: another province's hall
TONGBAN = TongbanCatalogue.from_text("""
catalogues: {city: [I1, I3], cross_province: [I1]}
offices:
  S1: {name: 街道一, division: "370102", catalogue: city}
  S2: {name: 街道二, division: "370103", catalogue: city}
  X9: {name: 外省专窗, division: "110101", catalogue: cross_province}
""")
CITY = {(office, item) for office, spec in TONGBAN.offices.items() if spec.catalogue == "city"
        for item in TONGBAN.catalogues["city"]}
CAL = WorkCalendar.load()
SET_ASIDE = ("not_accepted", "withdrawn")


@dataclass
class GenCase:
    case_no: str
    item: str
    dept: str
    applied: datetime
    instant: bool
    promised_days: int | None
    promised_at: datetime | None
    finished_at: datetime | None
    channel: str | None
    office: tuple[str, str] | None
    materials: list[str]
    deleted: bool = False
    result: str | None = None
    saved: list[int] = field(default_factory=list)
    version: int = 1
    accepted: datetime | None = None
    corrections: list[tuple[datetime, datetime | None]] = field(default_factory=list)
    """补正 (special procedures) as (start, end or None while it runs)."""

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "case_no": self.case_no, "item_code": self.item, "case_type": "instant" if self.instant else "promised",
            "applied_at": self.applied.isoformat(), "promised_days": self.promised_days,
            "promised_at": self.promised_at.isoformat() if self.promised_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None, "result": self.result,
            "division_code": "370102", "dept_code": self.dept,
            "accepted_at": self.accepted.isoformat() if self.accepted else None,
            "events": [{"seq": n + 1, "kind": "special", "special_type": "correction", "name": "补正",
                        "started_at": start.isoformat(), "ended_at": end.isoformat() if end else None}
                       for n, (start, end) in enumerate(self.corrections)],
            "materials": [{"name": f"m{i}", "source": s, "count": 1} for i, s in enumerate(self.materials)]}
        if self.channel is not None:
            doc["channel"] = self.channel
        if self.office is not None:
            doc["office"] = {"code": self.office[0], "division": self.office[1]}
        return doc


def generate(seed: int, n: int, *, channels: bool = True) -> list[GenCase]:
    rng = random.Random(seed)
    out = []
    for k in range(n):
        applied = datetime(2025 + rng.randrange(2), 1 + rng.randrange(12), 1 + rng.randrange(28), 10, tzinfo=BJ)
        instant = rng.random() < 0.3
        promised = 0 if instant else rng.choice([5, 10, 15, 20, None])
        promised_at = None if instant or promised is None else applied + timedelta(days=promised)
        finished_at = None
        if rng.random() < 0.75:
            finished_at = applied + timedelta(days=rng.choice([0, 3, 12, 25]), hours=rng.randrange(5))
        result = rng.choice(["issued", "voided", "not_permitted", "not_accepted", "withdrawn"]) \
            if finished_at and rng.random() < 0.25 else None
        # half the cases state their acceptance: their clock runs (from it, with their 补正 given back) and judges
        # 按时办结; the others are judged by the promise they state
        accepted = applied + timedelta(hours=1) if promised is not None and rng.random() < 0.5 else None
        corrections: list[tuple[datetime, datetime | None]] = []
        if accepted is not None and rng.random() < 0.5:
            start = accepted + timedelta(days=1 + rng.randrange(3), hours=rng.randrange(6))
            corrections.append((start, start + timedelta(days=rng.randrange(1, 9)) if rng.random() < 0.8 else None))
        out.append(GenCase(
            f"C{k:06d}", rng.choice(list(ITEMS)), rng.choice(DEPTS), applied, instant, promised, promised_at,
            finished_at, rng.choice([None, "1", "2", "2", "3"]) if channels else None,
            rng.choice([None, None, *OFFICES]) if channels else None,
            [rng.choice(["paper", "electronic", "certificate_reuse"]) for _ in range(rng.randrange(4))],
            deleted=rng.random() < 0.05, result=result,
            saved=[rng.randrange(3) for _ in range(rng.choice([0, 0, 1, 2]))], accepted=accepted,
            corrections=corrections))
    return out


# -- the truth, computed independently of gateway.ops.kpi ------------------------------------------------------


def _legal_working_days(item: str) -> int | None:
    text = ITEMS[item][0]
    if text is None or not text.endswith("个工作日"):
        return 0 if text == "即办" else None
    return int(text.removesuffix("个工作日"))


def _on_time(c: GenCase) -> bool | None:
    """Finished on time (None: no deadline, or finished before it was accepted): a case with a clock was not red while it was open — the deadline
    clock read on the open case just before it finished; a case without one by the promise it states."""
    assert c.finished_at is not None
    if c.accepted is not None and c.finished_at < c.accepted:
        return None  # finished before it was accepted (case.date_order): judged neither way
    if c.accepted is not None and c.promised_days is not None:
        still_open = {**c.document(), "finished_at": None, "status": "in_progress"}
        state = evaluate(still_open, CAL, now=c.finished_at - timedelta(seconds=1))
        assert state is not None
        return state.level != "red"
    return None if c.promised_at is None else c.finished_at <= c.promised_at


def truth(generated: list[GenCase], key: Any = lambda c: "all", months: tuple[str, str] | None = None
          ) -> dict[Any, dict[str, Any]]:
    groups: dict[Any, list[GenCase]] = defaultdict(list)
    for c in generated:
        month = c.applied.strftime("%Y-%m")
        if c.deleted or c.result == "voided" or (months and not months[0] <= month <= months[1]):
            continue
        groups[key(c)].append(c)
    out = {}
    for k, live in groups.items():
        cs = [c for c in live if c.result not in SET_ASIDE]  # 办件量: refused and withdrawn cases are not handled
        finished = [c for c in cs if c.finished_at]
        judged = [(c, _on_time(c)) for c in finished]
        deadline = [c for c, on_time in judged if on_time is not None]
        on_time = [c for c, ok in judged if ok]
        known = [c for c in cs if c.channel is not None]
        speed = [c for c in cs if c.promised_days is not None and (_legal_working_days(c.item) or 0) > 0]
        with_office = [c for c in cs if c.office]
        cross = [c for c in with_office if c.office[1][:2] != "37"]  # type: ignore[index]
        out[k] = {
            "cases": len(cs), "instant_ratio": sum(c.instant for c in cs) / len(cs) if cs else None,
            "not_accepted_cases": sum(c.result == "not_accepted" for c in live),
            "withdrawn_cases": sum(c.result == "withdrawn" for c in live),
            "speedup": (1 - sum(c.promised_days for c in speed) / sum(_legal_working_days(c.item) for c in speed))  # type: ignore[misc]
            if speed else None,
            "online_ratio": sum(c.channel == "2" for c in known) / len(known) if known else None,
            "finished_ratio": len(finished) / len(cs) if cs else None,
            "on_time_ratio": len(on_time) / len(deadline) if deadline else None,
            "overdue_ratio": 1 - len(on_time) / len(deadline) if deadline else None,
            "materials_reused": sum(m == "certificate_reuse" for c in cs for m in c.materials),
            "submissions_saved": sum(max(c.saved) for c in cs if c.saved),  # the fullest answer of each case
            "tongban_city_cases": sum(1 for c in with_office if (c.office[0], c.item) in CITY and c not in cross)  # type: ignore[index]
            if with_office else None,
            "cross_province_cases": len(cross) if with_office else None,
        }
    return out


def _refresh(engine: Engine, **options: Any) -> kpi.RefreshReport:
    return kpi.refresh_facts(engine, calendar=CAL, catalogue=TONGBAN, **options)


# -- the ledger -------------------------------------------------------------------------------------------------


def _catalogue(engine: Engine) -> None:
    now = datetime.now(UTC)
    rows = []
    for n, (code, (legal, tongban)) in enumerate(ITEMS.items()):
        entry = CatalogueEntry.model_validate({
            "catalog_code": f"0001200{n:02d}000", "item_code": code, "level": "4", "division": "370102",
            "name": f"事项{code}", "item_type": "01", "departments": [{"name": "局", "code": DEPTS[n % 3]}],
            "legal_limit": legal, "promised_limit": legal, "visits": n % 3, "tongban": tongban})
        rows.append({**entry_row("test", code, entry, now=now), "version": 1})
    with engine.begin() as conn:
        catalogue_store.insert_entries(conn, rows)


def _write(engine: Engine, generated: list[GenCase], *, at: datetime) -> None:
    rows = [{"case_no": c.case_no, "version": c.version, "content_hash": "x" * 32,
             "data": json.dumps(c.document(), ensure_ascii=False), "origin_system": "test",
             "origin_source_id": c.case_no, "source_updated_at": at, "dept_code": c.dept, "item_code": c.item,
             "deleted": c.deleted, "updated_at": at} for c in generated]
    with engine.begin() as conn:
        conn.execute(cases.insert(), rows)





@pytest.fixture
def ledger(database_url: str) -> tuple[Engine, list[GenCase]]:
    engine = make_engine(database_url)
    upgrade(engine)
    generated = generate(13, 2000)
    _catalogue(engine)
    _write(engine, generated, at=datetime.now(UTC) - timedelta(hours=2))
    for c in generated:
        for n in c.saved:
            log_materials_answer(engine, c.case_no, n)
    return engine, generated


def _as_dicts(rows: list[kpi.KpiRow]) -> dict[Any, dict[str, Any]]:
    return {r.key: r.kpis for r in rows}


def _assert_same(got: dict[Any, dict[str, Any]], want: dict[Any, dict[str, Any]]) -> None:
    assert set(got) == set(want)
    for key, values in want.items():
        for name, value in values.items():
            assert got[key][name] == pytest.approx(value, abs=1e-12) if value is not None else \
                got[key][name] is None, (key, name, got[key][name], value)


def test_every_kpi_is_exact_to_the_case(ledger: tuple[Engine, list[GenCase]]) -> None:
    engine, generated = ledger
    report = _refresh(engine)
    assert report.read == report.written == 2000
    _assert_same(_as_dicts(kpi.compute(engine)), truth(generated))
    _assert_same(_as_dicts(kpi.compute(engine, by="month")), truth(generated, lambda c: c.applied.strftime("%Y-%m")))
    _assert_same(_as_dicts(kpi.compute(engine, by="department")), truth(generated, lambda c: c.dept))
    _assert_same(_as_dicts(kpi.compute(engine, by="item")), truth(generated, lambda c: c.item))
    _assert_same(_as_dicts(kpi.compute(engine, by="office")),
                 truth(generated, lambda c: c.office[0] if c.office else None))
    _assert_same(_as_dicts(kpi.compute(engine, by="channel")), truth(generated, lambda c: c.channel))
    _assert_same(_as_dicts(kpi.compute(engine, period="2026")), truth(generated, months=("2026-01", "2026-12")))


def test_period_over_period(ledger: tuple[Engine, list[GenCase]]) -> None:
    engine, generated = ledger
    _refresh(engine)
    result = kpi.compare(engine, "2026-06", against="year")
    assert result["compared_with"] == "2025-06"
    now = truth(generated, months=("2026-06", "2026-06"))["all"]
    before = truth(generated, months=("2025-06", "2025-06"))["all"]
    row = result["rows"][0]["kpis"]
    assert row["finished_ratio"]["now"] == pytest.approx(now["finished_ratio"])
    assert row["finished_ratio"]["before"] == pytest.approx(before["finished_ratio"])
    assert row["finished_ratio"]["change"] == pytest.approx(now["finished_ratio"] - before["finished_ratio"])
    assert kpi.previous_period("2026-01") == "2025-12" and kpi.previous_period("2026") == "2025"


def test_after_one_percent_changes_the_refresh_reads_only_those(ledger: tuple[Engine, list[GenCase]]) -> None:
    engine, generated = ledger
    assert _refresh(engine).read == 2000
    assert _refresh(engine).read == 0  # nothing moved: nothing read
    rng = random.Random(5)
    changed = rng.sample(generated, 20)
    later = datetime.now(UTC)
    with engine.begin() as conn:
        for c in changed:
            c.version += 1
            c.finished_at = c.finished_at or c.applied + timedelta(days=1)
            c.channel = "2"
            c.materials = c.materials + ["certificate_reuse"]
            conn.execute(update(cases).where(cases.c.case_no == c.case_no).values(
                version=c.version, data=json.dumps(c.document(), ensure_ascii=False), updated_at=later))
    untouched = next(c for c in generated if c not in changed and not c.deleted and max(c.saved, default=0) < 2)
    untouched.saved.append(2)
    log_materials_answer(engine, untouched.case_no, 2)
    lesser = next(c for c in generated if c not in changed and c is not untouched and not c.deleted and c.saved
                  and max(c.saved) > 0)
    lesser.saved.append(0)  # an answer that looked up less (no consent token): it undoes nothing
    log_materials_answer(engine, lesser.case_no, 0)

    report = _refresh(engine)

    assert report.read == 20 == report.written and report.audit_read == 2 and not report.rebuilt
    _assert_same(_as_dicts(kpi.compute(engine)), truth(generated))
    _assert_same(_as_dicts(kpi.compute(engine, by="channel")), truth(generated, lambda c: c.channel))


def test_channel_and_office_kpis_are_absent_until_a_case_carries_them(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    _catalogue(engine)
    generated = generate(3, 200, channels=False)
    _write(engine, generated, at=datetime.now(UTC))
    _refresh(engine)
    overall = kpi.compute(engine)[0].kpis
    assert overall["online_ratio"] is None and overall["tongban_city_cases"] is None
    assert overall["cross_province_cases"] is None and overall["finished_ratio"] is not None
    summary = kpi.kpi_summary(engine)
    assert summary["overall"]["cases"] == truth(generated)["all"]["cases"]
    assert summary["facts"]["rows"] == 200 and {d["name"] for d in summary["definitions"]} >= {"speedup", "online_ratio"}
    items = kpi.item_kpis(engine)[0].kpis
    assert items["items"] == 6 and items["zero_visit_items"] == 2 and items["one_visit_items"] == 2
    assert items["instant_item_ratio"] == pytest.approx(1 / 6)
    assert items["speedup_item"] == pytest.approx(0.0)  # promised = legal in this catalogue


def test_the_console_summaries_answer_on_an_empty_ledger(database_url: str) -> None:
    from gateway.catalogue.audit import latest_findings_summary

    engine = make_engine(database_url)
    upgrade(engine)
    summary = kpi.kpi_summary(engine)
    assert summary["overall"]["cases"] == 0 and summary["overall"]["finished_ratio"] is None
    assert summary["facts"] == {"rows": 0, "refreshed_through": None, "rateable_cases": None}
    assert summary["this_month"]["compared_with"] == kpi.previous_period(summary["this_month"]["period"])
    findings = latest_findings_summary(engine)
    assert findings["run"] is None and findings["open_total"] == 0 and findings["top"] == []


def test_a_case_counts_in_the_month_it_was_applied_for_in_beijing() -> None:
    from datetime import datetime

    from gateway.ops.kpi import case_fact

    def month(applied: str) -> str | None:
        return case_fact("C1", 1, {"applied_at": applied}, deleted=False, dept_code=None, item_code=None,
                         now=datetime.now(UTC))["month"]

    assert month("2026-10-31T16:30:00+00:00") == "2026-11"  # 00:30 on 1 November, Beijing
    assert month("2026-10-31T16:30:00Z") == "2026-11"
    assert month("2026-10-31T23:30:00+08:00") == "2026-10"
    assert month("2026-10-31") == "2026-10"


def test_the_refresh_reads_page_by_page_and_counts_the_same(ledger: tuple[Engine, list[GenCase]],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    engine, generated = ledger
    monkeypatch.setattr(kpi, "_PAGE", 150)  # 2,000 cases: 14 pages, the last one short
    report = _refresh(engine)
    assert report.read == report.written == 2000 and report.rebuilt
    _assert_same(_as_dicts(kpi.compute(engine, by="item")), truth(generated, lambda c: c.item))
    rateable = sum(1 for c in generated if c.finished_at and not c.deleted and c.result != "voided")
    assert kpi.kpi_summary(engine)["facts"]["rateable_cases"] == rateable  # 不予受理 and 撤回 can be rated too


def test_a_new_calendar_computes_every_row_again_and_only_then(ledger: tuple[Engine, list[GenCase]]) -> None:
    """按时办结 depends on the working-day calendar: rows computed with another one are computed again, once."""
    engine, generated = ledger
    assert _refresh(engine).read == 2000
    assert _refresh(engine).read == 0
    closed = WorkCalendar.from_text("holidays: ['2026-03-02..2026-03-06']\n")  # a county closed for a week
    again = kpi.refresh_facts(engine, calendar=closed, catalogue=TONGBAN)
    assert again.rebuilt and again.read == again.written == 2000
    assert kpi.refresh_facts(engine, calendar=closed, catalogue=TONGBAN).read == 0
    back = _refresh(engine)
    assert back.rebuilt and back.read == 2000
    _assert_same(_as_dicts(kpi.compute(engine)), truth(generated))
