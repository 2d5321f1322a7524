"""What a receiver refused for good can be sent again once the cause is fixed: ``tongban evaluations resend`` and
``tongban workorders resend`` put each dead item back in the queue, under its key and in its order, and resolve
its dead letter; the next delivery sends it (a rating before its callback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from citizen_testlib import migrated
from sqlalchemy import select

from gateway.citizen.outbox import deliver, queue_item, resend_dead
from gateway.contract.errors import WriteRejectedError
from gateway.store import citizen as store
from gateway.store import ledger
from gateway.store.tables import citizen_outbox, dead_letters

NOW = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)


class Province:
    def __init__(self, refuse: bool) -> None:
        self.refuse, self.calls = refuse, []

    def call(self, op: str, data: dict[str, Any]) -> Any:
        if self.refuse:
            raise WriteRejectedError(f"{op}: xzqh 不能为空")
        self.calls.append((op, data["pjbh"]))
        return {"fhdm": "0000"}


def _dead_and_queued(url: str) -> Any:
    engine = migrated(url)
    with engine.begin() as conn:
        store.enqueue(conn, [queue_item("provincial_pj", "rating:R1", "sbPj", {"pjbh": "R1"}, now=NOW),
                             queue_item("provincial_pj", "callback:R1:1", "sbHf", {"pjbh": "R1"}, now=NOW)])
    report = deliver(engine, "provincial_pj", Province(refuse=True), now=NOW)
    assert report.dead == 2
    return engine


def _states(engine: Any) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(select(citizen_outbox.c.key, citizen_outbox.c.status)).tuples().all())


def test_dead_items_are_queued_again_and_delivered_in_order(sqlite_url: str) -> None:
    engine = _dead_and_queued(sqlite_url)
    report = resend_dead(engine, "provincial_pj", now=NOW + timedelta(hours=1))
    assert report.requeued == 2 and report.unnamed == []
    assert _states(engine) == {"rating:R1": "pending", "callback:R1:1": "pending"}
    with engine.connect() as conn:
        assert {r.status for r in conn.execute(select(dead_letters))} == {"resolved"}
    fixed = Province(refuse=False)
    sent = deliver(engine, "provincial_pj", fixed, now=NOW + timedelta(hours=1))
    assert sent.delivered == 2 and fixed.calls == [("sbPj", "R1"), ("sbHf", "R1")]
    assert resend_dead(engine, "provincial_pj").requeued == 0  # nothing dead is left
    engine.dispose()


def test_a_dead_letter_that_names_no_outbox_row_is_reported_not_guessed(sqlite_url: str) -> None:
    engine = migrated(sqlite_url)
    with engine.begin() as conn:  # as written before dead letters named their row: the bare payload
        ledger.add_dead_letters(conn, [{"kind": "push", "system": "hotline", "stream": "/gd/api/zp",
                                        "source_id": "zp:G1", "raw": '{"gdbh": "G1"}', "reason": "refused",
                                        "created_at": NOW, "updated_at": NOW}])
    report = resend_dead(engine, "hotline")
    assert report.requeued == 0 and len(report.unnamed) == 1
    engine.dispose()


def test_resend_from_the_command_line(sqlite_url: str) -> None:
    engine = _dead_and_queued(sqlite_url)
    engine.dispose()
    run = subprocess.run([sys.executable, "-m", "gateway", "evaluations", "resend", "--json"], capture_output=True,
                         check=False, text=True, timeout=180, env={**os.environ, "TONGBAN_DATABASE_URL": sqlite_url})
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"target": "provincial_pj", "requeued": 2, "unnamed": []}
    table = subprocess.run([sys.executable, "-m", "gateway", "workorders", "resend"], capture_output=True, text=True,
                           check=False, timeout=180, env={**os.environ, "TONGBAN_DATABASE_URL": sqlite_url})
    assert table.returncode == 0 and "re-queued 0" in table.stdout
    engine = migrated(sqlite_url)
    assert set(_states(engine).values()) == {"pending"}
    engine.dispose()
