"""好差评 end to end over real HTTP: 1,000 generated cases, their ratings read from the collection point, forwarded
to the provincial SOAP system exactly once under faults and a kill -9; every bad review's callback due the same
working day; an appeal that moves up from the city to the province; the planted misuse burst flagged, nothing
else."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from citizen_testlib import ALL_CALLBACKS_COUNTED, collection_point, ledger_with_cases, point_settings, start
from sqlalchemy import func, select

from gateway.citizen import (
    CitizenError,
    ProvincialClient,
    callback_due,
    deliver,
    detect_misuse,
    evaluation_summary,
    file_appeal,
    finish_rectification,
    poll_appeals,
    record_callback,
    replay_evaluations,
    scan_citizen,
    sync_evaluations,
)
from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar
from gateway.store.tables import alerts, citizen_callbacks, citizen_evaluations, dead_letters

REPO = Path(__file__).resolve().parents[2]
LATER = datetime.now(timezone.utc) + timedelta(days=1)  # every backed-off item is due by then

_CRASH = """
import os, signal, sys
from gateway.citizen import ProvincialClient, deliver, load_citizen
from gateway.store.db import make_engine
settings = load_citizen()
client = ProvincialClient(settings.provincial_pj)
sent = [0]
real = client.call
def call(op, fields):
    answer = real(op, fields)
    sent[0] += 1
    if sent[0] == int(sys.argv[2]):
        os.kill(os.getpid(), signal.SIGKILL)  # the province has it; our commit never happens
    return answer
client.call = call
deliver(make_engine(sys.argv[1]), "provincial_pj", client)
"""


def _drain(engine, client) -> None:
    for hour in range(40):  # each pass an hour later: every backed-off item is due again
        report = deliver(engine, "provincial_pj", client, now=LATER + timedelta(hours=hour))
        if not report.delivered and not report.retried:
            return


def test_every_rating_reaches_the_province_exactly_once_and_bad_reviews_are_called_back(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox = start()
    try:
        settings = point_settings(monkeypatch, sandbox, callbacks_from=ALL_CALLBACKS_COUNTED)
        engine = ledger_with_cases(database_url, sandbox)
        calendar = WorkCalendar.load()
        report = sync_evaluations(engine, settings, calendar=calendar)
        served = requests.get(sandbox.admin_urls["evaluator"] + "/_sandbox/records", timeout=10).text.splitlines()
        assert report.read == len(served) > 700 and report.rejected == 0
        assert report.linked == report.read  # every rating found its case in the ledger
        assert sync_evaluations(engine, settings, calendar=calendar).inserted == 0  # a re-read queues nothing

        sandbox.set_faults("provincial_pj", error_rate=0.3)
        crash = subprocess.run([sys.executable, "-c", _CRASH, database_url, "150"], cwd=REPO, env=os.environ.copy(),
                               capture_output=True, text=True, timeout=120)
        assert crash.returncode == -9, crash.stderr[-2000:]
        client = ProvincialClient(settings.provincial_pj)
        _drain(engine, client)
        sandbox.set_faults("provincial_pj")
        _drain(engine, client)

        received = requests.get(sandbox.admin_urls["provincial_pj"] + "/_sandbox/received", timeout=10).json()
        ids = {r.split('"ratingId":"')[1].split('"')[0] for r in served}
        assert set(received["ratings"]) == ids  # every rating arrived …
        assert sum(n - 1 for n in received["ratings"].values()) <= 1  # … once: only the killed one was resent
        assert received["records"]["R0000003"]["pjdj"] == "02"  # grade 4 (满意) in the province's codes

        with engine.connect() as conn:
            evals = {r["rating_id"]: r for r in conn.execute(select(citizen_evaluations)).mappings()}
            callbacks = list(conn.execute(select(citizen_callbacks)).mappings())
        bad = {k for k, r in evals.items() if r["level"] <= 2}
        assert {c["rating_id"] for c in callbacks} == bad and bad
        for c in callbacks:
            rated = evals[c["rating_id"]]["rated_at"].astimezone(BEIJING)
            due = c["due_at"].astimezone(BEIJING)
            if calendar.is_working_day(rated.date()) and rated.hour < 18:
                assert due.date() == rated.date()  # the same working day
            else:
                assert due.date() == calendar.add_days(rated.date(), 1)
            assert due.hour == 18

        # callbacks and rectifications: reply rate and on-time rectification
        first, second = sorted(bad)[:2]
        rated = evals[first]["rated_at"]
        done = record_callback(engine, first, "已电话回访", at=rated + timedelta(hours=1), calendar=calendar)
        assert done["on_time"]
        with pytest.raises(CitizenError, match="callback.once"):
            record_callback(engine, first, "again", at=rated + timedelta(hours=2), calendar=calendar)
        good = next(k for k, r in evals.items() if r["level"] == 5)
        with pytest.raises(CitizenError, match="callback.bad_only"):
            record_callback(engine, good, "不需要", calendar=calendar)
        finish_rectification(engine, first, "已整改", at=rated + timedelta(days=1))
        summary = evaluation_summary(engine)
        assert summary["reply_ratio"] == round(1 / len(bad), 4)
        # every 差评 falls due for 整改, called back or not: one rectified in time, over those already due or done
        with engine.connect() as conn:
            rows = list(conn.execute(select(citizen_callbacks)).mappings())
        now = datetime.now(timezone.utc)
        due = [r for r in rows if not r["predates"] and (r["rect_done_at"] is not None or r["rect_due_at"] < now)]
        assert all(r["rect_due_at"] is not None for r in rows)
        assert summary["rectification_on_time_ratio"] == round(1 / len(due), 4)
        assert summary["coverage"] == round(len({r["case_no"] for r in evals.values()}) / 1000, 4)
        assert summary["coverage_ok"] is True and summary["forwarded"]["delivered"] == len(ids)
        per_unit_month = sum(g["evaluations"] for g in summary["by_unit_month"])
        assert per_unit_month == summary["evaluations"] == sum(g["evaluations"] for g in summary["by_month"])

        # the open callbacks are overdue now: alerts, one per bad review not called back
        scan = scan_citizen(engine)
        assert scan["callback_overdue"]["open"] == len(bad) - 1
        from gateway.ops.alerts import open_alerts

        messages = [a["message"] for a in open_alerts(engine, kind="callback_overdue")]
        assert messages and all(m.endswith("+08:00") and "UTC" not in m for m in messages)  # read in Beijing time

        # an appeal moves up: the city rejects it, the province upholds it
        file_appeal(engine, second, "评价人误选", at=LATER)
        _drain(engine, client)
        admin = sandbox.admin_urls["provincial_pj"] + "/_sandbox/decide"
        assert poll_appeals(engine, client) == []  # nobody has decided yet
        requests.post(admin, json={"pjbh": second, "sscj": "3", "zt": "2", "shyj": "证据不足"}, timeout=10)
        (moved,) = poll_appeals(engine, client)
        assert moved == {"rating_id": second, "level": "city", "decision": "rejected", "next": "province"}
        _drain(engine, client)
        requests.post(admin, json={"pjbh": second, "sscj": "2", "zt": "1", "shyj": "申诉成立"}, timeout=10)
        (upheld,) = poll_appeals(engine, client)
        assert upheld["level"] == "province" and upheld["decision"] == "upheld"
        received = requests.get(sandbox.admin_urls["provincial_pj"] + "/_sandbox/received", timeout=10).json()
        assert received["appeals"] == {f"{second}:3": 1, f"{second}:2": 1}
        after = evaluation_summary(engine)
        assert after["bad"] == len(bad) - 1 and after["appeals"]["upheld"] == 1
        with pytest.raises(CitizenError, match="appeal.once"):
            file_appeal(engine, second, "again")

        # the planted misuse burst is flagged, and nothing else
        planted = requests.get(sandbox.admin_urls["evaluator"] + "/_sandbox/planted", timeout=10).json()
        misuse = detect_misuse(engine, settings.policy.misuse)
        assert misuse.flagged == set(planted["ratings"])
        assert [g["device"] for g in misuse.groups] == [planted["device"]]
        with engine.connect() as conn:
            open_misuse = conn.execute(select(func.count()).select_from(alerts).where(
                alerts.c.kind == "evaluation_misuse", alerts.c.status == "open")).scalar()
        assert open_misuse == 1 and evaluation_summary(engine)["flagged"] == len(planted["ratings"])
        engine.dispose()
    finally:
        sandbox.stop()


def test_unusable_ratings_go_to_the_dead_letter_store_naming_field_and_rule(
        sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with collection_point(sqlite_url, monkeypatch, ratings=200) as (sandbox, settings, engine):
        sandbox.set_faults("evaluator", malformed_rate=0.2)
        report = sync_evaluations(engine, settings)
        assert report.rejected > 0 and report.inserted + report.rejected == report.read
        with engine.connect() as conn:
            rows = list(conn.execute(select(dead_letters).where(dead_letters.c.system == "evaluator")).mappings())
        assert len(rows) == report.rejected
        rules = {r["reason"].split("[")[-1].rstrip("]") for r in rows}
        assert rules <= {"level.code", "time.format", "channel.code", "required"} and len(rules) >= 2
        assert all(r["reason"].startswith("evaluator:R") and r["raw"] for r in rows)
        again = replay_evaluations(engine, settings)  # nothing fixed: every one is still rejected, none lost
        assert again.rejected == report.rejected and again.inserted == 0
        with engine.connect() as conn:
            attempts = conn.execute(select(func.min(dead_letters.c.attempts)).where(
                dead_letters.c.system == "evaluator", dead_letters.c.status == "open")).scalar()
        assert attempts == 2
        engine.dispose()


def test_a_bad_review_after_closing_or_on_a_day_off_is_due_the_next_working_day() -> None:
    calendar = WorkCalendar.from_text("national: false\nholidays: [2026-10-01..2026-10-07]\n"
                                      "workdays: [2026-10-10]\n")
    friday_late = datetime(2026, 9, 25, 18, 30, tzinfo=BEIJING)
    assert callback_due(friday_late, calendar) == datetime(2026, 9, 28, 18, 0, tzinfo=BEIJING)
    assert callback_due(datetime(2026, 10, 2, 9, 0, tzinfo=BEIJING), calendar).date().isoformat() == "2026-10-08"
    assert callback_due(datetime(2026, 10, 10, 9, 0, tzinfo=BEIJING), calendar).date().isoformat() == "2026-10-10"


def test_ratings_changing_while_we_page_are_neither_lost_nor_doubled(sqlite_url: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.citizen import EvaluatorClient

    sandbox = start({"evaluator": 400})
    try:
        settings = point_settings(monkeypatch, sandbox)
        engine = ledger_with_cases(sqlite_url, sandbox)
        sandbox.set_faults("evaluator", mutate_per_page=5)  # five ratings change after every page served
        report = sync_evaluations(engine, settings, client=EvaluatorClient(settings.evaluator, page_size=25))
        served = requests.get(sandbox.admin_urls["evaluator"] + "/_sandbox/records", timeout=10).text.splitlines()
        with engine.connect() as conn:
            held = conn.execute(select(func.count()).select_from(citizen_evaluations)).scalar()
        assert held == len(served) == report.inserted
        received = requests.get(sandbox.admin_urls["provincial_pj"] + "/_sandbox/received", timeout=10).json()
        assert received["ratings"] == {}  # nothing forwarded yet: reading queues, delivering sends
        engine.dispose()
    finally:
        sandbox.stop()


def test_ratings_read_before_their_cases_are_linked_when_the_cases_arrive(sqlite_url: str,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.store.db import make_engine
    from gateway.store.migrate import upgrade

    sandbox = start({"evaluator": 200})
    try:
        settings = point_settings(monkeypatch, sandbox)
        engine = make_engine(sqlite_url)
        upgrade(engine)
        first = sync_evaluations(engine, settings, now=LATER.replace(year=2026, month=10, day=20))
        assert first.inserted > 100 and first.linked == 0
        planted = requests.get(sandbox.admin_urls["evaluator"] + "/_sandbox/planted", timeout=10).json()
        unlinked = detect_misuse(engine, settings.policy.misuse)  # no finish times: the burst rule alone
        assert unlinked.flagged <= set(planted["ratings"]) and {r for g in unlinked.groups for r in g["rules"]} <= {"burst"}
        ledger_with_cases(sqlite_url, sandbox).dispose()  # the case sync brings the cases
        second = sync_evaluations(engine, settings, now=LATER.replace(year=2026, month=10, day=20))
        assert second.relinked == first.inserted and second.inserted == 0
        assert detect_misuse(engine, settings.policy.misuse).flagged == set(planted["ratings"])
        engine.dispose()
    finally:
        sandbox.stop()
