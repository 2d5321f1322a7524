"""One scheduled run drains the citizen queue batch after batch while the receiver takes them (found by review:
500 a run, every 5 minutes, left a first read's history — 100,000 ratings at a cut-over — queued for 17 hours, with
today's 差评 and callbacks behind it); it stops at the first batch with a retry, and when its time is up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from citizen_testlib import migrated
from sqlalchemy import func, select

from gateway.citizen.outbox import drain, queue_item
from gateway.contract.errors import RetriableSyncError
from gateway.store.tables import citizen_outbox


class Province:
    def __init__(self, fail_from: int | None = None) -> None:
        self.calls = 0
        self.fail_from = fail_from

    def call(self, operation: str, payload: dict[str, Any]) -> Any:
        self.calls += 1
        if self.fail_from is not None and self.calls >= self.fail_from:
            raise RetriableSyncError("503 busy")
        return None


def _queued(tmp_path: Path, n: int) -> Any:
    engine = migrated(f"sqlite:///{tmp_path / 'ledger.db'}")
    now = datetime.now(UTC) - timedelta(minutes=1)
    with engine.begin() as conn:
        conn.execute(citizen_outbox.insert(), [queue_item("provincial_pj", f"rating:R{i}", "sbPj", {"i": i}, now=now)
                                               for i in range(n)])
    return engine


def _delivered(engine: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).where(citizen_outbox.c.status == "delivered")).scalar_one())


def test_a_backlog_goes_up_in_one_run(tmp_path: Path) -> None:
    engine = _queued(tmp_path, 1250)
    report = drain(engine, "provincial_pj", Province())
    assert report.delivered == 1250 == _delivered(engine)


def test_a_struggling_receiver_is_not_pressed(tmp_path: Path) -> None:
    engine = _queued(tmp_path, 1250)
    report = drain(engine, "provincial_pj", Province(fail_from=600))
    assert report.retried and _delivered(engine) < 1000  # stopped at the batch that met the retries


def test_the_run_stops_when_its_time_is_up(tmp_path: Path) -> None:
    engine = _queued(tmp_path, 1250)
    ticks = iter([0.0, 1000.0])
    report = drain(engine, "provincial_pj", Province(), budget=timedelta(seconds=10), clock=lambda: next(ticks))
    assert report.delivered == 500  # one batch, then the budget was spent
