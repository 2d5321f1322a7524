"""One quota per client across every gateway process: token buckets in Redis.

Each request runs one Lua script (``EVALSHA``; redis-py falls back to ``EVAL`` once after a Redis restart)
that refills and takes from the client's bucket atomically, so two processes can never both spend the last
token. The script reads Redis's own clock (``TIME``): the gateway hosts' clocks may disagree, the bucket's
refill does not depend on them. A bucket key lives only as long as it carries information — until it would be
full again (``capacity / rate`` seconds) — so idle clients cost nothing.

    limiter = RedisRateLimiter("redis://127.0.0.1:6379/1", default_rate=100)
    wait = limiter.allow(client_id, rate)      # 0.0: admitted; else seconds until a request would be

**When Redis is down the limiter fails open, to a per-process bucket at rate / N.** The rate limit is a
fairness and protection control, not an access control: every release is still authenticated, checked against
the sharing policy and the holder's consent, and audited — all on the ledger, which stays the gateway's one
hard dependency. Failing closed (503) would turn a Redis outage into an outage of certificate sharing for every
department, with citizens waiting at counters, while adding nothing to the safety of any release. Failing open
to the *full* rate per process would multiply each quota by the number of processes. So each process admits
``rate / N``, N being ``rate_limit_processes`` from the gateway file or else the number of gateway processes
seen using the store in the last :data:`PRESENCE_WINDOW` seconds before it failed (each process registers
itself every few seconds). Balanced traffic then still gets about its quota in total; traffic pinned to one
process gets its share. While degraded:

- the gauge ``tongban_rate_limit_shared`` is 0 and ``tongban_rate_limit_fallback_decisions`` counts the
  decisions taken locally (alert on ``tongban_rate_limit_shared == 0``);
- the gateway opens the alert ``rate_limit_degraded`` (one per process) in the ledger, which ``tongban status``
  and the console show, and resolves it when Redis answers again;
- the store is retried at most every ``retry_interval`` seconds (one request pays the attempt, bounded by the
  socket ``timeout``; a refused connection costs nothing), never on every request.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from gateway.sharing.access.ratelimit import RateLimit, RateLimiter, effective_rate, retry_after_header

__all__ = ["PRESENCE_WINDOW", "RateLimitCollector", "RedisRateLimiter", "ledger_alerts", "make_rate_limiter"]

log = logging.getLogger("gateway.sharing.ratelimit")

PRESENCE_WINDOW = 15.0
"""Seconds a process counts as sharing the store after its last heartbeat."""

# KEYS[1] the client's bucket; ARGV: rate (tokens/s), capacity (tokens), key lifetime (ms).
# Returns the seconds to wait as a string (a Lua number returned to Redis is truncated to an integer).
_BUCKET = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
if now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * rate / 1000000)
end
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', string.format('%d', math.max(now, ts)))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return string.format('%.17g', wait)
"""

# KEYS[1] the set of processes; ARGV: this process, window (s). Returns how many processes are present.
_PRESENCE = """
local now = tonumber(redis.call('TIME')[1])
local window = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('EXPIRE', KEYS[1], math.ceil(window * 2))
return redis.call('ZCARD', KEYS[1])
"""


class RedisRateLimiter:
    """Token buckets shared through Redis; same answers as :class:`~.ratelimit.RateLimiter`.

    ``processes``: how many gateway processes share a quota when Redis is unreachable (each then admits
    ``rate / processes``); ``None`` — as many as were last seen using the store."""

    local = False

    def __init__(self, url: str, *, default_rate: float = 50.0, burst_seconds: float = 1.0,
                 prefix: str = "tongban:ratelimit:", password: str | None = None, processes: int | None = None,
                 timeout: float = 0.25, retry_interval: float = 5.0, heartbeat: float = 5.0,
                 on_state_change: Callable[[bool, str], None] | None = None) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.url = url
        self.default_rate = default_rate
        self.burst_seconds = burst_seconds
        self.prefix = prefix
        self.processes = processes
        self.retry_interval = retry_interval
        self.heartbeat = heartbeat
        self.on_state_change = on_state_change
        extra: dict[str, Any] = {"password": password} if password else {}
        # no retries inside redis-py: a failure is answered from the local bucket at once, and retried later
        self._redis = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                           retry=Retry(NoBackoff(), 0), **extra)
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._bucket = self._redis.register_script(_BUCKET)
        self._presence = self._redis.register_script(_PRESENCE)
        self._fallback = RateLimiter(default_rate, burst_seconds)
        self.process_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.shared = True
        """False while Redis is unreachable and decisions are taken in this process."""
        self.seen_processes = 1
        self.fallback_decisions = 0
        self.store_errors = 0
        self._retry_at = 0.0
        self._next_heartbeat = 0.0
        self._lock = threading.Lock()

    retry_after_header = staticmethod(retry_after_header)

    @property
    def share(self) -> int:
        """N: the number of processes a quota is split between while degraded."""
        return self.processes or max(1, self.seen_processes)

    def allow(self, client_id: str, rate: float | None = None) -> float:
        r = effective_rate(rate, self.default_rate)
        now = time.monotonic()
        if not self.shared and now < self._retry_at:
            return self._local(client_id, r)
        capacity = max(1.0, r * self.burst_seconds)
        lifetime_ms = math.ceil(capacity / r * 1000) + 1000
        try:
            if now >= self._next_heartbeat:
                self._next_heartbeat = now + self.heartbeat
                self.seen_processes = int(self._presence(keys=[self.prefix + "processes"],
                                                         args=[self.process_id, PRESENCE_WINDOW]))
            wait = float(self._bucket(keys=[self.prefix + "bucket:" + client_id], args=[r, capacity, lifetime_ms]))
        except self._errors as exc:
            self._lost(exc, now)
            return self._local(client_id, r)
        if not self.shared:
            self._regained()
        return wait

    def close(self) -> None:
        self._redis.close()

    def _local(self, client_id: str, rate: float) -> float:
        with self._lock:
            self.fallback_decisions += 1
            return self._fallback.allow(client_id, rate / self.share)

    def _lost(self, exc: BaseException, now: float) -> None:
        with self._lock:
            self.store_errors += 1
            self._retry_at = now + self.retry_interval
            self._next_heartbeat = 0.0  # re-register as soon as the store is back
            was_shared, self.shared = self.shared, False
        if was_shared:
            reason = (f"rate-limit store {self._redis_address()} unreachable ({type(exc).__name__}: {exc}); "
                      f"admitting rate/{self.share} per process until it answers")
            log.warning("%s", reason)
            self._notify(False, reason)

    def _regained(self) -> None:
        with self._lock:
            was_shared, self.shared = self.shared, True
            self._fallback = RateLimiter(self.default_rate, self.burst_seconds)
        if not was_shared:
            reason = f"rate-limit store {self._redis_address()} answers again: quotas are shared"
            log.warning("%s", reason)
            self._notify(True, reason)

    def _notify(self, shared: bool, reason: str) -> None:
        if self.on_state_change is not None:
            try:
                self.on_state_change(shared, reason)
            except Exception as exc:  # noqa: BLE001 - reporting must never fail a request
                log.warning("reporting the rate-limit store's state failed: %s", exc)

    def _redis_address(self) -> str:
        kwargs = self._redis.connection_pool.connection_kwargs
        if "path" in kwargs:
            return f"unix:{kwargs['path']}"
        return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"


class RateLimitCollector:
    """Prometheus metrics of a shared limiter: whether quotas are shared now, and how many decisions were not."""

    def __init__(self, limiter: RedisRateLimiter) -> None:
        self.limiter = limiter

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        lim = self.limiter
        yield GaugeMetricFamily("tongban_rate_limit_shared", "1 while rate limits are shared through the store, "
                                "0 while this process decides alone (the store is unreachable)",
                                value=1 if lim.shared else 0)
        yield GaugeMetricFamily("tongban_rate_limit_processes", "Gateway processes sharing the store (last seen)",
                                value=lim.share)
        yield CounterMetricFamily("tongban_rate_limit_fallback_decisions", "Rate-limit decisions taken in this "
                                  "process because the store was unreachable", value=lim.fallback_decisions)
        yield CounterMetricFamily("tongban_rate_limit_store_errors", "Failed calls to the rate-limit store",
                                  value=lim.store_errors)


def ledger_alerts(engine: Any) -> Callable[[bool, str], None]:
    """``on_state_change`` that opens (and later resolves) the alert ``rate_limit_degraded`` of this process in
    the ledger, off the caller's thread (a request must not wait for it)."""
    from concurrent.futures import ThreadPoolExecutor

    from gateway.ops.alerts import raise_alert, resolve_alerts

    key = f"{socket.gethostname()}:{os.getpid()}"
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rate-limit-alert")  # in order: raise, resolve

    def write(shared: bool, reason: str) -> None:
        try:
            if shared:
                resolve_alerts(engine, "rate_limit_degraded", [key])
            else:
                raise_alert(engine, "rate_limit_degraded", key, level="warning", message=reason)
        except Exception as exc:  # noqa: BLE001 - the metric and the log line still tell
            log.warning("could not record the rate-limit alert: %s", exc)

    def report(shared: bool, reason: str) -> None:
        writer.submit(write, shared, reason)

    return report


def make_rate_limiter(settings: Any, *, engine: Any = None) -> RateLimit:
    """The limiter the gateway file asks for: ``rate_limit_store: memory`` (default) or a Redis URL.

    With ``engine`` (the ledger), a shared limiter that loses its store opens the alert ``rate_limit_degraded``
    there, and resolves it when the store answers again."""
    store = getattr(settings, "rate_limit_store", "memory") or "memory"
    if store == "memory":
        return RateLimiter(settings.rate_limit)
    return RedisRateLimiter(store, default_rate=settings.rate_limit, processes=settings.rate_limit_processes,
                            on_state_change=ledger_alerts(engine) if engine is not None else None)
