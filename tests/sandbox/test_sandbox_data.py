"""Generated data: deterministic by seed, valid identifiers, consistent dates, realistic quirks."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from stdnum.cn import ric, uscc

from sandbox import civil, estate, hall
from sandbox.clock import Timeline
from sandbox.identifiers import make_ric, make_uscc

CIVIL_DEPT, ESTATE_DEPT = "11370000004390448N", "113701000042183922"
N = 3000


def clean(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def check_id(cert_type: str, number: str) -> None:
    number = clean(number)
    if cert_type in ("111", "1"):
        assert len(number) == 18 and ric.calc_check_digit(number) == number[17]  # stdnum ignores the last digit, number
        ric.get_birth_date(number)  # raises on an impossible date
    elif cert_type in ("001", "7"):
        assert uscc.is_valid(number), number


def test_deterministic_by_seed_and_index() -> None:
    for gen in (civil.generate, estate.generate, hall.generate):
        assert gen(42, 12345) == gen(42, 12345)
        assert gen(42, 12345) != gen(43, 12345)
        assert gen(42, 999_999) == gen(42, 999_999)


def test_identifier_helpers_agree_with_stdnum() -> None:
    assert ric.is_valid(make_ric("370102", "19850601", 123))
    assert uscc.is_valid(make_uscc("9", "1", "370102", "MA3C7KWW"))
    for code in (CIVIL_DEPT, ESTATE_DEPT, "11370000MB1234567R"):
        assert uscc.is_valid(code)


def dash(s: str | None) -> datetime | None:
    return datetime.strptime(s, "%Y-%m-%d %H:%M:%S") if s else None


def test_civil_records_are_valid_and_consistent() -> None:
    quirks = outside_bmp = old_codes = 0
    results: set[str | None] = set()
    for i in range(N):
        r = civil.generate(42, i)
        a = r["applicant"]
        check_id(a["certType"], a["certNo"])
        quirks += clean(a["name"]) != a["name"] or clean(a["certNo"]) != a["certNo"]
        outside_bmp += any(ord(c) > 0xFFFF for c in a["name"])
        old_codes += a["certType"] == "111" and clean(a["certNo"])[:6] in ("370181", "370125", "371202", "370101")
        clean(a["name"]).encode("gb18030")
        assert r["deptCode"] == CIVIL_DEPT and r["taskCode"].startswith(CIVIL_DEPT)
        assert re.fullmatch(r"370000\d{15}", r["projectNo"]) and r["projectNo"][6:14] == r["applyTime"][:10].replace("-", "")
        assert re.fullmatch(r"MZ\d{11}", r["id"])
        times = [dash(r["applyTime"]), dash(r["acceptTime"])]
        times += [dash(t) for s in r["steps"] for t in (s["start"], s["end"])]
        assert times == sorted(times), r["id"]
        last = max([t for t in times] + [dash(p["start"]) for p in r["specials"]]
                   + [dash(p["end"]) for p in r["specials"] if p["end"]])
        if r["finishTime"]:
            assert dash(r["finishTime"]) >= last
            assert r["updateTime"] == r["finishTime"]
        else:
            assert r["updateTime"] == max([r["steps"][-1]["end"]] + [p["end"] or p["start"] for p in r["specials"]])
        if r["caseType"] == "1":
            assert r["promiseDays"] == 0
        if r["result"] == "0":
            assert r["certName"] and r["certNo"]
        elif r["result"] is not None:
            assert r["resultReason"] and not r["certNo"]
        results.add(r["result"])
        assert [s["seq"] for s in r["steps"]] == list(range(1, len(r["steps"]) + 1))
    assert 0.01 * N < quirks < 0.035 * N
    assert outside_bmp >= 1 and old_codes >= 1
    assert {None, "0", "1", "5", "6"} <= results


def compact(s: str | None) -> datetime | None:
    return datetime.strptime(s, "%Y%m%d%H%M%S") if s else None


def test_estate_records_are_valid_and_consistent() -> None:
    deletes = 0
    for i in range(N):
        r = estate.generate(42, i)
        for q in r["qlr"]:
            check_id(q["zjzl"], q["zjhm"])
        assert r["slbm"]["dm"] == ESTATE_DEPT and r["ssbm"].startswith(ESTATE_DEPT)
        assert re.fullmatch(r"370100\d{15}", r["bjbh"]) and re.fullmatch(r"\d{4}BDC\d{7}", r["ywh"])
        times = [compact(r["sqsj"]), compact(r["slsj"])] + [compact(h["kssj"]) for h in r["hj"]]
        assert times == sorted(times)
        if r["bjsj"]:
            assert compact(r["bjsj"]) >= max(compact(h["jssj"] or h["kssj"]) for h in r["hj"])
        if r["bjjg"] == "6":
            assert r["zsmc"] and r["zsbh"]
        elif r["bjjg"]:
            assert r["bjyy"]
        if r["bllx"] == "1":
            assert r["cnsx"] == 0
        deletes += r["czlx"] == "D"
        assert r["czlx"] in "IUD" and r["sxmc"] and r["qlr"]  # a D record is still complete
    assert deletes > 0


def test_hall_frontdesk_cases_carry_their_departments_items() -> None:
    for i in range(300):
        r = hall.generate(42, i)
        assert r["origin"] == "window" and r["dept_code"] in (CIVIL_DEPT, ESTATE_DEPT)
        assert r["item_code"].startswith(r["dept_code"])
        assert r["applied_at"] <= r["accepted_at"] <= r["due_at"]
        check_id(r["applicant"]["id_type"], r["applicant"]["id_no"])
        assert len(r["case_no"]) == 21


def test_timeline_is_strictly_increasing_and_invertible() -> None:
    for scale in (1, 1000):
        tl = Timeline(42, 1, scale)
        for i in list(range(0, 2000)) + list(range(99_990, 100_010)) + [999_999, 4_999_999]:
            assert tl.time(i) < tl.time(i + 1)
            assert tl.first_at_or_after(tl.time(i)) == i
            assert tl.first_at_or_after(tl.time(i) + 1) == i + 1
        assert tl.first_at_or_after(0) == 0


def test_break_check_breaks_an_all_digit_uscc_as_a_uscc() -> None:
    """513700008504718291 is a valid USCC made of digits only; breaking it as if it were a resident ID once
    produced the same, still valid, code."""
    from stdnum.cn import uscc

    from sandbox.identifiers import break_check

    code = "513700008504718291"
    assert uscc.is_valid(code)
    broken = break_check(code)
    assert broken[:17] == code[:17] and broken != code and not uscc.is_valid(broken)
