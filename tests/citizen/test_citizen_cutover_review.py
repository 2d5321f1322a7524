"""The cut-over of the citizen figures, after a second pair of eyes (each test failed before its fix):

好差评 — a history 差评 turned good and then bad again after the cut-over is a new complaint, counted; the first read
is kept whatever ``callbacks_from`` says (the setting may go); a first run that fails before reading keeps no first
read; a ledger upgraded past migration 0020 flags the history its first read brought and takes that read as its
cut-over (not the next run); a month of history only has no reply ratio; a replay keeps history as history.
12345 — orders the platform routed before Tongban first read it are no dispatch of Tongban's, in time or not; a
ledger from before the first read was kept takes Tongban's first message to the platform as it; a failed first
run keeps no first read.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from citizen_testlib import Pages, order, rating
from sqlalchemy import delete, insert, select, text

from gateway.citizen import (
    evaluation_summary,
    load_citizen,
    scan_citizen,
    sync_evaluations,
    sync_workorders,
    workorder_summary,
)
from gateway.citizen.evaluations import replay_rejected
from gateway.contract.errors import SourceUnavailableError
from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import citizen_callbacks, citizen_evaluations, watermarks

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=BEIJING)  # a Tuesday: Tongban's first read
T = T0
CAL = WorkCalendar.load()
KEYS = ("routed", "late_on_arrival", "dispatched_late", "dispatched_in_time_ratio", "dispatched_in_time_ratio_all",
        "dispatch_minutes")


@pytest.fixture
def engine(tmp_path: Path):
    e = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    upgrade(e)
    yield e
    e.dispose()


def cb(engine, rid):
    with engine.connect() as conn:
        return conn.execute(select(citizen_callbacks).where(citizen_callbacks.c.rating_id == rid)).mappings().one()


def marks(engine):
    with engine.connect() as conn:
        return {(r.system, r.stream): r.cursor for r in conn.execute(select(watermarks))}


def test_a_history_bad_review_turned_good_then_bad_again_after_the_cut_over_is_counted(engine) -> None:
    s = load_citizen()
    old = datetime(2026, 10, 10, 10, 0, tzinfo=BEIJING)
    sync_evaluations(engine, s, client=Pages([rating("R1", "C1", 1, old, old)]), calendar=CAL, now=T0)
    assert cb(engine, "R1")["predates"] is True
    d1 = T0 + timedelta(days=1)
    sync_evaluations(engine, s, client=Pages([rating("R1", "C1", 5, old, d1)]), calendar=CAL, now=d1)
    d2 = T0 + timedelta(days=2)  # the citizen turns it back into 差评 a day later: a new complaint after cut-over
    sync_evaluations(engine, s, client=Pages([rating("R1", "C1", 1, old, d2, comment="还是不满意")]),
                     calendar=CAL, now=d2)
    row = cb(engine, "R1")
    later = T0 + timedelta(days=6)
    # docs/citizen.md §4: turned into a 差评 it gets its callback, due from the revision's change time
    assert row["predates"] is False and row["due_at"] > d2 - timedelta(days=1)
    assert evaluation_summary(engine, now=later)["callbacks_overdue"] == 1
    assert scan_citizen(engine, now=later, calendar=CAL)["callback_overdue"]["open"] == 1


def test_the_first_read_is_kept_while_callbacks_from_is_set(engine) -> None:
    s = load_citizen()
    with_policy = replace(s, policy=replace(s.policy, callbacks_from=datetime(2026, 9, 1, tzinfo=BEIJING)))
    old = datetime(2026, 8, 20, 10, 0, tzinfo=BEIJING)
    sync_evaluations(engine, with_policy, client=Pages([rating("R1", "C1", 1, old, old)]), calendar=CAL, now=T0)
    # a month on, the setting is gone (another --citizen file, TONGBAN_CITIZEN unset in a shell, the key removed):
    # the 'first read' becomes now, and a 差评 of T0+10d read now (late / replayed) is called history
    mid = T0 + timedelta(days=10)
    later = T0 + timedelta(days=30)
    sync_evaluations(engine, s, client=Pages([rating("R2", "C2", 1, mid, mid)]), calendar=CAL, now=later)
    assert marks(engine)[("citizen:evaluator", "first_read")] == T0  # not a month late
    assert cb(engine, "R2")["predates"] is False


class Down:
    def pages(self, since):
        raise SourceUnavailableError("evaluator: connection refused")
        yield  # pragma: no cover

    def close(self):
        pass


def test_a_first_run_that_fails_before_reading_keeps_no_first_read(engine) -> None:
    s = load_citizen()
    with pytest.raises(SourceUnavailableError):  # installation day: wrong URL / key
        sync_evaluations(engine, s, client=Down(), calendar=CAL, now=T0)
    # fixed three weeks later: the first read that brings anything
    first_real = T0 + timedelta(days=21)
    page = [rating(f"R{i}", f"C{i}", 1, T0 + timedelta(days=i), T0 + timedelta(days=i)) for i in range(1, 15)]
    sync_evaluations(engine, s, client=Pages(page), calendar=CAL, now=first_real)
    assert evaluation_summary(engine, now=first_real)["callbacks_overdue"] == 0
    assert scan_citizen(engine, now=first_real, calendar=CAL)["callback_overdue"]["open"] == 0


def test_a_ledger_upgraded_past_0020_flags_its_history_and_keeps_its_first_read(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0019_workorder_handout")
    s = load_citizen()
    # what the pre-0020 code did at its first read (T0): history 差评 with callbacks due long ago
    before = datetime(2026, 10, 10, 10, 0, tzinfo=BEIJING)
    with engine.begin() as conn:
        conn.execute(insert(citizen_evaluations), [{
            "rating_id": "H1", "case_no": "C1", "level": 1, "bad": True, "channel": "pc", "device": None,
            "window_no": None, "staff": None, "dept_code": "D1", "division": "370102", "office_code": None,
            "rated_at": before, "month": "2026-10", "case_finished_at": None, "comment": "", "revoked": False,
            "content_hash": "h", "updated_at": T0, "source_changed_at": before}])
        conn.execute(text("INSERT INTO citizen_callbacks (rating_id, due_at, created_at) VALUES "
                          "('H1', '2026-10-10 10:00:00.000000', '2026-12-01 02:00:00.000000')"))
    upgrade(engine)
    up = T0 + timedelta(days=30)
    # the next run after the upgrade: the 'first read' is now, a month after Tongban's real first read
    mid = T0 + timedelta(days=20)
    sync_evaluations(engine, s, client=Pages([rating("R2", "C2", 1, mid, mid)]), calendar=CAL, now=up)
    assert cb(engine, "H1")["predates"] is True and cb(engine, "R2")["predates"] is False
    assert marks(engine)[("citizen:evaluator", "first_read")] == T0  # the first callback it opened, 10:00 Beijing
    assert evaluation_summary(engine, now=up)["callbacks_overdue"] == 1  # R2, read late: Tongban's own
    assert scan_citizen(engine, now=up, calendar=CAL)["callback_overdue"]["open"] == 1


def test_month_with_history_only_has_no_reply_ratio(engine) -> None:
    s = load_citizen()
    old = datetime(2026, 10, 10, 10, 0, tzinfo=BEIJING)
    sync_evaluations(engine, s, client=Pages([rating("R1", "C1", 1, old, old)]), calendar=CAL, now=T0)
    f = evaluation_summary(engine, now=T0)
    assert all(m["reply_ratio"] is None for m in f["by_month"])


def test_replay_of_dead_lettered_history_and_new_ratings(engine) -> None:
    s = replace(load_citizen(), district=None)
    old, new = datetime(2026, 10, 10, 10, 0, tzinfo=BEIJING), T0 + timedelta(hours=1)
    page = [rating("RH", "CH", 1, old, old, areaCode=None), rating("RN", "CN", 1, new, new, areaCode=None)]
    sync_evaluations(engine, s, client=Pages(page), calendar=CAL, now=T0 + timedelta(hours=2))
    replay_rejected(engine, load_citizen(), calendar=CAL, now=T0 + timedelta(days=3))
    assert cb(engine, "RH")["predates"] is True and cb(engine, "RN")["predates"] is False


def first_read(engine):
    with engine.connect() as conn:
        return conn.execute(select(watermarks.c.cursor).where(watermarks.c.system == "citizen:hotline",
                                                              watermarks.c.stream == "first_read")).scalar()


def history(no: str, handed: datetime, dispatched: datetime) -> dict:
    """An order the platform itself dispatched before Tongban (read as history at the first sync)."""
    return order(no, "已转派", handed, dispatched, cbdw="11370102MB2853001A", cbdwmc="市场监管局", zpsj=dispatched)


def test_the_platforms_own_dispatches_before_tongban_are_not_tongbans(engine) -> None:
    s = load_citizen()
    h = T - timedelta(days=30)
    sync_workorders(engine, s, calendar=CAL, now=T, client=Pages([
        history("H-FAST1", h, h + timedelta(minutes=5)),       # the platform's in-time dispatch, before Tongban
        history("H-FAST2", h, h + timedelta(minutes=6)),
        history("H-SLOW", h, h + timedelta(hours=2)),          # the platform's late one: 'late on arrival'
    ]))
    handed = T + timedelta(minutes=5)  # Tongban's only own dispatch: late (a sync that did not run)
    sync_workorders(engine, s, calendar=CAL, now=handed + timedelta(minutes=25),
                    client=Pages([order("G-OWN", "待转派", handed, handed)]))
    f = workorder_summary(engine, now=T + timedelta(hours=2))
    # Tongban routed one order, late: 'what Tongban controls' should be 0%, base 1
    assert f["dispatched_in_time_ratio"] == 0.0


def test_a_ledger_without_its_first_read_takes_tongbans_first_message_to_the_platform(engine) -> None:
    s = load_citizen()
    h = T - timedelta(days=30)
    sync_workorders(engine, s, calendar=CAL, now=T, client=Pages([
        history("H-OLD", h, h + timedelta(minutes=5)),
        order("G-BACKLOG", "待转派", T - timedelta(hours=2), T - timedelta(hours=2))]))  # due 08:15, read 10:00
    before = workorder_summary(engine, now=T + timedelta(hours=1))
    with engine.begin() as conn:  # a ledger from before 58f17ab: no first_read row
        conn.execute(delete(watermarks).where(watermarks.c.stream == "first_read"))
    after = workorder_summary(engine, now=T + timedelta(hours=1))
    sync_workorders(engine, s, calendar=CAL, now=T + timedelta(days=1), client=Pages([]))
    assert after["late_on_arrival"] == before["late_on_arrival"]


class HotlineDown:
    def orders(self, since, **_):
        raise SourceUnavailableError("hotline: 401")
        yield  # pragma: no cover

    def close(self):
        pass


def test_a_first_hotline_run_that_fails_before_reading_keeps_no_first_read(engine) -> None:
    s = load_citizen()
    with pytest.raises(SourceUnavailableError):
        sync_workorders(engine, s, calendar=CAL, now=T - timedelta(days=7), client=HotlineDown())
    sync_workorders(engine, s, calendar=CAL, now=T, client=Pages([
        order("G-BACKLOG", "待转派", T - timedelta(hours=2), T - timedelta(hours=2))]))
    f = workorder_summary(engine, now=T + timedelta(hours=1))
    assert f["late_on_arrival"] == 1


