"""The certificate-sharing gateway's HTTP API (FastAPI): ``create_app``.

- :mod:`.app` — the app factory, OpenAPI, lifespan (audit writer, webhook delivery)
- :mod:`.deps` — runtime access, authentication and scopes, rate limits, request hashes, signed answers
- :mod:`.release` — purpose, policy and consent checks before any release
- :mod:`.problems` — RFC 9457 problem details
- :mod:`.schemas` — request and response bodies
- :mod:`.metrics` — Prometheus metrics
- :mod:`.routers` — one module per resource
"""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
