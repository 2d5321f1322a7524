"""Fixtures of the catalogue tests (helpers in ``catalogue_testlib``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from catalogue_testlib import CatalogueWorld, catalogue_world_fixture


@pytest.fixture
def catalogue_world(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CatalogueWorld]:
    yield from catalogue_world_fixture(database_url, monkeypatch)
