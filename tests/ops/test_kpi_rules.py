"""The rules behind three KPI figures, on cases whose answer is worked out by hand here:

- 按时办结 is what the deadline clock says when the case finished: a case finished inside its limit plus its 补正
  was never red, so it is on time, though its 承诺办结时间 (fixed at acceptance) has passed;
- 办件量 and 办结率 leave out cases nobody handled — 不予受理 (the hand-off's routing refusal writes one, with a finish
  time) and 撤回 — which are counted apart, in the API, the summary and the ``tongban kpi`` command;
- 全城通办件 follows the 通办目录 routing reads (office → its 目录 → the item in it), not the harvested catalogue.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from gateway.catalogue import CatalogueEntry
from gateway.catalogue.harvest import entry_row
from gateway.ops import kpi
from gateway.ops.deadlines import WorkCalendar, evaluate
from gateway.ops.deadlines.clock import catalogue_limit
from gateway.ops.deadlines.scan import scan_deadlines
from gateway.process import TongbanCatalogue
from gateway.store import catalogue as catalogue_store
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import cases, kpi_case_facts, process_handoffs

BJ = timezone(timedelta(hours=8))
CAL = WorkCalendar.load()
ACCEPTED = datetime(2026, 11, 2, 10, tzinfo=BJ)  # a Monday
# 10 working days from 2026-11-03: the promise runs out at the end of Monday 16 November
PROMISED = datetime(2026, 11, 17, tzinfo=BJ)
CORRECTION = {"seq": 1, "kind": "special", "special_type": "correction", "name": "补正",
              "started_at": datetime(2026, 11, 4, 9, tzinfo=BJ).isoformat(),
              "ended_at": datetime(2026, 11, 6, 9, tzinfo=BJ).isoformat()}  # two working days given back
CITY_ITEM = "11370000004390448N4000105101001"  # 高龄老人津贴发放: in the city 通办目录 of config/tongban_catalogue.yaml
NOT_CITY_ITEM = "BIZ-SUBSIDY-001"  # in the 通办目录's items, in no office's 目录


@pytest.fixture
def engine(database_url: str) -> Engine:
    engine = make_engine(database_url)
    upgrade(engine)
    return engine


def _put(engine: Engine, data: dict[str, Any], *, deleted: bool = False) -> None:
    doc = {"item_code": "I1", "case_type": "promised", "applied_at": ACCEPTED.isoformat(), "dept_code": "D1",
           "division_code": "370102", **data}
    at = datetime.now(UTC) - timedelta(minutes=30)
    with engine.begin() as conn:
        conn.execute(cases.insert().values(
            case_no=doc["case_no"], version=1, content_hash="x" * 32, data=json.dumps(doc, ensure_ascii=False),
            origin_system="sd_hall", origin_source_id=doc["case_no"], source_updated_at=at,
            dept_code=doc.get("dept_code"), item_code=doc.get("item_code"), deleted=deleted, updated_at=at))


def _clocked(case_no: str, finished: datetime | None, *, events: list[dict[str, Any]] | None = None,
             result: str = "issued", **extra: Any) -> dict[str, Any]:
    """A case accepted on 2 November with 10 working days, promised (at acceptance) for the end of 16 November."""
    doc = {"case_no": case_no, "accepted_at": ACCEPTED.isoformat(), "promised_days": 10,
           "promised_at": PROMISED.isoformat(), "status": "in_progress", "events": events or [], **extra}
    if finished is not None:
        doc.update(status="finished", result=result, finished_at=finished.isoformat())
    return doc


def _refresh(engine: Engine, catalogue: TongbanCatalogue | None = None) -> kpi.RefreshReport:
    return kpi.refresh_facts(engine, calendar=CAL, catalogue=catalogue or TongbanCatalogue.load())


def _overall(engine: Engine, **options: Any) -> dict[str, Any]:
    (row,) = kpi.compute(engine, **options)
    return row.kpis


# -- 按时办结: the deadline clock's judgement ---------------------------------------------------------------------


def test_a_case_finished_within_its_limit_plus_its_correction_is_on_time(engine: Engine) -> None:
    inside = datetime(2026, 11, 18, 10, tzinfo=BJ)  # past the promise, inside the limit + 2 days of 补正
    after = datetime(2026, 11, 19, 10, tzinfo=BJ)  # past both
    _put(engine, _clocked("C-CORRECTED", inside, events=[CORRECTION]))
    _put(engine, _clocked("C-LATE", after, events=[CORRECTION]))
    _put(engine, _clocked("C-NO-CORRECTION", inside))
    # what the deadline scan saw of each while it was open, a second before it finished
    levels = {}
    for case_no, finished, events in (("C-CORRECTED", inside, [CORRECTION]), ("C-LATE", after, [CORRECTION]),
                                      ("C-NO-CORRECTION", inside, [])):
        state = evaluate(_clocked(case_no, None, events=events), CAL, now=finished - timedelta(seconds=1))
        levels[case_no] = state.level if state else None
    assert levels == {"C-CORRECTED": "yellow", "C-LATE": "red", "C-NO-CORRECTION": "red"}

    _refresh(engine)

    by_item = _overall(engine)
    assert by_item["cases"] == 3 and by_item["finished_ratio"] == 1.0
    assert by_item["on_time_ratio"] == pytest.approx(1 / 3) and by_item["overdue_ratio"] == pytest.approx(2 / 3)


def test_a_case_still_in_its_correction_when_it_finished_had_its_clock_stopped(engine: Engine) -> None:
    open_ended = {**CORRECTION, "ended_at": None}  # 补正 recorded as started, never as ended
    _put(engine, _clocked("C-OPEN-CORRECTION", datetime(2026, 11, 20, 10, tzinfo=BJ), events=[open_ended]))
    _refresh(engine)
    assert _overall(engine)["on_time_ratio"] == 1.0  # stopped since the 4th: 2 of 10 days used


@pytest.mark.parametrize("ended_at", [None, "9999-12-31T00:00:00+08:00"], ids=["no end", "9999-12-31"])
def test_a_correction_left_open_past_its_bound_gives_back_no_more_than_its_bound(engine: Engine,
                                                                                 ended_at: str | None) -> None:
    """Review: a 补正 nobody closed stopped the clock up to the finish, so a 10-day case finished two months late read
    as on time — where the deadline scan turned the 补正 red at its bound (30 calendar days) and the case's clock
    ran on from there. Given back up to the bound, the case is late; inside the bound it is not."""
    never_closed = {**CORRECTION, "ended_at": ended_at}  # begun 4 November
    _put(engine, _clocked("C-CORRECTION-NEVER-CLOSED", datetime(2027, 1, 20, 10, tzinfo=BJ), events=[never_closed]))
    # closed at its bound (4 December), 1 working day used before it: 9 more run out on 17 December
    _put(engine, _clocked("C-JUST-AFTER-BOUND", datetime(2026, 12, 16, 10, tzinfo=BJ), events=[never_closed]))
    _refresh(engine)
    with engine.connect() as conn:
        on_time = dict(conn.execute(select(kpi_case_facts.c.case_no, kpi_case_facts.c.on_time)).all())
    assert {k: bool(v) for k, v in on_time.items()} == {"C-CORRECTION-NEVER-CLOSED": False,
                                                        "C-JUST-AFTER-BOUND": True}


def test_open_cases_past_their_limit_count_as_overdue_beside_the_late_finished_ones(engine: Engine) -> None:
    """Review: 超期办结率 counts only finished cases, so a month with 46 finished late and 72 open cases long past
    their limit read 13.5% — and nothing gave the 72. The deadline scan's red clocks are 超期未办结, and 超期率
    (含未办结) counts both."""
    _put(engine, _clocked("C-ON-TIME", datetime(2026, 11, 10, 10, tzinfo=BJ)))
    _put(engine, _clocked("C-FINISHED-LATE", datetime(2026, 11, 20, 10, tzinfo=BJ)))
    _put(engine, _clocked("C-OPEN-LATE", None))  # due by the end of 16 November, still open
    _put(engine, _clocked("C-OPEN-PAUSED", None, events=[{**CORRECTION, "ended_at": None}]))  # 补正 still open
    _put(engine, {**_clocked("C-OPEN-YOUNG", None), "accepted_at": datetime(2026, 11, 25, 10, tzinfo=BJ).isoformat()})
    scan_deadlines(engine, CAL, now=datetime(2026, 11, 27, 12, tzinfo=BJ))
    _refresh(engine)
    overall = _overall(engine)
    assert overall["overdue_ratio"] == 0.5 and overall["overdue_open_cases"] == 1
    assert overall["overdue_all_ratio"] == pytest.approx(2 / 3)  # (1 late + 1 open late) / (2 finished + 1)
    [november] = kpi.compute(engine, by="month")
    assert november.key == "2026-11" and november.kpis["overdue_open_cases"] == 1


def test_an_open_case_whose_correction_nobody_closes_turns_overdue_when_its_bound_and_limit_have_run(
        engine: Engine) -> None:
    """Review: the scan's clock stayed stopped by a 补正 never closed, so the open case was never 超期未办结 —
    while the same case, finished, counted late (its 补正 given back up to its bound). The scan reads it as
    按时办结 does, and comes back for it when that clock runs out."""
    _put(engine, _clocked("C-OPEN-NEVER-CLOSED", None, events=[{**CORRECTION, "ended_at": None}]))  # begun 4 Nov
    # 5 December: past the 补正's bound (4 December), 1.4 + 1 of 10 days used: not yet
    scan_deadlines(engine, CAL, now=datetime(2026, 12, 5, 12, tzinfo=BJ))
    _refresh(engine)
    assert _overall(engine)["overdue_open_cases"] == 0
    # 18 December: the clock read from the bound ran out on the 16th — the scan came back for the case by itself
    scan_deadlines(engine, CAL, now=datetime(2026, 12, 18, 12, tzinfo=BJ))
    _refresh(engine)
    assert _overall(engine)["overdue_open_cases"] == 1


def test_without_a_clock_the_promise_judges_and_without_either_there_is_no_deadline(engine: Engine) -> None:
    finished = datetime(2026, 11, 18, 10, tzinfo=BJ)
    _put(engine, {"case_no": "C-PROMISE-ONLY", "promised_at": datetime(2026, 11, 20, tzinfo=BJ).isoformat(),
                  "promised_days": 10, "finished_at": finished.isoformat(), "result": "issued"})  # no acceptance
    _put(engine, {"case_no": "C-LATE-PROMISE", "promised_at": datetime(2026, 11, 10, tzinfo=BJ).isoformat(),
                  "finished_at": finished.isoformat(), "result": "issued"})  # no limit
    _put(engine, {"case_no": "C-NOTHING", "finished_at": finished.isoformat(), "result": "issued"})
    _refresh(engine)
    overall = _overall(engine)
    assert overall["finished_ratio"] == 1.0 and overall["on_time_ratio"] == 0.5  # C-NOTHING has no deadline


def test_the_clock_starts_where_the_hand_off_started_it(engine: Engine) -> None:
    """Deemed accepted on 2 November; a late answer later wrote an acceptance on the 9th, and a promise counted from
    it, into the case. The deadline scan's clock runs from the deemed acceptance (the hand-off's decision), and so
    does 按时办结 — neither the document's acceptance nor its promise."""
    late_answer = datetime(2026, 11, 9, 10, tzinfo=BJ)
    finished = datetime(2026, 11, 20, 10, tzinfo=BJ)  # inside 10 days from the 9th, past 10 days from the 2nd
    _put(engine, _clocked("C-DEEMED", finished, accepted_at=late_answer.isoformat(),
                          promised_at=datetime(2026, 11, 24, tzinfo=BJ).isoformat()))
    with engine.begin() as conn:
        conn.execute(process_handoffs.insert().values(
            case_no="C-DEEMED", hall_system="sd_hall", target_system="sd_civil", state="deemed", window_s=600,
            registered_at=ACCEPTED, decided_at=ACCEPTED, decided_by="deemed", updated_at=ACCEPTED))
    _refresh(engine)
    assert _overall(engine)["on_time_ratio"] == 0.0


def test_a_deemed_case_that_states_no_limit_runs_on_the_catalogues_and_counts(engine: Engine) -> None:
    """Review: a case the hand-off decided whose own record states no limit (the hall's record, edited after the
    deemed acceptance) had no clock here, so it was in neither part of 按时办结率 — while the deadline scan, which
    runs it on the 通办目录's unified limit, filed it red. A late one read 100%."""
    catalogue = TongbanCatalogue.from_text("items: {I1: {name: 事项, limit: {days: 10, unit: working_day}}}\n")
    late = datetime(2026, 12, 1, 10, tzinfo=BJ)
    _put(engine, {"case_no": "C-DEEMED-LATE", "status": "finished", "result": "issued",
                  "finished_at": late.isoformat()})  # no accepted_at, no promised_days, no promised_at
    _put(engine, _clocked("C-ON-TIME", datetime(2026, 11, 10, 10, tzinfo=BJ)))
    with engine.begin() as conn:
        conn.execute(process_handoffs.insert().values(
            case_no="C-DEEMED-LATE", hall_system="sd_hall", target_system="sd_civil", state="deemed", window_s=600,
            registered_at=ACCEPTED, decided_at=ACCEPTED, decided_by="deemed", updated_at=ACCEPTED))
    running = {"case_no": "C-DEEMED-LATE", "item_code": "I1", "status": "in_progress"}
    scanned = evaluate(running, CAL, now=late - timedelta(seconds=1), clock_start=ACCEPTED,
                       limit_days=catalogue_limit(running, ACCEPTED, catalogue))
    assert scanned is not None and scanned.level == "red"  # what the deadline scan filed while it was open
    _refresh(engine, catalogue)
    overall = _overall(engine)
    assert overall["on_time_ratio"] == 0.5 and overall["overdue_ratio"] == 0.5


def test_the_clock_counts_in_the_unit_the_tongban_catalogue_gives_the_item(engine: Engine) -> None:
    """An item whose 目录 entry counts its limit in calendar days: 10 calendar days from 2 November ran out at the end
    of the 12th, so a case finished on the 14th is late (in working days it would have had until the 16th). The
    deadline scan reads the unit so (``limit_unit``); a revised unit computes every row again."""
    def catalogue(unit: str) -> TongbanCatalogue:
        return TongbanCatalogue.from_text(f"items: {{I1: {{name: 事项, limit: {{days: 10, unit: {unit}}}}}}}\n")

    _put(engine, _clocked("C-CALENDAR-DAYS", datetime(2026, 11, 14, 10, tzinfo=BJ)))
    _refresh(engine, catalogue("calendar_day"))
    assert _overall(engine)["on_time_ratio"] == 0.0
    again = _refresh(engine, catalogue("working_day"))
    assert again.rebuilt and again.read == 1 and _overall(engine)["on_time_ratio"] == 1.0


# -- 办件量: 不予受理 and 撤回 counted apart ----------------------------------------------------------------------


def _refused_and_withdrawn(engine: Engine) -> None:
    finished = datetime(2026, 11, 10, 10, tzinfo=BJ)
    _put(engine, _clocked("C-HANDLED", finished))
    _put(engine, _clocked("C-OPEN", None))
    # what the hand-off writes when routing refuses a case (gateway.process.handoff._refuse)
    _put(engine, {"case_no": "C-REFUSED", "status": "returned", "result": "not_accepted",
                  "result_reason": "case C-REFUSED: item_code I1 is not in the 通办目录 'city'",
                  "finished_at": ACCEPTED.isoformat(), "office": {"code": "JN370102-QCL", "division": "370102"}})
    _put(engine, {"case_no": "C-WITHDRAWN", "status": "returned", "result": "withdrawn",
                  "finished_at": ACCEPTED.isoformat()})
    _put(engine, {"case_no": "C-VOIDED", "status": "voided", "result": "voided", "finished_at": ACCEPTED.isoformat()})


def test_refused_and_withdrawn_cases_are_counted_apart_not_as_handled(engine: Engine) -> None:
    _refused_and_withdrawn(engine)
    _refresh(engine)
    overall = _overall(engine, period="2026-11")
    assert overall["cases"] == 2 and overall["finished_ratio"] == 0.5  # C-HANDLED of C-HANDLED and C-OPEN
    assert overall["not_accepted_cases"] == 1 and overall["withdrawn_cases"] == 1  # nothing vanishes
    assert overall["on_time_ratio"] == 1.0 and overall["instant_ratio"] == 0.0
    assert overall["tongban_city_cases"] is None  # the refused case named the only office: no handled case did
    by_month = kpi.compute(engine, by="month")
    assert [(r.key, r.kpis["cases"], r.kpis["not_accepted_cases"]) for r in by_month] == [("2026-11", 2, 1)]

    summary = kpi.kpi_summary(engine)
    assert (summary["overall"]["cases"], summary["overall"]["not_accepted_cases"],
            summary["overall"]["withdrawn_cases"]) == (2, 1, 1)
    assert summary["facts"]["rateable_cases"] == 3  # a refused or withdrawn case can be rated (好差评) all the same
    labels = {d["name"]: d["label"] for d in summary["definitions"]}
    assert (labels["cases"], labels["not_accepted_cases"], labels["withdrawn_cases"]) == ("办件量", "不予受理件", "撤回件")


# -- 全城通办件: the 通办目录 ------------------------------------------------------------------------------------------


def _harvested(engine: Engine, item_code: str, tongban: str | None) -> None:
    entry = CatalogueEntry.model_validate({
        "catalog_code": "000105101000", "item_code": item_code, "level": "4", "division": "370102",
        "name": "高龄老人津贴发放", "item_type": "05", "departments": [{"name": "民政厅", "code": "11370000004390448N"}],
        "legal_limit": "10个工作日", "promised_limit": "10个工作日", "visits": 0, "tongban": tongban})
    with engine.begin() as conn:
        catalogue_store.insert_entries(conn, [{**entry_row("test", item_code, entry,
                                                          now=datetime.now(UTC)), "version": 1}])


def test_city_cases_follow_the_tongban_catalogue_that_routing_reads(engine: Engine) -> None:
    catalogue = TongbanCatalogue.load()  # config/tongban_catalogue.yaml, as the hand-off routes by it
    assert catalogue.offices["JN370102-QCL"].catalogue == "city" and CITY_ITEM in catalogue.catalogues["city"]
    _harvested(engine, CITY_ITEM, None)  # the harvest does not mark it: no routing decision reads that field
    _harvested(engine, NOT_CITY_ITEM, "city")  # … nor this wrong mark

    def at(case_no: str, item: str, office: str, division: str, **more: str) -> None:
        _put(engine, {"case_no": case_no, "item_code": item, "dept_code": "11370000004390448N",
                      "division_code": "370105", "office": {"code": office, "division": division}, **more})

    for n in range(3):
        at(f"C-CITY-{n}", CITY_ITEM, "JN370102-QCL", "370102")  # a street office of the city 目录
    at("C-CITY-OTHER-OFFICE", CITY_ITEM, "JN370105-BY", "370105")
    # another level's 实施编码 of the listed item: routing finds the item by its 基本编码, and so does the KPI
    at("C-OTHER-LEVEL", "11370100000000000X4000105101001", "JN370102-QCL", "370102", catalog_code="000105101000")
    at("C-NOT-IN-MULU", NOT_CITY_ITEM, "JN370102-QCL", "370102")  # not in the office's 目录 (routing refuses it)
    at("C-CROSS", CITY_ITEM, "HB-ZWFW", "130000")  # the other province's window: 跨省通办, not 全城通办
    at("C-UNKNOWN-OFFICE", CITY_ITEM, "JN-NOWHERE", "370102")
    _refresh(engine, catalogue)

    by_office = {r.key: r.kpis for r in kpi.compute(engine, by="office")}
    assert by_office["JN370102-QCL"]["cases"] == 5 and by_office["JN370102-QCL"]["tongban_city_cases"] == 4
    assert by_office["JN370105-BY"]["tongban_city_cases"] == 1
    assert by_office["HB-ZWFW"]["tongban_city_cases"] == 0 and by_office["HB-ZWFW"]["cross_province_cases"] == 1
    assert by_office["JN-NOWHERE"]["tongban_city_cases"] == 0
    assert _overall(engine)["tongban_city_cases"] == 5


def _change(engine: Engine, case_no: str, **data: Any) -> None:
    """A later version of the case (handled, finished, moved to another office), as a sync would write it."""
    with engine.begin() as conn:
        version, doc = conn.execute(select(cases.c.version, cases.c.data).where(cases.c.case_no == case_no)).one()
        conn.execute(update(cases).where(cases.c.case_no == case_no).values(
            version=version + 1, data=json.dumps({**json.loads(doc), **data}, ensure_ascii=False),
            updated_at=datetime.now(UTC) - timedelta(minutes=1)))


def test_a_case_keeps_the_tongban_scope_it_was_accepted_under_until_a_full_refresh(engine: Engine) -> None:
    """The scope is stamped when a case's row is first computed: a month already reported keeps its count when the
    目录 is revised later, and so does a case that changes after (handled, finished: the same office, the same
    item, taken under the old 目录); a case moved to another office is taken again; a full refresh applies the
    revision to every case on purpose."""
    for case_no in ("C-1", "C-2"):
        _put(engine, {"case_no": case_no, "item_code": "I1", "office": {"code": "S1", "division": "370102"}})
    before = TongbanCatalogue.from_text("catalogues: {city: [I1]}\noffices: {S1: {division: '370102', "
                                        "catalogue: city}, S2: {division: '370102', catalogue: city}}\n")
    revised = TongbanCatalogue.from_text("catalogues: {city: []}\noffices: {S1: {division: '370102', "
                                         "catalogue: city}, S2: {division: '370102', catalogue: city}}\n")
    _refresh(engine, before)
    assert _overall(engine)["tongban_city_cases"] == 2
    assert _refresh(engine, revised).read == 0 and _overall(engine)["tongban_city_cases"] == 2
    _change(engine, "C-1", status="finished", result="issued", finished_at=PROMISED.isoformat())
    _change(engine, "C-2", office={"code": "S2", "division": "370102"})
    assert _refresh(engine, revised).read == 2
    assert _overall(engine)["tongban_city_cases"] == 1  # C-1 kept its scope; C-2 was taken again, under the new one
    full = kpi.refresh_facts(engine, calendar=CAL, catalogue=revised, full=True)
    assert full.rebuilt and full.read == 2 and _overall(engine)["tongban_city_cases"] == 0


# -- which month of a case a report reads ---------------------------------------------------------------------------


def _three_months(engine: Engine) -> None:
    """Two cases applied for on 30 October, accepted on 2 November, one finished on time on the 10th and one late
    on 1 December; a third applied for and accepted on 3 November, still open."""
    october = datetime(2026, 10, 30, 16, tzinfo=BJ).isoformat()
    _put(engine, _clocked("C-NOV", datetime(2026, 11, 10, 10, tzinfo=BJ), applied_at=october))
    _put(engine, _clocked("C-DEC", datetime(2026, 12, 1, 10, tzinfo=BJ), applied_at=october))
    third = datetime(2026, 11, 3, 9, tzinfo=BJ).isoformat()
    _put(engine, _clocked("C-OPEN", None, applied_at=third, accepted_at=third))


def test_a_report_counts_the_month_of_application_acceptance_or_finish(engine: Engine) -> None:
    """Review: every case figure was grouped by 申请时间 alone — a month's 办结 and 按时办结 could not be reported, and
    a past month's figures moved as its cases finished."""
    _three_months(engine)
    _refresh(engine)

    def by_month(month_of: str) -> dict[str | None, int]:
        return {r.key: r.kpis["cases"] for r in kpi.compute(engine, by="month", month_of=month_of)}

    assert by_month("applied") == {"2026-10": 2, "2026-11": 1}
    assert by_month("accepted") == {"2026-11": 3}
    assert by_month("finished") == {None: 1, "2026-11": 1, "2026-12": 1}  # the open case has no finish month
    [november] = kpi.compute(engine, period="2026-11", month_of="finished")
    assert (november.kpis["cases"], november.kpis["on_time_ratio"]) == (1, 1.0)
    [december] = kpi.compute(engine, period="2026-12", month_of="finished")
    assert (december.kpis["cases"], december.kpis["on_time_ratio"]) == (1, 0.0)
    compared = kpi.compare(engine, "2026-12", month_of="finished")
    assert compared["month_of"] == "finished"
    assert compared["rows"][0]["kpis"]["on_time_ratio"] == {"now": 0.0, "before": 1.0, "change": -1.0}


def test_the_kpi_command_reads_the_month_it_is_told(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = make_engine(url)
    upgrade(engine)
    _three_months(engine)
    engine.dispose()
    answered = _tongban(tmp_path, "kpi", "--json", "--month-of", "finished", "--period", "2026-11",
                        "--database-url", url)
    assert answered.returncode == 0, answered.stderr
    body = json.loads(answered.stdout)
    assert body["month_of"] == "finished" and body["rows"][0]["cases"] == 1
    refused = _tongban(tmp_path, "kpi", "--month-of", "closed", "--database-url", url)
    assert refused.returncode == 1 and "applied, accepted, finished" in refused.stderr, refused.stderr


# -- the command ----------------------------------------------------------------------------------------------------


def _tongban(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    return subprocess.run([sys.executable, "-m", "gateway", *args], check=False, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_the_kpi_command_shows_the_counts_apart_and_refuses_what_it_cannot_group(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = make_engine(url)
    upgrade(engine)
    _refused_and_withdrawn(engine)
    engine.dispose()

    answered = _tongban(tmp_path, "kpi", "--json", "--database-url", url)
    assert answered.returncode == 0, answered.stderr
    (row,) = json.loads(answered.stdout)["rows"]
    assert (row["cases"], row["not_accepted_cases"], row["withdrawn_cases"], row["finished_ratio"]) == (2, 1, 1, 0.5)
    table = _tongban(tmp_path, "kpi", "--no-refresh", "--database-url", url)
    assert table.returncode == 0, table.stderr
    assert "办件量" in table.stdout and "不予受理件" in table.stdout and "撤回件" in table.stdout
    assert "no case counted" not in table.stdout

    for args, words in ((("--items", "--by", "month"), "--items --by 'month' is not supported"),
                        (("--by", "level"), "--by 'level' is not supported"),
                        (("--items", "--period", "2026"), "--items with --period or --compare")):
        refused = _tongban(tmp_path, "kpi", *args, "--database-url", url)
        assert refused.returncode == 1, (args, refused.stdout)
        assert words in refused.stderr and "--by department or level" in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr

    # a month the ledger holds no case of says so, and which months it holds (it printed the headings alone)
    for args in (("--period", "2031-05"), ("--by", "month", "--period", "2031-05", "--compare", "year")):
        empty = _tongban(tmp_path, "kpi", "--no-refresh", *args, "--database-url", url)
        assert empty.returncode == 0, empty.stderr
        said = " ".join(empty.stdout.split())
        assert "no case counted in 2031-05" in said and "the ledger's cases are of 2026-" in said, said


def test_on_time_and_overdue_say_their_base_when_it_is_a_small_part_of_the_cases() -> None:
    """Review: in a month under way 按时办结率 "100.00%" was 2 finished cases out of 17, and said nothing of it."""
    sums = {"cases": 17, "finished_with_deadline": 2, "channel_known": 17}
    assert kpi.with_base("100.00%", "on_time_ratio", 1.0, sums) == "100.00% (of 2 finished with a time limit)"
    assert kpi.with_base("0.00%", "overdue_ratio", 0.0, sums) == "0.00% (of 2 finished with a time limit)"
    assert kpi.with_base("50.00%", "online_ratio", 0.5, sums) == "50.00%"  # its base is every case: nothing to say
    settled = {"cases": 17, "finished_with_deadline": 12}
    assert kpi.with_base("90.00%", "on_time_ratio", 0.9, settled) == "90.00%"


# -- cases sent back before acceptance (预审退回) ----------------------------------------------------------------


def test_a_case_returned_before_acceptance_is_counted_with_the_refused_not_as_handled(engine: Engine) -> None:
    """An online hall's pre-check returns (预审退回, 补正超时驳回) with no 受理时间 counted as handled and finished:
    办件量 and 办结率 inflated, while the hand-off reads the same record as refused before anyone accepted it."""
    _put(engine, _clocked("C-OPEN", None))
    finished = datetime(2026, 11, 3, 10, tzinfo=BJ).isoformat()
    for case_no, result in (("C-RET", "returned"), ("C-CTO", "correction_timeout")):
        _put(engine, {"case_no": case_no, "status": "returned", "result": result, "result_reason": "材料不全",
                      "finished_at": finished})
    _put(engine, {"case_no": "C-STATUS", "status": "returned"})  # returned, no result: the same
    # not_permitted without a 受理时间: the time is missing, not the acceptance (a permit is refused after it)
    _put(engine, {"case_no": "C-NP", "status": "finished", "result": "not_permitted", "result_reason": "不符合条件",
                  "finished_at": finished})
    # returned after acceptance: a handled case
    _put(engine, _clocked("C-LATE", datetime(2026, 11, 5, 10, tzinfo=BJ), result="returned",
                          result_reason="申请人要求退回"))
    _refresh(engine)
    kpis = _overall(engine, period="2026-11")
    assert kpis["cases"] == 3 and kpis["not_accepted_cases"] == 3, kpis


def test_a_promise_in_calendar_days_is_no_part_of_the_speed_up_over_working_days(engine: Engine) -> None:
    """提速率 = 1 − Σ promised / Σ legal over working days: a case whose promise its clock counts in calendar days
    (the 通办目录 says `unit: calendar_day`) was summed as if working days — 30 自然日 against 20 个工作日 read as a
    slowdown that wiped out the other item's real speed-up."""
    rows = []
    for n, (code, legal, promised) in enumerate((("I1", "20个工作日", "30日"), ("I2", "20个工作日", "10个工作日"))):
        entry = CatalogueEntry.model_validate({
            "catalog_code": f"00012000{n}000", "item_code": code, "level": "4", "division": "370102",
            "name": f"事项{code}", "item_type": "01", "departments": [{"name": "局", "code": "11370000004390448N"}],
            "legal_limit": legal, "promised_limit": promised, "visits": 1})
        rows.append({**entry_row("test", code, entry, now=datetime.now(UTC)), "version": 1})
    with engine.begin() as conn:
        catalogue_store.insert_entries(conn, rows)
    catalogue = TongbanCatalogue.from_text("items: {I1: {name: 事项1, limit: {days: 30, unit: calendar_day}},"
                                           " I2: {name: 事项2, limit: {days: 10, unit: working_day}}}\n")
    _put(engine, {**_clocked("A", None), "item_code": "I1", "promised_days": 30})
    _put(engine, {**_clocked("B", None), "item_code": "I2", "promised_days": 10})
    _refresh(engine, catalogue)
    assert _overall(engine)["speedup"] == 0.5


def test_a_case_the_hall_finished_before_the_hand_off_registered_it_is_judged_by_its_promise(engine: Engine) -> None:
    """A front-desk case finished at the window with no 受理时间 (common, DOMAIN.md): the hand-off registers it
    "accepted by the hall" at the moment it scans, that moment became the KPI clock's start, and the case — "finished
    before it was accepted" — left 按时办结率. A back-fill of history dropped every such case."""
    applied = datetime(2026, 12, 4, 9, tzinfo=BJ)
    _put(engine, {"case_no": "C-HALL", "applied_at": applied.isoformat(), "case_type": "instant",
                  "status": "finished", "result": "issued", "finished_at": (applied + timedelta(minutes=30)).isoformat(),
                  "promised_at": datetime(2026, 12, 4, 17, tzinfo=BJ).isoformat()})
    scanned = datetime(2026, 12, 6, 4, tzinfo=UTC)  # the hand-off's first scan, two days later
    with engine.begin() as conn:
        conn.execute(process_handoffs.insert().values(
            case_no="C-HALL", hall_system="sd_hall", target_system="sd_civil", state="accepted", window_s=600,
            registered_at=scanned, decided_at=scanned, decided_by="hall", updated_at=scanned))
    _refresh(engine)
    kpis = _overall(engine, period="2026-12")
    assert kpis["on_time_ratio"] == 1.0, kpis


def test_a_district_reads_its_own_items_by_division(engine: Engine) -> None:
    """The harvested catalogue lists an item at every level and district implementing it (the 八统一 audit needs
    them all): the item KPIs counted one item five times, and no grouping isolated a district's own 实施清单."""
    rows = []
    for level, division in (("1", "100000"), ("2", "370000"), ("3", "370100"), ("4", "370102"), ("4", "370103")):
        entry = CatalogueEntry.model_validate({
            "catalog_code": "000105101000", "item_code": f"ITEM-{level}-{division}", "level": level,
            "division": division, "name": "高龄老人津贴发放", "item_type": "05",
            "departments": [{"name": "民政", "code": "11370000004390448N"}], "legal_limit": "20个工作日",
            "promised_limit": "即办", "visits": 0})
        rows.append({**entry_row("test", entry.item_code, entry, now=datetime.now(UTC)), "version": 1})
    with engine.begin() as conn:
        catalogue_store.insert_entries(conn, rows)
    (own,) = kpi.item_kpis(engine, division="370102")
    assert own.kpis["items"] == 1 and own.kpis["zero_visit_items"] == 1
    by_division = {r.key: r.kpis["items"] for r in kpi.item_kpis(engine, by="division")}
    assert by_division == {"100000": 1, "370000": 1, "370100": 1, "370102": 1, "370103": 1}
