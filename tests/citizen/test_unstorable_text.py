"""Text no store can hold — a lone surrogate (JSON carries ``\\ud800``) anywhere, a NUL on PostgreSQL — costs
neither the page nor the record: in free text it becomes U+FFFD with a quality flag naming record, field and rule;
in a record's own key it is one dead letter, and the rest of the page is kept (the watermark moves)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from citizen_testlib import Pages, add_case, migrated, order, rating
from sqlalchemy import select

from gateway.citizen import (
    load_citizen,
    replay_evaluations,
    replay_workorders,
    sync_evaluations,
    sync_workorders,
)
from gateway.citizen.conventions import from_evaluator, from_hotline
from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar
from gateway.store import citizen as store
from gateway.store.tables import citizen_outbox, dead_letters, watermarks

T = datetime(2026, 12, 1, 10, 0, tzinfo=BEIJING)
HOSTILE = {"surrogate": "差\ud800评", "nul": "差\x00评"}


@pytest.mark.parametrize("label", sorted(HOSTILE))
def test_the_parsers_replace_and_flag(label: str) -> None:
    ev = from_evaluator(rating("R1", "C1", 1, T, T, comment=HOSTILE[label], staffNo="S\x00"))
    assert ev.comment == "差\ufffd评" and ev.staff == "S\ufffd"
    assert {(i.record, i.field, i.rule) for i in ev.quality} == {("evaluator:R1", "comment", "text.unstorable"),
                                                                 ("evaluator:R1", "staff", "text.unstorable")}
    assert "quality" not in ev.model_dump()  # a flag is not content: the content hash stays as it was
    wo = from_hotline(order("G1", "待转派", T, T, nr="投诉" + HOSTILE[label]))
    assert wo.content == "投诉差\ufffd评"
    assert [(i.record, i.field, i.rule) for i in wo.quality] == [("hotline:G1", "content", "text.unstorable")]


def test_clean_records_carry_no_flag() -> None:
    assert from_evaluator(rating("R1", "C1", 1, T, T, comment="差评")).quality == ()
    assert from_hotline(order("G1", "待转派", T, T)).quality == ()


def test_a_page_with_hostile_text_is_kept_whole(database_url: str) -> None:
    engine = migrated(database_url)
    settings, calendar = load_citizen(), WorkCalendar.load()
    add_case(engine, "C1", T - timedelta(hours=1))
    add_case(engine, "C2", T - timedelta(hours=1))
    try:
        for n, (label, text) in enumerate(sorted(HOSTILE.items())):
            at = T + timedelta(minutes=n)
            page = [rating(f"R-{label}", "C1", 1, at, at, comment=text), rating(f"OK-{label}", "C2", 5, at, at)]
            report = sync_evaluations(engine, settings, client=Pages(page), calendar=calendar, now=at)  # type: ignore[arg-type]
            assert report.inserted == 2 and report.rejected == 0
            assert report.flagged == 1 and "comment" in report.flags[0] and "text.unstorable" in report.flags[0]
            orders = [order(f"G-{label}", "待转派", at, at, nr=f"投诉{text}", sqr=f"张{text}"),
                      order(f"G-OK-{label}", "待转派", at, at)]
            done = sync_workorders(engine, settings, client=Pages(orders), calendar=calendar, now=at)  # type: ignore[arg-type]
            assert done.new == 2 and done.rejected == 0
            assert done.flagged == 2 and done.as_dict()["flagged"] == 2  # the content and the applicant's name
            with engine.connect() as conn:
                assert store.evaluation(conn, f"R-{label}")["comment"] == "差\ufffd评"
                assert store.evaluation(conn, f"OK-{label}") is not None
                held = store.workorder(conn, f"G-{label}")
                assert held["content"] == "投诉差\ufffd评"
                assert store.workorder(conn, f"G-OK-{label}") is not None
        with engine.connect() as conn:
            marks = conn.execute(select(watermarks.c.cursor)  # the syncs' marks, not when each source was first read
                                 .where(watermarks.c.stream != "first_read")).scalars().all()
            payloads = conn.execute(select(citizen_outbox.c.payload).where(citizen_outbox.c.key.like("rating:R-%"))
                                    ).scalars().all()
        assert len(marks) == 2 and all(m is not None for m in marks)
        assert len(payloads) == 2 and all("\\ufffd" in p or "\ufffd" in p for p in payloads)
    finally:
        engine.dispose()


def _letters(engine: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(dead_letters.c.source_id, dead_letters.c.reason, dead_letters.c.issues,
                                        dead_letters.c.raw, dead_letters.c.status)))


def test_a_hostile_key_is_one_dead_letter_and_the_page_goes_on(database_url: str) -> None:
    engine = migrated(database_url)
    settings, calendar = load_citizen(), WorkCalendar.load()
    add_case(engine, "C2", T - timedelta(hours=1))
    try:
        page = [rating("R\ud800", "C1", 1, T, T), rating("R\x00", "C1", 1, T, T), rating("OK", "C2", 5, T, T)]
        report = sync_evaluations(engine, settings, client=Pages(page), calendar=calendar, now=T)  # type: ignore[arg-type]
        assert report.inserted == 1 and report.rejected == 2
        letters = _letters(engine)
        assert len(letters) == 2
        assert all(d.source_id.startswith("sha256:") and '"rule": "key.unstorable"' in d.issues.replace('":"', '": "')
                   for d in letters)
        assert any("\\ud800" in d.raw for d in letters)  # the payload as sent, escaped: nothing lost
        orders = [order("G\ud800", "待转派", T, T), order("G-OK", "待转派", T, T)]
        done = sync_workorders(engine, settings, client=Pages(orders), calendar=calendar, now=T)  # type: ignore[arg-type]
        assert done.new == 1 and done.rejected == 1
        # the replays read what they can and never crash on the escaped surrogate
        assert replay_evaluations(engine, settings, calendar=calendar, now=T).inserted == 0
        assert replay_workorders(engine, settings, calendar=calendar, now=T).new == 0
        assert len([d for d in _letters(engine) if d.status == "open"]) == 3
    finally:
        engine.dispose()
