"""Review of 好差评: each test was seen failing against the code before its fix.

- one rating stamped 2099 moved the watermark to 2099: every later rating (a new 差评) was never read;
- ``revoked: "false"`` (``"0"``, ``"N"``, ``"否"``) read as withdrawn: the 差评 vanished from every list and figure;
- a rating id holding ``:`` collided with another rating's revision key: the page failed every run (the feed
  stopped), or the rating was never forwarded;
- ``updateTime`` in seconds filed a 2026 差评 under January 1970 (no callback alert, no 回复率);
- a ``caseNo`` sent as a number was "missing"; a full-width one never linked its case;
- a grade sent as ``"4"``/``"４"``/``4.0`` or a window as ``12`` cost the whole rating; a comment that was not text
  vanished;
- 评价率 counted a case whose only rating an upheld appeal set aside.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from citizen_testlib import Pages, add_case, migrated, rating
from sqlalchemy import select

from gateway.citizen import (
    deliver,
    evaluation_summary,
    file_appeal,
    list_evaluations,
    load_citizen,
    poll_appeals,
    sync_evaluations,
)
from gateway.citizen.conventions import from_evaluator
from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar
from gateway.store.tables import alerts, citizen_outbox

T0 = datetime(2026, 9, 1, 10, 0, tzinfo=BEIJING)
CAL = WorkCalendar.load()


@pytest.fixture(autouse=True)
def _evaluator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TONGBAN_EVALUATOR_URL", "http://127.0.0.1:9")  # the settings need one; clients are given


class Since:
    """A collection point honouring ``updatedFrom`` (ms), as the real one does."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items

    def pages(self, since: int | None) -> Any:
        yield sorted([r for r in self.items if since is None or r["updateTime"] >= since],
                     key=lambda r: (r["updateTime"], r["ratingId"]))

    def close(self) -> None:
        pass


class Province:
    """The provincial 好差评 system: records what it is sent; an appeal it decides upheld."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str | None, str | None]] = []

    def call(self, operation: str, data: dict[str, Any]) -> dict[str, Any]:
        self.sent.append((operation, data.get("pjbh"), data.get("pjdj")))
        if operation == "cxSs":
            return {"fhdm": "0000", "zt": "1", "shyj": "误评，申诉成立"}
        return {"fhdm": "0000"}


def _ledger(database_url: str, *case_nos: str) -> Any:
    engine = migrated(database_url)
    for case_no in case_nos:
        add_case(engine, case_no, T0 - timedelta(hours=1))
    return engine


def test_a_rating_stamped_in_the_future_does_not_stop_the_ratings_after_it(database_url: str) -> None:
    engine = _ledger(database_url, "C1", "C2")
    settings = load_citizen()
    future = rating("R9", "C1", 5, T0, T0)
    future["updateTime"] = int(datetime(2099, 1, 1, tzinfo=BEIJING).timestamp() * 1000)
    point = Since([rating("R1", "C1", 5, T0, T0), future])
    report = sync_evaluations(engine, settings, client=point, calendar=CAL, now=T0)
    assert any("update_time.future" in flag for flag in report.flags)
    later = T0 + timedelta(hours=1)
    point.items.append(rating("R2", "C2", 1, later, later))  # a 差评 after it
    report = sync_evaluations(engine, settings, client=point, calendar=CAL, now=later)
    assert report.bad == 1 and "R2" in {e["rating_id"] for e in list_evaluations(engine)}


@pytest.mark.parametrize("written", ["false", "0", "N", "否", 0, False, None])
def test_a_rating_said_not_withdrawn_in_words_stands(written: Any) -> None:
    assert from_evaluator(rating("R1", "C1", 1, T0, T0, revoked=written)).revoked is False


@pytest.mark.parametrize("written", ["true", "1", "Y", "是", 1, True])
def test_a_rating_said_withdrawn_in_words_is_withdrawn(written: Any) -> None:
    assert from_evaluator(rating("R1", "C1", 1, T0, T0, revoked=written)).revoked is True


def test_a_withdrawal_nobody_can_read_keeps_the_rating_standing_flagged() -> None:
    ev = from_evaluator(rating("R1", "C1", 1, T0, T0, revoked="maybe"))
    assert ev.revoked is False and [q.rule for q in ev.quality] == ["revoked.value"]


def test_a_rating_id_holding_a_colon_is_its_own_rating_never_another_ones_revision(database_url: str) -> None:
    engine = _ledger(database_url, "C1", "C2", "C3")
    settings = load_citizen()
    point = Since([rating("PJ-7", "C1", 5, T0, T0)])
    sync_evaluations(engine, settings, client=point, calendar=CAL, now=T0)
    later = T0 + timedelta(hours=1)
    point.items[:] = [rating("PJ-7", "C1", 1, T0, later), rating("PJ-7:1", "C2", 5, later, later),
                      rating("R3", "C3", 2, later, later)]
    sync_evaluations(engine, settings, client=point, calendar=CAL, now=later)
    assert sorted(e["rating_id"] for e in list_evaluations(engine)) == ["PJ-7", "PJ-7:1", "R3"]
    province = Province()
    for minutes in (5, 10, 15):
        deliver(engine, "provincial_pj", province, now=later + timedelta(minutes=minutes))
    ratings = [(pjbh, grade) for operation, pjbh, grade in province.sent if operation == "sbPj"]
    assert sorted(ratings) == [("PJ-7", "01"), ("PJ-7", "05"), ("PJ-7:1", "01"), ("R3", "04")]


def test_an_update_time_in_seconds_is_not_the_ratings_time() -> None:
    written = rating("R1", "C1", 1, T0, T0)
    written["updateTime"] = int(T0.timestamp())  # seconds
    ev = from_evaluator(written)
    assert ev.rated_at == T0 and [q.rule for q in ev.quality] == ["update_time.unit"]


FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.mark.parametrize(("written", "kept"), [
    (370102202611020000009, "370102202611020000009"),
    ("370102 202611020000009".translate(FULL_WIDTH), "370102202611020000009")])
def test_a_case_number_is_read_as_the_ledger_writes_case_numbers(written: Any, kept: str) -> None:
    assert from_evaluator(rating("R1", "C1", 1, T0, T0, caseNo=written)).case_no == kept


def test_a_case_number_of_another_form_is_kept_flagged_and_its_rating_counts() -> None:
    """Ratings naming 鲁审2026-001 were stored (unlinked, counted) before: a later version — a withdrawal — must be
    read too (the review of the fix found the first version refused it, and the 差评 stood for ever)."""
    ev = from_evaluator(rating("R1", "C1", 1, T0, T0, caseNo="鲁审2026-001", revoked=1))
    assert ev.case_no == "鲁审2026-001" and ev.revoked and [q.rule for q in ev.quality] == ["case_no.format"]


@pytest.mark.parametrize("grade", ["4", "４", " 4 ", 4.0])
def test_a_grade_written_as_text_or_a_whole_float_is_that_grade(grade: Any) -> None:
    assert from_evaluator({**rating("R1", "C1", 1, T0, T0), "grade": grade}).level == 4


def test_codes_sent_as_numbers_are_read_as_text_and_a_comment_that_is_not_text_is_kept() -> None:
    ev = from_evaluator(rating("R1", "C1", 1, T0, T0, windowNo=12, deviceSn=880012, comment=["办事慢"]))
    assert (ev.window, ev.device) == ("12", "880012")
    assert ev.comment == '["办事慢"]' and [q.rule for q in ev.quality] == ["comment.type"]


def test_a_rating_set_aside_by_an_upheld_appeal_evaluates_no_case(database_url: str) -> None:
    engine = _ledger(database_url, "C1", "C2")
    sync_evaluations(engine, load_citizen(), client=Pages([rating("R1", "C1", 1, T0, T0),
                                                           rating("R2", "C2", 5, T0, T0)]), calendar=CAL, now=T0)
    file_appeal(engine, "R1", "评价人误选", at=T0 + timedelta(minutes=5))
    deliver(engine, "provincial_pj", Province(), now=T0 + timedelta(minutes=10))
    poll_appeals(engine, Province(), now=T0 + timedelta(hours=1))
    summary = evaluation_summary(engine, now=T0 + timedelta(hours=2))
    assert (summary["evaluations"], summary["cases"], summary["evaluated_cases"]) == (1, 2, 1)


def test_a_work_order_changed_in_the_future_moves_no_watermark(database_url: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The 12345 platform's ``gxsj`` moved its watermark the same way (the review's note)."""
    from citizen_testlib import order

    from gateway.citizen import sync_workorders
    from gateway.citizen.workorders import SOURCE, STREAM
    from gateway.store import ledger

    monkeypatch.setenv("TONGBAN_HOTLINE_URL", "http://127.0.0.1:9")
    engine = _ledger(database_url)
    report = sync_workorders(engine, load_citizen(), calendar=CAL, now=T0, client=Pages([
        order("G1", "待转派", T0, T0), order("G2", "待转派", T0, datetime(2099, 1, 1, tzinfo=BEIJING))]))
    assert any("changed_at.future" in flag for flag in report.flags)
    with engine.connect() as conn:
        assert ledger.get_watermark(conn, f"citizen:{SOURCE}", STREAM) == T0


def test_a_future_gxsj_is_not_kept_so_a_later_hand_out_is_seen(database_url: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from citizen_testlib import order

    from gateway.citizen import sync_workorders
    from gateway.store import citizen as citizen_store

    monkeypatch.setenv("TONGBAN_HOTLINE_URL", "http://127.0.0.1:9")
    engine = _ledger(database_url)
    settings = load_citizen()
    sync_workorders(engine, settings, calendar=CAL, now=T0, client=Pages([
        order("G1", "已退回", T0, datetime(2099, 1, 1, tzinfo=BEIJING), thyy="非本单位职责")]))
    with engine.connect() as conn:
        assert citizen_store.workorder(conn, "G1")["source_changed_at"] <= T0
    later = T0 + timedelta(hours=2)
    report = sync_workorders(engine, settings, calendar=CAL, now=later, client=Pages([
        order("G1", "待转派", later - timedelta(minutes=30), later - timedelta(minutes=30))]))
    assert report.rehanded == 1


def test_an_item_queued_before_ids_were_escaped_is_still_found(database_url: str) -> None:
    """A rating ``PJ-7:9`` an older Tongban queued as ``rating:PJ-7:9`` (and an appeal ``appeal:PJ-7:9:3``): the
    province is asked about the appeal, a withdrawal alerts, and delivery reads the old key as the rating itself."""
    from gateway.citizen.outbox import prerequisite
    from gateway.citizen.outbox import queue_item as queued
    from gateway.store import citizen as citizen_store

    assert prerequisite("rating:A:B") is None and prerequisite("rating:A%3AB:2") == "rating:A%3AB:1"
    engine = _ledger(database_url, "C1")
    settings = load_citizen()
    sync_evaluations(engine, settings, client=Pages([rating("PJ-7:9", "C1", 1, T0, T0)]), calendar=CAL, now=T0)
    with engine.begin() as conn:  # the keys as the older Tongban wrote them
        conn.execute(citizen_outbox.delete())
        citizen_store.enqueue(conn, [queued("provincial_pj", "rating:PJ-7:9", "sbPj", {"pjbh": "PJ-7:9"}, now=T0)])
    file_appeal(engine, "PJ-7:9", "评价人误选", at=T0 + timedelta(minutes=5))
    province = Province()
    deliver(engine, "provincial_pj", province, now=T0 + timedelta(minutes=10))
    deliver(engine, "provincial_pj", province, now=T0 + timedelta(minutes=15))
    with engine.connect() as conn:
        sent = sorted(conn.execute(select(citizen_outbox.c.key, citizen_outbox.c.status)).all())
    assert [tuple(row) for row in sent] == [("appeal:PJ-7:9:3", "delivered"), ("rating:PJ-7:9", "delivered")]
    decided = poll_appeals(engine, Province(), now=T0 + timedelta(hours=1))
    assert [d["rating_id"] for d in decided] == ["PJ-7:9"]
    later = T0 + timedelta(hours=2)
    sync_evaluations(engine, settings, client=Pages([rating("PJ-7:9", "C1", 1, T0, later, revoked=1)]),
                     calendar=CAL, now=later)
    with engine.connect() as conn:
        assert conn.execute(select(alerts.c.key).where(alerts.c.kind == "evaluation_revoked")).scalars().all() == [
            "PJ-7:9"]


def test_a_reread_of_a_returned_order_with_a_future_gxsj_is_no_new_hand_out(database_url: str,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The first fix capped a future gxsj to each run's instant: every re-read looked newer — a new 退回 each run."""
    from citizen_testlib import order

    from gateway.citizen import sync_workorders

    monkeypatch.setenv("TONGBAN_HOTLINE_URL", "http://127.0.0.1:9")
    engine = _ledger(database_url)
    settings = load_citizen()
    now = datetime.now(BEIJING).replace(microsecond=0)
    out_of_scope = order("G1", "待转派", now - timedelta(minutes=5), now + timedelta(days=1)) | {"ywfl": "涉法涉诉"}
    reports = [sync_workorders(engine, settings, calendar=CAL, now=now + timedelta(minutes=5 * i),
                               client=Pages([out_of_scope])) for i in range(3)]
    assert [(r.returned, r.rehanded) for r in reports] == [(1, 0), (0, 0), (0, 0)]
    with engine.connect() as conn:
        assert conn.execute(select(citizen_outbox.c.key)).scalars().all() == ["th:G1"]


def test_a_rating_named_like_another_ratings_revision_is_queued_as_itself(database_url: str) -> None:
    """``PJ-7:1`` (withdrawn when first read, so never queued) beside ``PJ-7``'s revision 1 ``rating:PJ-7:1``: the
    legacy-key fallback must not take that revision for ``PJ-7:1``'s own key."""
    from gateway.citizen.outbox import prerequisite

    engine = _ledger(database_url, "C1")
    settings = load_citizen()

    def read(at: datetime, *ratings: dict[str, Any]) -> None:
        sync_evaluations(engine, settings, client=Pages(list(ratings)), calendar=CAL, now=at)

    read(T0, rating("PJ-7", "C1", 5, T0, T0), rating("PJ-7:1", "C1", 5, T0, T0, revoked=1))
    read(T0 + timedelta(hours=1), rating("PJ-7", "C1", 4, T0, T0 + timedelta(hours=1)))
    read(T0 + timedelta(hours=2), rating("PJ-7:1", "C1", 5, T0, T0 + timedelta(hours=2)))
    read(T0 + timedelta(hours=3), rating("PJ-7", "C1", 3, T0, T0 + timedelta(hours=3)))
    with engine.connect() as conn:
        keys = list(conn.execute(select(citizen_outbox.c.key).order_by(citizen_outbox.c.id)).scalars())
    assert [(key, prerequisite(key)) for key in keys] == [
        ("rating:PJ-7", None), ("rating:PJ-7:1", "rating:PJ-7"), ("rating:PJ-7%3A1", None),
        ("rating:PJ-7:2", "rating:PJ-7:1")]


def test_a_case_number_nfkc_would_lengthen_past_the_column_is_kept_as_typed() -> None:
    ev = from_evaluator(rating("R1", "C1", 1, T0, T0, caseNo="㈠" * 30, revoked=1))
    assert ev.case_no == "㈠" * 30 and ev.revoked


def test_a_comment_that_is_an_integer_past_64_bits_is_kept_as_written() -> None:
    """The property test's find (tests/citizen/test_conventions_property.py): orjson writes no such integer."""
    ev = from_evaluator(rating("R1", "C1", 1, T0, T0, comment=2 ** 70))
    assert ev.comment == str(2 ** 70) and [q.rule for q in ev.quality] == ["comment.type"]


def test_a_bad_review_turned_good_or_withdrawn_is_owed_no_callback_nor_appeal(database_url: str) -> None:
    """Its callback row stays (history), but the 差评 is gone: recording a callback queued an ``sbHf`` for a rating
    the province holds as good, and an appeal of a withdrawn rating asked the city to set aside nothing."""
    from gateway.citizen import CitizenError, record_callback

    engine = _ledger(database_url, "C1", "C2")
    later = T0 + timedelta(minutes=30)
    sync_evaluations(engine, load_citizen(), client=Pages([rating("R1", "C1", 1, T0, T0),
                                                           rating("R2", "C2", 1, T0, T0)]), calendar=CAL, now=T0)
    sync_evaluations(engine, load_citizen(), client=Pages([rating("R1", "C1", 5, T0, later),
                                                           rating("R2", "C2", 1, T0, later, revoked=1)]),
                     calendar=CAL, now=later)
    with pytest.raises(CitizenError) as turned_good:
        record_callback(engine, "R1", "已回访", at=later, calendar=CAL)
    assert turned_good.value.issue.rule == "callback.bad_only"
    with pytest.raises(CitizenError) as withdrawn:
        record_callback(engine, "R2", "已回访", at=later, calendar=CAL)
    assert (withdrawn.value.issue.field, withdrawn.value.issue.rule) == ("revoked", "callback.revoked")
    with pytest.raises(CitizenError) as appeal:
        file_appeal(engine, "R2", "评价人误选", at=later)
    assert appeal.value.issue.rule == "appeal.revoked"
    with engine.connect() as conn:
        keys = conn.execute(select(citizen_outbox.c.key)).scalars().all()
    assert not [k for k in keys if k.startswith(("callback:", "appeal:"))]


class _Overlapping(Province):
    """A province whose first answer arrives while a second run starts (the DAG's and an operator's command);
    ``rejects``: it rejects every appeal asked about."""

    def __init__(self, second_run: Any, *, rejects: bool = False) -> None:
        super().__init__()
        self.second_run, self.rejects, self.second = second_run, rejects, None

    def call(self, operation: str, data: dict[str, Any]) -> dict[str, Any]:
        if self.second is None and self.second_run is not None:
            self.second = "started"
            try:
                self.second = self.second_run()
            except Exception as exc:  # noqa: BLE001 - what the second run met is the test's to judge
                self.second = exc
        if self.rejects and operation == "cxSs":
            self.sent.append((operation, data.get("pjbh"), None))
            return {"fhdm": "0000", "zt": "2", "shyj": "申诉不成立"}
        return super().call(operation, data)


def test_two_deliveries_at_once_do_not_send_each_item_twice(database_url: str) -> None:
    from gateway.contract.errors import LeaseHeldError

    engine = _ledger(database_url, "C1", "C2")
    sync_evaluations(engine, load_citizen(), client=Pages([rating("R1", "C1", 1, T0, T0),
                                                           rating("R2", "C2", 5, T0, T0)]), calendar=CAL, now=T0)
    second = Province()
    first = _Overlapping(lambda: deliver(engine, "provincial_pj", second, now=T0 + timedelta(minutes=1)))
    report = deliver(engine, "provincial_pj", first, now=T0 + timedelta(minutes=1))
    assert isinstance(first.second, LeaseHeldError) and second.sent == []
    assert report.delivered == 2 and [s[1] for s in first.sent] == ["R1", "R2"]


def test_two_appeal_polls_at_once_send_a_rejected_appeal_up_once(database_url: str) -> None:
    from gateway.contract.errors import LeaseHeldError

    engine = _ledger(database_url, "C1")
    sync_evaluations(engine, load_citizen(), client=Pages([rating("R1", "C1", 1, T0, T0)]), calendar=CAL, now=T0)
    file_appeal(engine, "R1", "评价人误选", at=T0 + timedelta(minutes=5))
    deliver(engine, "provincial_pj", Province(), now=T0 + timedelta(minutes=10))
    later = T0 + timedelta(hours=1)
    province = _Overlapping(lambda: poll_appeals(engine, _Overlapping(None, rejects=True), now=later), rejects=True)
    changes = poll_appeals(engine, province, now=later)
    assert isinstance(province.second, LeaseHeldError)
    assert [(c["level"], c["next"]) for c in changes] == [("city", "province")]
    with engine.connect() as conn:
        keys = conn.execute(select(citizen_outbox.c.key).where(citizen_outbox.c.key.like("appeal:%"))).scalars().all()
    assert sorted(keys) == ["appeal:R1:2", "appeal:R1:3"]
