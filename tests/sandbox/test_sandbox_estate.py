"""estate over HTTP: HMAC auth, keyset paging over modified_after, writes, deletions as czlx D."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

from sandbox_testlib import EstateClient, admin, records

from sandbox import estate


def read_all(client: EstateClient, limit: int = 41, since: int | None = None,
             between_pages: object = None) -> list[dict]:
    params: dict[str, object] = {"limit": limit}
    if since is not None:
        params["modified_after"] = since
    out = []
    while True:
        body = client.get("/open/v2/business?" + urlencode(params)).json()
        assert body["success"] is True
        out += body["items"]
        if callable(between_pages):
            between_pages()
        if body["next_cursor"] is None:
            return out
        params = {"limit": limit, "cursor": body["next_cursor"]}


def test_hmac_rejects_bad_signature_skew_and_reused_nonce(sandbox) -> None:
    c = EstateClient(sandbox.urls["estate"])
    target = "/open/v2/business?limit=1"
    r = c.session.get(c.base + target, headers=c.headers("GET", target, secret="wrong"))
    assert r.status_code == 403 and r.json() == {"success": False, "error": "signature mismatch"}
    r = c.session.get(c.base + target, headers=c.headers("GET", target, ts=int(time.time()) - 1000))
    assert r.status_code == 403 and r.json()["error"] == "timestamp skew"
    h = c.headers("GET", target, nonce="n-1")
    assert c.session.get(c.base + target, headers=h).status_code == 200
    r = c.session.get(c.base + target, headers=h)
    assert r.status_code == 403 and r.json()["error"] == "nonce reused"
    # the signature covers the query exactly as sent
    h = c.headers("GET", target)
    assert c.session.get(c.base + "/open/v2/business?limit=2", headers=h).status_code == 403
    assert c.session.get(c.base + target).status_code == 403


def test_cursor_paging_reads_everything_in_order(sandbox) -> None:
    c = EstateClient(sandbox.urls["estate"])
    admin(sandbox.urls["estate"], "/_sandbox/mutate", {"count": 4})
    items = read_all(c)
    assert items == records(sandbox.urls["estate"])
    keys = [(r["gxsj_ms"], r["ywh"]) for r in items]
    assert keys == sorted(keys) and len(items) == 300
    first = c.get("/open/v2/business?limit=300").json()
    assert first["next_cursor"] is None and len(first["items"]) == 300  # exact fit: no empty last page
    assert c.get("/open/v2/business?limit=1001").status_code == 400
    assert c.get("/open/v2/business?cursor=garbage").status_code == 400


def test_modified_after_is_inclusive(sandbox) -> None:
    c = EstateClient(sandbox.urls["estate"])
    target = estate.generate(42, 200)
    items = read_all(c, 50, since=target["gxsj_ms"])
    assert items[0]["ywh"] == target["ywh"] and all(r["gxsj_ms"] >= target["gxsj_ms"] for r in items)


def test_keyset_paging_misses_nothing_while_records_change(big_sandbox) -> None:
    c = EstateClient(big_sandbox.urls["estate"])
    since = estate.generate(7, 999_000)["gxsj_ms"]
    admin(big_sandbox.admin_urls["estate"], "/_sandbox/faults", {"mutate_per_page": 5})
    try:
        items = read_all(c, 100, since=since)
    finally:
        admin(big_sandbox.admin_urls["estate"], "/_sandbox/faults", {})
    seen = {r["ywh"] for r in items}
    assert {estate.generate(7, i)["ywh"] for i in range(999_000, 1_000_000)} <= seen
    overlay = [r for r in items if r["gxsj_ms"] > estate.generate(7, 999_999)["gxsj_ms"]]
    assert len(overlay) >= 1
    times = [r["gxsj_ms"] for r in overlay]
    assert len(set(times)) == len(times)


def test_deep_cursor_page_is_fast(big_sandbox, monkeypatch) -> None:
    """Fast by construction: the page generates its own records, not the 900,000 before it (counted, not timed —
    a clock fails on a loaded machine)."""
    c = EstateClient(big_sandbox.urls["estate"])
    since = estate.generate(7, 900_000)["gxsj_ms"]
    made: list[int] = []
    real = estate.generate
    monkeypatch.setattr(estate, "generate", lambda seed, i: made.append(i) or real(seed, i))
    body = c.get(f"/open/v2/business?modified_after={since}&limit=500").json()
    monkeypatch.undo()
    assert len(made) <= 2 * 501, len(made)
    assert body["items"][0]["ywh"] == estate.generate(7, 900_000)["ywh"] and len(body["items"]) == 500


def test_writes_are_idempotent_and_deletes_are_op_d(sandbox) -> None:
    base = sandbox.urls["estate"]
    c = EstateClient(base)
    rec = {k: v for k, v in estate.generate(42, 3).items() if k not in ("ywh", "gxsj_ms", "czlx")}
    rec["bjbh"] = "370102202611210005002"
    body = json.dumps(rec, ensure_ascii=False).encode()
    r1 = c.put(f"/open/v2/business/{rec['bjbh']}", body, "k-1").json()
    assert r1["success"] and r1["created"] is True and r1["duplicate"] is False
    r2 = c.put(f"/open/v2/business/{rec['bjbh']}", body, "k-1").json()
    assert r2 == {**r1, "duplicate": True}
    r3 = c.put(f"/open/v2/business/{rec['bjbh']}", body, "k-2").json()
    assert r3["created"] is False and r3["ywh"] == r1["ywh"]
    mine = [r for r in read_all(c, 100) if r["bjbh"] == rec["bjbh"]]
    assert len(mine) == 1 and mine[0]["czlx"] == "U"
    ywh = estate.generate(42, 10)["ywh"]
    assert admin(base, "/_sandbox/delete", {"ids": [ywh]})["deleted"] == [ywh]
    gone = [r for r in records(base) if r["ywh"] == ywh][0]
    assert gone["czlx"] == "D" and gone["qlr"] and gone["sxmc"]
    stats = admin(base, "/_sandbox/stats")
    assert stats["writes_applied"] >= 2 and stats["duplicate_writes"] >= 1 and stats["deleted"] >= 1
