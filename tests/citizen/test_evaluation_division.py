"""A rating the collection point sent without its division (areaCode): the provincial system refuses one without
``xzqh`` for good, and the callback and rectification with it. It is reported under its case's division when the
ledger knows the case, else under the district configured in the citizen settings, else refused at once — a dead
letter naming the field and the rule, replayable once the case has arrived."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
import requests
from citizen_testlib import Pages, add_case, migrated, point_settings, rating, start
from sqlalchemy import select

from gateway.citizen import (
    ProvincialClient,
    deliver,
    load_citizen,
    parse_citizen,
    record_callback,
    replay_evaluations,
    sync_evaluations,
)
from gateway.contract.errors import ConfigError
from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar
from gateway.store import citizen as store
from gateway.store.tables import citizen_outbox, dead_letters

T0 = datetime(2026, 9, 1, 10, 0, tzinfo=BEIJING)


def _no_area(rating_id: str, case_no: str) -> dict[str, Any]:
    raw = rating(rating_id, case_no, 1, T0, T0, channel="app")
    del raw["areaCode"]
    return raw


def _sent_xzqh(engine: Any) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(select(citizen_outbox.c.key, citizen_outbox.c.payload)
                            .where(citizen_outbox.c.operation == "sbPj"))
        return {k: orjson.loads(p)["xzqh"] for k, p in rows}


def test_a_rating_without_division_reaches_the_province_under_its_cases(sqlite_url: str,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox = start({"evaluator": 0, "hotline": 0})
    try:
        settings = point_settings(monkeypatch, sandbox)
        engine, calendar = migrated(sqlite_url), WorkCalendar.load()
        add_case(engine, "C1", T0 - timedelta(hours=1), division_code="370103")
        report = sync_evaluations(engine, settings, client=Pages([_no_area("R1", "C1")]), calendar=calendar, now=T0)
        assert report.inserted == 1 and report.rejected == 0
        record_callback(engine, "R1", "已回访", at=T0 + timedelta(hours=1), calendar=calendar)
        client = ProvincialClient(settings.provincial_pj)
        try:
            sent = deliver(engine, "provincial_pj", client, now=T0 + timedelta(hours=2))
        finally:
            client.close()
        assert sent.delivered == 2 and sent.dead == 0, sent.errors
        received = requests.get(sandbox.admin_urls["provincial_pj"] + "/_sandbox/received", timeout=10).json()
        assert received["records"]["R1"]["xzqh"] == "370103" and received["callbacks"] == {"R1:1": 1}
        with engine.connect() as conn:
            assert store.evaluation(conn, "R1")["division"] == "370103"
        engine.dispose()
    finally:
        sandbox.stop()


def test_without_its_case_the_configured_district_else_a_dead_letter(sqlite_url: str) -> None:
    engine, calendar = migrated(sqlite_url), WorkCalendar.load()
    plain = load_citizen()
    report = sync_evaluations(engine, dataclasses.replace(plain, district=None), client=Pages([_no_area("R1", "C9")]),
                              calendar=calendar, now=T0)
    assert report.inserted == 0 and report.rejected == 1 and _sent_xzqh(engine) == {}
    with engine.connect() as conn:
        letter = conn.execute(select(dead_letters).where(dead_letters.c.source_id == "R1")).mappings().one()
    issue = orjson.loads(letter["issues"])[0]
    assert (issue["record"], issue["field"], issue["rule"]) == ("evaluator:R1", "division", "division.required")
    assert letter["status"] == "open" and "C9" in letter["reason"]

    add_case(engine, "C9", T0 - timedelta(hours=1), division_code="370104")  # the case sync brings its case
    replayed = replay_evaluations(engine, plain, calendar=calendar, now=T0 + timedelta(hours=1))
    assert replayed.inserted == 1 and _sent_xzqh(engine) == {"rating:R1": "370104"}

    district = dataclasses.replace(plain, district="370102")
    sync_evaluations(engine, district, client=Pages([_no_area("R2", "C10")]), calendar=calendar, now=T0)
    assert _sent_xzqh(engine)["rating:R2"] == "370102"
    again = sync_evaluations(engine, district, client=Pages([_no_area("R2", "C10")]), calendar=calendar, now=T0)
    assert again.unchanged == 1  # the same rating read again is no revision
    engine.dispose()


def test_the_district_setting_is_a_division_code() -> None:
    base = "\n".join(f"{n}: {{endpoint: http://127.0.0.1:1}}" for n in ("evaluator", "provincial_pj", "hotline"))
    assert parse_citizen(base).district is None
    assert parse_citizen(base + "\ndistrict: '370102'\n").district == "370102"
    with pytest.raises(ConfigError, match="district"):
        parse_citizen(base + "\ndistrict: '37010'\n")
