"""The outside reviewer's "106th connector" as a test world: an invented REST system (济南市住房和城乡建设局
施工许可, ``jn_zjj``) with yyyyMMddHHmmss times and Chinese code labels, the connector YAML, mapping and
systems file the reviewer wrote for it, and a sample of its records. Tests change one file the way the
reviewer did (:meth:`ZjjWorld.edit`) and run the ``tongban`` command on it.

Imported by name (several test folders have a conftest module).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from cli_testlib import tongban
from http_testlib import Answer, ScriptedServer, Seen

GOOD_MAPPING = """\
system: jn_zjj
version: "2"
timezone: "+08:00"
null_tokens: [""]
code_tables:
  case_type: {即办件: instant, 承诺件: promised}
  applicant_type: {自然人: "1", 企业法人: "2", 事业法人: "3"}
  id_type: {居民身份证: "111", 统一社会信用代码: "001"}
  result: {准予许可: issued, 不予许可: not_permitted, 撤回申请: withdrawn}
fields:
  case_no: {path: bjbh, required: true}
  item_code: {path: sxbm, required: true}
  item_name: sxmc
  case_type: {path: bllx, code: case_type}
  applicant.type: {path: sqrlx, code: applicant_type}
  applicant.name: sqrmc
  applicant.id_type: {path: zjlx, code: id_type}
  applicant.id_number: {path: zjhm, normalize: [strip, upper]}
  applied_at: {path: sqsj, date: [yyyyMMddHHmmss, "yyyy-MM-dd HH:mm:ss"]}
  accepted_at: {path: slsj, date: yyyyMMddHHmmss}
  finished_at: {path: bjsj, date: yyyyMMddHHmmss}
  result: {path: bjjg, code: result}
  result_reason: bjyy
  certificate_name: zzmc
  certificate_no: zzbh
  dept_name: slbm
  dept_code: slbmdm
  division_code: xzqh
  status:
    cases:
      - {when: {path: bjsj, present: true}, value: finished}
      - {when: {path: slsj, present: true}, value: accepted}
      - {value: submitted}
  updated_at: {path: gxsj, date: yyyyMMddHHmmss, required: true}
"""

GOOD_CONNECTOR = """\
kind: rest
name: zjj
check: {stream: cases}
streams:
  cases:
    path: /api/sgxk/list
    record_selector: data.list
    success:
      field: resultCode
      message_field: resultMsg
      codes: {"0000": ok, "4001": auth}
      otherwise: fatal
    primary_key: sblsh
    ordered: true
    incremental: {cursor_field: gxsj, cursor_format: "%Y%m%d%H%M%S", timezone: "+08:00", param: beginTime}
    pagination: {type: page_number, page_param: pageNo, size_param: pageSize, size: 7, start: 1}
"""

GOOD_SYSTEMS = """\
defaults:
  lookback: 10m
  batch_size: 500
  schedule: "*/10 * * * *"
systems:
  jn_zjj:
    title: 济南市住房和城乡建设局施工许可审批系统
    role: department
    departments: ["113701000043020001"]
    connector: rest
    connector_config: connectors/jn_zjj.yaml
    mapping: ../mappings/jn_zjj.yaml
    stream: cases
    endpoint: ${ZJJ_URL:-http://127.0.0.1:9}
"""

_W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_USCC_ALPHA = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_UW = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def _ric(first17: str) -> str:
    return first17 + "10X98765432"[sum(int(c) * w for c, w in zip(first17, _W, strict=True)) % 11]


def _uscc(first17: str) -> str:
    total = sum(_USCC_ALPHA.index(c) * w for c, w in zip(first17, _UW, strict=True))
    return first17 + _USCC_ALPHA[(31 - total % 31) % 31]


def records(count: int = 30) -> list[dict[str, Any]]:
    """The system's records, sorted by (change time, key) as its list operation answers."""
    dept = _uscc("11370100004302000")
    base = datetime(2024, 3, 1, 9, 0, 0)
    out = []
    for i in range(1, count + 1):
        person = i % 3 != 0
        applied = base + timedelta(hours=i)
        out.append({
            "sblsh": f"ZJJ2024{i:06d}",
            "bjbh": f"37010020240301{i:07d}",
            "sxbm": "11370100004302000-000201-001",
            "sxmc": "建筑工程施工许可证核发",
            "bllx": "承诺件" if i % 4 else "即办件",
            "sqrlx": "自然人" if person else "企业法人",
            "sqrmc": f"张{i}" if person else f"济南某建设有限公司{i}",
            "zjlx": "居民身份证" if person else "统一社会信用代码",
            "zjhm": _ric(f"3701021985060{1000 + i:04d}") if person else _uscc(f"91370102MA3C4X{i:02d}"[:17].ljust(17, "0")),
            "sqsj": applied.strftime("%Y%m%d%H%M%S"),
            "slsj": (applied + timedelta(hours=1)).strftime("%Y%m%d%H%M%S"),
            "bjsj": (applied + timedelta(days=2)).strftime("%Y%m%d%H%M%S") if i % 2 else "",
            "bjjg": ("准予许可" if i % 5 else "不予许可") if i % 2 else "",
            "bjyy": "" if i % 5 else "材料不全",
            "zzmc": "建筑工程施工许可证" if i % 2 and i % 5 else "",
            "zzbh": f"370100202403{i:04d}0101" if i % 2 and i % 5 else "",
            "slbm": "济南市住房和城乡建设局",
            "slbmdm": dept,
            "xzqh": "370100",
            "gxsj": (applied + timedelta(days=2, minutes=i)).strftime("%Y%m%d%H%M%S"),
        })
    out.sort(key=lambda r: (r["gxsj"], r["sblsh"]))
    return out


def _json(obj: Any, status: int = 200) -> Answer:
    return Answer(status, {"Content-Type": "application/json;charset=UTF-8"},
                  json.dumps(obj, ensure_ascii=False).encode())


@contextmanager
def zjj_server(rows: list[dict[str, Any]] | None = None) -> Iterator[str]:
    """The system on a free local port, serving ``rows`` (default :func:`records`); yields its base URL."""
    served = records() if rows is None else rows

    def answer(request: Seen) -> Answer:
        if request.route != "/api/sgxk/list":
            return _json({"resultCode": "4040", "resultMsg": "not found"}, 404)
        query = dict(parse_qsl(urlsplit(request.path).query, keep_blank_values=True))
        found = [r for r in served if r["gxsj"] >= query.get("beginTime", "")]
        page, size = int(query.get("pageNo", 1)), int(query.get("pageSize", 10))
        return _json({"resultCode": "0000", "resultMsg": "成功",
                      "data": {"total": len(found), "list": found[(page - 1) * size: page * size]}})

    with ScriptedServer(answer) as server:
        yield server.url


@dataclass
class ZjjWorld:
    root: Path

    @property
    def systems(self) -> Path:
        return self.root / "config" / "systems.yaml"

    @property
    def connector(self) -> Path:
        return self.root / "config" / "connectors" / "jn_zjj.yaml"

    @property
    def mapping(self) -> Path:
        return self.root / "mappings" / "jn_zjj.yaml"

    @property
    def sample(self) -> Path:
        return self.root / "sample.json"

    def edit(self, path: Path, old: str, new: str) -> None:
        """Replace ``old`` (which must be there once) by ``new`` in one of the world's files."""
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, (path, old)
        path.write_text(text.replace(old, new), encoding="utf-8")

    def run(self, *args: str, url: str | None = None) -> Any:
        env = {"TONGBAN_SYSTEMS": str(self.systems), "TONGBAN_DATABASE_URL": f"sqlite:///{self.root / 'ledger.db'}"}
        if url:
            env["ZJJ_URL"] = url
        return tongban(*args, cwd=self.root, env=env)


def make_zjj_world(root: Path) -> ZjjWorld:
    """The reviewer's files under ``root`` (config/systems.yaml, config/connectors/jn_zjj.yaml,
    mappings/jn_zjj.yaml, sample.json), all of them good."""
    world = ZjjWorld(root)
    world.connector.parent.mkdir(parents=True, exist_ok=True)
    world.mapping.parent.mkdir(parents=True, exist_ok=True)
    world.systems.write_text(GOOD_SYSTEMS, encoding="utf-8")
    world.connector.write_text(GOOD_CONNECTOR, encoding="utf-8")
    world.mapping.write_text(GOOD_MAPPING, encoding="utf-8")
    world.sample.write_text(json.dumps(records(), ensure_ascii=False), encoding="utf-8")
    return world
