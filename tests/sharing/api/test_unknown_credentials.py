"""An unknown ``tbk_…`` credential costs no database read per request: the gateway holds the set of client ids (read
at most once per ten seconds) and refuses any other id from memory — and never refuses a real client for what
other callers at its address sent."""

from __future__ import annotations

import secrets
from typing import Any

import requests
from gateway_testlib import LicenceWorld, ServerThread, bearer
from sqlalchemy import event

from gateway.sharing.api import create_app


def _unknown() -> str:
    return f"tbk_{secrets.token_hex(6)}_{secrets.token_urlsafe(16)}"


def test_an_unknown_client_id_is_read_from_the_database_once(licensed: LicenceWorld) -> None:
    gw = licensed.gw
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "api_clients" in statement or "clients" in statement:
            statements.append(statement)

    server = ServerThread(create_app(gw, webhook_interval=0)).start()
    engines = {gw.read_engine, gw.engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", seen)
    try:
        credential = _unknown()
        for _ in range(5):
            answer = requests.get(server.url + "/v1/subscriptions", headers=bearer(credential), timeout=10)
            assert answer.status_code == 401, answer.text
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", seen)
        server.stop()
    assert len(statements) == 1, statements


def test_junk_credentials_from_one_address_never_lock_out_a_client_behind_it(licensed: LicenceWorld) -> None:
    """An address throttle refused every credential not cached after 100 failures in 10 s: one misconfigured
    department, or anyone behind the same proxy, locked out every client there. Unknown ids cost nothing now."""
    server = ServerThread(create_app(licensed.gw, webhook_interval=0)).start()
    try:
        junk = [requests.get(server.url + "/v1/subscriptions", headers=bearer(_unknown()), timeout=10)
                for _ in range(150)]
        assert {a.status_code for a in junk} == {401}
        good = bearer(licensed.civil.credential)
        assert requests.get(server.url + "/v1/subscriptions", headers=good, timeout=10).status_code == 200
    finally:
        server.stop()
