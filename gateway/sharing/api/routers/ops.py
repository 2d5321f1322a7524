"""Operations: liveness, readiness, Prometheus metrics, and the gateway's public key (JWKS)."""

from __future__ import annotations

import hmac
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Header
from starlette.responses import Response

from gateway.crypto.jws import verification_jwks
from gateway.sharing.access.shared_ratelimit import RedisRateLimiter
from gateway.store.migrate import is_current
from gateway.store.sharing_queries import ping

from ..deps import Api, get_api
from ..problems import MEDIA_TYPE, problem_response
from ..schemas import Health, Jwks, Readiness

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, summary="Liveness")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _ready(api: Api) -> dict[str, str]:
    checks = {}
    try:
        with api.gw.read_engine.connect() as conn:
            ping(conn)
        checks["database"] = "ok"
        checks["schema"] = "ok" if is_current(api.gw.engine) else "not migrated"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        checks["database"] = f"error: {type(exc).__name__}"
    return checks


@router.get("/readyz", response_model=Readiness, summary="Readiness: database reachable and migrated",
            responses={503: {"description": "Not ready", "content": {MEDIA_TYPE: {
                "schema": {"$ref": "#/components/schemas/Problem"}}}}})
async def readyz(api: Api = Depends(get_api)) -> Response:
    checks = await api.run(_ready, api)
    checks["audit_writer"] = "ok"
    if any(v != "ok" for v in checks.values()):  # the rate limits below say how, not whether, it serves
        return problem_response(503, "not-ready", "; ".join(f"{k}: {v}" for k, v in checks.items()), "/readyz")
    limiter = api.gw.limiter
    if isinstance(limiter, RedisRateLimiter):  # said here too: an operator probing the process sees it (the alert
        # rate_limit_degraded and the gauge say it to the console and Prometheus); still ready, quotas per process
        checks["rate_limits"] = ("shared" if limiter.shared else
                                 f"degraded: the store does not answer, each process admits rate/{limiter.share}")
    return Response(orjson.dumps({"status": "ready", "checks": checks}), media_type="application/json")


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
async def metrics(api: Api = Depends(get_api), authorization: Annotated[str | None, Header()] = None) -> Response:
    token = api.gw.settings.metrics_token
    if token is not None:
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            return problem_response(401, "unauthorized", "the metrics token is required (metrics_token)", "/metrics",
                                    headers={"WWW-Authenticate": 'Bearer realm="tongban-metrics"'})
    body = await api.run(api.metrics.render)  # the sync gauges read the ledger: off the event loop
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get("/v1/keys", response_model=Jwks, summary="The gateway's public signing keys (JWKS): the current "
            "one first, then each retired one (marked with its `retired_at`)")
async def keys(api: Api = Depends(get_api)) -> dict[str, list[dict[str, str]]]:
    """Verify a signature with the key its JWS header's ``kid`` names: a retired key signs nothing new, but what
    it signed before ``tongban keys rotate-signing`` (receipts, audit checkpoints, deliveries) stays checkable."""
    return {"keys": verification_jwks(api.gw.keys)}
