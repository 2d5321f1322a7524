"""An unknown ``tbk_…`` credential costs no database read per request: a client id no client has is refused from
memory for a while (negative cache). And an address that keeps presenting credentials that fail is refused with
429 before any database read, once past the limit of failures in a window; a credential known good (cached) still
passes."""

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


def test_an_address_with_too_many_failed_authentications_is_refused_before_any_read(
        licensed: LicenceWorld) -> None:
    app = create_app(licensed.gw, webhook_interval=0)
    app.state.api.failed_auth.limit = 3
    server = ServerThread(app).start()
    try:
        good = bearer(licensed.civil.credential)
        assert requests.get(server.url + "/v1/subscriptions", headers=good, timeout=10).status_code == 200
        answers = [requests.get(server.url + "/v1/subscriptions", headers=bearer(_unknown()), timeout=10)
                   for _ in range(5)]
        assert [a.status_code for a in answers] == [401, 401, 401, 429, 429], [a.text for a in answers]
        assert int(answers[-1].headers["Retry-After"]) >= 1
        # the client that authenticated a moment ago is known good: answered from memory, not refused
        assert requests.get(server.url + "/v1/subscriptions", headers=good, timeout=10).status_code == 200
    finally:
        server.stop()
