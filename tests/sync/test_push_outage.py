"""A hall outage against the real sandbox hall: nothing is given up in minutes, the push task fails while the
hall is down (so Airflow retries and alerts), and every case arrives exactly once after it. On SQLite and
PostgreSQL (``TONGBAN_TEST_POSTGRES_URL``)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from gateway.contract.errors import RetriableSyncError
from gateway.kernel.config import PushConfig, load_systems
from gateway.ops.alerts import open_alerts
from gateway.orchestration import tasks
from gateway.store.tables import dead_letters, outbox
from gateway.sync.engine import sync_system
from gateway.sync.push import may_give_up, push, retry_span

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def _count(world, *where) -> int:
    with world.runtime.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(outbox).where(*where)).scalar_one())


def _attempts(world) -> list[int]:
    with world.runtime.engine.connect() as conn:
        return list(conn.execute(select(outbox.c.attempts).where(outbox.c.status == "pending")).scalars())


def _push_alerts(world) -> list[str]:
    return [a["key"] for a in open_alerts(world.runtime.engine) if a["kind"] == "push_dead"]


@pytest.fixture
def hall_world(make_world, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    world = make_world(civil=12, estate=3, social=0, welfare=0)
    # The hall's connector without its own retries: each write to a hall that is down fails at once (the push's
    # behaviour is the same, the test is seconds instead of minutes).
    hall = yaml.safe_load((REPO / "config" / "connectors" / "sd_hall.yaml").read_text(encoding="utf-8"))
    hall["retry"] = {"max_attempts": 1, "backoff_seconds": 0, "jitter": False}
    (tmp_path / "sd_hall_connector.yaml").write_text(yaml.safe_dump(hall, allow_unicode=True), encoding="utf-8")
    systems = yaml.safe_load(world.systems_path.read_text(encoding="utf-8"))
    systems["systems"]["sd_hall"]["connector_config"] = str(tmp_path / "sd_hall_connector.yaml")
    world.systems_path.write_text(yaml.safe_dump(systems, allow_unicode=True), encoding="utf-8")
    world.runtime.systems = load_systems(world.systems_path)
    monkeypatch.setenv("TONGBAN_SYSTEMS", str(world.systems_path))
    monkeypatch.setenv("TONGBAN_DATABASE_URL", database_url)
    sync_system(world.runtime, "sd_civil")
    assert _count(world, outbox.c.target_system == "sd_hall", outbox.c.status == "pending") > 0
    return world


def test_a_drain_tries_each_row_once_and_an_outage_fails_the_task_without_losing_a_case(hall_world) -> None:
    world = hall_world
    queued = _count(world, outbox.c.target_system == "sd_hall")
    world.sandbox.set_faults("hall", outage=True)  # every request, the token endpoint's too: HTTP 503
    for _ in range(3):  # the task and two immediate Airflow retries
        with pytest.raises(tasks.PushFailed, match="sd_hall unreachable"):
            tasks.run_push("sd_hall")
    attempts = _attempts(world)
    assert len(attempts) == _count(world, outbox.c.target_system == "sd_hall", outbox.c.status != "superseded")
    assert max(attempts) == 1, "a drain or a retry soon after must not try a backed-off row again"
    assert sum(attempts) <= 3 * 3, "a drain stops after three failures in a row (OUTAGE_STREAK)"

    # Hours of outage, drained every 30 minutes: far past max_attempts, still nothing is given up.
    moment = datetime.now(timezone.utc)
    for _ in range(10):
        moment += timedelta(minutes=30)
        report = push(world.runtime, targets=["sd_hall"], now=moment).targets[0]
        assert report.error and "unreachable" in report.error and report.dead == 0
    assert max(_attempts(world)) > 8  # max_attempts is 8
    assert _count(world, outbox.c.status == "dead") == 0
    assert _push_alerts(world) == []
    # the drain's own alert, whoever ran it (a shell's `tongban push` exited 1 and no view said why)
    (failed,) = open_alerts(world.runtime.engine, kind="push_failed")
    assert failed["key"] == "sd_hall" and "unreachable" in failed["message"] and failed["level"] == "error"

    world.sandbox.set_faults("hall")
    assert tasks.run_push("sd_hall")["ok"]  # the probe got through (the rest are backed off): green again
    assert open_alerts(world.runtime.engine, kind="push_failed") == []
    after = push(world.runtime, targets=["sd_hall"], now=moment + timedelta(days=1)).targets[0]
    assert after.error is None and after.pending == 0
    assert _count(world, outbox.c.target_system == "sd_hall", outbox.c.status == "delivered") + _count(
        world, outbox.c.target_system == "sd_hall", outbox.c.status == "superseded") == queued
    hall = world.admin("sd_hall", "GET", "/_sandbox/cases")
    assert hall and all(c["applied_writes"] == 1 for c in hall), "a write was applied twice"


def test_dead_pushes_raise_an_alert_that_a_clean_drain_resolves(hall_world) -> None:
    world = hall_world
    system = world.runtime.systems.get("sd_hall")
    assert system.push is not None
    system.push.max_attempts, system.push.dead_after = 2, timedelta(seconds=1)  # a policy that gives up soon
    world.sandbox.set_faults("hall", outage=True)
    moment = datetime.now(timezone.utc)
    dead = 0
    for _ in range(60):  # each drain tries rows never tried first: every row fails once before any fails twice
        moment += timedelta(hours=1)
        dead += push(world.runtime, targets=["sd_hall"], now=moment).targets[0].dead
        if dead:
            break
    assert dead > 0 and _count(world, outbox.c.status == "dead") == dead
    with world.runtime.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(dead_letters)
                            .where(dead_letters.c.kind == "push")).scalar_one() == dead
    assert _push_alerts(world) == ["sd_hall"]

    world.sandbox.set_faults("hall")
    sync_system(world.runtime, "sd_civil")
    world.admin("sd_civil", "POST", "/_sandbox/mutate", json={"count": 2})
    sync_system(world.runtime, "sd_civil")  # something new to deliver
    clean = push(world.runtime, targets=["sd_hall"]).targets[0]
    assert clean.error is None and clean.dead == 0 and clean.delivered > 0
    assert _push_alerts(world) == []


def test_a_row_is_dead_only_after_max_attempts_and_dead_after_both() -> None:
    assert PushConfig().dead_after == timedelta(hours=6)
    assert PushConfig(dead_after="30m").dead_after == timedelta(minutes=30)
    assert retry_span(1) == timedelta() and retry_span(3) == timedelta(seconds=6)
    assert not may_give_up(8, max_attempts=8, dead_after=timedelta(hours=6))  # 254 s of back-off is not hours
    first = next(n for n in range(1, 100) if may_give_up(n, max_attempts=8, dead_after=timedelta(hours=6)))
    assert retry_span(first) >= timedelta(hours=6) > retry_span(first - 1)
    assert may_give_up(8, max_attempts=8, dead_after=timedelta(seconds=1))


class _Throttled:
    """A hall that answers every write "429, come back in an hour" (a Retry-After past the transport's own wait)."""

    def __init__(self) -> None:
        self.writes = 0

    def write(self, stream, record, *, key, idempotency_key, operation):  # noqa: ANN001, ANN201 - the contract's
        self.writes += 1
        raise RetriableSyncError("sd_hall: HTTP 429, Retry-After 3600 s", retry_after=3600.0)

    def close(self) -> None:
        pass


def test_a_target_that_asks_to_wait_is_left_alone_for_as_long_as_it_asked(hall_world) -> None:
    world = hall_world
    hall = _Throttled()
    moment = datetime.now(timezone.utc)
    report = push(world.runtime, targets=["sd_hall"], connectors={"sd_hall": hall}, now=moment).targets[0]
    assert hall.writes == 1 and report.retried == 1 and report.dead == 0  # one write, then the drain stops
    with world.runtime.engine.connect() as conn:
        tried = conn.execute(select(outbox.c.next_attempt_at).where(outbox.c.attempts == 1)).scalars().all()
    assert len(tried) == 1 and tried[0] >= moment + timedelta(seconds=3600)
    assert max(_attempts(world)) == 1 and sorted(set(_attempts(world))) == [0, 1]  # the rest untouched, queued
