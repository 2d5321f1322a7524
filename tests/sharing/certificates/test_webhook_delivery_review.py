"""Webhook delivery as hostile or broken receivers meet it (an outside review's finds, each seen failing first).

- deliveries went out one by one, 200 a pass, each POST bounded only per socket read: one receiver that never
  answers (or drips its answer) held every other department's notifications for minutes, and a pass that
  outlived its 5-minute claim let a second sender send the same rows again;
- a 200 whose body came slowly was a failure ("Read timed out") and sent again; a large body was read whole into
  the API server's memory;
- six attempts were spent in about a minute: a receiver down for a restart never heard of a revocation;
- a sender whose claim had lapsed could overwrite what the sender that took the row over recorded.

The receivers are real sockets on 127.0.0.1.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from gateway_testlib import make_gateway
from sqlalchemy import select

from gateway.sharing.certificates.webhooks import CLAIM_FOR, deliver_webhooks
from gateway.store import subscriptions as store
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import webhook_deliveries, webhook_subscriptions


class Receiver:
    """A raw HTTP receiver: ``mode`` ``ok`` (200 at once), ``silent`` (accepts, never answers), ``drip`` (200 and a
    body one byte every 6 s) or ``busy`` (503)."""

    def __init__(self, mode: str) -> None:
        self.mode, self.posts = mode, 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.stopping = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(30)
            try:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                self.posts += 1
                if self.mode == "silent":
                    self.stopping.wait(60)
                elif self.mode == "busy":
                    conn.sendall(b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n")
                elif self.mode == "drip_headers":  # the status line, then a header a byte a second
                    conn.sendall(b"HTTP/1.1 200 OK\r\n")
                    for byte in b"X-Slow: " + b"y" * 20 + b"\r\nContent-Length: 0\r\n\r\n":
                        if self.stopping.wait(1):
                            return
                        conn.sendall(bytes([byte]))
                elif self.mode == "drip":
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 400\r\n\r\n")
                    for _ in range(400):
                        if self.stopping.wait(6):
                            return
                        conn.sendall(b"x")
                else:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            except OSError:
                return

    def close(self) -> None:
        self.stopping.set()
        self.sock.close()


@pytest.fixture
def gw(database_url: str) -> Iterator[Any]:
    engine = make_engine(database_url)
    upgrade(engine)
    made = make_gateway(engine)
    made.settings = made.settings.model_copy(update={"webhook_timeout": 2.0})
    yield made
    engine.dispose()


def _subscribe(gw: Any, name: str, url: str, events: int, *, attempts: int = 0, age: timedelta = timedelta(0)) -> None:
    client = gw.clients.add(name).client
    now = datetime.now(UTC) - age
    with gw.engine.begin() as conn:
        conn.execute(webhook_subscriptions.insert().values(subscription_id=name, client_id=client.client_id, url=url,
                                                           certificate_types='["X"]', active=True, created_at=now))
        conn.execute(webhook_deliveries.insert(), [
            {"subscription_id": name, "event_id": i, "payload": f'{{"event_id": {i}}}', "status": "pending",
             "attempts": attempts, "next_attempt_at": now, "created_at": now} for i in range(1, events + 1)])


def _statuses(gw: Any, name: str) -> list[tuple[str, int]]:
    d = webhook_deliveries.c
    with gw.engine.connect() as conn:
        return [(r.status, r.attempts) for r in conn.execute(select(d.status, d.attempts)
                                                             .where(d.subscription_id == name).order_by(d.event_id))]


def test_a_receiver_that_never_answers_holds_nobody_else(gw: Any) -> None:
    silent, healthy = Receiver("silent"), Receiver("ok")
    try:
        _subscribe(gw, "slow_dept", silent.url, 5)  # queued first: the pass meets it first
        _subscribe(gw, "jn_estate", healthy.url, 3)
        report = deliver_webhooks(gw, now=datetime.now(UTC) + timedelta(seconds=1))
        assert report.delivered == 3 and healthy.posts == 3
        assert silent.posts == 1  # its other deliveries wait for the next pass, untouched
        assert _statuses(gw, "slow_dept") == [("pending", 1)] + [("pending", 0)] * 4
    finally:
        silent.close()
        healthy.close()


def test_a_200_is_a_delivery_whatever_its_body(gw: Any) -> None:
    drip = Receiver("drip")
    try:
        _subscribe(gw, "drip_dept", drip.url, 1)
        assert deliver_webhooks(gw, now=datetime.now(UTC) + timedelta(seconds=1)).delivered == 1
        assert _statuses(gw, "drip_dept") == [("delivered", 1)]
    finally:
        drip.close()


def test_a_receiver_down_for_a_while_is_retried_for_a_day(gw: Any) -> None:
    busy = Receiver("busy")
    try:
        _subscribe(gw, "restarting", busy.url, 1)
        moment = datetime.now(UTC)
        for _ in range(gw.settings.webhook_max_attempts + 2):  # past max_attempts, well within a day
            moment += timedelta(hours=2)
            deliver_webhooks(gw, now=moment)
        assert _statuses(gw, "restarting") == [("pending", gw.settings.webhook_max_attempts + 2)]
        gw.settings = gw.settings.model_copy(update={"webhook_retry_for": timedelta(0)})
        deliver_webhooks(gw, now=moment + timedelta(hours=2))
        assert _statuses(gw, "restarting")[0][0] == "dead"
    finally:
        busy.close()


def test_a_sender_whose_claim_lapsed_overwrites_nothing(gw: Any) -> None:
    _subscribe(gw, "claimed", "http://127.0.0.1:9/x", 1)
    now = datetime.now(UTC)
    with gw.engine.begin() as conn:
        (row,) = store.due_deliveries(conn, now, 10)
        assert store.claim_deliveries(conn, [row.id], now=now, until=now + CLAIM_FOR) == {row.id}
    later = now + CLAIM_FOR + timedelta(seconds=1)  # the claim lapsed; another sender takes the row and delivers
    with gw.engine.begin() as conn:
        assert store.claim_deliveries(conn, [row.id], now=later, until=later + CLAIM_FOR) == {row.id}
        store.mark_delivery_delivered(conn, row.id, attempts=1, at=later)
    with gw.engine.begin() as conn:  # the first sender, late, records its failure
        store.mark_delivery_dead(conn, row.id, attempts=1, error="late", claimed_until=now + CLAIM_FOR)
        store.schedule_delivery_retry(conn, row.id, attempts=1, error="late", next_attempt_at=later,
                                      claimed_until=now + CLAIM_FOR)
    assert _statuses(gw, "claimed") == [("delivered", 1)]


def test_a_receiver_dripping_its_headers_is_cut_off(gw: Any) -> None:
    """Review of the fix: the status line, then a header byte a second (each gap within the timeout) held one
    POST — and the pass — as long as the receiver liked; each exchange is now bounded as a whole."""
    dripping, healthy = Receiver("drip_headers"), Receiver("ok")
    try:
        _subscribe(gw, "dripping", dripping.url, 2)
        _subscribe(gw, "jn_estate", healthy.url, 2)
        report = deliver_webhooks(gw, now=datetime.now(UTC) + timedelta(seconds=1))
        assert report.delivered == 2 and healthy.posts == 2
        assert _statuses(gw, "dripping") == [("pending", 1), ("pending", 0)]  # not waited out, not delivered
    finally:
        dripping.close()
        healthy.close()


def test_a_receiver_down_for_days_is_tried_once_a_pass(gw: Any) -> None:
    """Review of the fix: rows old and tried enough to be given up went out one after another, each waiting the
    whole timeout — the skip applied only to rows retried, not to rows given up."""
    silent = Receiver("silent")
    try:
        _subscribe(gw, "gone", silent.url, 4, attempts=gw.settings.webhook_max_attempts, age=timedelta(days=2))
        deliver_webhooks(gw, now=datetime.now(UTC) + timedelta(seconds=1))
        assert silent.posts == 1
        assert _statuses(gw, "gone")[0][0] == "dead" and {s for s, _ in _statuses(gw, "gone")[1:]} == {"pending"}
    finally:
        silent.close()
