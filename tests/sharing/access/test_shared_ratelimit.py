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
from gateway.sharing.access.shared_ratelimit import RateLimitCollector, ledger_alerts
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


def test_with_no_redis_the_limiter_fails_open_to_its_share_of_the_rate() -> None:
    changes: list[tuple[bool, str]] = []
    limiter = RedisRateLimiter(f"redis://127.0.0.1:{_closed_port()}/0", processes=2, retry_interval=60,
                               on_state_change=lambda shared, reason: changes.append((shared, reason)))
    assert _admitted([limiter], "c4", rate=10, calls=20) == 5  # rate/N = 5: a burst of 5, not 10
    assert limiter.shared is False and limiter.store_errors == 1  # tried once, not on every request
    assert limiter.fallback_decisions == 20
    assert [shared for shared, _ in changes] == [False] and "rate/2" in changes[0][1]
    registry = CollectorRegistry()
    registry.register(RateLimitCollector(limiter))
    text = generate_latest(registry).decode()
    assert "tongban_rate_limit_shared 0.0" in text and "tongban_rate_limit_fallback_decisions_total 20.0" in text


def test_an_outage_raises_an_alert_and_recovery_shares_the_quota_again(private_redis, tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    upgrade(engine)
    changes: list[bool] = []
    report = ledger_alerts(engine)

    def on_change(shared: bool, reason: str) -> None:
        changes.append(shared)
        report(shared, reason)

    limiter = RedisRateLimiter(private_redis.url, retry_interval=0.5, heartbeat=0, on_state_change=on_change)
    other = RedisRateLimiter(private_redis.url)
    assert limiter.allow("c5", 10) == 0 and other.allow("c5", 10) == 0
    assert limiter.allow("c5", 10) == 0 and limiter.share == 2  # both processes seen
    private_redis.stop()  # the outage

    assert _admitted([limiter], "c5", rate=10, calls=20) == 5  # its share: 10 / 2 processes
    assert changes == [False]
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
    assert changes == [False, True]
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
