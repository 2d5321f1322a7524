"""Dead webhook deliveries are listed with why, and queued again by hand once the receiver is mended
(``tongban webhooks list|retry``): a dead delivery was kept but no command showed it or sent it again, so a
department whose receiver was down for two days never heard of a revocation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from gateway_testlib import WebhookReceiver, make_gateway

from gateway.sharing.access.clients import ClientStore
from gateway.sharing.certificates import deliver_webhooks
from gateway.sharing.certificates.webhooks import CLAIM_FOR
from gateway.store import subscriptions as store
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade

REPO = Path(__file__).resolve().parents[2]


def _tongban(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}, "COLUMNS": "250"}
    return subprocess.run([sys.executable, "-m", "gateway", *args, "--database-url", url], env=env,
                          capture_output=True, text=True, timeout=300)


def _queue(engine, url: str) -> None:
    now = datetime.now(timezone.utc)
    ClientStore(engine).add("subscriber", client_id="c1")
    ClientStore(engine).add("gone", client_id="c2")
    with engine.begin() as conn:
        for sub, client in (("sub1", "c1"), ("sub2", "c2")):
            store.insert_subscription(conn, {"subscription_id": sub, "client_id": client, "url": url,
                                             "certificate_types": "[]", "active": True, "created_at": now})
        store.queue_deliveries(conn, [{"subscription_id": sub, "event_id": n, "payload": f'{{"event_id": {n}}}',
                                       "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now}
                                      for sub, n in (("sub1", 1), ("sub1", 2), ("sub2", 3))])


def test_dead_deliveries_are_listed_and_sent_again_once_the_receiver_is_mended(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = make_engine(url)
    upgrade(engine)
    hook = WebhookReceiver(status=503).start()
    try:
        _queue(engine, hook.url)
        gw = make_gateway(engine)
        gw.settings = gw.settings.model_copy(update={"webhook_max_attempts": 1, "webhook_retry_for": timedelta(0)})
        later = datetime.now(timezone.utc) + timedelta(seconds=1)
        # one row of each subscription (a failing receiver's other rows wait for the next pass), then the last
        assert deliver_webhooks(gw, now=later).dead == 2
        assert deliver_webhooks(gw, now=later + CLAIM_FOR + timedelta(seconds=1)).dead == 1  # its claim lapsed
        gw.clients.revoke("gone")  # its dead delivery must stay dead: the client may no longer be told

        listed = _tongban(url, "webhooks", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        dead = json.loads(listed.stdout)
        assert sorted(d["event_id"] for d in dead) == [1, 2, 3]
        assert {d["last_error"] for d in dead} == {"HTTP 503"} and {d["status"] for d in dead} == {"dead"}
        table = _tongban(url, "webhooks", "list")
        assert table.returncode == 0 and "HTTP 503" in table.stdout and "subscriber" in table.stdout, table.stderr

        hook.status, failed = 200, len(hook.received)  # mended
        by_event = {d["event_id"]: d["id"] for d in dead}
        retried = _tongban(url, "webhooks", "retry", str(by_event[1]), str(by_event[3]), "--json")
        assert retried.returncode == 0, retried.stderr
        assert json.loads(retried.stdout) == {"queued": [by_event[1]], "left": [by_event[3]]}
        again = _tongban(url, "webhooks", "retry", "--all-dead", "--json")
        assert json.loads(again.stdout) == {"queued": [by_event[2]], "left": []}

        report = deliver_webhooks(gw, now=datetime.now(timezone.utc) + timedelta(seconds=1))
        assert report.delivered == 2, report.as_dict()
        assert sorted(r["json"]["event_id"] for r in hook.received[failed:]) == [1, 2]
        still = json.loads(_tongban(url, "webhooks", "list", "--json").stdout)
        assert [d["event_id"] for d in still] == [3]  # the revoked client's

        refused = _tongban(url, "webhooks", "retry")
        assert refused.returncode == 1 and "--all-dead" in refused.stderr and "Traceback" not in refused.stderr
    finally:
        hook.stop()
        engine.dispose()
