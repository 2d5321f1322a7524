"""The provincial catalogue sandbox: deterministic by seed, its own conventions, and it knows its plants."""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterator

import pytest
import requests

from sandbox import catalogue, start_all


@pytest.fixture(scope="module")
def served() -> Iterator[Any]:
    handle = start_all(seed=42, records={"catalogue": 800}, systems=("catalogue",))
    yield handle
    handle.stop()


def test_generation_is_a_pure_function_of_the_seed() -> None:
    a, b, c = catalogue.generate(7, 500), catalogue.generate(7, 500), catalogue.generate(8, 500)
    assert a.records == b.records and a.planted == b.planted
    assert a.records != c.records
    assert len(a.records) == 500 and len({r["SSBM"] for r in a.records}) == 500


def test_every_kind_is_planted_and_national_entries_never_are() -> None:
    generated = catalogue.generate(42, 3000)
    kinds = Counter((p["kind"], p["rule"], p["element"]) for p in generated.planted)
    assert {(k, r, e) for k, r, e in catalogue.PLANT_KINDS if r != "tongban_materials"} <= set(kinds)
    assert kinds[("tongban_materials", "tongban_materials", "materials")] >= 1
    assert kinds[catalogue.UNREADABLE_PLANT] >= 3  # a 法定时限 no one can read: a finding, not a rejected entry
    by_id = {r["SXID"]: r for r in generated.records}
    assert all(by_id[p["id"]]["XSCJ"] != "国家级" for p in generated.planted if p["id"])
    assert {r["XSCJ"] for r in generated.records} == {"国家级", "省级", "市级", "县级"}


def test_the_api_pages_by_offset_in_change_order_behind_a_bearer_token(served: Any) -> None:
    url = served.urls["catalogue"] + catalogue.QUERY_PATH
    assert requests.get(url, timeout=10).status_code == 401
    auth = {"Authorization": "Bearer catalogue-demo-token"}
    first = requests.get(url, params={"start": 0, "rows": 500}, headers=auth, timeout=10).json()
    second = requests.get(url, params={"start": 500, "rows": 500}, headers=auth, timeout=10).json()
    assert first["status"] == "OK" and first["numFound"] == 800 and len(first["docs"]) + len(second["docs"]) == 800
    docs = first["docs"] + second["docs"]
    assert [d["GXSJ"] for d in docs] == sorted(d["GXSJ"] for d in docs)
    since = docs[700]["GXSJ"]
    later = requests.get(url, params={"gxsjStart": since}, headers=auth, timeout=10).json()
    assert later["numFound"] == 100
    bad = requests.get(url, params={"rows": 501}, headers=auth, timeout=10)
    assert bad.status_code == 400 and bad.json()["status"] == "ERROR"


def test_fixing_an_entry_removes_its_plant_and_moves_it_to_the_end(served: Any) -> None:
    admin = served.admin_urls["catalogue"]
    planted = requests.get(admin + "/_sandbox/planted", timeout=10).json()["planted"]
    target = next(p for p in planted if p["kind"] == "unclaimed")
    assert requests.post(admin + "/_sandbox/fix", json={"ids": [target["id"], "QD99999999"]},
                         timeout=10).json() == {"fixed": [target["id"]], "unknown": ["QD99999999"]}
    after = requests.get(admin + "/_sandbox/planted", timeout=10).json()["planted"]
    assert target not in after and len(after) == len(planted) - 1
    docs = requests.get(served.urls["catalogue"] + catalogue.QUERY_PATH, params={"start": 799, "rows": 1},
                        headers={"Authorization": "Bearer catalogue-demo-token"}, timeout=10).json()["docs"]
    assert docs[0]["SXID"] == target["id"] and docs[0]["SSZT"] and docs[0]["BBH"] == "2"
