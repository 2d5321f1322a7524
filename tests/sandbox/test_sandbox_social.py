"""social (济南市人社局) over HTTP, written from sandbox/README.md: millisecond HMAC over METHOD/PATH/TIMESTAMP,
HTTP 200 with ``retCode`` envelopes, page numbers as strings, mixed-type soft-delete flags, null tokens, and
legitimate data that breaks business rules in realistic shares."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from sandbox_testlib import check_identifiers, check_rule_breaking_shares, flat_fixtures

from sandbox import social

APP_KEY, SECRET = "social-demo", "social-demo-secret"
PATH = "/api/case/query"
N = 1000
NULLS = {"null", "NULL", "-", "无", ""}
ZERO = "0000-00-00 00:00:00"
DASH = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


def headers(method: str, path: str = PATH, *, ts: int | None = None, secret: str = SECRET,
            key: str = APP_KEY) -> dict[str, str]:
    ts_s = str(int(time.time() * 1000) if ts is None else ts)
    sig = hmac.new(secret.encode(), f"{method}\n{path}\n{ts_s}".encode(), hashlib.sha256).hexdigest()
    return {"X-App-Key": key, "X-Timestamp": ts_s, "X-Signature": sig}


def query(base: str, **body: Any) -> requests.Response:
    return requests.post(base + PATH, json=body, headers=headers("POST"), timeout=10)


def envelope(r: requests.Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text[:200]
    body = r.json()
    assert set(body) == {"retCode", "retMsg", "result"} and isinstance(body["retCode"], str)
    return body


def read_all(base: str, size: int = 97, **params: str) -> list[dict[str, Any]]:
    out, page = [], 1
    while True:
        body = envelope(query(base, pageNum=str(page), pageSize=str(size), **params))
        if body["retCode"] == "4040":
            return out
        assert body["retCode"] == "0000"
        out += body["result"]["list"]
        page += 1


def admin_records(admin: str) -> list[dict[str, Any]]:
    r = requests.get(admin + "/_sandbox/records", timeout=30)
    r.raise_for_status()
    return [json.loads(line) for line in r.text.splitlines() if line]


def is_null(v: Any) -> bool:
    return v in NULLS or v == ZERO


sb, fresh, source = flat_fixtures("social", social.generate, N)


def test_signature_accepted_and_refused(sb: Any) -> None:
    base, body = sb.urls["social"], {"pageNum": "1", "pageSize": "1"}
    assert sb.credentials["social"] == {"app_key": APP_KEY, "secret": SECRET}

    def code(h: dict[str, str], method: str = "POST", url: str = base + PATH) -> str:
        return envelope(requests.request(method, url, json=body if method == "POST" else None, headers=h,
                                         timeout=10))["retCode"]

    assert code(headers("POST")) == "0000"
    assert code(headers("POST", secret="wrong")) == "4011"
    assert code(headers("POST", key="someone-else")) == "4011"
    assert code({}) == "4011"
    h = headers("POST")
    assert code({**h, "X-Signature": h["X-Signature"].upper()}) == "4011"  # lower-case hex only
    now = int(time.time() * 1000)
    assert code(headers("POST", ts=now - 6 * 60 * 1000)) == "4012"
    assert code(headers("POST", ts=now + 6 * 60 * 1000)) == "4012"
    assert code(headers("POST", ts=now - 4 * 60 * 1000)) == "0000"
    assert code(headers("POST", ts=now // 1000)) == "4012"  # seconds are not milliseconds
    # The path is signed without its query string.
    qs = "?pageNum=1&pageSize=1"
    assert code(headers("GET"), "GET", base + PATH + qs) == "0000"
    assert code(headers("GET", PATH + qs), "GET", base + PATH + qs) == "4011"
    assert code(headers("POST"), "GET", base + PATH + qs) == "4011"  # the method is signed


def test_first_page_is_the_generated_source(sb: Any, source: list[dict[str, Any]]) -> None:
    body = envelope(query(sb.urls["social"], pageNum="1", pageSize="100"))
    assert body["retCode"] == "0000" and body["retMsg"] == "成功"
    res = body["result"]
    assert {k: res[k] for k in ("total", "pages", "pageNum", "pageSize")} == {
        "total": str(N), "pages": "10", "pageNum": "1", "pageSize": "100"}
    assert res["list"] == source[:100]
    # JSON numbers are accepted for the page parameters too; GET with query parameters is the same query.
    assert envelope(query(sb.urls["social"], pageNum=2, pageSize=100))["result"]["list"] == source[100:200]
    r = requests.get(sb.urls["social"] + PATH, params={"pageNum": "2", "pageSize": "100"}, headers=headers("GET"),
                     timeout=10)
    assert envelope(r)["result"]["list"] == source[100:200]


def test_paging_order_end_and_windows(sb: Any, source: list[dict[str, Any]]) -> None:
    base = sb.urls["social"]
    rows = read_all(base)
    assert rows == admin_records(sb.admin_urls["social"]) == source
    keys = [(r["gxsj"], r["ywlsh"]) for r in rows]
    assert keys == sorted(keys) and len(set(keys)) == N
    past = envelope(query(base, pageNum="11", pageSize="100"))
    assert past == {"retCode": "4040", "retMsg": "查询无数据", "result": None}
    # beginTime is inclusive; a window after everything is "no data", not an error.
    t = source[500]["gxsj"]
    body = envelope(query(base, beginTime=t, pageNum="1", pageSize="10"))
    assert body["result"]["total"] == str(N - 500) and body["result"]["list"][0] == source[500]
    assert read_all(base, 100, beginTime=t) == source[500:]
    assert envelope(query(base, beginTime="20990101000000", pageNum="1", pageSize="10"))["retCode"] == "4040"


@pytest.mark.parametrize("body", [{"pageSize": "501"}, {"pageNum": "0"}, {"pageNum": "x"},
                                  {"beginTime": "2024-03-05 10:00:00"}, {"beginTime": "20240230"},
                                  {"pageSize": True}])
def test_bad_parameters_are_9999_in_a_200(sb: Any, body: dict[str, Any]) -> None:
    r = envelope(query(sb.urls["social"], **body))
    assert r["retCode"] == "9999" and r["retMsg"].startswith("参数错误") and r["result"] is None


def test_other_errors_are_9999_in_a_200(sb: Any) -> None:
    base = sb.urls["social"]
    r = requests.post(base + PATH, data=b"{not json", headers=headers("POST"), timeout=10)
    assert envelope(r)["retCode"] == "9999"
    r = requests.post(base + "/api/case/other", json={}, headers=headers("POST", "/api/case/other"), timeout=10)
    assert envelope(r)["retCode"] == "9999"
    r = requests.put(base + PATH, json={}, headers=headers("PUT"), timeout=10)
    assert envelope(r)["retCode"] == "9999"


def test_busy_and_outage_faults(sb: Any) -> None:
    base, admin = sb.urls["social"], sb.admin_urls["social"]
    try:
        requests.post(admin + "/_sandbox/faults", json={"error_rate": 1.0}, timeout=10).raise_for_status()
        body = envelope(query(base, pageNum="1", pageSize="1"))
        assert body["retCode"] == "5003" and body["result"] is None
        sb.set_faults("social", rate_limit=1)
        codes = [envelope(query(base, pageNum="1", pageSize="1"))["retCode"] for _ in range(4)]
        assert "5003" in codes and "0000" in codes
        sb.set_faults("social", outage=True)
        r = query(base, pageNum="1", pageSize="1")
        assert r.status_code == 503 and r.headers["Content-Type"].startswith("text/html") and "nginx" in r.text
    finally:
        sb.set_faults("social")
    assert envelope(query(base, pageNum="1", pageSize="1"))["retCode"] == "0000"


def test_record_conventions(source: list[dict[str, Any]]) -> None:
    styles: set[tuple[str, Any]] = set()
    tokens: set[str] = set()
    zero = 0
    for r in source:
        for k, v in r.items():
            if k == "sfsc":
                assert any(type(v) is type(x) and v == x for x in ("1", "0", 1, 0, True, False, "Y", "N")), v
                styles.add((type(v).__name__, v))
            else:
                assert isinstance(v, str), (k, v)  # numbers as strings, no JSON null
                if v in NULLS:
                    tokens.add(v)
        assert r["cnsx"].isdigit() and re.fullmatch(r"\d+\.\d{2}", r["sfje"])
        assert re.fullmatch(r"\d{14}", r["gxsj"])
        for k in ("sqsj", "slsj", "cnbjsj"):
            assert DASH.fullmatch(r[k])
        assert DASH.fullmatch(r["bjsj"]) or is_null(r["bjsj"])
        zero += r["bjsj"] == ZERO
        if r["bllx"] == "1":
            assert r["cnsx"] == "0"
    assert tokens == NULLS and zero > 20
    assert {t for t, _ in styles} == {"str", "int", "bool"}
    assert styles >= {("str", "0"), ("int", 0), ("bool", False), ("str", "N")}  # all four styles, live
    deleted = {("str", "1"), ("int", 1), ("bool", True), ("str", "Y")}
    assert len(styles & deleted) >= 3  # deleted records, in several styles
    assert {r["sfje"] for r in source} == {"0.00", "20.00"}


def test_rule_breaking_shares(source: list[dict[str, Any]]) -> None:
    finished_cert, swapped, _ = check_rule_breaking_shares(source, "01", ("02", "03", "04"), is_null)
    # social.quirks names the same records.
    assert sum("no_certificate" in social.quirks(r) for r in finished_cert) == sum(
        is_null(r["zzmc"]) for r in finished_cert)
    assert sum("accepted_before_applied" in social.quirks(r) for r in source) == len(swapped)


def test_identifiers_are_valid(source: list[dict[str, Any]]) -> None:
    check_identifiers(source, social.DEPT["code"], dept_field="slbmdm", number_field="ywlsh",
                      number_prefix="JNRS", resident="1", org="91", others=("4", "6", "8"))


def test_generate_is_pure_and_by_seed() -> None:
    assert social.generate(42, 123_456) == social.generate(42, 123_456)
    assert social.generate(42, 77) != social.generate(43, 77)
    assert social.generate(42, 999_999)["gxsj"] < time.strftime("%Y%m%d%H%M%S")


def test_mutate_and_soft_delete_in_the_records_own_style(fresh: Any) -> None:
    base, admin = fresh.urls["social"], fresh.admin_urls["social"]
    src = [social.generate(5, i) for i in range(200)]
    open_case = next(r for r in src if r["bjsj"] == ZERO)
    finished = next(r for r in src if not is_null(r["bjsj"]))
    before = time.strftime("%Y%m%d%H%M%S", time.gmtime(time.time() + 8 * 3600 - 1))
    done = requests.post(admin + "/_sandbox/mutate", json={"ids": [open_case["ywlsh"], finished["ywlsh"], "JNRS1"]},
                         timeout=10).json()
    assert done == {"mutated": [open_case["ywlsh"], finished["ywlsh"]], "unknown": ["JNRS1"]}
    now_open = requests.get(f"{admin}/_sandbox/records/{open_case['ywlsh']}", timeout=10).json()
    assert now_open["bjjg"] == "01" and DASH.fullmatch(now_open["bjsj"]) and now_open["gxsj"] >= before
    now_fin = requests.get(f"{admin}/_sandbox/records/{finished['ywlsh']}", timeout=10).json()
    assert now_fin["lxdh"] != finished["lxdh"] and now_fin["gxsj"] > finished["gxsj"]
    changed = read_all(base, 50, beginTime=before)
    assert [r["ywlsh"] for r in changed] == [open_case["ywlsh"], finished["ywlsh"]]
    # Soft delete keeps each record's own sfsc type.
    def same(a: Any, b: Any) -> bool:
        return type(a) is type(b) and a == b

    live = [next(r for r in src if same(r["sfsc"], v)) for v in ("0", 0, False, "N")]
    ids = [r["ywlsh"] for r in live]
    assert requests.post(admin + "/_sandbox/delete", json={"ids": ids}, timeout=10).json()["deleted"] == ids
    for r, want in zip(live, ("1", 1, True, "Y")):
        now = requests.get(f"{admin}/_sandbox/records/{r['ywlsh']}", timeout=10).json()
        assert same(now["sfsc"], want), (r["sfsc"], now["sfsc"])
    stats = requests.get(admin + "/_sandbox/stats", timeout=10).json()
    assert stats["deleted"] == sum(social.is_deleted(r) for r in admin_records(admin))
    assert requests.get(admin + "/_sandbox/records/JNRS2", timeout=10).status_code == 404


def test_quirks_admin_endpoint(sb: Any, source: list[dict[str, Any]]) -> None:
    body = requests.get(sb.admin_urls["social"] + "/_sandbox/quirks", timeout=30).json()
    want: dict[str, int] = {}
    for r in source:
        for q in social.quirks(r):
            want[q] = want.get(q, 0) + 1
    assert body["counts"] == want and set(want) == {"no_certificate", "no_reason", "result_unfinished",
                                                    "accepted_before_applied", "old_place_code"}


def test_command_line_serves_social_and_welfare_with_given_credentials() -> None:
    cmd = [sys.executable, "-m", "sandbox", "serve", "--seed", "3"]
    for name in ("civil", "estate", "hall", "market", "licences", "social", "welfare"):
        cmd += [f"--port-{name}", "0", f"--{name}-records", "3" if name != "hall" else "0"]
    cmd += ["--social-app-key", "k1", "--social-secret", "s1", "--welfare-username", "u1", "--welfare-password", "p1"]
    proc = subprocess.Popen(cmd, cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        urls = {}
        for _ in range(7):
            parts = proc.stdout.readline().split()
            urls[parts[1]] = parts[3]
        assert {"social", "welfare"} <= set(urls)
        r = requests.post(urls["social"] + PATH, json={"pageSize": "10"}, timeout=10,
                          headers=headers("POST", secret="s1", key="k1"))
        assert envelope(r)["result"]["total"] == "3"
        assert envelope(requests.post(urls["social"] + PATH, json={}, headers=headers("POST"), timeout=10))[
            "retCode"] == "4011"
        body = (b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
                b'<q:queryYwxx xmlns:q="http://ybj.jinan.gov.cn/ws"/></s:Body></s:Envelope>')
        r = requests.post(urls["welfare"] + "/ws/ybj", data=body, auth=("u1", "p1"), timeout=10,
                          headers={"Content-Type": "text/xml"})
        assert r.status_code == 200 and b"<zjls>3</zjls>" in r.content
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
