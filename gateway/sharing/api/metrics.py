"""Prometheus metrics of one API app (its own registry, so several apps in one process do not collide)."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

__all__ = ["Metrics", "MetricsMiddleware"]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("tongban_api_requests", "API requests", ["route", "status"], registry=r)
        self.latency = Histogram("tongban_api_request_seconds", "API request latency", ["route"], registry=r,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
        self.releases = Counter("tongban_certificate_releases", "Certificates released", registry=r)
        self.denials = Counter("tongban_denials", "Requests denied", ["reason"], registry=r)
        self.audit_entries = Counter("tongban_audit_entries", "Audit entries committed", registry=r)
        self.rate_limited = Counter("tongban_rate_limited", "Requests answered 429", registry=r)
        self.saved = Counter("tongban_submissions_saved", "Materials a certificate replaced", registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Pure ASGI (no per-request task switch): counts and times each request by its route template."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self._children: dict[tuple[str, str], Any] = {}
        self._timers: dict[str, Any] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def wrapped(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, wrapped)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            key = (route, str(status[0]))
            child = self._children.get(key)
            if child is None:
                child = self._children[key] = self.metrics.requests.labels(*key)
            timer = self._timers.get(route)
            if timer is None:
                timer = self._timers[route] = self.metrics.latency.labels(route)
            child.inc()
            timer.observe(time.perf_counter() - started)
