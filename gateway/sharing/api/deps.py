"""What every handler shares: the gateway runtime, a thread pool for the (synchronous) database driver,
authentication and scopes, per-client rate limits, the request hash, audit and signed answers."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any, TypeVar

import orjson
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.responses import Response

from gateway.crypto.batchsign import BatchSigner
from gateway.sharing.access.audit import AuditEntry
from gateway.sharing.access.clients import Client
from gateway.sharing.access.ratelimit import retry_after_header
from gateway.sharing.access.shared_ratelimit import RateLimitCollector, RedisRateLimiter
from gateway.sharing.settings import GatewayRuntime
from gateway.store.sharing_queries import FastReader

from .metrics import Metrics
from .problems import ProblemError

__all__ = ["Api", "Caller", "get_api", "require"]

T = TypeVar("T")
_bearer = HTTPBearer(auto_error=False, description="`tbk_<client id>_<secret>` from `tongban clients add`")


class FailedAuthentications:
    """Failed authentications per client address, in fixed windows: past ``limit`` in ``window`` seconds, an
    address's credentials that are not already known good (cached) are refused with 429 before any database read
    until the window ends. A valid credential seen recently still passes (from memory)."""

    def __init__(self, limit: int = 100, window: float = 10.0) -> None:
        self.limit = limit
        self.window = window
        self._seen: dict[str, tuple[float, int]] = {}

    def wait(self, address: str) -> float:
        """Seconds until ``address`` may try again (0: now)."""
        entry = self._seen.get(address)
        if entry is None:
            return 0.0
        left = entry[0] + self.window - time.monotonic()
        return left if left > 0 and entry[1] >= self.limit else 0.0

    def failed(self, address: str) -> None:
        now = time.monotonic()
        start, count = self._seen.get(address, (now, 0))
        if now - start >= self.window:
            start, count = now, 0
        if len(self._seen) > 10_000:
            self._seen = {a: e for a, e in self._seen.items() if now - e[0] < self.window}
        self._seen[address] = (start, count + 1)


class Api:
    def __init__(self, gw: GatewayRuntime, *, db_threads: int = 8) -> None:
        self.gw = gw
        self.db = ThreadPoolExecutor(max_workers=db_threads, thread_name_prefix="db")
        self.metrics = Metrics()
        if isinstance(gw.limiter, RedisRateLimiter):  # whether quotas are shared right now (0: Redis is down)
            self.metrics.registry.register(RateLimitCollector(gw.limiter))
        self.reader = FastReader(gw.read_engine)
        self.inline_reads = gw.read_engine.dialect.name == "sqlite"
        self.signer = BatchSigner(gw.signer)
        self.failed_auth = FailedAuthentications()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking database work off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self.db, fn, *args)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """A short indexed read of the hot path. On SQLite (a local file, WAL: a primary-key lookup takes tens of
        microseconds and never waits for a writer) it runs inline, because the hop to a thread and back costs
        more than the read; on a networked database it runs in the thread pool like :meth:`run`."""
        if self.inline_reads:
            return fn(*args)
        return await self.run(fn, *args)

    async def audit(self, entries: list[AuditEntry]) -> list[int]:
        """Append and wait until committed (group commit: concurrent requests share a transaction)."""
        if len(entries) == 1:
            seqs = [await self.gw.audit.append(entries[0])]
        else:
            seqs = await asyncio.gather(*(self.gw.audit.append(e) for e in entries))
        self.metrics.audit_entries.inc(len(entries))
        return list(seqs)

    async def signed_json(self, body: dict[str, Any], status: int = 200,
                          headers: dict[str, str] | None = None) -> Response:
        """A JSON answer signed by the gateway: ``Tongban-Signature`` + ``Tongban-Signature-Proof`` (a batch
        signature over its exact bytes, see :mod:`gateway.crypto.batchsign`)."""
        data = orjson.dumps(body)
        out = {**await self.signer.sign(data), **(headers or {})}
        return Response(data, status_code=status, media_type="application/json", headers=out)


async def get_api(request: Request) -> Api:
    api: Api = request.app.state.api
    return api


class Caller:
    """The authenticated client of this request, and the request's hash (what a signed answer is bound to)."""

    def __init__(self, client: Client, request: Request, body: bytes) -> None:
        self.client = client
        self.names = (client.name, client.client_id)
        digest = hashlib.sha256(body).hexdigest()
        scope = request.scope
        query = scope.get("query_string", b"").decode("latin-1")
        target = scope.get("root_path", "") + scope["path"] + (f"?{query}" if query else "")
        self.request_sha256 = hashlib.sha256(
            f"{request.method}\n{target}\n{client.client_id}\n{digest}".encode()).hexdigest()

    @property
    def full_ids(self) -> bool:
        return "pii:full" in self.client.scopes

    def deny_entry(self, action: str, outcome: str, **fields: Any) -> AuditEntry:
        return AuditEntry(action=action, outcome=outcome, client_id=self.client.client_id, **fields)


async def audit_refusal(api: Api, client: Client, kind: str, detail: str, *, action: str,
                        holder_ref: str | Collection[str] | None, case_no: str | None = None,
                        item_code: str | None = None, certificate: str | None = None) -> None:
    """A refusal of an authenticated client before its route ran (``denied:<kind>``), one entry per holder."""
    refs = [holder_ref] if holder_ref is None or isinstance(holder_ref, str) else sorted(holder_ref) or [None]
    await api.audit([AuditEntry(action=action, outcome=f"denied:{kind}", client_id=client.client_id, holder_ref=ref,
                                case_no=case_no, item_code=item_code, certificate=certificate, detail=detail)
                     for ref in refs])
    api.metrics.denials.labels(kind).inc()


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


RefusalHook = Callable[[Request, "Api", Client, str, str], Awaitable[None]]
"""Audits a refusal of an authenticated client (``kind``: ``rate_limit`` or ``scope``; ``detail``) for the holder
the request names, when a route knows it: a refused read of a holder's data is in their access log too."""


async def authenticate(request: Request, api: Api, scope: str, authorization: str | None,
                       refused: RefusalHook | None = None) -> Caller:
    """An authenticated, active client with ``scope``, within its rate limit (else a problem is raised; ``refused``
    audits a 429 or a missing scope for the holder the request names)."""
    scheme, _, credential = (authorization or "").strip().partition(" ")
    credential = credential.strip()  # "Bearer  tbk_…" reads the same on every route (RFC 9110 allows 1*SP)
    if scheme.lower() != "bearer" or not credential:
        raise ProblemError(401, "unauthorized", "a bearer credential is required",
                           headers={"WWW-Authenticate": 'Bearer realm="tongban"'})
    store = api.gw.clients
    address = request.client.host if request.client else ""
    if store.cached(credential):
        client = store.authenticate(credential)
    else:  # a database read: not for an address that keeps presenting credentials that fail
        wait = api.failed_auth.wait(address)
        if wait:
            api.metrics.rate_limited.inc()
            raise ProblemError(429, "rate-limited", "too many failed authentications from this address",
                               headers={"Retry-After": retry_after_header(wait)})
        client = await api.run(store.authenticate, credential)
    if client is None:
        api.failed_auth.failed(address)
        raise ProblemError(401, "unauthorized", "unknown, revoked or expired credential",
                           headers={"WWW-Authenticate": 'Bearer realm="tongban", error="invalid_token"'})
    limiter = api.gw.limiter
    wait = limiter.allow(client.client_id, client.rate_limit) if limiter.local else \
        await api.run(limiter.allow, client.client_id, client.rate_limit)  # a shared store: a network round trip
    if wait:
        api.metrics.rate_limited.inc()
        detail = f"rate limit of client {client.name} exceeded"
        if refused is not None:
            await refused(request, api, client, "rate_limit", detail)
        raise ProblemError(429, "rate-limited", detail, headers={"Retry-After": retry_after_header(wait)})
    if scope not in client.scopes:
        detail = f"client {client.name} lacks the scope {scope!r}"
        if refused is not None:
            await refused(request, api, client, "scope", detail)
        raise ProblemError(403, "scope", detail)
    body = await request.body()
    return Caller(client, request, body)


def require(scope: str, refused: RefusalHook | None = None) -> Callable[..., Any]:
    """Dependency form of :func:`authenticate` (documents the bearer scheme in OpenAPI)."""

    async def dependency(request: Request, api: Api = Depends(get_api),
                         credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Caller:
        header = f"{credentials.scheme} {credentials.credentials}" if credentials is not None else None
        return await authenticate(request, api, scope, header, refused)

    return dependency

