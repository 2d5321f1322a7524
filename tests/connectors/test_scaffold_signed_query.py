"""The REST scaffold on a 公积金 system's OpenAPI document: a signed query, auth codes, the canonical mapping.

The document describes the common Chinese signed query — ``appKey``, ``timestamp`` (yyyyMMddHHmmss), ``nonce`` and
``sign = upper(md5(sorted k=v&…&key=SECRET))`` as required query parameters — and ``code: 0 成功；1001 签名验证失败；
1002 appKey不存在``. The scaffold used to turn the four into ``CHECK`` parameters sent as they were, map every
failure code as fatal, write ``case_no: <the primary key>`` and leave ``division_code`` (required by the canonical
Case) out of the mapping. Now it writes the ``signature`` auth block, ``codes: {"1001": auth, …}``, and a mapping
skeleton derived from the model with ``case_no`` from the field documented as 办件编号. The document is fetched and
the generated connector run against real HTTP servers on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import yaml
from http_testlib import Answer, ScriptedServer, Seen, json_answer, plain_session

from connectors.common.scaffolding import canonical_fields
from connectors.rest import RestConnector
from connectors.rest.scaffold import scaffold
from gateway.contract.errors import AuthenticationError

DOCUMENT = """\
openapi: 3.0.1
info: {title: 住房公积金审批系统接口, version: "2.3"}
servers: [{url: "http://10.20.1.5:8080/gjjsp"}]
paths:
  /api/spxx/list:
    get:
      summary: 审批信息分页查询（增量）
      parameters:
        - {name: appKey, in: query, required: true, schema: {type: string}, description: 应用标识}
        - {name: timestamp, in: query, required: true, schema: {type: string}, description: 时间戳 yyyyMMddHHmmss}
        - {name: nonce, in: query, required: true, schema: {type: string}, description: 随机数}
        - {name: sign, in: query, required: true, schema: {type: string},
           description: "签名: 除sign外所有参数按参数名升序 k=v&...&key=密钥 做MD5, 大写"}
        - {name: pageNo, in: query, schema: {type: integer, default: 1, minimum: 1}, description: 页码}
        - {name: pageSize, in: query, schema: {type: integer, default: 20, maximum: 10}, description: 每页条数，最大10}
        - {name: updateTime, in: query, schema: {type: string, example: "2026-12-01 00:00:00"},
           description: 更新时间起（含），格式yyyy-MM-dd HH:mm:ss}
      responses:
        "200":
          description: 成功
          content:
            application/json:
              schema:
                type: object
                properties:
                  code: {type: string, description: "0 成功；1001 签名验证失败；1002 appKey不存在；2001 参数错误"}
                  msg: {type: string}
                  data:
                    type: object
                    properties:
                      total: {type: integer}
                      list:
                        type: array
                        items: {$ref: "#/components/schemas/Spxx"}
components:
  schemas:
    Spxx:
      type: object
      properties:
        ywlsh: {type: string, description: 业务流水号（主键）}
        bjbh: {type: string, description: 办件编号}
        sxbm: {type: string, description: 实施编码}
        sxmc: {type: string, description: 事项名称}
        xzqh: {type: string, description: 行政区划}
        sqsj: {type: string, description: 申请时间 yyyyMMddHHmmss}
        updateTime: {type: string, description: 更新时间, example: "2026-12-01 09:30:00"}
"""

APP_KEY, SECRET = "jngjj_tongban", "S3cr3t-gjj"
ROWS = [{"ywlsh": f"YW{i:03d}", "bjbh": f"3701{i:08d}", "xzqh": "370100",
         "updateTime": f"2026-12-01 09:{i:02d}:00"} for i in range(1, 24)]


def _document_server() -> ScriptedServer:
    return ScriptedServer(lambda request: Answer(200, {"Content-Type": "application/yaml"}, DOCUMENT.encode()))


def _gjj(request: Seen) -> Answer:
    """The 公积金 system: checks the signature as its documentation says, then pages ROWS by updateTime."""
    query = dict(parse_qsl(urlsplit(request.path).query, keep_blank_values=True))
    signed = "&".join(f"{k}={query[k]}" for k in sorted(query) if k != "sign")
    if query.get("appKey") != APP_KEY:
        body: dict[str, Any] = {"code": "1002", "msg": "appKey不存在", "data": None}
    elif hashlib.md5(f"{signed}&key={SECRET}".encode()).hexdigest().upper() != query.get("sign") or \
            not re.fullmatch(r"\d{14}", query.get("timestamp", "")) or not query.get("nonce"):
        body = {"code": "1001", "msg": "签名验证失败", "data": None}
    else:
        since = query.get("updateTime", "")
        chosen = [r for r in ROWS if r["updateTime"] >= since]
        n, size = int(query["pageNo"]), int(query["pageSize"])
        body = {"code": "0", "msg": "成功", "data": {"total": len(chosen), "list": chosen[(n - 1) * size: n * size]}}
    return json_answer(json.dumps(body, ensure_ascii=False).encode())


@pytest.fixture
def generated(tmp_path: Path) -> tuple[dict[str, Any], dict[str, Any], str]:
    with _document_server() as server:
        result = scaffold("jn_gjj", f"{server.url}/openapi.yaml", out=tmp_path / "repo")
    config = yaml.safe_load((tmp_path / "repo" / "config" / "connectors" / "jn_gjj.yaml").read_text(encoding="utf-8"))
    mapping = yaml.safe_load((tmp_path / "repo" / "mappings" / "jn_gjj.yaml").read_text(encoding="utf-8"))
    return config, mapping, "\n".join(result.report)


def _connector(config: dict[str, Any], url: str, secret: str = SECRET) -> RestConnector:
    return RestConnector(config | {"base_url": url}, secrets={"app_key": APP_KEY, "secret": secret},
                         session=plain_session(), sleep=lambda s: None)


def test_the_signed_query_becomes_a_signature_block_that_the_system_accepts(
        generated: tuple[dict[str, Any], dict[str, Any], str]) -> None:
    config, _, report = generated
    stream = config["streams"]["list"]
    assert "params" not in stream  # no CHECK (or any placeholder) parameters sent to the system
    auth = config["auth"]
    assert auth["type"] == "signature" and auth["algorithm"] == "md5" and auth["encoding"] == "hex_upper"
    assert auth["string_to_sign"] == "{query}&key={secret}"
    assert auth["timestamp"]["format"] == "%Y%m%d%H%M%S"
    assert auth["query_params"] == {"appKey": "{app_key}", "timestamp": "{timestamp}", "nonce": "{nonce}",
                                    "sign": "{signature}"}
    assert "are a signed query" in report
    with ScriptedServer(_gjj) as gjj:
        connector = _connector(config, gjj.url)
        assert connector.check().ok
        pages = list(connector.read("list"))
    assert [r.source_id for p in pages for r in p.records] == [r["ywlsh"] for r in ROWS]


def test_documented_credential_codes_are_auth_not_fatal(generated: tuple[dict[str, Any], dict[str, Any], str]) -> None:
    config, _, _ = generated
    assert config["streams"]["list"]["success"] == {
        "field": "code", "equals": "0", "message_field": "msg", "codes": {"1001": "auth", "1002": "auth"}}
    with ScriptedServer(_gjj) as gjj, pytest.raises(AuthenticationError, match="签名验证失败"):
        list(_connector(config, gjj.url, secret="wrong").read("list"))


def test_the_mapping_skeleton_has_every_required_canonical_field_and_the_case_number(
        generated: tuple[dict[str, Any], dict[str, Any], str]) -> None:
    _, mapping, report = generated
    required = {f.path for f in canonical_fields() if f.required}
    assert {"division_code", "case_no", "applicant.id_number", "updated_at"} <= required
    assert required <= set(mapping["fields"])
    assert mapping["fields"]["case_no"] == "bjbh"  # 办件编号, not the primary key ywlsh (业务流水号)
    assert mapping["fields"]["division_code"] == "xzqh"  # documented as 行政区划
    assert mapping["fields"]["updated_at"]["path"] == "updateTime"  # with the format the connector reads it in
    assert mapping["fields"]["updated_at"]["date"]
    assert "mapping.case_no: bjbh — documented as “办件编号”" in report


def test_without_a_case_number_field_the_skeleton_asks_for_one(tmp_path: Path) -> None:
    document = DOCUMENT.replace("        bjbh: {type: string, description: 办件编号}\n", "")
    with ScriptedServer(lambda request: Answer(200, {"Content-Type": "application/yaml"},
                                               document.encode())) as server:
        result = scaffold("jn_gjj", f"{server.url}/openapi.yaml", out=tmp_path / "repo")
    mapping = yaml.safe_load((tmp_path / "repo" / "mappings" / "jn_gjj.yaml").read_text(encoding="utf-8"))
    assert mapping["fields"]["case_no"] == "CHOOSE_CASE_NO_FIELD"
    report = "\n".join(result.report)
    assert "mapping.case_no: CHOOSE_CASE_NO_FIELD — no field is named or documented as the national case number" \
           in report and "the primary key `ywlsh` is the source's row key" in report
