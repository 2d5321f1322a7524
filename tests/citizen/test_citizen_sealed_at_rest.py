"""On a ledger with keys the citizen side keeps the citizens' words sealed — a rating's comment, a 12345 complaint,
every message queued for the province or the platform (a reply to a citizen names them) — and sends them as they
were written. Real HTTP on every side: the sandbox collection point, provincial 好差评 system and 12345 platform,
the gateway API; both backends. A process without the ledger's keys is refused before it queues or sends."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
import requests
from citizen_testlib import (
    Pages,
    collection_point,
    handed_at,
    hotline,
    hotline_clock,
    hotline_platform,
    migrated,
    order,
    rating,
)
from gateway_testlib import bearer, make_gateway, serve
from sqlalchemy import select

from gateway.citizen import (
    ProvincialClient,
    deliver,
    list_workorders,
    load_citizen,
    record_callback,
    sync_evaluations,
    sync_workorders,
)
from gateway.contract.errors import ConfigError
from gateway.crypto import GatewayKeys
from gateway.crypto.pii import PiiCodec
from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar
from gateway.store.retention import reseal_all, seal_clear, stale_seals
from gateway.store.tables import citizen_evaluations, citizen_outbox, citizen_workorders

SEALED = "encb:v1:"


def _column(engine: Any, column: Any) -> list[str]:
    with engine.connect() as conn:
        return [v for v in conn.execute(select(column)).scalars() if v]


def test_ratings_comments_and_what_goes_to_the_province_are_sealed_and_sent_as_written(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with collection_point(database_url, monkeypatch, ratings=300) as (sandbox, settings, engine):
        keys = GatewayKeys.generate()
        pii = PiiCodec(keys)
        report = sync_evaluations(engine, settings, calendar=WorkCalendar.load(), pii=pii)
        served = {r["ratingId"]: r for r in map(orjson.loads, requests.get(
            sandbox.admin_urls["evaluator"] + "/_sandbox/records", timeout=10).text.splitlines())}
        assert report.inserted == len(served) > 200
        comments = _column(engine, citizen_evaluations.c.comment)
        assert comments and all(c.startswith(SEALED) for c in comments)
        assert sorted(pii.open_blob(c) for c in comments) == sorted(r["comment"] for r in served.values()
                                                                     if r.get("comment"))
        assert all(p.startswith(SEALED) for p in _column(engine, citizen_outbox.c.payload))

        client = ProvincialClient(settings.provincial_pj)
        with pytest.raises(ConfigError, match="send the queued messages to provincial_pj"):
            deliver(engine, "provincial_pj", client)  # a worker whose key file was not mounted sends nothing
        sent = deliver(engine, "provincial_pj", client, limit=10_000, pii=pii)
        assert sent.delivered == len(served) and not sent.errors
        received = requests.get(sandbox.admin_urls["provincial_pj"] + "/_sandbox/received", timeout=10).json()
        assert {k: r.get("pjnr") or "" for k, r in received["records"].items()} == {
            k: r.get("comment") or "" for k, r in served.items()}  # the province has the words as written

        bad = next(k for k, r in served.items() if r["grade"] <= 2)
        with pytest.raises(ConfigError, match="queue messages for provincial_pj"):
            record_callback(engine, bad, "已电话回访王先生")  # nothing queued in clear on a sealed ledger
        record_callback(engine, bad, "已电话回访王先生", pii=pii)
        with engine.connect() as conn:
            queued = conn.execute(select(citizen_outbox.c.payload)
                                  .where(citizen_outbox.c.key == f"callback:{bad}:1")).scalar_one()
        assert queued.startswith(SEALED) and orjson.loads(pii.open_blob(queued))["jg"] == "已电话回访王先生"
        client.close()


def test_complaints_and_replies_are_sealed_and_a_department_reads_them_over_the_api(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with hotline(database_url, monkeypatch, orders=30) as (sandbox, settings, engine, calendar, client, orders):
        keys = GatewayKeys.generate()
        pii = PiiCodec(keys)
        now = max(map(handed_at, orders)) + timedelta(minutes=10)
        hotline_clock(sandbox, now)
        sync_workorders(engine, settings, client=client, calendar=calendar, now=now, pii=pii)
        deliver(engine, "hotline", client, now=now, pii=pii)
        contents = _column(engine, citizen_workorders.c.content)
        assert len(contents) == len(orders) and all(c.startswith(SEALED) for c in contents)
        assert all(p.startswith(SEALED) for p in _column(engine, citizen_outbox.c.payload))

        routed = next(o for o in list_workorders(engine, limit=1000) if o["status"] == "dispatched")
        written = next(o["nr"] for o in orders if o["gdbh"] == routed["order_no"])
        gw = make_gateway(engine, keys=keys, rate_limit=100_000)
        department = gw.clients.add("dept_system", department_code=routed["dept_code"], scopes=["workorders"])
        reply = "张先生您好：您反映的问题已核实处理。"
        for server in serve(gw, webhook_interval=0):
            url = f"{server.url}/v1/workorders/{routed['order_no']}"
            auth = bearer(department.credential)
            one = requests.get(url, headers=auth, timeout=30)
            assert one.status_code == 200 and one.json()["content"] == written, one.text
            answered = requests.post(url + "/reply", json={"text": reply}, headers=auth, timeout=30)
            assert answered.status_code == 200, answered.text
        with engine.connect() as conn:
            queued = conn.execute(select(citizen_outbox.c.payload)
                                  .where(citizen_outbox.c.key == f"df:{routed['order_no']}:0")).scalar_one()
        assert queued.startswith(SEALED) and reply not in queued

        later = datetime.now(BEIJING) + timedelta(minutes=1)
        hotline_clock(sandbox, later)
        for step in range(2):  # the signature, then the reply that waited for it
            deliver(engine, "hotline", client, now=later + timedelta(minutes=5 * step), pii=pii)
        platform = {o["gdbh"]: o for o in hotline_platform(sandbox)["orders"]}
        assert platform[routed["order_no"]]["dfnr"] == reply  # the platform has the reply as written


def test_keys_rotate_seals_citizen_texts_kept_in_clear_and_reseals_them_under_a_new_key(sqlite_url: str) -> None:
    """What an older Tongban (or a ledger before its keys) kept in clear is sealed by `keys rotate`; what is sealed
    moves to the new key with the rest, and is counted while it has not."""
    engine, settings, calendar = migrated(sqlite_url), load_citizen(), WorkCalendar.load()
    at = datetime(2026, 9, 1, 10, 0, tzinfo=BEIJING)
    sync_evaluations(engine, settings, client=Pages([rating("R1", "C1", 1, at, at, comment="王秀英 13912345678")]),
                     calendar=calendar, now=at)  # no keys: kept in clear
    sync_workorders(engine, settings, client=Pages([order("G1", "待转派", at, at, nr="李四投诉噪音")]),
                    calendar=calendar, now=at + timedelta(minutes=1))
    old = GatewayKeys.generate()
    counts = seal_clear(engine, PiiCodec(old))
    assert counts["citizen_evaluations.comment in clear"] == counts["citizen_workorders.content in clear"] == 1
    assert counts["citizen_outbox.payload in clear"] >= 2  # the rating for the province, the 12345 dispatch
    for column in (citizen_evaluations.c.comment, citizen_workorders.c.content, citizen_outbox.c.payload):
        assert all(v.startswith(SEALED) for v in _column(engine, column))
    assert seal_clear(engine, PiiCodec(old))["citizen_outbox.payload in clear"] == 0

    new = PiiCodec(old.rotated())
    stale = stale_seals(engine, new)
    assert stale["citizen_evaluations.comment"] == stale["citizen_workorders.content"] == 1
    reseal_all(engine, new)
    assert not any(stale_seals(engine, new).values())
    assert [new.open_blob(v) for v in _column(engine, citizen_evaluations.c.comment)] == ["王秀英 13912345678"]


class Recording:
    """A receiver that takes every message, or refuses the ones naming ``refuse`` for good, quoting them."""

    def __init__(self, refuse: str = "") -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.refuse = refuse

    def call(self, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
        if self.refuse and self.refuse in str(payload):
            from gateway.contract.errors import WriteRejectedError

            raise WriteRejectedError(f"refused {payload}: 来电人 370102198506011232 13912345678")
        self.sent.append((operation, payload))
        return {}


def test_a_message_that_cannot_be_opened_dies_alone_and_errors_are_kept_masked(sqlite_url: str) -> None:
    """Review: one queued message that would not open (damaged, or under a key gone from the key file) stopped every
    delivery run for good with nothing behind it sent; and a receiver's error quoting personal data went whole into
    the run's report (the CLI's output, the Airflow task's result)."""
    engine, settings, calendar = migrated(sqlite_url), load_citizen(), WorkCalendar.load()
    pii = PiiCodec(GatewayKeys.generate())
    at = datetime(2026, 12, 1, 9, 0, tzinfo=BEIJING)
    sync_workorders(engine, settings, client=Pages([order(no, "待转派", at, at) for no in ("G1", "G2", "G3")]),
                    calendar=calendar, now=at + timedelta(minutes=1), pii=pii)
    with engine.begin() as conn:
        conn.execute(citizen_outbox.update().where(citizen_outbox.c.key == "zp:G1")
                     .values(payload=f"encb:v1:{pii.current}:AAAA" + "B" * 40))  # does not authenticate
    receiver = Recording(refuse="G3")
    report = deliver(engine, "hotline", receiver, now=at + timedelta(minutes=2), pii=pii)
    assert [p["gdbh"] for _, p in receiver.sent] == ["G2"]  # sent past the one that would not open
    assert report.dead == 2 and report.delivered == 1
    shown = " ".join(report.errors)
    assert "370***********1232" in shown and "370102198506011232" not in shown and "13912345678" not in shown
    with engine.connect() as conn:
        states = dict(conn.execute(select(citizen_outbox.c.key, citizen_outbox.c.status)).all())
    assert states == {"zp:G1": "dead", "zp:G2": "delivered", "zp:G3": "dead"}
