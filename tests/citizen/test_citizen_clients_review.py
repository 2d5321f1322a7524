"""The citizen wing's clients, settings and misuse rules against what an outside review found (each test seen
failing against the code before its fix):

- an unknown ``fhdm`` (9999 系统繁忙) or none killed the rating on the first try, its callback and appeal with it;
- a SOAP answer declared GBK, a bad gzip body: errors the outbox did not catch — the queue stopped on the first
  item for good; a non-ASCII app id failed every call with a bare UnicodeEncodeError;
- a JSON answer in ``charset=GBK`` was "not JSON"; an endpoint's ``user:password@`` was quoted in errors;
- a device rating without ``deviceSn`` crashed ``detect_misuse``, and such ratings of five windows were one device;
- a withdrawn rating kept its misuse flag and alert after the scheduled (``stored_since``) run;
- ``callback_closing: 17:30`` unquoted was 10:50; ``burst_count: 0``, an empty ``dept_code``, a list for ``policy``;
- one appeal the province would not answer (2001 申诉不存在) stopped every poll;
- a rectification of a 差评 withdrawn after its callback was still reported up.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

import pytest
from citizen_testlib import Pages, add_case, migrated, rating
from http_testlib import Answer, ScriptedServer, Seen
from sqlalchemy import select

from gateway import citizen
from gateway.citizen.clients import HotlineClient, ProvincialClient
from gateway.citizen.outbox import queue_item
from gateway.citizen.settings import Endpoint, parse_citizen
from gateway.contract.errors import ConfigError, FatalSyncError, RetriableSyncError
from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar
from gateway.store import citizen as store
from gateway.store.tables import alerts, citizen_evaluations, citizen_outbox

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=BEIJING)
CAL = WorkCalendar.load()
_ENVELOPE = ('<?xml version="1.0" encoding="{enc}"?><soapenv:Envelope '
             'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:pj="http://hcp.sd.gov.cn/pj">'
             '<soapenv:Body><pj:sbPjResponse>{inner}</pj:sbPjResponse></soapenv:Body></soapenv:Envelope>')


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TONGBAN_EVALUATOR_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("REVIEW_APP_ID", "app")
    monkeypatch.setenv("REVIEW_APP_KEY", "key")


def _province(url: str) -> ProvincialClient:
    return ProvincialClient(Endpoint("provincial_pj", url, {"app_id": "REVIEW_APP_ID", "app_key": "REVIEW_APP_KEY"}))


def _answering(answers: dict[str, tuple[bytes, dict[str, str]]]) -> Any:
    def answer(request: Seen) -> Answer:
        rating_id = request.body.decode().split("<pj:pjbh>")[1].split("<")[0]
        body, headers = answers[rating_id]
        return Answer(200, {"Content-Type": "text/xml; charset=utf-8", **headers}, body)
    return answer


def _queued(engine: Any, *rating_ids: str) -> None:
    with engine.begin() as conn:
        store.enqueue(conn, [queue_item("provincial_pj", f"rating:{r}", "sbPj", {"pjbh": r}, now=T0)
                             for r in rating_ids])


def _outbox(engine: Any) -> list[tuple[Any, ...]]:
    o = citizen_outbox.c
    with engine.connect() as conn:
        return conn.execute(select(o.key, o.status, o.attempts).order_by(o.id)).all()


def test_an_answer_the_client_cannot_place_is_tried_again_and_stops_nothing(database_url: str) -> None:
    engine = migrated(database_url)
    _queued(engine, "R1", "R2", "R3", "R4", "R5")
    gbk = _ENVELOPE.format(enc="GBK", inner="<pj:fhdm>0000</pj:fhdm><pj:fhxx>接收成功</pj:fhxx>").encode("gbk")
    answers = {
        "R1": (_ENVELOPE.format(enc="UTF-8", inner="<pj:fhdm>9999</pj:fhdm><pj:fhxx>系统繁忙</pj:fhxx>").encode(), {}),
        "R2": (_ENVELOPE.format(enc="UTF-8", inner="").encode(), {}),
        "R3": (gbk, {"Content-Type": "text/xml; charset=GBK"}),
        "R4": (b"\x1f\x8b not gzip at all", {"Content-Encoding": "gzip"}),
        "R5": (_ENVELOPE.format(enc="UTF-8", inner="<pj:fhdm>0000</pj:fhdm>").encode(), {}),
    }
    with ScriptedServer(_answering(answers)) as server:
        report = citizen.deliver(engine, "provincial_pj", _province(server.url), now=T0)
    assert report.delivered == 2 and report.retried == 3 and report.dead == 0, report.as_dict()
    assert _outbox(engine) == [("rating:R1", "pending", 1), ("rating:R2", "pending", 1),
                               ("rating:R3", "delivered", 1), ("rating:R4", "pending", 1),
                               ("rating:R5", "delivered", 1)]


def test_a_client_says_which_setting_is_wrong_and_quotes_no_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEW_APPID", "应用一")
    monkeypatch.setenv("REVIEW_SECRET", "s")
    with pytest.raises(ConfigError, match=r"hotline.secrets.appid: the value is not ASCII"):
        HotlineClient(Endpoint("hotline", "http://127.0.0.1:9", {"appid": "REVIEW_APPID", "secret": "REVIEW_SECRET"}))
    with pytest.raises(RetriableSyncError) as refused:
        _province("http://gw:S3cretPass@127.0.0.1:9").call("sbPj", {"pjbh": "R1"})
    assert "S3cretPass" not in str(refused.value) and "127.0.0.1:9" in str(refused.value)


def test_a_json_answer_in_gbk_is_read_in_gbk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEW_APPID", "app")
    monkeypatch.setenv("REVIEW_SECRET", "s")

    def answer(request: Seen) -> Answer:
        return Answer(200, {"Content-Type": "application/json; charset=GBK"},
                      '{"code": "0", "msg": "成功", "data": {"ok": "已签收"}}'.encode("gbk"))

    with ScriptedServer(answer) as server:
        client = HotlineClient(Endpoint("hotline", server.url, {"appid": "REVIEW_APPID", "secret": "REVIEW_SECRET"}))
        assert client.call("/gd/api/qs", {"gdbh": "G1"}) == {"ok": "已签收"}


def _device_ratings(engine: Any) -> list[dict[str, Any]]:
    page = []
    for i in range(3):  # a named device: three ratings pressed seconds after each case closed
        at = T0 + timedelta(minutes=20 * i)
        add_case(engine, f"C{i}", at)
        page.append(rating(f"R{i}", f"C{i}", 5, at + timedelta(seconds=3), at + timedelta(seconds=3),
                           channel="device", deviceSn="PJQ-W03", windowNo="W03", staffNo="S1"))
    for i in range(3, 8):  # five citizens at five windows within two minutes, no device number sent
        at = T0 + timedelta(hours=3, seconds=20 * i)
        add_case(engine, f"C{i}", at - timedelta(hours=1))
        page.append(rating(f"R{i}", f"C{i}", 5, at, at, channel="device", windowNo=f"W{i:02d}", staffNo=f"S{i}"))
    for i in range(8, 11):  # one window without a device number, quick three times
        at = T0 + timedelta(hours=5, minutes=20 * i)
        add_case(engine, f"C{i}", at)
        page.append(rating(f"R{i}", f"C{i}", 5, at + timedelta(seconds=2), at + timedelta(seconds=2),
                           channel="device", windowNo="W09", staffNo="S9"))
    return page


def test_device_ratings_without_a_device_number_are_judged_by_their_window(database_url: str) -> None:
    engine = migrated(database_url)
    settings = citizen.load_citizen()
    page = _device_ratings(engine)
    citizen.sync_evaluations(engine, settings, client=Pages(page), calendar=CAL, now=T0 + timedelta(days=1))
    report = citizen.detect_misuse(engine, settings.policy.misuse)
    assert {(g["device"], tuple(g["rules"])) for g in report.groups} == {("PJQ-W03", ("quick",)),
                                                                        ("window:W09", ("quick",))}

    # the citizen withdraws one of the three: the scheduled run (the DAG's) clears its flag and the alert
    later = T0 + timedelta(days=1, hours=1)
    withdrawn = {**page[0], "revoked": True, "updateTime": int(later.timestamp() * 1000)}
    citizen.sync_evaluations(engine, settings, client=Pages([withdrawn]), calendar=CAL, now=later)
    citizen.detect_misuse(engine, settings.policy.misuse, stored_since=later - timedelta(minutes=1))
    with engine.connect() as conn:
        flagged = conn.execute(select(citizen_evaluations.c.rating_id).where(citizen_evaluations.c.flags.is_not(None))
                               ).scalars().all()
        open_alerts = conn.execute(select(alerts.c.key).where(alerts.c.kind == "evaluation_misuse",
                                                              alerts.c.status == "open")).scalars().all()
    assert sorted(flagged) == ["R10", "R8", "R9"] and open_alerts == ["window:W09:2026-12-01"]


@pytest.mark.parametrize(("policy", "says"), [
    ("policy:\n  callback_closing: 17:30\n", "policy.callback_closing: 1050 is not a time written as text"),
    ("policy:\n  misuse: {burst_count: 0}\n", "policy.misuse.burst_count: 0 is not a whole number of at least 2"),
    ("policy:\n  misuse: {burst_seconds: -1}\n", "policy.misuse.burst_seconds: -1"),
    ("policy:\n  rectification_days: true\n", "policy.rectification_days: True"),
    ("policy:\n  dispatch_minute: 30\n", "did you mean 'dispatch_minutes'"),
    ("policy: [1, 2]\n", "policy must be a mapping"),
    ("routes:\n  - {category: 民政, division: '*', dept_code: , dept_name: 民政局}\n", "routes[0].dept_code is required"),
    ("routes:\n  - {category: 民政, division: '37O102', dept_code: D1, dept_name: 民政局}\n", "not a division code"),
    ("routes: {民政: D1}\n", "routes must be a list"),
])
def test_settings_written_wrong_are_refused_naming_the_key(policy: str, says: str) -> None:
    base = ("evaluator: {endpoint: http://e}\nprovincial_pj: {endpoint: http://p}\nhotline: {endpoint: http://h}\n")
    with pytest.raises(ConfigError) as refused:
        parse_citizen(base + policy, where="citizen.yaml")
    assert says in str(refused.value) and "citizen.yaml" in str(refused.value)


class _Province:
    """Refuses to answer about R1's appeal (2001 申诉不存在), upholds the others."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def call(self, operation: str, data: dict[str, Any]) -> dict[str, Any]:
        if operation == "cxSs":
            self.asked.append(data["pjbh"])
            if data["pjbh"] == "R1":
                from gateway.contract.errors import WriteRejectedError

                raise WriteRejectedError("provincial_pj refused cxSs R1: 2001 申诉不存在")
            return {"fhdm": "0000", "zt": "1", "shyj": "申诉成立"}
        return {"fhdm": "0000"}


def test_one_appeal_the_province_will_not_answer_stops_no_other(database_url: str) -> None:
    engine = migrated(database_url)
    for case_no in ("C1", "C2"):
        add_case(engine, case_no, T0 - timedelta(hours=1))
    citizen.sync_evaluations(engine, citizen.load_citizen(), client=Pages([rating("R1", "C1", 1, T0, T0),
                                                           rating("R2", "C2", 1, T0, T0)]), calendar=CAL, now=T0)
    for rating_id in ("R1", "R2"):
        citizen.file_appeal(engine, rating_id, "评价人误选", at=T0 + timedelta(minutes=5))
    citizen.deliver(engine, "provincial_pj", _Province(), now=T0 + timedelta(minutes=10))
    province = _Province()
    changes = citizen.poll_appeals(engine, province, now=T0 + timedelta(hours=1))
    assert province.asked == ["R1", "R2"]
    assert [(c["rating_id"], c["decision"]) for c in changes] == [("R1", "error"), ("R2", "upheld")]


def test_a_rectification_of_a_bad_review_withdrawn_after_its_callback_is_not_reported(database_url: str) -> None:
    engine = migrated(database_url)
    add_case(engine, "C1", T0 - timedelta(hours=1))
    citizen.sync_evaluations(engine, citizen.load_citizen(), client=Pages([rating("R1", "C1", 1, T0, T0)]), calendar=CAL, now=T0)
    citizen.record_callback(engine, "R1", "已电话回访", at=T0 + timedelta(hours=1), calendar=CAL)
    later = T0 + timedelta(hours=2)
    citizen.sync_evaluations(engine, citizen.load_citizen(), client=Pages([rating("R1", "C1", 1, T0, later, revoked=1)]),
                     calendar=CAL, now=later)
    with pytest.raises(citizen.CitizenError) as refused:
        citizen.finish_rectification(engine, "R1", "已整改", at=later)
    assert refused.value.issue.rule == "rectification.revoked"
    assert [k for k, *_ in _outbox(engine) if k.startswith("callback:")] == ["callback:R1:1"]


def test_the_settings_of_the_shipped_file_still_load() -> None:
    settings = citizen.load_citizen(os.path.join(os.path.dirname(__file__), "..", "..", "config", "citizen.yaml"))
    assert settings.policy.misuse.burst_count == 5 and len(settings.routes) == 7


def test_a_server_dripping_its_answer_is_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx's timeout is per read: a server sending a byte every 0.2 s held a call for as long as it liked."""
    import socket
    import threading
    import time as clock

    from gateway.citizen import clients

    monkeypatch.setattr(clients, "CALL_SECONDS", 1.0)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    stop = threading.Event()

    def drip() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 1000\r\n\r\n")
        while not stop.is_set():
            try:
                conn.sendall(b" ")
            except OSError:
                break
            clock.sleep(0.2)
        conn.close()

    threading.Thread(target=drip, daemon=True).start()
    try:  # the whole answer would take 200 s: cut at the deadline, the call is tried again later
        with pytest.raises(RetriableSyncError, match="no whole answer within 1 s"):
            _province(f"http://127.0.0.1:{listener.getsockname()[1]}").call("sbPj", {"pjbh": "R1"})
    finally:
        stop.set()
        listener.close()


@pytest.mark.parametrize(("body", "content_type", "expected"), [
    (b'\xef\xbb\xbf{"code": "0", "data": {"n": 1}}', "application/json", {"n": 1}),  # a BOM (.NET, Windows)
    (b'{"code": "0", "data": {"gdbh": 20261207123456789012}}', "application/json",
     {"gdbh": 20261207123456789012}),  # a 20-digit number kept whole
    ('{"code": "0", "data": {"name": "张三"}}'.encode(), "application/json; charset=ISO-8859-1",
     {"name": "张三"}),  # a Latin-1 label on a UTF-8 body (a server default) is not believed
])
def test_json_answers_read_as_before_the_charset_change(monkeypatch: pytest.MonkeyPatch, body: bytes,
                                                          content_type: str, expected: Any) -> None:
    monkeypatch.setenv("REVIEW_APPID", "app")
    monkeypatch.setenv("REVIEW_SECRET", "s")
    with ScriptedServer(lambda request: Answer(200, {"Content-Type": content_type}, body)) as server:
        client = HotlineClient(Endpoint("hotline", server.url, {"appid": "REVIEW_APPID", "secret": "REVIEW_SECRET"}))
        assert client.call("/gd/api/qs", {"gdbh": "G1"}) == expected


def test_a_soap_answer_declared_x_gbk_is_read() -> None:
    body = _ENVELOPE.format(enc="x-gbk", inner="<pj:fhdm>0000</pj:fhdm><pj:fhxx>接收成功</pj:fhxx>").encode("gbk")
    with ScriptedServer(lambda request: Answer(200, {"Content-Type": "text/xml"}, body)) as server:
        assert _province(server.url).call("sbPj", {"pjbh": "R1"})["fhxx"] == "接收成功"


def test_a_province_that_answers_no_appeal_query_fails_the_poll(database_url: str) -> None:
    """Each appeal is isolated from another's refusal (2001), but a poll in which no answer could be placed is the
    province: it fails (the task alerts) instead of succeeding with every appeal an error."""
    class Busy(_Province):
        def call(self, operation: str, data: dict[str, Any]) -> dict[str, Any]:
            if operation == "cxSs":
                raise FatalSyncError("provincial_pj answered cxSs: 9999 系统繁忙")
            return {"fhdm": "0000"}

    engine = migrated(database_url)
    for n in (1, 2, 3):
        add_case(engine, f"C{n}", T0 - timedelta(hours=1))
    citizen.sync_evaluations(engine, citizen.load_citizen(), calendar=CAL, now=T0, client=Pages(
        [rating(f"R{n}", f"C{n}", 1, T0, T0) for n in (1, 2, 3)]))
    for n in (1, 2, 3):
        citizen.file_appeal(engine, f"R{n}", "评价人误选", at=T0 + timedelta(minutes=5))
    citizen.deliver(engine, "provincial_pj", _Province(), now=T0 + timedelta(minutes=10))
    with pytest.raises(FatalSyncError, match="none of 3 appeal queries could be read"):
        citizen.poll_appeals(engine, Busy(), now=T0 + timedelta(hours=1))


@pytest.mark.parametrize(("misuse", "quick"), [("{burst_seconds: 120.0, min_quick: 1}", 1)])
def test_settings_that_loaded_before_still_load(misuse: str, quick: int) -> None:
    base = ("evaluator: {endpoint: http://e}\nprovincial_pj: {endpoint: http://p}\nhotline: {endpoint: http://h}\n")
    settings = parse_citizen(base + f"policy:\n  misuse: {misuse}\n", where="citizen.yaml")
    assert (settings.policy.misuse.burst_seconds, settings.policy.misuse.min_quick) == (120, quick)
    with pytest.raises(ConfigError, match="policy.redo_days"):
        parse_citizen(base + "policy:\n  redo_days: '²'\n", where="citizen.yaml")


def test_failing_appeals_first_in_line_do_not_hide_the_decided_ones(database_url: str) -> None:
    """A streak of three failures stopped the poll at the third appeal, every run: the fourth, decided, was never
    asked."""
    class FirstThreeUnreadable(_Province):
        def call(self, operation: str, data: dict[str, Any]) -> dict[str, Any]:
            if operation == "cxSs" and data["pjbh"] in ("R1", "R2", "R3"):
                self.asked.append(data["pjbh"])
                raise FatalSyncError(f"provincial_pj answered cxSs {data['pjbh']}: 3002 评价已删除")
            return super().call(operation, data)

    engine = migrated(database_url)
    for n in (1, 2, 3, 4):
        add_case(engine, f"C{n}", T0 - timedelta(hours=1))
    citizen.sync_evaluations(engine, citizen.load_citizen(), calendar=CAL, now=T0, client=Pages(
        [rating(f"R{n}", f"C{n}", 1, T0, T0) for n in (1, 2, 3, 4)]))
    for n in (1, 2, 3, 4):
        citizen.file_appeal(engine, f"R{n}", "评价人误选", at=T0 + timedelta(minutes=n))
    citizen.deliver(engine, "provincial_pj", _Province(), now=T0 + timedelta(minutes=10))
    changes = citizen.poll_appeals(engine, FirstThreeUnreadable(), now=T0 + timedelta(hours=1))
    assert [(c["rating_id"], c["decision"]) for c in changes][-1] == ("R4", "upheld")


def test_an_inflating_or_deeply_nested_answer_is_refused_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    import gzip

    from gateway.citizen import clients

    monkeypatch.setenv("REVIEW_APPID", "app")
    monkeypatch.setenv("REVIEW_SECRET", "s")
    monkeypatch.setattr(clients, "MAX_ANSWER", 1024 * 1024)
    bomb = gzip.compress(b'{"code": "0", "data": "' + b"0" * (4 * 1024 * 1024) + b'"}')
    nested = b"[" * 100_000 + b"]" * 100_000
    answers = iter([Answer(200, {"Content-Type": "application/json", "Content-Encoding": "gzip"}, bomb),
                    Answer(200, {"Content-Type": "application/json"}, nested)])
    with ScriptedServer(lambda request: next(answers)) as server:
        client = HotlineClient(Endpoint("hotline", server.url, {"appid": "REVIEW_APPID", "secret": "REVIEW_SECRET"}))
        with pytest.raises(FatalSyncError, match="larger than 1048576 bytes"):
            client.call("/gd/api/qs", {"gdbh": "G1"})  # 4 KiB on the wire, 4 MiB decoded
        with pytest.raises(FatalSyncError, match="not JSON"):
            client.call("/gd/api/qs", {"gdbh": "G1"})
