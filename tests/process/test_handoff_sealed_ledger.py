"""The hand-off checks the ledger's keys itself, as the sync, the push and the citizen writers do: a scheduler
whose key file was not mounted scanned a sealed ledger and wrote the document of a case it refused at routing into
its dead letter in clear, beside the sealed ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.contract.errors import ConfigError
from gateway.crypto.keys import GatewayKeys
from gateway.crypto.pii import PiiCodec
from gateway.kernel.config import load_systems
from gateway.process import TongbanCatalogue, scan_handoffs
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.sealing import require_ledger_keys

REPO = Path(__file__).resolve().parents[2]


def test_a_scan_without_the_sealed_ledgers_keys_is_refused(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    codec = PiiCodec(GatewayKeys.generate())
    with engine.begin() as conn:
        require_ledger_keys(conn, codec, what="sync sd_civil")  # the first keyed writer seals the ledger
    systems = load_systems(REPO / "config" / "systems.yaml")
    with pytest.raises(ConfigError, match="scan the hand-offs"):
        scan_handoffs(engine, systems, TongbanCatalogue())
    with pytest.raises(ConfigError):
        scan_handoffs(engine, systems, TongbanCatalogue(), pii=PiiCodec(GatewayKeys.generate()))  # other keys
    assert scan_handoffs(engine, systems, TongbanCatalogue(), pii=codec).pending == 0
    engine.dispose()
