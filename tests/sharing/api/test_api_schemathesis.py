"""A bounded property-based run of schemathesis against ``/openapi.json`` on a live server: no 5xx, and every
response (status code, content type, body) conforms to the published schema — with and without credentials."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from gateway_testlib import CIVIL_DEPT, ELDERLY_CARE, REPO, ServerThread, make_gateway, plant_case
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.kernel.config import load_systems
from gateway.sharing.api import create_app
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
_STATE: dict[str, Any] = {}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    path: Path = tmp_path_factory.mktemp("schemathesis") / "ledger.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    # with the systems file, as `tongban serve` loads it: 一件事 applications reach the bundle's own rules
    gw = make_gateway(engine, rate_limit=100_000, systems=load_systems(REPO / "config" / "systems.yaml"))
    plant_case(engine, "370000202611200000001", dept_code=CIVIL_DEPT, item_code=ELDERLY_CARE,
               applicant_id="91370100MA3C7B8X2M", pii=gw.pii)
    civil = gw.clients.add("sd_civil", department_code=CIVIL_DEPT,
                           scopes=["certificates:query", "cases:read", "subscriptions", "consents:issue",
                                   "holders:read", "workorders", "bundles:apply"])
    server = ServerThread(create_app(gw, webhook_interval=0)).start()
    _STATE.update(url=server.url, credential=civil.credential)
    try:
        yield _STATE
    finally:
        server.stop()
        engine.dispose()


def _run_all(live: dict[str, Any], *, headers: dict[str, str], max_examples: int,
             mode: GenerationMode = GenerationMode.POSITIVE) -> int:
    """Every operation, ``max_examples`` generated cases each (positive and negative data), all checks."""
    schema = schemathesis.openapi.from_url(live["url"] + "/openapi.json")
    ran = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck),
                  derandomize=True, database=None)
        def run(case: Any) -> None:
            case.call_and_validate(base_url=live["url"], headers=headers, checks=CHECKS)

        try:
            run()
        except Unsatisfiable:
            if mode is GenerationMode.POSITIVE:
                raise
            continue  # nothing to break: an operation without parameters or body
        ran += 1
    return ran


def test_authenticated_requests_conform(live: dict[str, Any]) -> None:
    assert _run_all(live, headers={"Authorization": f"Bearer {live['credential']}"}, max_examples=30) >= 14


def test_malformed_requests_are_refused_within_the_schema(live: dict[str, Any]) -> None:
    assert _run_all(live, headers={"Authorization": f"Bearer {live['credential']}"}, max_examples=15,
                    mode=GenerationMode.NEGATIVE) >= 8


def test_anonymous_requests_conform(live: dict[str, Any]) -> None:
    assert _run_all(live, headers={}, max_examples=5) >= 14
