"""A character JSON carries and XML 1.0 cannot (``很好\\x01``) is never sent raw to the provincial system: it goes
as U+FFFD. And one item the receiver refuses as unparseable does not hold up the queue: it dies with the
receiver's words, delivery goes on with the next; only failures in a row, the receiver's, stop a run."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from typing import Any

import pytest
from http_testlib import Answer, ScriptedServer, Seen
from sqlalchemy import select

from gateway.citizen.clients import PJ_NS, ProvincialClient
from gateway.citizen.outbox import deliver, queue_item
from gateway.citizen.settings import Endpoint
from gateway.contract.errors import FatalSyncError
from gateway.store import citizen as store
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import citizen_outbox, dead_letters

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)
_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"


def _envelope(inner: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{_SOAP}"><soap:Body>{inner}'
            "</soap:Body></soap:Envelope>").encode()


def _fault(message: str) -> Answer:
    return Answer(500, {"Content-Type": "text/xml; charset=utf-8"},
                  _envelope(f"<soap:Fault><faultcode>soap:Client</faultcode><faultstring>{message}</faultstring>"
                            "</soap:Fault>"))


class Province:
    """A provincial 好差评 system that parses what it gets, as the real one does; ``poison`` ratings it refuses."""

    def __init__(self, poison: frozenset[str] = frozenset()) -> None:
        self.poison, self.received = poison, {}

    def __call__(self, request: Seen) -> Answer:
        try:
            root = ET.fromstring(request.body)
        except ET.ParseError as exc:
            return _fault(f"报文无法解析：{exc}")
        fields = {child.tag.split("}")[-1]: child.text or "" for child in root.iter() if child.tag.startswith(f"{{{PJ_NS}}}")}
        if fields.get("pjbh") in self.poison:
            return _fault("报文无法解析")
        self.received[fields["pjbh"]] = fields
        return Answer(200, {"Content-Type": "text/xml; charset=utf-8"},
                      _envelope(f'<pj:sbPjResponse xmlns:pj="{PJ_NS}"><pj:fhdm>0000</pj:fhdm></pj:sbPjResponse>'))


@pytest.fixture
def engine(sqlite_url: str) -> Any:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    with engine.begin() as conn:
        store.enqueue(conn, [queue_item("provincial_pj", f"rating:{r}", "sbPj", {"pjbh": r, "pjnr": text}, now=NOW)
                             for r, text in (("R1", "很好\x01"), ("R2", "不满意\x1f\ufffe"), ("R3", "满意"))])
    yield engine
    engine.dispose()


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("T_APP_ID", "app")
    monkeypatch.setenv("T_APP_KEY", "key\x02")
    return lambda url: Endpoint("provincial_pj", url, {"app_id": "T_APP_ID", "app_key": "T_APP_KEY"})


def _statuses(engine: Any) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(select(citizen_outbox.c.key, citizen_outbox.c.status)).tuples().all())


def test_characters_xml_cannot_carry_go_as_replacement_characters(engine: Any, endpoint: Any) -> None:
    province = Province()
    with ScriptedServer(province) as server:
        report = deliver(engine, "provincial_pj", ProvincialClient(endpoint(server.url)), now=NOW)
    assert report.delivered == 3 and report.dead == 0
    assert province.received["R1"]["pjnr"] == "很好\ufffd"
    assert province.received["R2"]["pjnr"] == "不满意\ufffd\ufffd"
    assert province.received["R3"]["pjnr"] == "满意"


def test_an_item_refused_as_unparseable_dies_alone(engine: Any, endpoint: Any) -> None:
    province = Province(poison=frozenset({"R1"}))
    with ScriptedServer(province) as server:
        report = deliver(engine, "provincial_pj", ProvincialClient(endpoint(server.url)), now=NOW)
    assert report.delivered == 2 and report.dead == 1
    assert sorted(province.received) == ["R2", "R3"]
    assert _statuses(engine) == {"rating:R1": "dead", "rating:R2": "delivered", "rating:R3": "delivered"}
    with engine.connect() as conn:
        reason = conn.execute(select(dead_letters.c.reason)).scalar_one()
    assert reason.startswith("provincial_pj:rating:R1:") and "报文无法解析" in reason


class Unplaceable:
    """A sender whose answers for ``bad`` items the client cannot place (FatalSyncError)."""

    def __init__(self, bad: set[str]) -> None:
        self.bad, self.sent = bad, []

    def call(self, op: str, data: dict[str, Any]) -> Any:
        if data["pjbh"] in self.bad:
            raise FatalSyncError(f"provincial_pj: {op}: HTTP 200, not XML")
        self.sent.append(data["pjbh"])
        return {"fhdm": "0000"}


def test_an_answer_the_client_cannot_place_fails_that_item_only(engine: Any) -> None:
    sender = Unplaceable({"R1"})
    report = deliver(engine, "provincial_pj", sender, now=NOW)
    assert sender.sent == ["R2", "R3"] and report.delivered == 2 and report.retried == 1
    assert _statuses(engine)["rating:R1"] == "pending"  # tried again later, dead after max_attempts


def test_failures_in_a_row_are_the_receiver_and_stop_the_run(engine: Any) -> None:
    with pytest.raises(FatalSyncError, match="3 items in a row"):
        deliver(engine, "provincial_pj", Unplaceable({"R1", "R2", "R3"}), now=NOW)
    assert set(_statuses(engine).values()) == {"pending"}  # nothing lost: each waits for its next attempt
