"""The gateway API application: ``create_app(runtime_or_gateway)``.

    app = create_app(GatewayRuntime.create(runtime))     # or create_app(runtime): keys and settings from env
    uvicorn.run(app, host="127.0.0.1", port=8400)        # what ``tongban serve`` does

Versioned under ``/v1``; OpenAPI at ``/openapi.json``; errors as RFC 9457 problem details; ``/healthz``,
``/readyz`` and ``/metrics`` (Prometheus). Handlers are ``async``: blocking database work runs in a small
thread pool, audit entries go through the group-commit writer, webhooks are delivered by a background task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from gateway.crypto.pii import install_log_redaction
from gateway.ops.metrics import SyncCollector
from gateway.sharing.access.revocations import RevocationFeed
from gateway.sharing.certificates.webhooks import deliver_webhooks
from gateway.sharing.settings import GatewayRuntime

from .deps import Api
from .docs import install_offline_docs
from .gc_policy import server_gc
from .guard import RequestGuard
from .metrics import MetricsMiddleware
from .problems import MEDIA_TYPE, Problem, install_problem_handlers
from .routers import bundles, cases, certificates, consents, holders, ops, subscriptions, workorders
from .schemas import QueryRequest

__all__ = ["create_app"]

log = logging.getLogger("gateway.sharing.api")
VERSION = "1.0.0"


def create_app(runtime_or_gateway: Any, *, webhook_interval: float = 1.0) -> FastAPI:
    gw = runtime_or_gateway if isinstance(runtime_or_gateway, GatewayRuntime) else GatewayRuntime.create(runtime_or_gateway)
    install_log_redaction()
    api = Api(gw)
    if gw.systems is not None:  # the sync side's gauges (lag, runs, dead letters, outbox, alerts) on /metrics
        api.metrics.registry.register(SyncCollector(gw.engine, gw.systems))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        install_log_redaction()  # again: uvicorn configures its loggers after the app is built
        await gw.audit.start()
        feed = RevocationFeed(gw.engine, gw.consents)
        await api.run(feed.poll)  # every withdrawal still within its expiry, before the first request
        tasks = [asyncio.create_task(_revocation_loop(api, feed, gw.settings.consent_revocation_poll))]
        if webhook_interval > 0:
            tasks.append(asyncio.create_task(_webhook_loop(api, webhook_interval)))
        try:
            with server_gc(gw.settings.gc_young_threshold):
                yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await gw.audit.stop()
            api.db.shutdown(wait=False)

    app = FastAPI(title="Tongban certificate-sharing gateway", version=VERSION, lifespan=lifespan,
                  docs_url=None, redoc_url=None,  # served offline below (install_offline_docs)
                  description="Departments fetch certificates other departments issued — for a named purpose, "
                              "under the sharing policy, with the holder's consent where required, every use "
                              "on a hash-chained audit log the holder can read.")
    app.state.api = api
    app.state.gateway = gw
    install_problem_handlers(app)
    for module in (certificates, cases, holders, consents, subscriptions, workorders, bundles, ops):
        app.include_router(module.router)
    app.add_middleware(RequestGuard, max_body_bytes=gw.settings.max_request_bytes)
    app.add_middleware(MetricsMiddleware, metrics=api.metrics)
    install_offline_docs(app)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Problem"] = Problem.model_json_schema()
        for model in (QueryRequest,):  # bodies of routes that validate their own body (the hot path)
            body_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(body_schema.pop("$defs", {}))
            components[model.__name__] = body_schema
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                responses = operation.get("responses", {})
                if "422" in responses:
                    responses["422"] = {"description": "The request does not match the schema", "content": {
                        MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
                for code, response in responses.items():
                    if code.startswith(("4", "5")):
                        response["content"] = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


async def _revocation_loop(api: Api, feed: RevocationFeed, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await api.run(feed.poll)
        except Exception as exc:  # noqa: BLE001 - a database hiccup must not stop the server; next poll catches up
            log.warning("polling for withdrawn consents failed: %s", exc)


async def _webhook_loop(api: Api, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await api.run(deliver_webhooks, api.gw)
        except Exception as exc:  # noqa: BLE001 - delivery problems must not stop the server
            log.warning("webhook delivery failed: %s", exc)
