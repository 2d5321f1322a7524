"""The ops console: Tongban's own pages for operators (per-system health, alerts, dead letters with replay,
deadlines, the outbox, reconciliation, certificate uses), served offline behind an operator login.

- :mod:`gateway.console.operators` — who may log in (a file of scrypt-hashed passwords and roles);
- :mod:`gateway.console.sessions` — signed session cookies and the CSRF token of the admin forms;
- :mod:`gateway.console.overview` — every number the pages show, as one JSON-ready dict read from the ledger;
- :mod:`gateway.console.pages` — the HTML (no JavaScript framework, no CDN, charts as inline SVG);
- :mod:`gateway.console.app` — the FastAPI application ``tongban console serve`` runs.
"""
