"""Realistic canonical case dicts for the model tests and the validation benchmark (not a test module)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from gateway.models.identifiers import resident_id_check_char, uscc_check_char

BEIJING = timezone(timedelta(hours=8))
PLACES = ["310115", "110101", "440305", "360426", "510104", "330106", "320102", "420106"]
DEPTS = [
    ("上海市浦东新区市场监督管理局", "11310115MB2F12345"),
    ("上海市浦东新区卫生健康委员会", "11310115002425906"),
    ("上海市浦东新区规划和自然资源局", "11310115MB2F5678K"),
]
ITEMS = [("310115-000201-001", "310100001000", "食品经营许可"), ("310115-000301-002", "310100002000", "医疗机构执业登记")]


def resident_id(rng: random.Random, place: str | None = None, birth: str | None = None) -> str:
    body = (place or rng.choice(PLACES)) + (
        birth or "%04d%02d%02d" % (rng.randint(1950, 2004), rng.randint(1, 12), rng.randint(1, 28))
    ) + "%03d" % rng.randint(0, 999)
    return body + resident_id_check_char(body)


def uscc(body17: str) -> str:
    return body17 + uscc_check_char(body17)


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S+08:00")


def make_case(i: int, rng: random.Random | None = None) -> dict:
    rng = rng or random.Random(i)
    applied = datetime(2024, 1, 1, 9, 0, tzinfo=BEIJING) + timedelta(minutes=rng.randint(0, 500_000))
    accepted = applied + timedelta(minutes=rng.randint(1, 600))
    dept_name, dept_body = DEPTS[i % len(DEPTS)]
    item_code, catalog, item_name = ITEMS[i % len(ITEMS)]
    person = rng.random() < 0.7
    if person:
        applicant = {"type": "1", "name": "张三丰", "id_type": "111", "id_number": resident_id(rng),
                     "phone": "13800138000", "address": "上海市浦东新区世纪大道100号"}
    else:
        applicant = {"type": "2", "name": "上海某某餐饮管理有限公司", "id_type": "001",
                     "id_number": uscc("9131011500000%04d" % (i % 10000)), "phone": "021-58880000",
                     "address": None}
    events = []
    t = accepted
    for seq, (name, action) in enumerate([("受理", "accept"), ("承办", "undertake"), ("审核", "review"),
                                           ("批准", "approve")][: rng.randint(2, 4)], start=1):
        end = t + timedelta(hours=rng.randint(1, 48))
        events.append({"seq": seq, "kind": "step", "name": name, "action": action, "special_type": None,
                       "started_at": iso(t), "ended_at": iso(end), "handler": "李四", "opinion": "同意",
                       "reason": None, "result": None})
        t = end
    finished = t + timedelta(hours=1)
    kinds = [("申请书", "electronic"), ("营业执照", "certificate_reuse"), ("身份证明", "paper")]
    materials = [{"name": n, "source": s, "count": 1, "attachment": None, "certificate_no": None}
                 for n, s in kinds[: rng.randint(1, 3)]]
    return {
        "case_no": "31011520240%010d" % i, "item_code": item_code, "catalog_code": catalog,
        "item_name": item_name, "item_version": "3", "summary": f"{applicant['name']}申请{item_name}",
        "case_type": "promised", "applicant": applicant, "applied_at": iso(applied),
        "accepted_at": iso(accepted),
        "promised_at": iso(accepted + timedelta(days=20)), "promised_days": 20, "dept_name": dept_name,
        "dept_code": uscc(dept_body), "handler": "王五", "division_code": "310115",
        "finished_at": iso(finished),
        "result": "issued", "result_reason": None, "certificate_name": item_name + "证",
        "certificate_no": "JY%012d" % i, "status": "finished", "deleted": False, "events": events,
        "materials": materials, "updated_at": iso(finished + timedelta(minutes=5)),
    }


def make_cases(n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    return [make_case(i, rng) for i in range(n)]


def valid_case(**overrides: object) -> dict:
    """A fixed, valid promised case issued with a certificate (person applicant, Beijing place code)."""
    case = {
        "case_no": "310115202400000000001",
        "item_code": "310115-000201-001",
        "catalog_code": "310100001000",
        "item_name": "食品经营许可",
        "item_version": "3",
        "summary": "张三丰申请食品经营许可",
        "case_type": "promised",
        "applicant": {
            "type": "1",
            "name": "张三丰",
            "id_type": "111",
            "id_number": "360426199101010071",
            "phone": "13800138000",
            "address": "上海市浦东新区世纪大道100号",
        },
        "applied_at": "2024-03-01T09:00:00+08:00",
        "accepted_at": "2024-03-01T09:30:00+08:00",
        "promised_at": "2024-03-21T17:00:00+08:00",
        "promised_days": 20,
        "dept_name": "上海市浦东新区市场监督管理局",
        "dept_code": "91110000600037341L",
        "handler": "王五",
        "division_code": "310115",
        "finished_at": "2024-03-05T16:00:00+08:00",
        "result": "issued",
        "result_reason": None,
        "certificate_name": "食品经营许可证",
        "certificate_no": "JY13101150000001",
        "status": "finished",
        "deleted": False,
        "events": [
            {"seq": 1, "kind": "step", "name": "受理", "action": "accept",
             "started_at": "2024-03-01T09:30:00+08:00",
             "ended_at": "2024-03-01T10:00:00+08:00", "handler": "李四", "opinion": "同意受理"},
            {"seq": 2, "kind": "special", "name": "补正", "special_type": "correction",
             "started_at": "2024-03-02T09:00:00+08:00", "ended_at": "2024-03-03T09:00:00+08:00",
             "reason": "缺少平面图", "result": "已补正"},
            {"seq": 3, "kind": "step", "name": "审核", "action": "review",
             "started_at": "2024-03-04T09:00:00+08:00",
             "ended_at": "2024-03-05T15:00:00+08:00", "handler": "赵六", "opinion": "同意"},
        ],
        "materials": [
            {"name": "申请书", "source": "electronic", "count": 1},
            {"name": "营业执照", "source": "certificate_reuse", "count": 1,
             "certificate_no": "91310115MA1K000000"},
        ],
        "updated_at": "2024-03-05T16:05:00+08:00",
    }
    case.update(overrides)
    return case
