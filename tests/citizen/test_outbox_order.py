"""The citizen outbox holds back what its receiver would refuse for good: a callback or appeal before its rating
has arrived, a signature or reply before the dispatch, the redo's reply before the first; and an item whose
prerequisite died dies with it, in the dead-letter store."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select

from gateway.citizen.outbox import deliver, prerequisite, queue_item
from gateway.contract.errors import RetriableSyncError, WriteRejectedError
from gateway.store import citizen as store
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import citizen_outbox, dead_letters

NOW = datetime(2026, 9, 1, 9, 0, tzinfo=timezone.utc)


class Receiver:
    def __init__(self, refuse: dict[str, type[Exception]]) -> None:
        self.refuse, self.calls = refuse, []

    def call(self, op: str, data: dict[str, Any]) -> Any:
        error = self.refuse.get(data["pjbh"] + ":" + op)
        if error is not None:
            raise error(f"{op} refused")
        self.calls.append((op, data["pjbh"]))
        return {"fhdm": "0000"}


def test_prerequisites() -> None:
    assert prerequisite("callback:R1:1") == prerequisite("appeal:R1:3") == "rating:R1"
    assert prerequisite("callback:R1:2") == "callback:R1:1"  # the rectification answers the callback
    assert prerequisite("rating:R1:1") == "rating:R1" and prerequisite("rating:R1:3") == "rating:R1:2"
    assert prerequisite("rating:R1") is None
    assert prerequisite("qs:G1") == "zp:G1" and prerequisite("df:G1:0") == "qs:G1"
    assert prerequisite("df:G1:1") == "df:G1:0" and prerequisite("rating:R1") is None


@pytest.fixture
def engine(sqlite_url: str) -> Any:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    with engine.begin() as conn:
        store.enqueue(conn, [queue_item("provincial_pj", "rating:R1", "sbPj", {"pjbh": "R1"}, now=NOW),
                             queue_item("provincial_pj", "callback:R1:1", "sbHf", {"pjbh": "R1"}, now=NOW),
                             queue_item("provincial_pj", "rating:R2", "sbPj", {"pjbh": "R2"}, now=NOW),
                             queue_item("provincial_pj", "appeal:R2:3", "tjSs", {"pjbh": "R2"}, now=NOW)])
    yield engine
    engine.dispose()


def test_a_callback_waits_for_its_rating(engine: Any) -> None:
    busy = Receiver({"R1:sbPj": RetriableSyncError})
    first = deliver(engine, "provincial_pj", busy, now=NOW)
    assert first.retried == 1 and first.waiting == 1 and ("sbHf", "R1") not in busy.calls
    ready = Receiver({})
    later = deliver(engine, "provincial_pj", ready, now=NOW + timedelta(hours=1))
    assert ready.calls == [("sbPj", "R1"), ("sbHf", "R1")] and later.delivered == 2


def test_an_item_dies_with_its_prerequisite(engine: Any) -> None:
    deliver(engine, "provincial_pj", Receiver({"R2:sbPj": WriteRejectedError}), now=NOW)
    deliver(engine, "provincial_pj", Receiver({}), now=NOW + timedelta(hours=1))
    with engine.connect() as conn:
        states = dict(conn.execute(select(citizen_outbox.c.key, citizen_outbox.c.status)).tuples().all())
        letters = {r.source_id: r.reason for r in conn.execute(select(dead_letters))}
    assert states["rating:R2"] == states["appeal:R2:3"] == "dead"
    assert states["callback:R1:1"] == "delivered"
    assert "prerequisite rating:R2" in letters["appeal:R2:3"] and "sbPj refused" in letters["rating:R2"]


def test_a_rectification_waits_for_its_callback_and_dies_with_it(engine: Any) -> None:
    with engine.begin() as conn:
        store.enqueue(conn, [queue_item("provincial_pj", "callback:R1:2", "sbHf", {"pjbh": "R1", "lx": "2"},
                                        now=NOW)])
    busy = Receiver({"R1:sbHf": RetriableSyncError})  # the callback backs off; the rectification must not pass it
    deliver(engine, "provincial_pj", busy, now=NOW)
    with engine.connect() as conn:
        tried = dict(conn.execute(select(citizen_outbox.c.key, citizen_outbox.c.attempts)).tuples().all())
    assert tried["callback:R1:1"] == 1 and tried["callback:R1:2"] == 0  # held back, never offered
    deliver(engine, "provincial_pj", Receiver({"R1:sbHf": WriteRejectedError}), now=NOW + timedelta(hours=1))
    with engine.connect() as conn:
        states = dict(conn.execute(select(citizen_outbox.c.key, citizen_outbox.c.status)).tuples().all())
        letters = {r.source_id: r.reason for r in conn.execute(select(dead_letters))}
    assert states["callback:R1:1"] == states["callback:R1:2"] == "dead"
    assert "prerequisite callback:R1:1" in letters["callback:R1:2"]
