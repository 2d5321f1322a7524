"""Fault injection: latency, 503 with Retry-After, 429 rate limits, outages (503 and refused connections)."""

from __future__ import annotations

import time
from typing import Any, Iterator

import pytest
import requests

from sandbox import start_all
from sandbox_testlib import admin, civil_get


@pytest.fixture()
def sb() -> Iterator[Any]:
    handle = start_all(seed=1, records={"civil": 50, "estate": 50})
    yield handle
    handle.stop()


def test_error_rate_and_clearing(sb) -> None:
    base = sb.urls["civil"]
    admin(base, "/_sandbox/faults", {"error_rate": 1.0})
    r = civil_get(base)
    assert r.status_code == 503 and r.headers["Retry-After"] == "1" and r.json()["code"] == 503
    assert requests.get(base + "/_sandbox/stats").status_code == 200  # admin never faults
    assert admin(base, "/_sandbox/faults", {}) == admin(base, "/_sandbox/faults")
    assert civil_get(base).status_code == 200
    r = requests.post(base + "/_sandbox/faults", json={"nonsense": 1})
    assert r.status_code == 400


def test_rate_limit_and_latency(sb) -> None:
    base = sb.urls["civil"]
    admin(base, "/_sandbox/faults", {"rate_limit": 3})
    codes = [civil_get(base, pageSize=1).status_code for _ in range(6)]
    assert codes[:3] == [200, 200, 200] and 429 in codes[3:]
    r = civil_get(base, pageSize=1)
    assert r.status_code != 429 or r.headers["Retry-After"]
    admin(base, "/_sandbox/faults", {"latency_ms": 150})
    start = time.perf_counter()
    assert civil_get(base, pageSize=1).status_code == 200
    assert time.perf_counter() - start >= 0.15
    admin(base, "/_sandbox/faults", {})


def test_outage_503_and_refuse(sb) -> None:
    base, admin_base = sb.urls["estate"], sb.admin_urls["estate"]
    admin(base, "/_sandbox/faults", {"outage": True})
    r = requests.get(base + "/open/v2/business")
    assert r.status_code == 503 and r.json()["success"] is False
    assert requests.get(base + "/_sandbox/stats").status_code == 200
    admin(base, "/_sandbox/faults", {"outage": "refuse"})
    with pytest.raises(requests.ConnectionError):
        requests.get(base + "/open/v2/business", timeout=2)
    assert requests.get(admin_base + "/_sandbox/stats").status_code == 200
    assert requests.get(admin_base + "/open/v2/business").status_code == 404  # the admin port is admin only
    admin(admin_base, "/_sandbox/faults", {})
    assert requests.get(base + "/open/v2/business").status_code == 403  # listening again (unsigned -> 403)
    sb.set_faults("estate", outage="refuse")
    with pytest.raises(requests.ConnectionError):
        requests.get(base + "/open/v2/business", timeout=2)
    sb.set_faults("estate")
    assert requests.get(base + "/open/v2/business").status_code == 403


def test_same_time_burst(sb) -> None:
    base = sb.urls["civil"]
    admin(base, "/_sandbox/faults", {"same_time_burst": 3})
    changed = admin(base, "/_sandbox/mutate", {"count": 3})["mutated"]
    admin(base, "/_sandbox/faults", {})
    rows = [r for r in civil_get(base, pageSize=500).json()["data"]["rows"] if r["id"] in changed]
    assert len({r["updateTime"] for r in rows}) == 1
    later = admin(base, "/_sandbox/mutate", {"count": 1})["mutated"]
    row = [r for r in civil_get(base, pageSize=500).json()["data"]["rows"] if r["id"] == later[0]][0]
    assert row["updateTime"] > rows[0]["updateTime"]
