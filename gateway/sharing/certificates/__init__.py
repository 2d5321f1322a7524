"""The certificate library (电子证照): harvest from issuing systems, signature verification, status propagation,
subscriptions, and the once-only answer (which materials a certificate replaces).

- :mod:`.harvest` — one harvest cycle of an issuer: map, check identifiers, verify, quarantine, upsert, events
- :mod:`.signatures` — issuer keys (Ed25519, SM2) and signature checks
- :mod:`.ofd` — the metadata embedded in a signed file, cross-checked against the feed
- :mod:`.library` — storing and reading certificates (holders by blind index; status today, quality flags)
- :mod:`.quarantine` — what the harvest refused, for operators: listing, resolving (clears a served certificate's mark)
- :mod:`.webhooks` — fan-out of status changes to subscriptions, signed delivery with retries
- :mod:`.materials` — materials replaced by certificates
"""

from __future__ import annotations

from .harvest import HarvestReport, harvest
from .library import StoredCertificate, by_content_hash, find_for_holder, get_certificate
from .materials import MaterialAnswer, replaceable_materials
from .quarantine import QuarantineEntry, list_quarantine, resolve_quarantine
from .signatures import IssuerKey, register_issuer_key, verify_signature
from .webhooks import DeliveryReport, deliver_webhooks, fan_out, retry_dead

__all__ = [
    "DeliveryReport",
    "HarvestReport",
    "IssuerKey",
    "MaterialAnswer",
    "QuarantineEntry",
    "StoredCertificate",
    "by_content_hash",
    "deliver_webhooks",
    "retry_dead",
    "fan_out",
    "find_for_holder",
    "get_certificate",
    "harvest",
    "list_quarantine",
    "register_issuer_key",
    "replaceable_materials",
    "resolve_quarantine",
    "verify_signature",
]
