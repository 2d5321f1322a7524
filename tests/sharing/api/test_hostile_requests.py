"""Requests nobody should send, sent on purpose, on each backend: a NUL character anywhere (PostgreSQL's text
cannot hold one), bodies larger than the gateway reads, and an audit entry the database refuses. Each gets a
clear 4xx that names where the problem is; none may cost the server a connection or hang the next caller."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from gateway.sharing.access.audit import AuditEntry, AuditWriter, verify_chain
from gateway.sharing.api import create_app
from gateway_testlib import CIVIL_DEPT, ELDERLY_CARE, LICENCE, LICENSED, LicenceWorld, ServerThread, bearer, plant_case


@pytest.fixture
def server(licensed: LicenceWorld) -> Iterator[dict[str, Any]]:
    plant_case(licensed.engine, "H-1", dept_code=CIVIL_DEPT, item_code=ELDERLY_CARE, applicant_id=LICENSED["id"],
               pii=licensed.gw.pii)
    running = ServerThread(create_app(licensed.gw, webhook_interval=0)).start()
    yield {"url": running.url, "auth": bearer(licensed.civil.credential), "gw": licensed.gw}
    running.stop()


def _query(item_code: str = ELDERLY_CARE, case_no: str = "H-1") -> dict[str, Any]:
    return {"holder": {"id_number": LICENSED["id"]}, "certificate_types": [LICENCE],
            "purpose": {"item_code": item_code, "case_no": case_no}}


def _assert_nul_refused(response: requests.Response, loc: list[str]) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    [error] = response.json()["errors"]
    assert error["loc"] == loc and "NUL" in error["msg"]


def test_nul_in_a_body_is_refused_by_name_and_the_server_keeps_answering(server: dict[str, Any]) -> None:
    # Before: each of these reached PostgreSQL through the audit writer, which then leaked its connection;
    # about fourteen of them and the pool was empty, and every later request hung.
    for _ in range(40):
        refused = requests.post(server["url"] + "/v1/certificates/query", json=_query(item_code="X\x00Y"),
                                headers=server["auth"], timeout=30)
        _assert_nul_refused(refused, ["body", "purpose", "item_code"])
    nested = requests.post(server["url"] + "/v1/consents", headers=server["auth"], timeout=30, json={
        "holder": {"id_number": LICENSED["id"]}, "client_id": "c", "certificate_types": ["ok", "b\x00d"],
        "purpose": {"item_code": ELDERLY_CARE, "case_no": "H-1"}})
    _assert_nul_refused(nested, ["body", "certificate_types", "1"])
    answered = requests.post(server["url"] + "/v1/certificates/query", json=_query(), headers=server["auth"],
                             timeout=30)
    assert answered.status_code in (200, 403), answered.text  # answered at once (consent rules aside)


@pytest.mark.parametrize(("method", "target", "loc"), [
    ("GET", "/v1/cases/H-1%00", ["path"]),
    ("GET", "/v1/certificates/X%00/file?item_code=a&case_no=b", ["path"]),
    ("GET", f"/v1/certificates/X?item_code={ELDERLY_CARE}&case_no=H%00", ["query", "case_no"]),
    ("POST", "/v1/consents/abc%00/withdraw", ["path"]),
    ("GET", "/v1/bundles/R%00", ["path"]),
])
def test_nul_in_the_path_or_query_is_refused_by_name(server: dict[str, Any], method: str, target: str,
                                                     loc: list[str]) -> None:
    response = requests.request(method, server["url"] + target, headers=server["auth"], timeout=30,
                                json={} if method == "POST" else None)
    _assert_nul_refused(response, loc)


def test_a_body_over_the_limit_is_refused_before_it_is_read(server: dict[str, Any]) -> None:
    limit = server["gw"].settings.max_request_bytes
    host, port = server["url"].removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as sock:  # no credential, a huge body announced
        sock.sendall(b"POST /v1/certificates/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n{" % (limit * 8))
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            assert chunk, "the server closed the connection without answering"
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    chunked = requests.post(server["url"] + "/v1/certificates/verify", headers=server["auth"], timeout=60,
                            data=iter([b"x" * 1024 * 1024] * (limit // (1024 * 1024) + 2)))  # no Content-Length
    assert chunked.status_code == 413 and chunked.json()["type"].endswith("/too-large")
    within = requests.post(server["url"] + "/v1/certificates/verify", headers=server["auth"], timeout=60,
                           json={"sha256": "0" * 64})
    assert within.status_code == 200, within.text


def test_an_entry_the_database_refuses_fails_alone_and_leaks_no_connection(licensed: LicenceWorld) -> None:
    engine = licensed.engine
    # PostgreSQL refuses a NUL in text; SQLite stores it, so there the "bad" entries are simply written
    refusing = engine.dialect.name == "postgresql"

    async def scenario() -> list[Any]:
        writer = AuditWriter(engine)
        await writer.start()
        entries = [AuditEntry("query", "released", client_id="c", detail="bad\x00" if i % 3 == 0 else f"good {i}")
                   for i in range(60)]
        try:
            return await asyncio.gather(*(writer.append(e) for e in entries), return_exceptions=True)
        finally:
            await writer.stop()

    before = engine.pool.checkedout()
    results = asyncio.run(scenario())
    failed = [i for i, r in enumerate(results) if isinstance(r, BaseException)]
    assert failed == ([i for i in range(60) if i % 3 == 0] if refusing else [])
    written = sorted(r for r in results if isinstance(r, int))
    assert written == list(range(written[0], written[0] + len(written)))  # one gap-free run of sequence numbers
    assert engine.pool.checkedout() <= before + 1  # at most the writer's own connection, never one per failure
    assert verify_chain(engine).ok


@pytest.mark.parametrize("url", ["http://127.0.0.1:5432/", "http://localhost/hook", "http://[::1]/hook",
                                 "http://169.254.169.254/latest/meta-data/", "http://0.0.0.0/", "http://224.0.0.1/",
                                 "http://[::ffff:127.0.0.1]/", "http://user:pw@10.0.0.5/", "ftp://10.0.0.5/x",
                                 "http://10.0.0.5:99999/",
                                 # metadata services outside link-local: Alibaba Cloud (government clouds), AWS IPv6
                                 "http://100.100.100.200/latest/meta-data/ram/security-credentials/",
                                 "http://100.64.0.1/", "http://[fd00:ec2::254]/latest/meta-data/",
                                 "http://[::ffff:100.100.100.200]/"])
def test_a_webhook_may_not_target_the_gateways_own_machine_or_the_metadata_service(url: str) -> None:
    from gateway.sharing.certificates.webhook_targets import target_problem

    assert target_problem(url) is not None
    assert target_problem("http://10.20.30.40:8080/hook") is None  # department systems live on private networks
    assert target_problem("http://127.0.0.1:9/hook", ["127.0.0.1"]) is None  # the operator's exception
    assert target_problem("http://[::1]/hook", ["::1/128"]) is None


def test_a_client_holds_a_bounded_number_of_subscriptions(licensed: LicenceWorld) -> None:
    """Each certificate event is delivered to every subscription: without a bound one client could subscribe
    the same internal URL ten thousand times and turn each event into ten thousand POSTs."""
    licensed.gw.settings = licensed.gw.settings.model_copy(update={"webhook_allowed_hosts": [],
                                                                   "webhook_max_subscriptions": 3})
    running = ServerThread(create_app(licensed.gw, webhook_interval=0)).start()
    try:
        auth = bearer(licensed.civil.credential)

        def subscribe() -> requests.Response:
            return requests.post(running.url + "/v1/subscriptions", headers=auth, timeout=30,
                                 json={"url": "http://10.20.30.40:8080/hook", "certificate_types": [LICENCE]})

        taken = [subscribe() for _ in range(3)]
        assert [t.status_code for t in taken] == [201, 201, 201]
        refused = subscribe()
        assert refused.status_code == 409 and "webhook_max_subscriptions" in refused.json()["detail"]
        gone = requests.delete(f"{running.url}/v1/subscriptions/{taken[0].json()['subscription_id']}",
                               headers=auth, timeout=30)
        assert gone.status_code == 204 and subscribe().status_code == 201  # a cancelled one frees its place
    finally:
        running.stop()


def test_subscribing_to_a_forbidden_target_is_refused_and_audited(licensed: LicenceWorld) -> None:
    from gateway.store.tables import audit_log

    licensed.gw.settings = licensed.gw.settings.model_copy(update={"webhook_allowed_hosts": []})
    running = ServerThread(create_app(licensed.gw, webhook_interval=0)).start()
    try:
        auth = bearer(licensed.civil.credential)
        refused = requests.post(running.url + "/v1/subscriptions", headers=auth, timeout=30,
                                json={"url": "http://169.254.169.254/latest/", "certificate_types": [LICENCE]})
        assert refused.status_code == 422 and refused.json()["errors"][0]["loc"] == ["body", "url"]
        assert "link-local" in refused.json()["detail"]
        taken = requests.post(running.url + "/v1/subscriptions", headers=auth, timeout=30,
                              json={"url": "http://10.20.30.40:8080/hook", "certificate_types": [LICENCE]})
        assert taken.status_code == 201, taken.text
        cancelled = requests.delete(f"{running.url}/v1/subscriptions/{taken.json()['subscription_id']}",
                                    headers=auth, timeout=30)
        assert cancelled.status_code == 204
    finally:
        running.stop()
    with licensed.engine.connect() as conn:
        rows = conn.execute(audit_log.select().where(audit_log.c.action == "subscribe")
                            .order_by(audit_log.c.seq)).mappings().all()
    assert [r["outcome"] for r in rows] == ["refused", "subscribed", "cancelled"]


def test_metrics_can_require_a_token(licensed: LicenceWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.contract.errors import ConfigError
    from gateway.sharing.settings import parse_gateway_settings
    from gateway_testlib import REPO

    text = (REPO / "config" / "gateway.yaml").read_text(encoding="utf-8")
    with pytest.raises((ConfigError, ValueError), match="environment variable"):
        parse_gateway_settings(text + "\nmetrics_token: plain-secret\n", base_dir=REPO / "config")
    monkeypatch.setenv("TONGBAN_METRICS_TOKEN", "s3cret-metrics")
    licensed.gw.settings = parse_gateway_settings(text + "\nmetrics_token: ${TONGBAN_METRICS_TOKEN}\n",
                                                  base_dir=REPO / "config")
    running = ServerThread(create_app(licensed.gw, webhook_interval=0)).start()
    try:
        assert requests.get(running.url + "/metrics", timeout=30).status_code == 401
        assert requests.get(running.url + "/metrics", headers=bearer("wrong"), timeout=30).status_code == 401
        scraped = requests.get(running.url + "/metrics", headers=bearer("s3cret-metrics"), timeout=30)
        assert scraped.status_code == 200 and "tongban_api_requests_total" in scraped.text
    finally:
        running.stop()


def test_the_bearer_scheme_reads_the_same_on_every_route(server: dict[str, Any]) -> None:
    credential = server["auth"]["Authorization"].split(" ", 1)[1]
    for header in (f"Bearer  {credential}", f"bearer {credential}", f"Bearer {credential} "):
        auth = {"Authorization": header}
        assert requests.post(server["url"] + "/v1/certificates/query", json=_query(), headers=auth,
                             timeout=30).status_code in (200, 403)
        assert requests.get(server["url"] + "/v1/subscriptions", headers=auth, timeout=30).status_code == 200
