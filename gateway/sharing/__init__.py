"""The certificate-sharing service (电子证照共享): the second wing, beside the sync data path.

- :mod:`.settings` — ``config/gateway.yaml``: issuers harvested, service items, the sharing policy
- :mod:`.access` — clients, policy, consent tokens and withdrawals, rate limits, the audit chain
- :mod:`.certificates` — harvest, library, status events and webhooks, materials a certificate replaces
- :mod:`.api` — the FastAPI app (``/v1``), problems, metrics
"""
