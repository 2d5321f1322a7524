"""一件事 and the certificate gateway on a sealed ledger (review of the day's change): ``tongban bundles apply`` in
a shell without the key file stored the form's ID numbers and the materials in clear, and ``keys rotate`` then
called the ledger clean; a gateway started with another ledger's key file wrote certificates and consents under a
blind index nobody else finds. Both are refused before they write."""

from __future__ import annotations

import pytest
from bundles_testlib import SPEC, CompanyWorld, application
from sqlalchemy import func, select

from gateway.contract.errors import ConfigError
from gateway.crypto.keys import GatewayKeys
from gateway.process.bundles import apply_bundle
from gateway.sharing.settings import GatewayRuntime
from gateway.store.tables import bundle_applications


def test_a_bundle_without_the_ledgers_keys_and_a_gateway_with_another_ledgers_are_refused(
        world: CompanyWorld) -> None:
    assert world.runtime.pii is not None  # the world's gateway sealed the ledger when it started
    with pytest.raises(ConfigError, match=r"cannot store a .* bundle: .* no key file"):
        apply_bundle(world.runtime.engine, SPEC, application("KEYLESS-1"), systems=world.runtime.systems, pii=None)
    with world.runtime.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(bundle_applications)).scalar_one() == 0
    with pytest.raises(ConfigError, match=r"cannot start the certificate gateway: the key file .* is not this ledger's"):
        GatewayRuntime.create(world.runtime, keys=GatewayKeys.generate())
    assert world.apply(application("KEYED-1")).created  # with the ledger's keys, stored as before
