"""civil over HTTP: auth, page-number paging, updatedSince, writes, deletions, malformed records."""

from __future__ import annotations

import json
import time

import requests
from sandbox_testlib import CIVIL_KEY, admin, civil_get, records

from sandbox import civil


def read_all(base: str, size: int = 37, **params: object) -> list[dict]:
    out, page = [], 1
    while True:
        data = civil_get(base, pageNo=page, pageSize=size, **params).json()["data"]
        out += data["rows"]
        if page * size >= data["total"]:
            return out
        page += 1


def test_auth_and_bad_parameters(sandbox) -> None:
    base = sandbox.urls["civil"]
    r = requests.get(base + "/api/v1/approvals", headers={"X-Api-Key": "wrong"})
    assert r.status_code == 401 and r.json() == {"code": 401, "msg": "invalid api key"}
    assert requests.get(base + "/api/v1/approvals").status_code == 401
    for bad in ({"pageSize": 501}, {"pageNo": 0}, {"updatedSince": "2024-03-05"}, {"pageNo": "x"}):
        r = civil_get(base, **bad)
        assert r.status_code == 400 and r.json()["code"] != 0


def test_page_shape_and_full_read_equals_admin_records(sandbox) -> None:
    base = sandbox.urls["civil"]
    body = civil_get(base, pageNo=1, pageSize=10).json()
    assert body["code"] == 0 and body["msg"] == "success"
    assert body["data"]["total"] == 300 and body["data"]["pageSize"] == 10 and len(body["data"]["rows"]) == 10
    assert body["data"]["rows"][0] == civil.generate(42, 0)
    admin(base, "/_sandbox/mutate", {"count": 5})
    rows = read_all(base)
    assert rows == records(base)
    keys = [(r["updateTime"], r["id"]) for r in rows]
    assert keys == sorted(keys) and len({r["id"] for r in rows}) == 300


def test_updated_since_is_inclusive(sandbox) -> None:
    base = sandbox.urls["civil"]
    target = civil.generate(42, 150)
    rows = read_all(base, 50, updatedSince=target["updateTime"])
    assert rows[0]["id"] == target["id"]
    assert all(r["updateTime"] >= target["updateTime"] for r in rows)
    assert civil_get(base, updatedSince="2099-01-01 00:00:00").json()["data"]["total"] == 0


def test_deep_page_over_a_million_records(big_sandbox, monkeypatch) -> None:
    """Page 10,000 generates its own hundred records, not the 999,900 before it (counted, not timed)."""
    base = big_sandbox.urls["civil"]
    made: list[int] = []
    real = civil.generate
    monkeypatch.setattr(civil, "generate", lambda seed, i: made.append(i) or real(seed, i))
    data = civil_get(base, pageNo=10_000, pageSize=100).json()["data"]
    monkeypatch.undo()
    assert len(made) <= 2 * 101, len(made)
    assert data["total"] == 1_000_000
    assert [r["id"] for r in data["rows"]] == [civil.generate(7, i)["id"] for i in range(999_900, 1_000_000)]
    since = civil.generate(7, 654_321)["updateTime"]
    data = civil_get(base, updatedSince=since, pageNo=3, pageSize=10).json()["data"]
    assert data["total"] == 1_000_000 - 654_321
    assert data["rows"][0] == civil.generate(7, 654_341)


def test_mutations_during_paging_reappear_with_new_times(big_sandbox) -> None:
    base = big_sandbox.urls["civil"]
    admin_base = big_sandbox.admin_urls["civil"]
    before = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() + 8 * 3600 - 1))
    admin(admin_base, "/_sandbox/faults", {"mutate_per_page": 3})
    try:
        for page in range(1, 6):
            civil_get(base, pageNo=page, pageSize=20)
    finally:
        admin(admin_base, "/_sandbox/faults", {})
    changed = read_all(base, 100, updatedSince=before)
    assert len(changed) >= 15
    times = [r["updateTime"] for r in changed]
    assert len(set(times)) == len(times), "overlay changes never share a second"
    # changes are spread over the whole table, not just the pages being read
    assert any(int(r["id"][6:]) > 100_000 for r in changed)


def put(base: str, project_no: str, body: dict, key: str) -> requests.Response:
    return requests.put(f"{base}/api/v1/approvals/by-project/{project_no}", json=body,
                        headers={"X-Api-Key": CIVIL_KEY, "X-Request-Id": key})


def test_writes_are_idempotent_and_appear_in_the_feed(sandbox) -> None:
    base = sandbox.urls["civil"]
    rec = {k: v for k, v in civil.generate(42, 0).items() if k not in ("id", "updateTime")}
    rec.update(projectNo="370102202611210005001", summary="窗口受理")
    r1 = put(base, rec["projectNo"], rec, "req-1").json()
    assert r1["code"] == 0 and r1["data"]["created"] is True and r1["data"]["duplicate"] is False
    stats = admin(base, "/_sandbox/stats")
    r2 = put(base, rec["projectNo"], {**rec, "summary": "changed"}, "req-1").json()
    assert r2["data"] == {**r1["data"], "duplicate": True}
    after = admin(base, "/_sandbox/stats")
    assert after["writes_applied"] == stats["writes_applied"] and after["duplicate_writes"] == stats["duplicate_writes"] + 1
    r3 = put(base, rec["projectNo"], {**rec, "summary": "第二次"}, "req-2").json()
    assert r3["data"]["created"] is False and r3["data"]["id"] == r1["data"]["id"]
    mine = [r for r in read_all(base) if r["projectNo"] == rec["projectNo"]]
    assert len(mine) == 1 and mine[0]["summary"] == "第二次" and mine[0]["id"] == r1["data"]["id"]
    # updating a base record by its projectNo keeps its id
    base_rec = civil.generate(42, 7)
    r4 = put(base, base_rec["projectNo"], {"projectNo": base_rec["projectNo"], "summary": "x"}, "req-3").json()
    assert r4["data"] == {"id": base_rec["id"], "created": False, "duplicate": False}
    assert put(base, "370000", rec, "req-4").status_code == 400  # body/path mismatch
    assert requests.put(f"{base}/api/v1/approvals/by-project/1", json={}, headers={"X-Api-Key": CIVIL_KEY}).status_code == 400


def test_deletions_the_civil_way(sandbox) -> None:
    base = sandbox.urls["civil"]
    ids = [civil.generate(42, i)["id"] for i in (20, 21, 22)]
    for rid, how in zip(ids, ("flag", "void", "op")):
        assert admin(base, "/_sandbox/delete", {"ids": [rid], "how": how})["deleted"] == [rid]
    by_id = {r["id"]: r for r in records(base)}
    assert by_id[ids[0]]["isDeleted"] == 1
    assert by_id[ids[1]]["result"] == "2" and by_id[ids[2]]["result"] == "3"
    assert admin(base, "/_sandbox/delete", {"ids": ["MZ0000nope"]})["unknown"] == ["MZ0000nope"]


def test_malformed_records_are_listed_and_served_broken(sandbox) -> None:
    base = sandbox.urls["civil"]
    admin(base, "/_sandbox/faults", {"malformed_rate": 0.2})
    try:
        listed = admin(base, "/_sandbox/malformed")
        rows = {r["id"]: r for r in read_all(base, 100)}
    finally:
        admin(base, "/_sandbox/faults", {})
    assert 30 < len(listed) < 90
    kinds = {m["kind"] for m in listed}
    assert kinds == {"bad_checksum", "impossible_date", "alt_date_format", "unknown_code"}
    for m in listed:
        r = rows[m["id"]]
        if m["kind"] == "alt_date_format":
            assert "/" in r["applyTime"]
        elif m["kind"] == "impossible_date":
            assert r["applyTime"][5:10] == "02-30"
        elif m["kind"] == "unknown_code":
            assert r["result"] == "7" and r["finishTime"]
    assert admin(base, "/_sandbox/malformed") == []
    clean = {r["id"]: r for r in read_all(base, 100)}
    assert all(json.dumps(clean[m["id"]]) != json.dumps(rows[m["id"]]) for m in listed)
