"""A ledger server that accepts connections and never answers (hung, a stuck pooler, a failover address nobody
serves) must fail a connection, not hold it: every Airflow task and every failure callback waited for ever on
one, so nothing failed and nothing turned red. A URL that names its own timeout keeps it."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from gateway.store.db import POSTGRES_CONNECTION_DEFAULTS, make_engine


def test_a_server_that_never_answers_fails_the_connection() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.extend(server.accept()[0] for _ in range(8)), daemon=True).start()
    engine = make_engine(f"postgresql://tongban@127.0.0.1:{server.getsockname()[1]}/tongban")
    outcome: list[BaseException | None] = []

    def connect() -> None:
        try:
            with engine.connect():
                outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - what the caller would see
            outcome.append(exc)

    worker = threading.Thread(target=connect, daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(timeout=120)  # generous: the point is that it ends at all
    assert outcome, f"still waiting after {time.monotonic() - started:.0f} s: the connection never gave up"
    assert isinstance(outcome[0], OperationalError) and "timeout" in str(outcome[0]).lower(), outcome
    engine.dispose()
    server.close()


def test_defaults_apply_unless_the_url_names_them(monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    seen: list[dict[str, Any]] = []

    def fake_connect(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs)
        raise psycopg.OperationalError("not connecting in this test")

    monkeypatch.setattr(psycopg, "connect", fake_connect)
    monkeypatch.setattr(psycopg.Connection, "connect", classmethod(lambda cls, *a, **k: fake_connect(*a, **k)))
    for url, expected_timeout in (("postgresql://u@127.0.0.1:1/db", 10),
                                  ("postgresql://u@127.0.0.1:1/db?connect_timeout=30", "30")):
        with pytest.raises(OperationalError):
            make_engine(url).connect()
        assert seen[-1]["connect_timeout"] == expected_timeout
        assert {k: seen[-1][k] for k in ("keepalives", "keepalives_idle", "tcp_user_timeout")} == {
            k: POSTGRES_CONNECTION_DEFAULTS[k] for k in ("keepalives", "keepalives_idle", "tcp_user_timeout")}
