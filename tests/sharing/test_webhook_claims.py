"""Two senders at once (the API server's delivery loop and a harvest, or two gateway processes) never both send
a delivery: each claims the due rows it will send in one UPDATE first. Deliveries stay at-least-once: a claim
that is never recorded (a sender killed mid-send) is due again when the claim runs out."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from gateway.sharing.access.clients import ClientStore
from gateway.sharing.certificates import deliver_webhooks
from gateway.sharing.certificates.webhooks import CLAIM_FOR
from gateway.store import subscriptions as store
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway_testlib import WebhookReceiver, make_gateway


def _queue(engine, url: str, events: int) -> None:
    now = datetime.now(timezone.utc)
    ClientStore(engine).add("subscriber", client_id="c1")  # a live client: a revoked one is told nothing
    with engine.begin() as conn:
        store.insert_subscription(conn, {"subscription_id": "sub1", "client_id": "c1", "url": url,
                                         "certificate_types": "[]", "active": True, "created_at": now})
        store.queue_deliveries(conn, [{"subscription_id": "sub1", "event_id": n, "payload": f'{{"event_id": {n}}}',
                                       "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now}
                                      for n in range(1, events + 1)])


def test_two_senders_at_once_send_each_delivery_once(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    hook = WebhookReceiver().start()
    try:
        _queue(engine, hook.url, 60)
        gw = make_gateway(engine)
        start = threading.Barrier(4)
        reports = []

        def send() -> None:
            start.wait(timeout=60)
            reports.append(deliver_webhooks(gw))

        senders = [threading.Thread(target=send) for _ in range(4)]
        for t in senders:
            t.start()
        for t in senders:
            t.join(timeout=300)
        ids = [r["json"]["event_id"] for r in hook.received]
        assert sorted(ids) == list(range(1, 61))  # every one, none twice
        assert sum(r.delivered for r in reports) == 60
    finally:
        hook.stop()
        engine.dispose()


def test_a_claim_never_recorded_is_due_again_later(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    hook = WebhookReceiver().start()
    try:
        _queue(engine, hook.url, 3)
        now = datetime.now(timezone.utc)
        with engine.begin() as conn:  # a sender claims them, then dies before sending
            due = store.due_deliveries(conn, now, 10)
            assert len(store.claim_deliveries(conn, [r.id for r in due], now=now, until=now + CLAIM_FOR)) == 3
        gw = make_gateway(engine)
        assert deliver_webhooks(gw, now=now).delivered == 0  # claimed: not this sender's
        assert deliver_webhooks(gw, now=now + CLAIM_FOR + timedelta(seconds=1)).delivered == 3
        assert len(hook.received) == 3
    finally:
        hook.stop()
        engine.dispose()
