"""The shipped YAML files against the real sandbox systems: read, write, faults. Skipped if the sandbox
package is not importable (it is developed alongside)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import yaml
from rest_testlib import example

from connectors.rest import RestConnector
from gateway.contract.errors import AuthenticationError, SourceUnavailableError

start_all = pytest.importorskip("sandbox").start_all

pytestmark = pytest.mark.slow

STREAMS = {"civil": "cases", "estate": "business", "hall": "frontdesk"}


@pytest.fixture(scope="module")
def sb() -> Iterator[Any]:
    with start_all(seed=7, records={"civil": 600, "estate": 600, "hall": 120}) as handle:
        yield handle


def _connector(sb: Any, name: str, secrets: dict[str, str] | None = None) -> RestConnector:
    config = yaml.safe_load(example(name).read_text(encoding="utf-8"))
    config["base_url"] = sb.urls[name]
    config["retry"] = {"max_attempts": 3}
    return RestConnector(config, secrets=secrets or sb.credentials[name], sleep=lambda s: None)


@pytest.mark.parametrize("name", ["civil", "estate", "hall"])
def test_check_and_read_everything(sb: Any, name: str) -> None:
    connector = _connector(sb, name)
    assert connector.check().ok
    pages = list(connector.read(STREAMS[name]))
    ids = [r.source_id for p in pages for r in p.records]
    assert len(ids) == len(set(ids)) == {"civil": 600, "estate": 600, "hall": 120}[name]
    cursors = [r.cursor for p in pages for r in p.records]
    assert all(c is not None and c.utcoffset() is not None for c in cursors)
    assert pages[-1].checkpoint == {"cursor": max(c for c in cursors if c is not None).isoformat()}


def test_civil_updates_while_paging_lose_nothing(sb: Any) -> None:
    sb.set_faults("civil", mutate_per_page=5)
    try:
        seen = {r.source_id for p in _connector(sb, "civil").read("cases") for r in p.records}
    finally:
        sb.set_faults("civil")
    admin = requests.get(f"{sb.admin_urls['civil']}/_sandbox/records", timeout=10)
    assert seen >= {json.loads(line)["id"] for line in admin.text.splitlines() if line.strip()}


def test_hall_writes_and_tombstone(sb: Any) -> None:
    hall = _connector(sb, "hall")
    case = {"case_no": "370100202403059999001", "item_name": "测试事项", "status": "accepted", "version": 1}
    assert hall.write("cases", case, key=case["case_no"], idempotency_key="t:1").status == "applied"
    assert hall.write("cases", case, key=case["case_no"], idempotency_key="t:1").status == "duplicate"
    assert hall.write("cases", case, key=case["case_no"], idempotency_key="t:1b").status == "superseded"
    tombstone = hall.write(
        "cases", {"version": 2}, key=case["case_no"], idempotency_key="t:2", operation="delete"
    )
    assert tombstone.status == "applied"
    pushed = requests.get(f"{sb.admin_urls['hall']}/_sandbox/cases", timeout=10).text
    assert case["case_no"] in pushed


def test_bad_credentials_and_refused_port(sb: Any) -> None:
    with pytest.raises(AuthenticationError, match="signature mismatch"):
        list(_connector(sb, "estate", {"app_id": "estate-demo", "secret": "wrong"}).read("business"))
    sb.set_faults("civil", outage="refuse")
    try:
        with pytest.raises(SourceUnavailableError, match="connection refused"):
            list(_connector(sb, "civil").read("cases"))
    finally:
        sb.set_faults("civil")
