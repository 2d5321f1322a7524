"""The 好差评 and 12345 syncs keep what they refuse the way the case sync does: a rating or a work order that cannot
be used is a dead letter whose raw payload — the citizen's comment, the complaint text, a name, a phone number —
is sealed whole on a ledger with keys; its replay opens it; and a sync or replay without the ledger's keys is
refused before it writes anything (it would write those payloads in clear beside the sealed ones)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from citizen_testlib import Pages, add_case, migrated, order, rating
from sqlalchemy import func, select

from gateway.citizen import (
    evaluations,
    load_citizen,
    replay_evaluations,
    replay_workorders,
    sync_evaluations,
    sync_workorders,
    workorders,
)
from gateway.contract.errors import ConfigError
from gateway.crypto import GatewayKeys
from gateway.crypto.pii import PiiCodec
from gateway.ops.dead_letters import dead_letter_detail
from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar
from gateway.store.tables import citizen_evaluations, citizen_workorders, dead_letters

T0 = datetime(2026, 9, 1, 10, 0, tzinfo=BEIJING)
COMMENT = "窗口人员态度差 联系电话13912345678"


def _dead(engine: Any, system: str) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(select(dead_letters.c.id, dead_letters.c.raw, dead_letters.c.status)
                            .where(dead_letters.c.system == system)).all()


def _count(engine: Any, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_refused_rating_is_sealed_at_rest_and_its_replay_opens_it(database_url: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    engine, settings, calendar = migrated(database_url), load_citizen(), WorkCalendar.load()
    pii = PiiCodec(GatewayKeys.generate())
    add_case(engine, "C1", T0 - timedelta(hours=1))
    refused = rating("R1", "C1", 1, T0, T0, channel="wechat", comment=COMMENT)  # an unknown channel
    report = sync_evaluations(engine, settings, client=Pages([refused]), calendar=calendar, now=T0, pii=pii)
    assert report.rejected == 1
    [(dead_id, raw, status)] = _dead(engine, "evaluator")
    assert status == "open" and raw.startswith("encb:v1:") and "13912345678" not in raw
    detail = dead_letter_detail(engine, dead_id, pii)  # the operator's view opens it (and masks the phone)
    assert '"ratingId": "R1"' in detail["raw"] and "139****5678" in detail["raw"]

    accepting = evaluations.from_evaluator
    monkeypatch.setattr(evaluations, "from_evaluator", lambda raw: accepting({**raw, "channel": "app"}))
    replayed = replay_evaluations(engine, settings, calendar=calendar, now=T0 + timedelta(hours=1), pii=pii)
    assert replayed.inserted == 1
    assert [r.status for r in _dead(engine, "evaluator")] == ["resolved"]
    with engine.connect() as conn:
        assert pii.open_blob(conn.execute(select(citizen_evaluations.c.comment)).scalar_one()) == COMMENT


def test_a_refused_work_order_is_sealed_at_rest_and_its_replay_opens_it(database_url: str,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    engine, settings, calendar = migrated(database_url), load_citizen(), WorkCalendar.load()
    pii = PiiCodec(GatewayKeys.generate())
    refused = order("G1", "待转派", T0, T0, gdlx="9", nr=COMMENT)  # a matter type the conventions do not know
    report = sync_workorders(engine, settings, client=Pages([refused]), calendar=calendar,
                             now=T0 + timedelta(minutes=1), pii=pii)
    assert report.rejected == 1
    [(_, raw, _)] = _dead(engine, "hotline")
    assert raw.startswith("encb:v1:") and "13912345678" not in raw

    accepting = workorders.from_hotline
    monkeypatch.setattr(workorders, "from_hotline", lambda raw: accepting({**raw, "gdlx": "3"}))
    replayed = replay_workorders(engine, settings, calendar=calendar, now=T0 + timedelta(minutes=2), pii=pii)
    assert replayed.dispatched == 1
    assert [r.status for r in _dead(engine, "hotline")] == ["resolved"]


def test_without_the_ledgers_keys_a_citizen_sync_or_replay_is_refused_before_it_writes(database_url: str) -> None:
    engine, settings, calendar = migrated(database_url), load_citizen(), WorkCalendar.load()
    pii = PiiCodec(GatewayKeys.generate())
    sync_evaluations(engine, settings, client=Pages([rating("R1", "C1", 1, T0, T0, channel="wechat")]),
                     calendar=calendar, now=T0, pii=pii)  # the ledger is sealed from here on
    later = [rating("R2", "C1", 5, T0, T0 + timedelta(hours=1), comment=COMMENT)]
    with pytest.raises(ConfigError, match="sync the 好差评 ratings: this ledger's personal data is sealed"):
        sync_evaluations(engine, settings, client=Pages(later), calendar=calendar, now=T0 + timedelta(hours=1))
    with pytest.raises(ConfigError, match="sync the 12345 work orders"):
        sync_workorders(engine, settings, client=Pages([order("G1", "待转派", T0, T0, gdlx="9", nr=COMMENT)]),
                        calendar=calendar, now=T0)
    with pytest.raises(ConfigError, match="replay the 好差评 ratings' dead letters"):
        replay_evaluations(engine, settings, calendar=calendar, now=T0)
    with pytest.raises(ConfigError, match="another|not this ledger's"):  # another ledger's key file
        replay_workorders(engine, settings, calendar=calendar, now=T0, pii=PiiCodec(GatewayKeys.generate()))
    assert _count(engine, citizen_evaluations) == _count(engine, citizen_workorders) == 0
    assert len(_dead(engine, "evaluator")) == 1 and _dead(engine, "hotline") == []


def test_a_dead_letter_sealed_under_a_key_not_in_the_key_file_stays_open(database_url: str,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    engine, settings, calendar = migrated(database_url), load_citizen(), WorkCalendar.load()
    old = GatewayKeys.generate()
    sync_evaluations(engine, settings, client=Pages([rating("R1", "C1", 1, T0, T0, channel="wechat")]),
                     calendar=calendar, now=T0, pii=PiiCodec(old))
    # the same ledger's keys without the key that sealed it (dropped from the file too early after a rotation)
    rotated = old.rotated()
    without = GatewayKeys({rotated.pii_current: rotated.pii_keys[rotated.pii_current]}, rotated.pii_current,
                          rotated.blind_index_key, rotated.mac_key, rotated.signing_key)
    accepting = evaluations.from_evaluator
    monkeypatch.setattr(evaluations, "from_evaluator", lambda raw: accepting({**raw, "channel": "app"}))
    report = replay_evaluations(engine, settings, calendar=calendar, now=T0, pii=PiiCodec(without))
    assert report.read == 0 and [r.status for r in _dead(engine, "evaluator")] == ["open"]


def test_a_damaged_sealed_dead_letter_stays_open_and_the_replay_goes_on(database_url: str,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Review: sealed text that is not base64 any more (a bad copy, a hand edit) aborted the whole replay."""
    engine, settings, calendar = migrated(database_url), load_citizen(), WorkCalendar.load()
    pii = PiiCodec(GatewayKeys.generate())
    sync_evaluations(engine, settings, client=Pages([rating("R1", "C1", 1, T0, T0, channel="wechat"),
                                                     rating("R2", "C1", 1, T0, T0, channel="wechat")]),
                     calendar=calendar, now=T0, pii=pii)
    with engine.begin() as conn:
        conn.execute(dead_letters.update().where(dead_letters.c.source_id == "R1")
                     .values(raw=f"encb:v1:{pii.current}:@@not base64@@"))
    accepting = evaluations.from_evaluator
    monkeypatch.setattr(evaluations, "from_evaluator", lambda raw: accepting({**raw, "channel": "app"}))
    report = replay_evaluations(engine, settings, calendar=calendar, now=T0, pii=pii)
    assert report.inserted == 1
    with engine.connect() as conn:
        states = dict(conn.execute(select(dead_letters.c.source_id, dead_letters.c.status)).all())
    assert states == {"R1": "open", "R2": "resolved"}


def test_without_the_ledgers_keys_appeals_are_not_even_asked_about(database_url: str) -> None:
    """Review: poll_appeals asked the province first and was refused only when it queued the next level."""
    from gateway.citizen import poll_appeals

    engine, settings, calendar = migrated(database_url), load_citizen(), WorkCalendar.load()
    sync_evaluations(engine, settings, client=Pages([rating("R1", "C1", 1, T0, T0, channel="wechat")]),
                     calendar=calendar, now=T0, pii=PiiCodec(GatewayKeys.generate()))  # the ledger is sealed

    class Province:
        def call(self, operation: str, payload: Any) -> Any:
            raise AssertionError(f"asked the province {operation} without the ledger's keys")

    with pytest.raises(ConfigError, match="ask the province about appeals"):
        poll_appeals(engine, Province())  # type: ignore[arg-type]
