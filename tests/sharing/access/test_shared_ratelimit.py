"""Rate limits shared through Redis: one quota per client whichever process asks, the store's clock, keys that
expire, and the deliberate fail-open when Redis is down (a per-process share, a metric, an alert in the ledger)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from gateway.contract.errors import ConfigError
from gateway.ops.alerts import open_alerts
from gateway.sharing.access import RateLimiter, RedisRateLimiter, make_rate_limiter
from gateway.sharing.access.shared_ratelimit import LedgerReports, LimiterReports, RateLimitCollector
from gateway.sharing.settings import GatewaySettings, parse_gateway_settings
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade


def _admitted(limiters: list[RateLimiter] | list[RedisRateLimiter], client: str, rate: float, calls: int) -> int:
    return sum(limiters[i % len(limiters)].allow(client, rate) == 0 for i in range(calls))


def _closed_port() -> int:
    with socket.socket() as sock:  # bound, never listening, then closed: connecting is refused at once
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_two_processes_share_one_bucket_where_memory_gives_each_its_own(redis_url: str, redis_prefix: str) -> None:
    first, second = (RedisRateLimiter(redis_url, prefix=redis_prefix) for _ in range(2))
    started = time.monotonic()
    shared = _admitted([first, second], "c1", rate=5, calls=20)
    refilled = (time.monotonic() - started) * 5  # tokens that came back while the calls ran
    assert 5 <= shared <= 5 + refilled + 1
    assert _admitted([RateLimiter(), RateLimiter()], "c1", rate=5, calls=20) == 10  # per process: twice the quota
    wait = first.allow("c1", 5)
    assert 0 < wait <= 0.2 + 1e-6 and RedisRateLimiter.retry_after_header(wait) == "1"
    assert first.allow("someone-else", 5) == 0  # buckets are per client
    deadline = time.monotonic() + 30  # refills at the rate: admitted again once a token is back
    while first.allow("c1", 5) != 0:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    first.close()
    second.close()


def test_a_bucket_key_lives_only_until_it_would_be_full_again(redis_url: str, redis_prefix: str) -> None:
    import redis

    limiter = RedisRateLimiter(redis_url, prefix=redis_prefix)
    assert limiter.allow("c2", 4) == 0
    client = redis.Redis.from_url(redis_url)
    ttl = client.pttl(redis_prefix + "bucket:c2")
    assert 0 < ttl <= 4 / 4 * 1000 + 1000  # capacity / rate, plus a second of margin
    assert 0 < client.ttl(redis_prefix + "processes") <= 30
    state = client.hgetall(redis_prefix + "bucket:c2")
    assert float(state[b"tokens"]) == pytest.approx(3, abs=0.1)
    assert int(state[b"ts"]) > 1_600_000_000_000_000  # Redis's clock (TIME, microseconds), not this host's
    # 0 is no rate (refused by clients add; a row from before gets the default), never "no limit"
    assert limiter.allow("c3", 0) == 0 and client.exists(redis_prefix + "bucket:c3")
    client.close()
    limiter.close()


class Recorded(LimiterReports):
    """What a limiter reported, in order (and, given ``ledger``, passed on to it)."""

    def __init__(self, ledger: LimiterReports | None = None) -> None:
        self.changes: list[tuple[bool, str, str]] = []
        self.ledger = ledger or LimiterReports()

    def state_changed(self, shared: bool, reason: str, level: str) -> None:
        self.changes.append((shared, reason, level))
        self.ledger.state_changed(shared, reason, level)

    def still_degraded(self, reason: str, level: str) -> None:
        self.ledger.still_degraded(reason, level)

    def sharing(self) -> None:
        self.ledger.sharing()

    def remember_processes(self, processes: int) -> None:
        self.ledger.remember_processes(processes)

    def recall_processes(self) -> int | None:
        return self.ledger.recall_processes()


def _ledger(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    upgrade(engine)
    return engine


def _eventually(check, what: str) -> None:
    deadline = time.monotonic() + 30
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_with_no_redis_the_limiter_fails_open_to_its_share_of_the_rate() -> None:
    reports = Recorded()
    limiter = RedisRateLimiter(f"redis://127.0.0.1:{_closed_port()}/0", processes=2, retry_interval=60,
                               reports=reports)
    assert _admitted([limiter], "c4", rate=10, calls=20) == 5  # rate/N = 5: a burst of 5, not 10
    assert limiter.shared is False and limiter.store_errors == 1  # tried once, not on every request
    assert limiter.fallback_decisions == 20
    assert [(shared, level) for shared, _, level in reports.changes] == [(False, "warning")]
    assert "rate/2" in reports.changes[0][1] and "unreachable" in reports.changes[0][1]
    registry = CollectorRegistry()
    registry.register(RateLimitCollector(limiter))
    text = generate_latest(registry).decode()
    assert "tongban_rate_limit_shared 0.0" in text and "tongban_rate_limit_fallback_decisions_total 20.0" in text


def test_an_outage_raises_an_alert_and_recovery_shares_the_quota_again(private_redis, tmp_path: Path) -> None:
    engine = _ledger(tmp_path)
    reports = Recorded(LedgerReports(engine))
    limiter = RedisRateLimiter(private_redis.url, retry_interval=0.5, heartbeat=0, reports=reports)
    other = RedisRateLimiter(private_redis.url)
    assert limiter.allow("c5", 10) == 0 and other.allow("c5", 10) == 0
    assert limiter.allow("c5", 10) == 0 and limiter.share == 2  # both processes seen
    private_redis.stop()  # the outage

    assert _admitted([limiter], "c5", rate=10, calls=20) == 5  # its share: 10 / 2 processes
    assert [shared for shared, _, _ in reports.changes] == [False]
    deadline = time.monotonic() + 30
    while not open_alerts(engine, kind="rate_limit_degraded"):
        assert time.monotonic() < deadline, "no rate_limit_degraded alert in the ledger"
        time.sleep(0.05)
    (alert,) = open_alerts(engine, kind="rate_limit_degraded")
    assert alert["level"] == "warning" and "unreachable" in alert["message"]

    private_redis.start()  # back, empty (no persistence): the next attempt after retry_interval shares again
    deadline = time.monotonic() + 30
    while not limiter.shared:
        assert time.monotonic() < deadline, "the limiter did not go back to the store"
        limiter.allow("c5", 10)
        time.sleep(0.05)
    assert [shared for shared, _, _ in reports.changes] == [False, True]
    deadline = time.monotonic() + 30
    while open_alerts(engine, kind="rate_limit_degraded"):
        assert time.monotonic() < deadline, "the alert was not resolved"
        time.sleep(0.05)
    limiter.close()
    other.close()
    engine.dispose()


def test_the_store_is_configured_in_the_gateway_file(monkeypatch: pytest.MonkeyPatch) -> None:
    here = Path(__file__).parent
    assert GatewaySettings().rate_limit_store == "memory"
    assert isinstance(make_rate_limiter(GatewaySettings()), RateLimiter)
    monkeypatch.setenv("TB_TEST_RL", "redis://:s3cret@127.0.0.1:6379/2")
    settings = parse_gateway_settings("rate_limit_store: ${TB_TEST_RL}\nrate_limit_processes: 3\n", base_dir=here)
    limiter = make_rate_limiter(settings)  # connects lazily
    assert isinstance(limiter, RedisRateLimiter) and not limiter.local and limiter.share == 3
    assert limiter._redis.connection_pool.connection_kwargs["password"] == "s3cret"  # noqa: SLF001
    limiter.close()
    assert parse_gateway_settings("rate_limit_store: ${TB_UNSET_RL:-memory}\n", base_dir=here).rate_limit_store == "memory"
    with pytest.raises(ConfigError, match="no password in the gateway file"):
        parse_gateway_settings("rate_limit_store: redis://:s3cret@127.0.0.1:6379/2\n", base_dir=here)
    with pytest.raises(ConfigError, match="expected memory or a redis"):
        parse_gateway_settings("rate_limit_store: http://127.0.0.1:6379\n", base_dir=here)


def test_a_bucket_stamped_ahead_of_the_stores_clock_refills_from_now(redis_url: str, redis_prefix: str) -> None:
    """Redis's clock behind the time a bucket was stamped with (a failover to a replica whose clock is behind, an
    NTP step back): the bucket refills from now. It was kept until the clock caught up — an empty bucket locked
    its client out for the whole skew, every 429 saying Retry-After: 1."""
    import redis

    client = redis.Redis.from_url(redis_url)
    limiter = RedisRateLimiter(redis_url, prefix=redis_prefix)
    seconds, micros = client.time()
    ahead = (seconds + 600) * 1_000_000 + micros  # the old master's clock, ten minutes ahead
    client.hset(redis_prefix + "bucket:c6", mapping={"tokens": "0", "ts": str(ahead)})
    wait = limiter.allow("c6", 10)
    assert 0 < wait <= 0.1 + 1e-6  # one token at 10/s: a tenth of a second, not ten minutes
    assert int(client.hget(redis_prefix + "bucket:c6", "ts")) < ahead
    _eventually(lambda: limiter.allow("c6", 10) == 0, "the bucket did not refill at its rate")
    limiter.close()
    client.close()


def test_a_process_started_during_an_outage_splits_the_quota_as_the_ledger_remembers(
        redis_url: str, redis_prefix: str, tmp_path: Path) -> None:
    """Two processes shared the store; a third starts while it is down: it takes its share (rate / 2, the count
    the ledger remembers), not the full rate — with nothing remembered it admits the full rate and says at level
    error that the count is unknown."""
    engine = _ledger(tmp_path)
    first = RedisRateLimiter(redis_url, prefix=redis_prefix, heartbeat=0, reports=LedgerReports(engine))
    second = RedisRateLimiter(redis_url, prefix=redis_prefix, heartbeat=0)
    assert second.allow("c7", 10) == 0 and first.allow("c7", 10) == 0 and first.share == 2
    from gateway.store.marks import read_mark

    def remembered() -> object:
        with engine.connect() as conn:
            return (read_mark(conn, "rate_limit.processes") or {}).get("processes")

    _eventually(lambda: remembered() == 2, "the process count was not remembered in the ledger")
    down = f"redis://127.0.0.1:{_closed_port()}/0"
    reports = Recorded(LedgerReports(engine))
    late = RedisRateLimiter(down, prefix=redis_prefix, retry_interval=60, reports=reports)
    assert _admitted([late], "c7", rate=10, calls=20) == 5 and late.share == 2
    assert [(shared, level) for shared, _, level in reports.changes] == [(False, "warning")]

    alone = Recorded()
    unknown = RedisRateLimiter(down, prefix=redis_prefix, retry_interval=60, reports=alone)
    assert _admitted([unknown], "c7", rate=10, calls=20) == 10 and unknown.share == 1
    ((shared, reason, level),) = alone.changes
    assert (shared, level) == (False, "error") and "rate_limit_processes" in reason, reason
    for limiter in (first, second, late, unknown):
        limiter.close()
    engine.dispose()


def test_a_store_that_refuses_the_gateway_is_an_error_not_an_outage(private_redis) -> None:
    """A wrong password, or a replica after a failover (read-only): the store answers but will not serve — a
    configuration to fix, said at level error, not an outage to wait out ("unreachable", a warning)."""
    import redis

    admin = redis.Redis.from_url(private_redis.url)
    admin.config_set("requirepass", "s3cret")
    reports = Recorded()
    limiter = RedisRateLimiter(private_redis.url, processes=2, retry_interval=60, reports=reports)
    assert limiter.allow("c8", 10) == 0 and limiter.shared is False
    ((_, reason, level),) = reports.changes
    assert level == "error" and "refuses this gateway" in reason and "AuthenticationError" in reason, reason
    limiter.close()

    admin = redis.Redis.from_url(private_redis.url, password="s3cret")
    admin.config_set("requirepass", "")
    admin.replicaof("127.0.0.1", _closed_port())  # a replica: writes are refused
    reports = Recorded()
    limiter = RedisRateLimiter(private_redis.url, processes=2, retry_interval=60, reports=reports)
    assert limiter.allow("c8", 10) == 0 and limiter.shared is False
    ((_, reason, level),) = reports.changes
    assert level == "error" and "ReadOnlyError" in reason, reason
    limiter.close()
    admin.close()


def test_one_request_probes_a_store_that_hangs_while_the_others_decide_at_once() -> None:
    """The store's host gone without a reset (connections hang until the timeout): when the retry is due, one
    request pays the attempt; the others in flight decide locally without waiting (each of them paid it, on the
    gateway's database threads)."""
    import threading

    server = socket.socket()  # a listening socket whose backlog is full: connecting hangs like a dropped SYN
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(8):
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(filler)
    time.sleep(0.2)
    limiter = RedisRateLimiter(f"redis://127.0.0.1:{port}/0", processes=2, timeout=1.0, retry_interval=0.5)
    assert limiter.allow("c9", 100) == 0 and limiter.store_errors == 1  # degraded after one timeout
    time.sleep(0.6)  # the retry is due
    barrier = threading.Barrier(8)
    waited: list[float] = []

    def call() -> None:
        barrier.wait()
        started = time.monotonic()
        limiter.allow("c9", 100)
        waited.append(time.monotonic() - started)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert limiter.store_errors == 2, limiter.store_errors  # one probe, not eight
    assert sum(w >= 0.5 for w in waited) == 1, waited
    limiter.close()
    for sock in (*fillers, server):
        sock.close()


def test_an_alert_left_by_a_process_that_exited_degraded_is_resolved_by_one_that_shares(
        redis_url: str, redis_prefix: str, tmp_path: Path) -> None:
    """A process degraded, then exited (a restart during the outage): nobody resolved its alert, keyed by its
    pid, and ``tongban status`` said the store was unreachable for good. A degraded process refreshes its alert at
    each failed attempt; a process that shares resolves those not refreshed for a minute."""
    from datetime import timedelta

    from sqlalchemy import update

    from gateway.ops.alerts import raise_alert
    from gateway.store.ledger import utcnow
    from gateway.store.tables import alerts

    engine = _ledger(tmp_path)
    raise_alert(engine, "rate_limit_degraded", "gone-host:4242", level="warning", message="unreachable")
    raise_alert(engine, "rate_limit_degraded", "live-host:7", level="warning", message="unreachable")
    with engine.begin() as conn:  # the exited process's alert, last refreshed two minutes ago
        conn.execute(update(alerts).where(alerts.c.key == "gone-host:4242")
                     .values(last_seen_at=utcnow() - timedelta(minutes=2)))
    limiter = RedisRateLimiter(redis_url, prefix=redis_prefix, reports=LedgerReports(engine))
    assert limiter.allow("c10", 10) == 0
    _eventually(lambda: [a["key"] for a in open_alerts(engine, kind="rate_limit_degraded")] == ["live-host:7"],
                "the stale alert was not resolved (or the live one was)")
    limiter.close()
    engine.dispose()


def test_the_prefix_and_the_timeout_are_set_in_the_gateway_file(monkeypatch: pytest.MonkeyPatch) -> None:
    here = Path(__file__).parent
    settings = parse_gateway_settings("rate_limit_store: redis://127.0.0.1:6379/2\nrate_limit_prefix: 'staging:rl:'\n"
                                      "rate_limit_timeout: 1.5\n", base_dir=here)
    limiter = make_rate_limiter(settings)
    assert isinstance(limiter, RedisRateLimiter) and limiter.prefix == "staging:rl:"
    assert limiter._redis.connection_pool.connection_kwargs["socket_timeout"] == 1.5  # noqa: SLF001
    limiter.close()
    with pytest.raises(ConfigError):
        parse_gateway_settings("rate_limit_timeout: 0\n", base_dir=here)


def test_readiness_says_when_quotas_are_no_longer_shared(tmp_path: Path) -> None:
    """Degraded sharing was said by the alert and the gauge only: an operator probing a process's /readyz saw
    "ready" and nothing else. It stays ready (it serves, each process its share) and says how."""
    from fastapi.testclient import TestClient
    from gateway_testlib import make_gateway

    from gateway.sharing.api import create_app
    from gateway.sharing.settings import load_gateway_settings

    engine = _ledger(tmp_path)
    settings = load_gateway_settings(Path(__file__).resolve().parents[3] / "config" / "gateway.yaml").model_copy(
        update={"rate_limit_store": f"redis://127.0.0.1:{_closed_port()}/0", "rate_limit_processes": 2})
    gw = make_gateway(engine, settings=settings)
    with TestClient(create_app(gw, webhook_interval=0)) as client:
        assert client.get("/readyz").json()["checks"]["rate_limits"] == "shared"  # nothing asked of the store yet
        gw.limiter.allow("some-client", 10)
        ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert ready.json()["checks"]["rate_limits"].startswith("degraded") and "rate/2" in ready.json()["checks"][
        "rate_limits"]
    engine.dispose()
