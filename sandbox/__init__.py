"""Simulated foreign systems (civil affairs, real-estate registry, unified online hall, market supervision over
SOAP, human resources and social security, medical security over SOAP) for demo, tests, benchmarks.

Imports nothing from ``gateway``, ``connectors`` or ``mappings``: it stands for software written by others.
The HTTP contract is in ``sandbox/README.md``. Record generators work without a server::

    from sandbox import civil
    civil.generate(42, 123_456)  # base record 123,456 of seed 42, as the API serves it
"""

from __future__ import annotations

from . import catalogue, civil, estate, hall, market, social, welfare
from .server import SYSTEMS, SandboxHandle, main, start_all
from .vocab import DEPARTMENTS

__all__ = ["start_all", "SandboxHandle", "main", "SYSTEMS", "DEPARTMENTS", "civil", "estate", "hall", "market",
           "social", "welfare", "catalogue"]
