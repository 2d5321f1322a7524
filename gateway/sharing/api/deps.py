"""What every handler shares: the gateway runtime, a thread pool for the (synchronous) database driver,
authentication and scopes, per-client rate limits, the request hash, audit and signed answers."""

from __future__ import annotations

import asyncio
import hashlib
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
"""Audits a refusal of an authenticated client (``kind``: ``scope``, a missing scope; ``detail``) for the holder the
request names, when a route knows it: a refused read of a holder's data is in their access log too. A rate-limited
request is not audited (see :func:`authenticate`): it is counted in the metrics."""


async def authenticate(request: Request, api: Api, scope: str, authorization: str | None,
                       refused: RefusalHook | None = None) -> Caller:
    """An authenticated, active client with ``scope``, within its rate limit (else a problem is raised; ``refused``
    audits a missing scope for the holder the request names — after the rate limit, so such entries are bounded
    by it)."""
    scheme, _, credential = (authorization or "").strip().partition(" ")
    credential = credential.strip()  # "Bearer  tbk_…" reads the same on every route (RFC 9110 allows 1*SP)
    if scheme.lower() != "bearer" or not credential:
        raise ProblemError(401, "unauthorized", "a bearer credential is required",
                           headers={"WWW-Authenticate": 'Bearer realm="tongban"'})
    store = api.gw.clients
    # from memory when it can (a known-good credential, an id no client has): else a database read
    client = store.authenticate(credential) if store.cached(credential) else \
        await api.run(store.authenticate, credential)
    if client is None:
        raise ProblemError(401, "unauthorized", "unknown, revoked or expired credential",
                           headers={"WWW-Authenticate": 'Bearer realm="tongban", error="invalid_token"'})
    limiter = api.gw.limiter
    wait = limiter.allow(client.client_id, client.rate_limit) if limiter.local else \
        await api.run(limiter.allow, client.client_id, client.rate_limit)  # a shared store: a network round trip
    if wait:
        api.metrics.rate_limited.inc()
        detail = f"rate limit of client {client.name} exceeded"
        # no audit entry and no lookup: a 429 sheds load, and auditing each one let a client over its limit grow
        # the audit log and the holders' access logs without bound (it is counted in the metrics)
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

