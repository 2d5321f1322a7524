"""catalogue — 山东省政务服务事项管理系统 (the provincial catalogue of 实施清单): REST, JSON, Solr-style answers.

The catalogue lists every service item as each level implements it: one 基本编码 (national basic code) has a
national entry, a provincial one, the city's and each district's, and the same item should carry the same
elements everywhere (八统一). Real catalogues drift, so this one is generated with **planted** differences of
every kind the audit looks for, deterministic by seed, and it knows which it planted
(``GET /_sandbox/planted``, or :func:`generate` without a server). Around the plants, harmless noise that a
careful comparison must ignore: full-width digits and brackets, stray spaces, other punctuation, materials
and service objects in another order, ``20个工作日`` against ``20 工作日``, ``二十个工作日`` or ``20个工作日内``, ``即办``
against ``当场``. A few entries write their 法定时限 so that no reader can compute with it (``1年``,
``20个工作日，可延长10个工作日``): planted as ``unreadable_field``, not as a difference. The first entries are the items of
the sandbox's own departments (civil affairs at the provincial level, the estate registry at the city's), each
under the 实施编码 its system writes on every case, with the promise those cases carry: a ledger synced from the
sandbox joins its cases to the catalogue (法定时限 for 提速率, 长期无办件).

Conventions no other sandbox system uses: a bearer token; ``start``/``rows`` offset paging over
``(GXSJ, SXID)``; answers shaped like a Solr select (``{"status": "OK", "numFound": N, "docs": [...]}``);
upper-case pinyin initials for field names; levels and item types as words; time limits as text with their
unit (``"20个工作日"``, ``"即办"``); 是/否 (sometimes Y/N) for yes and no; change times in ISO 8601 with offset.

API (``Authorization: Bearer <token>``, default token ``catalogue-demo-token``):

- ``GET /qlsx/api/v2/ssqd?gxsjStart=<ISO 8601>&start=0&rows=200`` — entries changed at or after
  ``gxsjStart`` (inclusive, optional), ordered by (``GXSJ``, ``SXID``); ``rows`` 1–500.
  Errors: ``{"status": "ERROR", "error": {"code": 401, "msg": "…"}}`` with that HTTP status.

Record::

    {"SXID": "QD00000001", "JBBM": "000130001000", "SSBM": "11100000…1000130001001", "SXMC": "社会团体登记（新办）",
     "SXLX": "行政许可", "XSCJ": "国家级", "XZQHDM": "100000", "XZQHMC": "国家",
     "SSZT": [{"ZTMC": "民政部", "ZTDM": "1110…"}], "SDYJ": "《…》第12条", "SLTJ": "…", "FWDX": "自然人、企业法人",
     "FDSX": "20个工作日", "CNSX": "10个工作日", "SFSF": "否", "SFYJ": "", "BLQD": "窗口办理|网上办理",
     "DXCCS": "1", "SQCL": [{"CLMC": "登记申请表", "BYX": "必要"}], "TBFW": "", "SXZT": "在用", "BBH": "1",
     "GXSJ": "2024-01-01T08:00:00+08:00"}

Admin (``/_sandbox/``): ``GET planted`` — the planted differences still present, each
``{"kind", "rule", "element", "id", "catalog_code", "item_code", "level", "division"}``; ``POST fix``
``{"ids": [SXID…]}`` — those entries lose their plant (a new ``GXSJ``); plus every system's ``records``,
``stats``, ``mutate``, ``delete`` (``how: retire`` sets ``SXZT`` 已停用), ``faults``.
"""

from __future__ import annotations

import copy
import hmac
import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .app import BadRequest, Request, Response, SystemApp, json_response
from .catalogue_data import (
    CHANNELS,
    DIVISIONS,
    ITEM_TYPES,
    LEVELS,
    SECTORS,
    SERVICE_OBJECTS,
    VARIANTS,
    Sector,
)
from .clock import OverlayClock, fmt_iso
from .identifiers import make_uscc
from .prng import between, pick, record_rng, unit
from .table import LazyTable

__all__ = ["CatalogueApp", "Generated", "generate", "chinese_number", "DEFAULT_TOKEN", "PLANT_KINDS", "QUERY_PATH",
           "UNREADABLE_PLANT"]

DEFAULT_TOKEN = "catalogue-demo-token"
QUERY_PATH = "/qlsx/api/v2/ssqd"
MAX_ROWS = 500
_T0 = 1704067200  # 2024-01-01 08:00 Beijing: base entry i changed at _T0 + i * _STEP
_STEP = 37
_SALT_GROUP, _SALT_ENTRY, _SALT_PLANT, _SALT_NOISE, _SALT_UNREADABLE = 0xCA01, 0xCA02, 0xCA03, 0xCA04, 0xCA05
_PLANT_RATE = 0.08
_UNREADABLE_RATE = 0.006

PLANT_KINDS: tuple[tuple[str, str, str], ...] = (
    ("element_differs", "element_differs", "name"),
    ("element_differs", "element_differs", "item_type"),
    ("element_differs", "element_differs", "legal_basis"),
    ("element_differs", "element_differs", "conditions"),
    ("element_differs", "element_differs", "service_object"),
    ("element_differs", "element_differs", "materials"),
    ("element_differs", "element_differs", "fee"),
    ("time_limit_conflict", "legal_differs_from_national", "legal_limit"),
    ("time_limit_conflict", "promised_exceeds_legal", "promised_limit"),
    ("unclaimed", "unclaimed", "departments"),
    ("multiply_claimed", "multiply_claimed", "departments"),
    ("tongban_materials", "tongban_materials", "materials"),
    ("dormant", "dormant", "cases"),
)
"""(kind, rule, element) of every difference the generator plants. ``tongban_materials`` changes a district
entry's materials inside a 通办 group (so that entry's materials also differ from the national ones);
``dormant`` changes nothing here: the entry is one for which a test ledger should hold no recent case."""

UNREADABLE_PLANT = ("unreadable_field", "catalogue.time_limit", "legal_limit")
"""(kind, rule, element) of a 法定时限 written so that it cannot be read, planted apart from :data:`PLANT_KINDS` (on a
few entries that carry no other plant, so the rotation of the others is what it was)."""


@dataclass
class Generated:
    """A generated catalogue: the records as served, what was planted, and each entry before its plant."""

    records: list[dict[str, Any]]
    planted: list[dict[str, Any]]
    clean: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class _Group:
    sector: Sector
    catalog: str
    name: str
    item_type: str
    basis: str
    conditions: str
    objects: tuple[str, ...]
    materials: tuple[str, ...]
    instant: bool
    legal: int
    unit: str
    fee: bool
    tongban: str
    districts: bool
    owner: _Owner | None = None
    """A sandbox department's own item: the catalogue lists it there — so the ledger's cases of that system join
    their catalogue entry (a case's 法定时限 and 承诺时限, 长期无办件) — and at the national level, nowhere else."""


@dataclass(frozen=True)
class _Owner:
    level: int
    code: str  # the department's USCC
    name: str
    task_code: str  # the 实施编码 its system writes on every case of the item
    promised_days: int


_OBJECTS_OF = {"person": ("自然人",), "org": ("社会组织法人",), "company": ("企业法人",), "mortgage": ("自然人", "企业法人"),
               "holders": ("自然人", "企业法人"), "mixed": ("自然人", "企业法人")}


def _department_groups() -> list[_Group]:
    """The items of the sandbox's civil affairs department (provincial) and estate registry (city), as the
    catalogue lists them: the codes their systems write on every case."""
    from . import civil, estate
    from .vocab import CIVIL_ITEMS, DEPARTMENTS, ESTATE_ITEMS

    civil_sector = next(sector for sector in SECTORS if sector.ministry == "民政部")
    estate_sector = Sector("114", "自然资源部", "不动产登记中心", "ZR", "《不动产登记暂行条例》", (), ())
    out = []
    for items, sector, level, dept, task_code in (
            (CIVIL_ITEMS, civil_sector, 2, DEPARTMENTS["civil"], civil.task_code),
            (ESTATE_ITEMS, estate_sector, 3, DEPARTMENTS["estate"], estate.task_code)):
        for n, item in enumerate(items):
            out.append(_Group(
                sector=sector, catalog=item.catalog, name=item.name,
                item_type="公共服务" if "查询" in item.name else "行政许可",
                basis=f"{sector.law}第{n + 5}条", conditions=f"申请人符合{sector.dept}规定的条件，申请材料齐全、符合法定形式",
                objects=_OBJECTS_OF.get(item.applicants, ("自然人",)), materials=item.materials,
                instant=item.case_type == "1" and item.promise_days == 0, legal=item.legal_days, unit="个工作日",
                fee=False, tongban="", districts=False,
                owner=_Owner(level, dept["code"], dept["name"], task_code(item), item.promise_days)))
    return out


def _group(seed: int, g: int) -> _Group:
    sector = SECTORS[g % len(SECTORS)]
    k = g // len(SECTORS)
    name = f"{sector.names[k % len(sector.names)]}（{VARIANTS[(k // len(sector.names)) % len(VARIANTS)]}）"
    span = len(sector.names) * len(VARIANTS)
    if k >= span:
        name += f"（第{k // span + 1}类）"
    rng = record_rng(seed, g, _SALT_GROUP)
    objects = tuple(sorted(rng.sample(SERVICE_OBJECTS, between(rng, 1, 2)), key=SERVICE_OBJECTS.index))
    tongban = "全城通办" if g % 9 == 4 else "跨省通办" if g % 23 == 7 else ""
    return _Group(
        sector=sector, catalog=f"000{sector.code}{k + 1:03d}000", name=name, item_type=pick(rng, ITEM_TYPES),
        basis=f"{sector.law}第{between(rng, 2, 60)}条",
        conditions=f"申请人符合{sector.dept}规定的条件，申请材料齐全、符合法定形式",
        objects=objects, materials=tuple(rng.sample(sector.materials, between(rng, 2, 5))),
        instant=rng.random() < 0.15, legal=between(rng, 2, 12) * 5, unit="个工作日" if rng.random() < 0.8 else "日",
        fee=rng.random() < 0.2, tongban=tongban, districts=g % 4 != 3 or bool(tongban))


def _dept(group: _Group, level: int, division: str, division_name: str) -> dict[str, str]:
    name = group.sector.ministry if level == 1 else division_name + group.sector.dept
    org8 = f"{group.sector.code}{division[2:6]}{level}"
    return {"ZTMC": name, "ZTDM": make_uscc("1", "1", division, org8)}


def _entry(seed: int, i: int, group: _Group, level: int, division: str, division_name: str) -> dict[str, Any]:
    """Entry ``i`` as its level should write it: the group's elements, its own promise, channels and visits."""
    rng = record_rng(seed, i, _SALT_ENTRY)
    owner = group.owner if group.owner is not None and group.owner.level == level else None
    dept = {"ZTMC": owner.name, "ZTDM": owner.code} if owner else _dept(group, level, division, division_name)
    if group.instant:
        promised = "即办"
    elif owner is not None:  # what the department's system promises on its cases
        promised = f"{owner.promised_days}{group.unit}" if owner.promised_days else "即办"
    else:
        ratio = 1.0 if level == 1 else (0.3, 0.5, 0.6, 0.8, 1.0)[between(rng, 0, 4)]
        promised = f"{max(1, int(group.legal * ratio))}{group.unit}"
    return {
        "SXID": f"QD{i + 1:08d}", "JBBM": group.catalog,
        "SSBM": owner.task_code if owner else f"{dept['ZTDM']}{level}{group.catalog[:9]}001",
        "SXMC": group.name, "SXLX": group.item_type, "XSCJ": LEVELS[level], "XZQHDM": division,
        "XZQHMC": division_name, "SSZT": [dept], "SDYJ": group.basis, "SLTJ": group.conditions,
        "FWDX": "、".join(group.objects), "FDSX": f"{group.legal}{group.unit}" if group.legal else "即办",
        "CNSX": promised,
        "SFSF": "是" if group.fee else "否", "SFYJ": "按省定收费标准执行" if group.fee else "",
        "BLQD": "|".join(c for c in CHANNELS if c == CHANNELS[0] or rng.random() < 0.6),
        "DXCCS": str(between(rng, 0, 2)),
        "SQCL": [{"CLMC": m, "BYX": "必要"} for m in group.materials],
        "TBFW": group.tongban if level >= 3 else "", "SXZT": "在用", "BBH": "1",
        "GXSJ": fmt_iso(_T0 + i * _STEP),
    }


_FULL = str.maketrans("0123456789()", "０１２３４５６７８９（）")
_CN_DIGITS = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    """``20`` → ``二十``, ``105`` → ``一百零五``, ``15`` → ``十五``: how a clerk writes a limit in words (0 ≤ n < 10,000)."""
    if n == 0:
        return "零"
    out, zero = "", False
    for value, place in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = n // value % 10
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += ("" if (value == 10 and digit == 1 and not out) else _CN_DIGITS[digit]) + place
    return out
_HALF = str.maketrans("（）", "()")


def _noise(seed: int, i: int, rec: dict[str, Any]) -> dict[str, Any]:
    """The same entry as another level's clerk typed it: nothing a reader would call a different item."""
    rng = record_rng(seed, i, _SALT_NOISE)
    if rng.random() < 0.3:
        rec["SXMC"] = rec["SXMC"].translate(_HALF)
    if rng.random() < 0.2:
        k = between(rng, 1, len(rec["SXMC"]) - 1)
        rec["SXMC"] = rec["SXMC"][:k] + pick(rng, (" ", "\u3000")) + rec["SXMC"][k:]
    if rng.random() < 0.3:
        rec["SDYJ"] = rec["SDYJ"].translate(_FULL) + "。"
    if rng.random() < 0.3:
        rec["SLTJ"] = rec["SLTJ"].replace("，", ", ").replace("、", ",")
    objects = rec["FWDX"].split("、")
    rng.shuffle(objects)
    rec["FWDX"] = pick(rng, ("、", ",", "，", "；", " / ")).join(objects)
    materials = rec["SQCL"]
    rng.shuffle(materials)
    for m in materials:
        if rng.random() < 0.1:
            m["CLMC"] = m["CLMC"][:1] + " " + m["CLMC"][1:]
    for key in ("FDSX", "CNSX"):
        text = rec[key]
        if text == "即办":
            if rng.random() < 0.3:
                rec[key] = pick(rng, ("当场", "当场办结", "即时办结"))
            continue
        digits = len(text) - len(text.lstrip("0123456789"))
        if rng.random() < 0.15:
            text = chinese_number(int(text[:digits])) + text[digits:]
        elif rng.random() < 0.2:
            text = text.translate(_FULL)
        if rng.random() < 0.3:
            text = text.replace("个工作日", "工作日")
        if rng.random() < 0.2:
            digits = len(text) - len(text.lstrip("0123456789０１２３４５６７８９"))
            text = text[:digits] + " " + text[digits:]
        if rng.random() < 0.15:
            text += pick(rng, ("内", "以内"))
        rec[key] = text
    if rng.random() < 0.2:
        rec["SFSF"] = {"是": "Y", "否": "N"}[rec["SFSF"]]
    return rec


def _plant(rec: dict[str, Any], group: _Group, element: str, rule: str, rng: random.Random) -> None:
    """Change ``rec`` so that it carries one real difference of ``rule``/``element``."""
    if rule == "element_differs":
        if element == "name":
            rec["SXMC"] += "（告知承诺制）"
        elif element == "item_type":
            rec["SXLX"] = pick(rng, [t for t in ITEM_TYPES if t != group.item_type])
        elif element == "legal_basis":
            rec["SDYJ"] = rec["SDYJ"].replace("第", "第1", 1)
        elif element == "conditions":
            rec["SLTJ"] += "，且申请人近三年无违法记录"
        elif element == "service_object":
            rec["FWDX"] += "、" + next(o for o in SERVICE_OBJECTS if o not in group.objects)
        elif element == "materials":
            rec["SQCL"].append({"CLMC": "户籍所在地证明", "BYX": "必要"})
        elif element == "fee":
            rec["SFSF"], rec["SFYJ"] = ("否", "") if group.fee else ("是", "按市定收费标准执行")
    elif rule == "legal_differs_from_national":
        rec["FDSX"] = f"{group.legal + 30}{group.unit}"
    elif rule == "promised_exceeds_legal":
        rec["CNSX"] = f"{group.legal + between(rng, 5, 20)}{group.unit}"
    elif rule == "unclaimed":
        rec["SSZT"] = []
    elif rule == "multiply_claimed":
        other = SECTORS[(SECTORS.index(group.sector) + 1) % len(SECTORS)]
        rec["SSZT"] = rec["SSZT"] + [{"ZTMC": rec["XZQHMC"] + other.dept,
                                      "ZTDM": make_uscc("1", "1", rec["XZQHDM"], f"{other.code}{rec['XZQHDM'][2:6]}9")}]
    elif rule == "tongban_materials":
        rec["SQCL"] = rec["SQCL"][:-1] if len(rec["SQCL"]) > 2 else rec["SQCL"] + [{"CLMC": "情况说明", "BYX": "必要"}]


def _applies(rule: str, level: int, group: _Group) -> bool:
    if group.owner is not None and rule == "dormant":
        return False  # a sandbox department's item: its system's cases use it
    if rule == "tongban_materials":
        return level == 4 and group.tongban == "全城通办"
    if rule == "promised_exceeds_legal":
        return not group.instant
    return True


def generate(seed: int = 42, n: int = 3000) -> Generated:
    """``n`` catalogue entries of seed ``seed`` with their plants; a pure function of (seed, n)."""
    records: list[dict[str, Any]] = []
    groups: list[tuple[_Group, list[int]]] = []
    departments = _department_groups()  # first: the same at every n
    g = 0
    while len(records) < n:
        group = departments[g] if g < len(departments) else _group(seed, g - len(departments))
        members: list[int] = []
        for level in (1, 2, 3, 4):
            if (level == 4 and not group.districts) or (group.owner is not None and level not in (1, group.owner.level)):
                continue
            for division, division_name in DIVISIONS[level]:
                if len(records) >= n:
                    break
                members.append(len(records))
                records.append(_entry(seed, len(records), group, level, division, division_name))
        groups.append((group, members))
        g += 1
    planted: list[dict[str, Any]] = []
    clean: dict[str, dict[str, Any]] = {}
    turn = 0
    for group, members in groups:
        for i in members[1:]:  # the national entry (first) is the reference: never planted
            level = next(lv for lv, name in LEVELS.items() if name == records[i]["XSCJ"])
            if unit(seed, i, _SALT_PLANT) >= _PLANT_RATE:
                _noise(seed, i, records[i])
                if group.owner is None and unit(seed, i, _SALT_UNREADABLE) < _UNREADABLE_RATE:
                    clean[records[i]["SXID"]] = copy.deepcopy(records[i])
                    records[i]["FDSX"] = (f"{group.legal or 20}个工作日，可延长10个工作日", "1年", "按规定时限办理")[i % 3]
                    planted.append(_finding(*UNREADABLE_PLANT, records[i], level))
                continue
            for step in range(len(PLANT_KINDS)):
                kind, rule, element = PLANT_KINDS[(turn + step) % len(PLANT_KINDS)]
                if _applies(rule, level, group):
                    turn += step + 1
                    break
            clean[records[i]["SXID"]] = _noise(seed, i, copy.deepcopy(records[i]))
            _plant(records[i], group, element, rule, record_rng(seed, i, _SALT_PLANT))
            _noise(seed, i, records[i])
            if rule == "tongban_materials":  # the entry now differs from the national one too
                kind, rule = "element_differs", "element_differs"
            planted.append(_finding(kind, rule, element, records[i], level))
    planted += _tongban_findings(records, groups)
    return Generated(records, planted, clean)


def _finding(kind: str, rule: str, element: str, rec: dict[str, Any], level: int) -> dict[str, Any]:
    return {"kind": kind, "rule": rule, "element": element, "id": rec["SXID"], "catalog_code": rec["JBBM"],
            "item_code": rec["SSBM"], "level": str(level), "division": rec["XZQHDM"]}


def _material_set(rec: dict[str, Any]) -> frozenset[str]:
    return frozenset("".join(m["CLMC"].split()) for m in rec["SQCL"])


def _tongban_findings(records: list[dict[str, Any]], groups: list[tuple[_Group, list[int]]]) -> list[dict[str, Any]]:
    """A 通办 group whose entries in the 通办目录 do not all ask for the same materials: one group finding."""
    out = []
    for group, members in groups:
        listed = [records[i] for i in members if records[i]["TBFW"] and records[i]["SXZT"] == "在用"]
        if len({_material_set(r) for r in listed}) > 1:
            out.append({"kind": "tongban_materials", "rule": "tongban_materials", "element": "materials",
                        "id": None, "catalog_code": group.catalog, "item_code": None, "level": None,
                        "division": None})
    return out


def parse_iso(value: str) -> int:
    try:
        return int(datetime.fromisoformat(value).timestamp())
    except ValueError:
        raise BadRequest("gxsjStart must be ISO 8601 with an offset, e.g. 2024-01-01T08:00:00+08:00") from None


class CatalogueApp(SystemApp):
    """The catalogue's HTTP API and admin hooks. All entries are generated up front (a few thousand)."""

    name = "catalogue"
    deletion_modes = ("retire",)

    def __init__(self, seed: int = 42, records: int = 3000, token: str = DEFAULT_TOKEN) -> None:
        self.generated = generate(seed, records)
        data = self.generated.records
        table = LazyTable(len(data), lambda i: _T0 + i * _STEP, lambda t: max(0, -(-(t - _T0) // _STEP)),
                          lambda i: copy.deepcopy(data[i]))
        super().__init__(seed, table, OverlayClock(1))
        self.token = token
        self._fixed: set[str] = set()

    # -- record hooks ----------------------------------------------------------------------------------------
    def record_id(self, record: dict[str, Any]) -> str:
        return str(record["SXID"])

    def base_index(self, rid: str) -> int | None:
        if len(rid) == 10 and rid.startswith("QD") and rid[2:].isdigit():
            i = int(rid[2:]) - 1
            return i if 0 <= i < self.table.n else None
        return None

    def is_deleted(self, record: dict[str, Any]) -> bool:
        return record.get("SXZT") != "在用"

    def mutated(self, rec: dict[str, Any], t: int, rng: random.Random) -> dict[str, Any]:
        rec["BBH"] = str(int(rec.get("BBH") or "1") + 1)
        rec["GXSJ"] = fmt_iso(t)
        return rec

    def deleted(self, rec: dict[str, Any], t: int, how: str) -> dict[str, Any]:
        rec.update(SXZT="已停用", GXSJ=fmt_iso(t))
        return rec

    def broken(self, record: dict[str, Any], kind: str) -> dict[str, Any]:
        rec = copy.deepcopy(record)
        if kind == "alt_date_format":
            rec["GXSJ"] = rec["GXSJ"].replace("T", " ")[:19]
        elif kind == "unknown_code":
            rec["XSCJ"] = "村级"
        else:
            rec["JBBM"] = None
        return rec

    # -- admin -----------------------------------------------------------------------------------------------
    def planted(self) -> list[dict[str, Any]]:
        """What is planted now: the generator's list without the fixed entries, 通办 groups recomputed."""
        with self.table.lock:
            current = [e.record for e in (self.table.current(i) for i in range(self.table.n))]
        per_entry = [p for p in self.generated.planted if p["id"] is not None and p["id"] not in self._fixed]
        by_catalog: dict[str, list[dict[str, Any]]] = {}
        for rec in current:
            if rec["TBFW"] and rec["SXZT"] == "在用":
                by_catalog.setdefault(rec["JBBM"], []).append(rec)
        groups = [{"kind": "tongban_materials", "rule": "tongban_materials", "element": "materials", "id": None,
                   "catalog_code": code, "item_code": None, "level": None, "division": None}
                  for code, recs in sorted(by_catalog.items()) if len({_material_set(r) for r in recs}) > 1]
        return per_entry + groups

    def fix(self, ids: list[str]) -> tuple[list[str], list[str]]:
        done, unknown = [], []
        with self.table.lock:
            for rid in ids:
                clean = self.generated.clean.get(rid)
                index = self.base_index(rid)
                if clean is None or index is None:
                    unknown.append(rid)
                    continue
                self._change(self.table.current(index), lambda r, t: {**copy.deepcopy(clean), "GXSJ": fmt_iso(t),
                                                                       "BBH": str(int(r["BBH"]) + 1)})
                self._fixed.add(rid)
                done.append(rid)
        return done, unknown

    def admin_extra(self, req: Request) -> Response | None:
        if (req.method, req.path) == ("GET", "/_sandbox/planted"):
            return json_response(200, {"planted": self.planted()})
        if (req.method, req.path) == ("POST", "/_sandbox/fix"):
            body = req.json() or {}
            done, unknown = self.fix([str(x) for x in body.get("ids", [])])
            return json_response(200, {"fixed": done, "unknown": unknown})
        return None

    # -- API -------------------------------------------------------------------------------------------------
    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        return json_response(status, {"status": "ERROR", "error": {"code": status, "msg": message}}, headers)

    def api(self, req: Request) -> Response:
        auth = req.headers.get("Authorization") or ""
        if not hmac.compare_digest(auth.encode(), f"Bearer {self.token}".encode()):
            return self.error(401, "令牌无效")
        if req.method == "GET" and req.path == QUERY_PATH:
            return self._list(req)
        return self.error(404, "接口不存在")

    def _list(self, req: Request) -> Response:
        q = req.query
        since = parse_iso(q["gxsjStart"]) if q.get("gxsjStart") else None
        try:
            start, rows = int(q.get("start", "0")), int(q.get("rows", "100"))
        except ValueError:
            raise BadRequest("start and rows must be integers") from None
        if start < 0 or not 1 <= rows <= MAX_ROWS:
            raise BadRequest(f"start >= 0 and 1 <= rows <= {MAX_ROWS}")
        with self.table.lock:
            total = self.table.count(since)
            page = self.table.page(since, start, rows)
        resp = json_response(200, {"status": "OK", "numFound": total, "start": start,
                                   "docs": [self.render(r) for r in page]})
        self.after_page()
        return resp
