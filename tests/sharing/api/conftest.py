"""Fixtures of the API tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gateway_testlib import LicenceWorld, licence_world


@pytest.fixture
def licensed(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LicenceWorld]:
    """A gateway on a fresh ledger (each backend) that has harvested a licence of ``LICENSED``."""
    world = licence_world(database_url, monkeypatch)
    yield world
    world.stop()
