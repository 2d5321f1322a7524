"""Review of the time limits: each test was seen failing against the code before its fix.

- one case whose clock could not be read (a 补正 open since 2012: the walk gave up after 5000 days; an acceptance
  on 9999-12-31) failed the whole scan, every run: no case after it was alerted;
- a calendar-day limit a 补正 left part-way through a day lost the weekend's extension: due a day *earlier* than
  without the 补正;
- a case whose source states only its promised finish time (承诺办结时间, no days: the hall's mapping) had no clock;
- a pledge (告知承诺) went unwatched once the licence was issued — the case it is checked on afterwards;
- a special procedure "ending" 9999-12-31 (a placeholder for open) stopped the clock for good with no alert;
- cutting an item's unified limit in the 通办目录 did not make the scan read the clocks again.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from gateway.models.datetimes import BEIJING
from gateway.ops.deadlines import WorkCalendar, scan_deadlines
from gateway.ops.deadlines.clock import evaluate, run_clock
from gateway.ops.deadlines.scan import RETRY_UNREADABLE, clock_fingerprint
from gateway.process.catalogue import TongbanCatalogue
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import alerts, cases

CAL = WorkCalendar.load()
NOW = datetime(2026, 12, 7, 12, tzinfo=BEIJING)


def _case(case_no: str, **values: Any) -> dict[str, Any]:
    return {"case_no": case_no, "item_code": "310115-000201-001", "item_name": "食品经营许可",
            "dept_name": "浦东新区市场监督管理局", "status": "in_progress", "accepted_at": "2026-10-09T09:30:00+08:00",
            "promised_days": 20, **values}


def _ledger(database_url: str, *docs: dict[str, Any]) -> Any:
    engine = make_engine(database_url)
    upgrade(engine)
    _put(engine, *docs)
    return engine


def _put(engine: Any, *docs: dict[str, Any], version: int = 1) -> None:
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        for doc in docs:
            conn.execute(cases.delete().where(cases.c.case_no == doc["case_no"]))
            conn.execute(cases.insert().values(
                case_no=doc["case_no"], version=version, content_hash="h" * 32, data=json.dumps(doc, ensure_ascii=False),
                origin_system="sd_civil", origin_source_id=doc["case_no"], source_updated_at=now, dept_code=None,
                item_code=doc["item_code"], deleted=False, updated_at=now))


def _open(engine: Any, kind: str) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(select(alerts.c.key, alerts.c.level).where(
            alerts.c.status == "open", alerts.c.kind == kind)))


OVERDUE = _case("370100202611000000001")
LEGACY = _case("370100201203000000001", accepted_at="2012-03-01T10:00:00+08:00", status="suspended", events=[
    {"seq": 1, "kind": "special", "name": "补正", "special_type": "correction", "started_at": "2012-03-02T10:00:00+08:00"}])


def test_a_special_procedure_open_for_fourteen_years_is_read_like_any_other(database_url: str) -> None:
    state = evaluate(LEGACY, CAL, now=NOW)
    assert state is not None and state.paused and state.level is None
    engine = _ledger(database_url, LEGACY, OVERDUE)
    report = scan_deadlines(engine, CAL, now=NOW)
    assert report.errors == {}
    assert _open(engine, "deadline") == [(f"{LEGACY['case_no']}/special/1", "red"), (OVERDUE["case_no"], "red")]


def test_a_case_whose_clock_cannot_be_read_is_its_own_error_and_every_other_case_is_alerted(database_url: str) -> None:
    broken = _case("370100202611000000000", accepted_at="2026-10-09T09:30:00+08:00")
    engine = _ledger(database_url, broken, OVERDUE)
    scan_deadlines(engine, CAL, now=NOW)
    assert _open(engine, "deadline") == [(broken["case_no"], "red"), (OVERDUE["case_no"], "red")]
    # the source writes an acceptance no calendar can count from: that case alone is an error, its alert stays
    unreadable = {**broken, "accepted_at": "9999-12-31T10:00:00+08:00"}
    _put(engine, unreadable, version=2)
    later = NOW + timedelta(minutes=5)
    report = scan_deadlines(engine, CAL, now=later)
    assert list(report.errors) == [broken["case_no"]] and "OverflowError" in report.errors[broken["case_no"]]
    assert "accepted_at, promised_days, promised_at, events: clock.unreadable:" in report.errors[broken["case_no"]]
    assert _open(engine, "deadline_scan") == [(broken["case_no"], "error")]
    assert _open(engine, "deadline") == [(broken["case_no"], "red"), (OVERDUE["case_no"], "red")]
    # scans meanwhile do not read it (nor resolve its alert); it is read again after RETRY_UNREADABLE
    assert scan_deadlines(engine, CAL, now=later + timedelta(minutes=5)).checked == 0
    assert _open(engine, "deadline_scan") == [(broken["case_no"], "error")]
    assert broken["case_no"] in scan_deadlines(engine, CAL, now=later + RETRY_UNREADABLE).errors
    # mended at the source: read, its error resolved
    _put(engine, broken, version=3)
    report = scan_deadlines(engine, CAL, now=later + RETRY_UNREADABLE + timedelta(minutes=5))
    assert report.errors == {} and _open(engine, "deadline_scan") == []


def _calendar_day_due(started: datetime, stop_hours: float) -> datetime:
    events = [] if not stop_hours else [{"kind": "special", "started_at": (started + timedelta(days=2)).isoformat(),
                                         "ended_at": (started + timedelta(days=2, hours=stop_hours)).isoformat()}]
    return run_clock(started, 10, "calendar_day", events, CAL, now=started + timedelta(days=60)).due_at


def test_a_suspension_never_makes_a_calendar_day_limit_due_earlier() -> None:
    accepted = datetime(2026, 3, 4, 10, tzinfo=BEIJING)  # a Wednesday: 10 calendar days end on a Saturday
    without = _calendar_day_due(accepted, 0)
    assert without == datetime(2026, 3, 17, tzinfo=BEIJING)  # the weekend runs on to the end of Monday
    assert _calendar_day_due(accepted, 25) >= without


@settings(max_examples=300, deadline=None)
@given(day=st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 11, 30)),
       minute=st.integers(0, 24 * 60 - 1), hours=st.floats(0.0, 24 * 20, allow_nan=False))
def test_property_a_suspension_never_moves_a_calendar_day_due_earlier(day: date, minute: int, hours: float) -> None:
    accepted = datetime.combine(day, time(0), BEIJING) + timedelta(minutes=minute)
    assert _calendar_day_due(accepted, hours) >= _calendar_day_due(accepted, 0)


def test_a_case_stating_only_its_promised_finish_time_is_supervised_against_it() -> None:
    case = _case("C-PROMISED", promised_days=None, accepted_at="2026-10-09T10:00:00+08:00",
                 promised_at="2026-10-23T17:00:00+08:00")
    state = evaluate(case, CAL, now=NOW)
    assert state is not None and state.level == "red" and state.due_at == datetime(2026, 10, 24, tzinfo=BEIJING)
    early = evaluate(case, CAL, now=datetime(2026, 10, 12, 9, tzinfo=BEIJING))
    assert early is not None and early.level is None
    # a promise on a Sunday runs to the end of the Monday after; none before the acceptance day, no clock
    sunday = evaluate({**case, "promised_at": "2026-10-25T17:00:00+08:00"}, CAL, now=NOW)
    assert sunday is not None and sunday.due_at == datetime(2026, 10, 27, tzinfo=BEIJING)
    assert evaluate({**case, "promised_at": "2026-10-01T17:00:00+08:00"}, CAL, now=NOW) is None


def test_a_pledge_is_watched_after_the_licence_is_issued_a_tolerated_material_is_not(database_url: str) -> None:
    material = {"name": "消防安全承诺", "due_at": "2026-11-02T17:00:00+08:00", "received_at": None}
    issued = {"status": "finished", "result": "issued", "finished_at": "2026-10-20T10:00:00+08:00"}
    pledged = _case("370100202610000000004", **issued, deferred_materials=[{**material, "kind": "pledged"}])
    tolerated = _case("370100202610000000005", **issued, deferred_materials=[{**material, "kind": "tolerated"}])
    voided = _case("370100202610000000006", status="voided", deferred_materials=[{**material, "kind": "pledged"}])
    engine = _ledger(database_url, pledged, tolerated, voided)
    scan_deadlines(engine, CAL, now=NOW)
    assert [key.split("/")[0] for key, _ in _open(engine, "deferred_material")] == [pledged["case_no"]]


def test_a_special_procedure_ending_in_9999_is_open_and_its_bound_applies(database_url: str) -> None:
    special = {"seq": 1, "kind": "special", "name": "补正", "special_type": "correction",
               "started_at": "2026-06-10T10:00:00+08:00"}
    placeholder = _case("370100202606000000001", events=[{**special, "ended_at": "9999-12-31T23:59:59+08:00"}])
    ended = _case("370100202606000000002", events=[{**special, "ended_at": "2026-06-12T10:00:00+08:00"}])
    engine = _ledger(database_url, placeholder, ended)
    scan_deadlines(engine, CAL, now=NOW)
    specials = [key for key, _ in _open(engine, "deadline") if "/special/" in key]
    assert specials == [f"{placeholder['case_no']}/special/1"]


def test_cutting_an_items_unified_limit_reads_every_clock_again() -> None:
    def catalogue(days: int) -> TongbanCatalogue:
        return TongbanCatalogue.from_text(f"""
items:
  ITEM-1:
    name: 高龄老人津贴发放
    departments: {{"37": "11370000004390448N"}}
    limit: {{days: {days}, unit: working_day}}
""")

    assert clock_fingerprint(CAL, catalogue(10)) != clock_fingerprint(CAL, catalogue(3))


def _specials(engine: Any) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return sorted((key, message.split("special procedure ")[1].split(" ")[0]) for key, message in conn.execute(
            select(alerts.c.key, alerts.c.message).where(alerts.c.status == "open", alerts.c.key.like("%/special/%"))))


def test_two_open_procedures_of_one_number_are_two_alerts_each_kept_when_the_other_ends(database_url: str) -> None:
    """jn_estate numbers its procedures by the source's xh, which can repeat: an open 补正 and an open 听证 both 3.
    When the 补正 ends the 听证 keeps its own alert (a position-based key handed it the 补正's, acknowledgement and
    all)."""
    events = [{"seq": 3, "kind": "special", "name": name, "special_type": kind, "started_at": started}
              for name, kind, started in (("补正", "correction", "2026-06-10T10:00:00+08:00"),
                                          ("听证", "hearing", "2026-06-11T10:00:00+08:00"))]
    case = _case("370100202606000000003", events=events)
    engine = _ledger(database_url, case)
    scan_deadlines(engine, CAL, now=NOW)
    both = _specials(engine)
    assert [name for _, name in both] == ["补正", "听证"] and both[0][0] == "370100202606000000003/special/3"
    hearing = both[1][0]
    _put(engine, {**case, "events": [{**events[0], "ended_at": "2026-12-07T12:30:00+08:00"}, events[1]]}, version=2)
    scan_deadlines(engine, CAL, now=NOW + timedelta(hours=1))
    assert _specials(engine) == [(hearing, "听证")]


def test_a_case_whose_clock_cannot_be_read_stays_in_the_totals_its_alerts_stand_for(database_url: str) -> None:
    broken = _case("370100202611000000000")
    engine = _ledger(database_url, broken, OVERDUE)
    assert scan_deadlines(engine, CAL, now=NOW).red == 2
    with engine.begin() as conn:  # the source's new version, written as the sync writes it (an update)
        conn.execute(cases.update().where(cases.c.case_no == broken["case_no"]).values(
            version=2, data=json.dumps({**broken, "accepted_at": "9999-12-31T10:00:00+08:00"}, ensure_ascii=False)))
    report = scan_deadlines(engine, CAL, now=NOW + timedelta(minutes=5))
    assert list(report.errors) == [broken["case_no"]]
    assert report.red == 2 == len([key for key, level in _open(engine, "deadline") if level == "red"])
