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
itself every few seconds). A process that never reached the store (started during the outage) takes the count
the ledger remembers (mark ``rate_limit.processes``, written whenever a process sees it change); with none there
either it admits the full rate and says, at level error, that the count is unknown. Balanced traffic then still
gets about its quota in total; traffic pinned to one process gets its share. While degraded:

- the gauge ``tongban_rate_limit_shared`` is 0 and ``tongban_rate_limit_fallback_decisions`` counts the
  decisions taken locally (alert on ``tongban_rate_limit_shared == 0``);
- the gateway opens the alert ``rate_limit_degraded`` (one per process) in the ledger, which ``tongban status``
  and the console show, refreshes it at each failed attempt and resolves it when Redis answers again; one a
  process left open when it exited is resolved by a process that shares, once it has not been refreshed for a
  minute. A store that answers but will not serve (a wrong password, a replica after a failover: read-only) is
  a configuration to fix, not an outage: its alert is an error;
- the store is retried at most every ``retry_interval`` seconds: one request pays the attempt (bounded by the
  socket ``timeout``, ``rate_limit_timeout`` in the gateway file; a refused connection costs nothing), the
  requests meanwhile decide locally without waiting, never on every request.

Buckets live under ``rate_limit_prefix`` (default ``tongban:ratelimit:``): two deployments sharing one Redis
database (a staging copy of production) need prefixes of their own, or they spend each other's quotas.
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

__all__ = ["PRESENCE_WINDOW", "LedgerReports", "LimiterReports", "RateLimitCollector", "RedisRateLimiter",
           "make_rate_limiter"]

log = logging.getLogger("gateway.sharing.ratelimit")

PRESENCE_WINDOW = 15.0
"""Seconds a process counts as sharing the store after its last heartbeat."""

SWEEP_EVERY = 60.0
"""Seconds between two sweeps, by a process that shares, of the alerts processes that exited degraded left open."""

DEFAULT_PREFIX = "tongban:ratelimit:"
"""Where the buckets and the process set live in Redis (``rate_limit_prefix``: one per deployment sharing a
database)."""

DEFAULT_TIMEOUT = 0.25
"""Seconds a request waits for the store before deciding in this process (``rate_limit_timeout``)."""

PROCESSES_MARK = "rate_limit.processes"
"""The ledger mark remembering how many processes were last seen sharing the store."""

# KEYS[1] the client's bucket; ARGV: rate (tokens/s), capacity (tokens), key lifetime (ms).
# Returns the seconds to wait as a string (a Lua number returned to Redis is truncated to an integer).
# A bucket stamped later than Redis's clock now (a failover to a replica whose clock is behind, an NTP step back)
# refills from now: kept "until the clock catches up", an empty bucket locked its client out for the whole skew.
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
if ts > now then
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
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', string.format('%d', now))
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


class LimiterReports:
    """Where a shared limiter reports what it cannot keep in a metric: the base reports nothing (a limiter with no
    ledger; the metric and the log line still tell). :class:`LedgerReports` writes them to the ledger."""

    def state_changed(self, shared: bool, reason: str, level: str) -> None:
        """Quotas stopped being shared (``shared`` False: the store is unreachable or refuses) or are again."""

    def still_degraded(self, reason: str, level: str) -> None:
        """Another attempt at the store failed while degraded."""

    def sharing(self) -> None:
        """The store answered (called at most every :data:`SWEEP_EVERY` seconds)."""

    def remember_processes(self, processes: int) -> None:
        """The number of processes seen sharing the store changed."""

    def recall_processes(self) -> int | None:
        """The number last remembered, for a process that has not reached the store itself."""
        return None


class RedisRateLimiter:
    """Token buckets shared through Redis; same answers as :class:`~.ratelimit.RateLimiter`.

    ``processes``: how many gateway processes share a quota when Redis is unreachable (each then admits
    ``rate / processes``); ``None`` — as many as were last seen using the store (by this process, or by any
    process, remembered in the ledger: ``reports``)."""

    local = False

    def __init__(self, url: str, *, default_rate: float = 50.0, burst_seconds: float = 1.0,
                 prefix: str = DEFAULT_PREFIX, password: str | None = None, processes: int | None = None,
                 timeout: float = DEFAULT_TIMEOUT, retry_interval: float = 5.0, heartbeat: float = 5.0,
                 reports: LimiterReports | None = None) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.exceptions import NoPermissionError, ReadOnlyError
        from redis.retry import Retry

        self.url = url
        self.default_rate = default_rate
        self.burst_seconds = burst_seconds
        self.prefix = prefix
        self.processes = processes
        self.retry_interval = retry_interval
        self.heartbeat = heartbeat
        self.reports = reports or LimiterReports()
        extra: dict[str, Any] = {"password": password} if password else {}
        # no retries inside redis-py: a failure is answered from the local bucket at once, and retried later
        self._redis = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                           retry=Retry(NoBackoff(), 0), **extra)
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        # the store answers but will not serve: a configuration to fix, not an outage to wait out
        self._refusals: tuple[type[BaseException], ...] = (redis.AuthenticationError, ReadOnlyError,
                                                           NoPermissionError)
        self._bucket = self._redis.register_script(_BUCKET)
        self._presence = self._redis.register_script(_PRESENCE)
        self._fallback = RateLimiter(default_rate, burst_seconds)
        self.process_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.shared = True
        """False while Redis is unreachable and decisions are taken in this process."""
        self.seen_processes: int | None = None
        """How many processes share the store: as this process last saw it, else as the ledger remembers it."""
        self.fallback_decisions = 0
        self.store_errors = 0
        self._retry_at = 0.0
        self._next_heartbeat = 0.0
        self._next_sweep = 0.0
        self._lock = threading.Lock()

    retry_after_header = staticmethod(retry_after_header)

    @property
    def share(self) -> int:
        """N: the number of processes a quota is split between while degraded."""
        return self.processes or max(1, self.seen_processes or 1)

    def allow(self, client_id: str, rate: float | None = None) -> float:
        r = effective_rate(rate, self.default_rate)
        now = time.monotonic()
        if not self.shared:
            with self._lock:  # one request probes the store; the others meanwhile decide here, without waiting
                probing = now >= self._retry_at
                if probing:
                    self._retry_at = now + self.retry_interval
            if not probing:
                return self._local(client_id, r)
        capacity = max(1.0, r * self.burst_seconds)
        lifetime_ms = math.ceil(capacity / r * 1000) + 1000
        try:
            if now >= self._next_heartbeat:
                self._next_heartbeat = now + self.heartbeat
                self._heard(int(self._presence(keys=[self.prefix + "processes"],
                                               args=[self.process_id, PRESENCE_WINDOW])), now)
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

    def _heard(self, processes: int, now: float) -> None:
        """The store counted the processes sharing it: kept, and remembered in the ledger when it changed."""
        if processes != self.seen_processes:
            self.seen_processes = processes
            self.reports.remember_processes(processes)
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_EVERY
            self.reports.sharing()

    def _lost(self, exc: BaseException, now: float) -> None:
        if self.processes is None and self.seen_processes is None:
            # never reached the store (started during an outage): split as the ledger last saw it, not rate/1
            self.seen_processes = self.reports.recall_processes()
        with self._lock:
            self.store_errors += 1
            self._retry_at = now + self.retry_interval
            self._next_heartbeat = 0.0  # re-register as soon as the store is back
            was_shared, self.shared = self.shared, False
        refused = isinstance(exc, self._refusals)
        unknown = self.processes is None and self.seen_processes is None
        reason = (f"rate-limit store {self._redis_address()} "
                  f"{'refuses this gateway' if refused else 'unreachable'} ({type(exc).__name__}: {exc}); "
                  f"admitting rate/{self.share} per process until it answers"
                  + ("; how many processes share a quota is unknown (the store was never reached and the ledger "
                     "remembers no count): set rate_limit_processes in the gateway file" if unknown else ""))
        level = "error" if refused or unknown else "warning"
        if was_shared:
            log.warning("%s", reason)
            self.reports.state_changed(False, reason, level)
        else:
            self.reports.still_degraded(reason, level)

    def _regained(self) -> None:
        with self._lock:
            was_shared, self.shared = self.shared, True
            self._fallback = RateLimiter(self.default_rate, self.burst_seconds)
        if not was_shared:
            reason = f"rate-limit store {self._redis_address()} answers again: quotas are shared"
            log.warning("%s", reason)
            self.reports.state_changed(True, reason, "warning")

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


class LedgerReports(LimiterReports):
    """The ledger's side of a shared limiter: the alert ``rate_limit_degraded`` of this process (opened, refreshed
    at each failed attempt, resolved), the stale ones of processes that exited degraded resolved by a process that
    shares, and the number of processes seen (mark ``rate_limit.processes``). Written off the request's thread,
    in order (a request must not wait for the ledger); only :meth:`recall_processes` reads, once, on a process's
    first failure."""

    def __init__(self, engine: Any, *, retry_interval: float = 5.0) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.engine = engine
        self.key = f"{socket.gethostname()}:{os.getpid()}"
        # refreshed every retry while a process is degraded and asked; not for this long: its raiser is gone
        self.stale_after = max(60.0, 4 * retry_interval)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rate-limit-alert")

    def state_changed(self, shared: bool, reason: str, level: str) -> None:
        from gateway.ops.alerts import raise_alert, resolve_alerts

        if shared:
            self._submit(resolve_alerts, self.engine, "rate_limit_degraded", [self.key])
        else:
            self._submit(raise_alert, self.engine, "rate_limit_degraded", self.key, level=level, message=reason)

    def still_degraded(self, reason: str, level: str) -> None:
        self.state_changed(False, reason, level)

    def sharing(self) -> None:
        from datetime import timedelta

        from gateway.ops.alerts import resolve_stale_alerts

        self._submit(resolve_stale_alerts, self.engine, "rate_limit_degraded", timedelta(seconds=self.stale_after))

    def remember_processes(self, processes: int) -> None:
        self._submit(self._write_processes, processes)

    def recall_processes(self) -> int | None:
        from gateway.store.marks import read_mark

        try:
            with self.engine.connect() as conn:
                value = read_mark(conn, PROCESSES_MARK)
        except Exception as exc:  # noqa: BLE001 - the request goes on at rate/1, and says the count is unknown
            log.warning("could not read how many gateway processes share the rate-limit store: %s", exc)
            return None
        processes = value.get("processes") if isinstance(value, dict) else None
        return processes if isinstance(processes, int) and processes >= 1 else None

    def _write_processes(self, processes: int) -> None:
        from gateway.store.ledger import utcnow
        from gateway.store.marks import write_mark

        with self.engine.begin() as conn:
            write_mark(conn, PROCESSES_MARK, {"processes": processes, "seen_by": self.key,
                                              "at": utcnow().isoformat()})

    def _submit(self, write: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        def run() -> None:
            try:
                write(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - the metric and the log line still tell
                log.warning("could not record the rate-limit store's state in the ledger: %s", exc)

        self._writer.submit(run)


def make_rate_limiter(settings: Any, *, engine: Any = None) -> RateLimit:
    """The limiter the gateway file asks for: ``rate_limit_store: memory`` (default) or a Redis URL.

    With ``engine`` (the ledger), a shared limiter that loses its store opens the alert ``rate_limit_degraded``
    there, and resolves it when the store answers again."""
    store = getattr(settings, "rate_limit_store", "memory") or "memory"
    if store == "memory":
        return RateLimiter(settings.rate_limit)
    return RedisRateLimiter(store, default_rate=settings.rate_limit, processes=settings.rate_limit_processes,
                            prefix=settings.rate_limit_prefix, timeout=settings.rate_limit_timeout,
                            reports=LedgerReports(engine) if engine is not None else None)
