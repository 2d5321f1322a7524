"""The catalogue is read through the ordinary connector contract: the acceptance kit's checks (a clean check
and a clean refusal, incremental reads that honour the watermark, resume from a checkpoint) hold for the
declarative REST connector configured for the provincial catalogue."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from connectors.testing import (
    check_succeeds_and_fails_cleanly,
    resume_from_checkpoint,
    two_sequential_incremental_reads,
)
from gateway.catalogue import load_catalogues
from gateway.kernel.registry import build_connector
from sandbox.server import start_all


@pytest.fixture(scope="module")
def served() -> Iterator[Any]:
    handle = start_all(seed=5, records={"catalogue": 1200}, systems=("catalogue",))
    yield handle
    handle.stop()


def _connector(served: Any, token: str) -> Any:
    config = load_catalogues()["sd_catalogue"]
    settings = {**config.load_connector_config(), "base_url": served.urls["catalogue"]}
    return build_connector(config.connector, settings, {"token": token})


def test_the_catalogue_connector_keeps_the_connector_promises(served: Any) -> None:
    with _connector(served, "catalogue-demo-token") as good, _connector(served, "wrong") as broken:
        check_succeeds_and_fails_cleanly(good, broken)
        first, second = two_sequential_incremental_reads(good, "entries")
        assert len(first) == 1200 and len(second) < len(first)
        first_page, rest = resume_from_checkpoint(good, "entries")
        assert first_page + rest >= 1200
