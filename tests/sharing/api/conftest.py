"""Fixtures of the API tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bundles_testlib import world  # noqa: F401  (the 一件事 company world, for the bundle API tests)
from gateway_testlib import LicenceWorld, licence_world


@pytest.fixture
def licensed(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LicenceWorld]:
    """A gateway on a fresh ledger (each backend) that has harvested a licence of ``LICENSED``."""
    made = licence_world(database_url, monkeypatch)
    yield made
    made.stop()
