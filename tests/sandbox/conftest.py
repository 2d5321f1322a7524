"""Fixtures for the sandbox tests: running sandboxes (module-scoped: starting one takes milliseconds)."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from sandbox import start_all


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    handle = start_all(seed=42, records={"civil": 300, "estate": 300, "hall": 0})
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def big_sandbox() -> Iterator[Any]:
    handle = start_all(seed=7, records={"civil": 1_000_000, "estate": 1_000_000}, systems=("civil", "estate"))
    yield handle
    handle.stop()
