"""The REST scaffold (connectors/rest/scaffold.py): from an OpenAPI document to a connector YAML that parses, with
the right selector, key, cursor, paging, envelope and auth — and, for the sandbox `civil` and `hall` systems
described in OpenAPI after sandbox/README.md, a connector that reads every record of the live system."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from http_testlib import Answer, ScriptedServer, Seen

from connectors.rest import RestConnector, parse_config
from connectors.rest.scaffold import guess_time_format, inspect_openapi, parse_openapi, scaffold
from gateway.contract.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]

# --- three documents as real systems publish them ----------------------------------------------------------

# 1. A provincial government case API: YAML, an envelope {code, msg, data: {total, rows}} built with allOf, page
#    numbers, an API-key header, pinyin fields with Chinese descriptions, a server URL with a path prefix and a
#    variable, $ref cycles (a case's parent case, an applicant's agent), and operations that are not streams.
GOV_CASES = """\
openapi: 3.0.3
info: {title: 省政务服务办件查询接口, version: "2.1"}
servers:
  - url: https://zwfw.example.gov.cn/gateway/{stage}
    variables: {stage: {default: prod, enum: [prod, test]}}
security: [{GatewayKey: []}]
paths:
  /cases:
    get:
      operationId: queryCases
      summary: 分页查询办件（按更新时间）
      parameters:
        - name: updatedSince
          in: query
          description: 更新时间起（含），格式 yyyy-MM-dd HH:mm:ss
          schema: {type: string}
        - $ref: "#/components/parameters/PageNo"
        - {name: pageSize, in: query, description: 每页条数, schema: {type: integer, minimum: 1, maximum: 50, default: 20}}
        - {name: deptCode, in: query, description: 部门编码, schema: {type: string}}
        - {name: areaCode, in: query, required: true, description: 行政区划, schema: {type: string, default: "370000"}}
      responses:
        200:
          description: 成功
          content:
            application/json;charset=UTF-8:
              schema: {$ref: "#/components/schemas/CasePage"}
        401:
          description: 未授权
  /cases/{sblsh}:
    get:
      operationId: getCase
      parameters: [{name: sblsh, in: path, required: true, schema: {type: string}}]
      responses:
        "200": {description: 单个办件, content: {application/json: {schema: {$ref: "#/components/schemas/Case"}}}}
    put:
      operationId: pushCase
      responses: {"200": {description: ok}}
  /stats:
    get:
      responses:
        "200":
          description: 统计
          content:
            application/json:
              schema:
                allOf:
                  - $ref: "#/components/schemas/Envelope"
                  - {type: object, properties: {data: {type: object, properties: {total: {type: integer}}}}}
components:
  parameters:
    PageNo: {name: pageNo, in: query, description: 页码, schema: {type: integer, minimum: 1, default: 1}}
  securitySchemes:
    GatewayKey: {type: apiKey, in: header, name: X-Gateway-Key}
  schemas:
    Envelope:
      type: object
      properties:
        code: {type: integer, description: 返回码：0 成功，1001 参数错误，1002 无权限, enum: [0, 1001, 1002]}
        msg: {type: string, description: 返回信息}
    CasePage:
      allOf:
        - $ref: "#/components/schemas/Envelope"
        - type: object
          properties:
            data:
              type: object
              properties:
                total: {type: integer}
                rows: {type: array, items: {$ref: "#/components/schemas/Case"}}
    Case:
      type: object
      properties:
        bjjg: {type: string, description: 办结结果代码}
        sblsh: {type: string, description: 申报流水号}
        sxmc: {type: string, description: 事项名称}
        sqr: {$ref: "#/components/schemas/Applicant"}
        sqsj: {type: string, description: 申请时间, example: 2024-03-05 10:12:00}
        gxsj: {type: string, description: 更新时间, example: 2024-03-05 10:31:00}
        parent: {$ref: "#/components/schemas/Case"}
        related: {type: array, items: {$ref: "#/components/schemas/Case"}}
    Applicant:
      type: object
      properties:
        name: {type: string}
        idNumber: {type: string}
        agent: {$ref: "#/components/schemas/Applicant"}
"""

# 2. A keyset API: OpenAPI 3.1 JSON, {success, error, items, next_cursor}, epoch-millis change time, bearer auth.
KEYSET = {
    "openapi": "3.1.0",
    "info": {"title": "不动产登记业务开放接口", "version": "2"},
    "servers": [{"url": "https://bdc.example.gov.cn"}],
    "security": [{"bearer": []}],
    "paths": {
        "/open/v2/business": {
            "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                                      "maximum": 1000, "default": 200}}],
            "get": {
                "operationId": "listBusiness",
                "parameters": [
                    {"name": "modified_after", "in": "query", "description": "变更时间下限（含），epoch 毫秒",
                     "schema": {"type": "integer", "format": "int64"}},
                    {"name": "cursor", "in": "query", "description": "上一页返回的 next_cursor",
                     "schema": {"type": "string"}},
                ],
                "responses": {"200": {"description": "ok", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/BusinessPage"}}}}},
            },
            "post": {"operationId": "createBusiness", "responses": {"201": {"description": "created"}}},
        },
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        "schemas": {
            "BusinessPage": {"type": "object", "required": ["success", "items"], "properties": {
                "success": {"type": "boolean"},
                "error": {"type": ["string", "null"]},
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/Business"}},
                "next_cursor": {"type": ["string", "null"], "description": "下一页游标，最后一页为 null"},
            }},
            "Business": {"type": "object", "properties": {
                "ywh": {"type": "string", "description": "业务号"},
                "bjbh": {"type": "string", "description": "办件编号"},
                "sxmc": {"type": "string"},
                "qlr": {"type": "array", "items": {"type": "object", "properties": {"xm": {"type": "string"}}}},
                "czlx": {"type": "string", "enum": ["I", "U", "D"]},
                "gxsj_ms": {"type": "integer", "format": "int64", "description": "更新时间（毫秒）"},
            }},
        },
    },
}

# 3. The sandbox hall's front-desk feed: a bare JSON array, the next page in a Link header, OAuth2 client
#    credentials (token URL on the API's own host), ISO 8601 change times.
HALL = """\
openapi: 3.0.1
info: {title: 一网通办前台受理接口, version: "1.0"}
servers: [{url: "https://hall.example.gov.cn"}]
security: [{hallOAuth: ["cases:read"]}]
paths:
  /api/frontdesk/cases:
    get:
      operationId: listFrontdeskCases
      summary: 前台受理办件（按 updated_at, fd_id 排序）
      parameters:
        - {name: changed_since, in: query, description: ISO 8601, inclusive, schema: {type: string, format: date-time}}
        - {name: per_page, in: query, schema: {type: integer, minimum: 1, maximum: 500, default: 50}}
        - {name: page_token, in: query, description: from the Link header, schema: {type: string}}
      responses:
        "200":
          description: a page of cases
          headers:
            Link: {description: 'RFC 8288, <...>; rel="next"; absent on the last page', schema: {type: string}}
          content:
            application/json:
              schema: {type: array, items: {$ref: "#/components/schemas/FrontdeskCase"}}
  /api/cases/{case_no}:
    get:
      parameters: [{name: case_no, in: path, required: true, schema: {type: string}}]
      responses: {"200": {description: one case, content: {application/json: {schema: {type: object}}}}}
    put: {responses: {"200": {description: ok}}}
    delete: {responses: {"200": {description: ok}}}
components:
  securitySchemes:
    hallOAuth:
      type: oauth2
      flows:
        clientCredentials: {tokenUrl: "https://hall.example.gov.cn/oauth/token", scopes: {"cases:read": 读取办件}}
  schemas:
    FrontdeskCase:
      type: object
      properties:
        fd_id: {type: string, description: front-desk id}
        case_no: {type: string}
        item_code: {type: string}
        item_name: {type: string}
        case_type: {type: string, enum: [promised, instant]}
        applicant:
          type: object
          properties: {name: {type: string}, kind: {type: string}, id_type: {type: string}, id_no: {type: string}}
        dept_code: {type: string}
        dept_name: {type: string}
        status: {type: string}
        applied_at: {type: string, format: date-time}
        finished_at: {type: string, format: date-time, nullable: true}
        deleted: {type: boolean}
        version: {type: integer}
        updated_at: {type: string, format: date-time, description: last change (milliseconds)}
"""

# 4. Swagger 2.0, as older gateways still publish it: basic auth, offset/limit, {retCode, retMsg, result: {list}}.
SWAGGER = {
    "swagger": "2.0",
    "info": {"title": "legacy", "version": "1"},
    "host": "api.example.cn",
    "basePath": "/v1",
    "schemes": ["https"],
    "securityDefinitions": {"basicAuth": {"type": "basic"}},
    "paths": {"/licences": {"get": {
        "parameters": [{"name": "offset", "in": "query", "type": "integer"},
                       {"name": "limit", "in": "query", "type": "integer", "maximum": 200},
                       {"name": "startTime", "in": "query", "type": "string", "description": "yyyyMMddHHmmss"}],
        "responses": {"200": {"description": "ok", "schema": {"$ref": "#/definitions/LicencePage"}}}}}},
    "definitions": {
        "LicencePage": {"type": "object", "properties": {
            "retCode": {"type": "string", "description": "0000表示成功，其余失败"},
            "retMsg": {"type": "string"},
            "result": {"type": "object", "properties": {"list": {"type": "array",
                                                                  "items": {"$ref": "#/definitions/Licence"}}}}}},
        "Licence": {"type": "object", "properties": {
            "zzbh": {"type": "string", "description": "证照编号"},
            "zzmc": {"type": "string", "description": "证照名称"},
            "gxsj": {"type": "string", "description": "更新时间 yyyyMMddHHmmss"}}},
    },
}


def _write(tmp_path: Path, name: str, doc: str | dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def _generated(out: Path, name: str) -> tuple[dict[str, Any], str]:
    text = (out / "config" / "connectors" / f"{name}.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text), text


def _parses(config: dict[str, Any]) -> Any:
    return parse_config({**config, "base_url": "http://127.0.0.1:1"})


# --- the documents ---------------------------------------------------------------------------------------------


def test_a_government_envelope_api(tmp_path: Path) -> None:
    out = tmp_path / "repo"
    result = scaffold("gov_cases", str(_write(tmp_path, "gov.yaml", GOV_CASES)), out=out)
    config, text = _generated(out, "gov_cases")
    parsed = _parses(config)
    assert list(parsed.streams) == ["cases"] and parsed.check.stream == "cases"
    cases = parsed.streams["cases"]
    assert cases.path == "/gateway/prod/cases"  # servers[0] path prefix (variable at its default)
    assert cases.record_selector == "data.rows"
    assert cases.success.field == "code" and cases.success.equals == 0 and cases.success.message_field == "msg"
    assert cases.primary_key == "sblsh"  # 申报流水号, never the result code bjjg listed before it
    assert cases.incremental.cursor_field == "gxsj"
    assert cases.incremental.cursor_format == "%Y-%m-%d %H:%M:%S"  # from the unquoted YAML example's spelling
    assert cases.incremental.param == "updatedSince" and cases.incremental.param_format is None
    assert cases.ordered is True
    assert cases.pagination.model_dump() == {"type": "page_number", "page_param": "pageNo",
                                             "size_param": "pageSize", "size": 50, "start": 1,  # maximum 50
                                             "total_path": "data.total"}  # {total, rows}: a short read is stopped
    assert cases.params == {"areaCode": "370000"}  # required, with its default
    assert parsed.auth.model_dump() == {"type": "api_key", "header": "X-Gateway-Key", "secret": "api_key",
                                        "prefix": ""}
    assert "# base_url: https://zwfw.example.gov.cn" in text
    assert "PUT /gateway/prod/cases/{sblsh}" in text  # writes listed for the engineer
    skipped = {s["operation"]: s["why"] for s in result.data["skipped"]}
    assert "path parameter" in skipped["GET /cases/{sblsh}"] and "no array of objects" in skipped["GET /stats"]
    # the report names every stream and every guess with its reason
    report = "\n".join(result.report)
    assert "cases: GET /gateway/prod/cases" in report
    assert "primary_key: sblsh — documented as “申报流水号”" in report
    assert "other documented codes [1001, 1002]" in text
    mapping = yaml.safe_load((out / "mappings" / "gov_cases.yaml").read_text(encoding="utf-8"))
    assert mapping["fields"]["case_no"] == "sblsh"
    # the cursor read as the connector reads it (bare, every record was rejected at the first mapping check)
    assert mapping["fields"]["updated_at"] == {"path": "gxsj", "date": "yyyy-MM-dd HH:mm:ss"}
    assert set(mapping["fields"]) >= {"case_no", "applicant.id_number", "updated_at"}
    json.dumps(result.data)  # --json
    assert result.files == [out / "config" / "connectors" / "gov_cases.yaml", out / "mappings" / "gov_cases.yaml",
                            out / "tests" / "connectors" / "test_gov_cases_acceptance.py"]


def test_a_keyset_api_with_bearer_auth(tmp_path: Path) -> None:
    out = tmp_path / "repo"
    result = scaffold("bdc", str(_write(tmp_path, "bdc.json", KEYSET)), out=out)
    parsed = _parses(_generated(out, "bdc")[0])
    business = parsed.streams["business"]
    assert business.record_selector == "items"
    assert business.primary_key == "ywh"
    assert business.success.field == "success" and business.success.equals is True
    assert business.success.message_field == "error"
    assert (business.incremental.cursor_field, business.incremental.cursor_format,
            business.incremental.param) == ("gxsj_ms", "epoch_ms", "modified_after")
    assert business.pagination.model_dump() == {"type": "cursor", "cursor_param": "cursor",
                                                "next_cursor_path": "next_cursor", "size_param": "limit",
                                                "size": 100, "max_empty_pages": 10}  # path-level, maximum 1000
    assert parsed.auth.model_dump() == {"type": "bearer", "secret": "token"}
    assert result.data["writes"] == ["POST /open/v2/business"]
    # the connector builds from it with the secret its auth names
    RestConnector({**_generated(out, "bdc")[0], "base_url": "http://127.0.0.1:1"}, secrets={"token": "t"}).close()


def test_a_bare_array_with_link_header_and_oauth2_from_a_url(tmp_path: Path) -> None:
    """The document is fetched over real HTTP from a local server, as `--openapi https://…/openapi.yaml`."""
    with _serve({"/docs/openapi.yaml": HALL.encode()}) as base:
        out = tmp_path / "repo"
        result = scaffold("hall_fd", f"{base}/docs/openapi.yaml", out=out)
    config, _ = _generated(out, "hall_fd")
    parsed = _parses(config)
    cases = parsed.streams["frontdesk_cases"] if "frontdesk_cases" in parsed.streams else parsed.streams["cases"]
    assert cases.record_selector == ""
    assert cases.primary_key == "fd_id"
    assert (cases.incremental.cursor_field, cases.incremental.cursor_format, cases.incremental.param) == (
        "updated_at", "iso8601", "changed_since")
    assert cases.pagination.model_dump() == {"type": "link_header", "rel": "next", "size_param": "per_page",
                                             "size": 100, "max_empty_pages": 10}
    assert cases.success is None  # a bare array has no envelope
    assert parsed.auth.model_dump() == {
        "type": "oauth2_client_credentials", "token_url": "/oauth/token",  # follows the injected endpoint
        "client_id_secret": "client_id", "client_secret_secret": "client_secret", "scope": "cases:read",
        "client_auth": "body", "expiry_margin_seconds": 30.0}
    assert result.data["source"].endswith("/docs/openapi.yaml")
    assert "page_token" not in (cases.params or {})  # the Link URL carries it


def test_swagger_2(tmp_path: Path) -> None:
    out = tmp_path / "repo"
    scaffold("legacy", str(_write(tmp_path, "swagger.json", SWAGGER)), out=out)
    parsed = _parses(_generated(out, "legacy")[0])
    licences = parsed.streams["licences"]
    assert licences.path == "/v1/licences" and licences.record_selector == "result.list"
    assert licences.success.field == "retCode" and licences.success.equals == "0000"  # a string, as documented
    assert licences.success.message_field == "retMsg"
    assert licences.primary_key == "zzbh"
    assert (licences.incremental.cursor_format, licences.incremental.param) == ("%Y%m%d%H%M%S", "startTime")
    assert licences.pagination.model_dump() == {"type": "offset", "offset_param": "offset", "limit_param": "limit",
                                                "size": 100, "start": 0, "total_path": None}
    assert parsed.auth.model_dump() == {"type": "basic", "username_secret": "username", "password_secret": "password"}


# --- guards ----------------------------------------------------------------------------------------------------


def test_reference_cycles_are_cut(tmp_path: Path) -> None:
    doc = {"openapi": "3.0.0", "info": {"title": "t", "version": "1"}, "paths": {
        "/tree": {"get": {"responses": {"200": {"description": "a tree", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Node"}}}}}}},
        "/loop": {"get": {"responses": {"200": {"description": "a loop", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/A"}}}}}}},
        "/nodes": {"get": {"responses": {"200": {"description": "nodes", "content": {"application/json": {
            "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}}}}}}}},
        "components": {"schemas": {
            "Node": {"type": "object", "properties": {"id": {"type": "string"},
                                                      "children": {"type": "array",
                                                                   "items": {"$ref": "#/components/schemas/Node"}},
                                                      "parent": {"$ref": "#/components/schemas/Node"}}},
            "A": {"$ref": "#/components/schemas/B"}, "B": {"$ref": "#/components/schemas/A"}}}}
    report = inspect_openapi("cycles", doc)
    assert [s.name for s in report.streams] == ["nodes"] and report.streams[0].primary_key == "id"
    assert {op for op, _ in report.skipped} == {"GET /tree", "GET /loop"}
    assert report.auth is None
    out = tmp_path / "repo"
    scaffold("cycles", str(_write(tmp_path, "c.json", doc)), out=out)
    config, text = _generated(out, "cycles")
    assert "auth" not in config and _parses(config).streams["nodes"].incremental is None
    assert "ordered: false" in text


def test_refuses_to_overwrite_without_force_and_dry_run_writes_nothing(tmp_path: Path) -> None:
    source = str(_write(tmp_path, "bdc.json", KEYSET))
    out = tmp_path / "repo"
    dry = scaffold("bdc", source, out=out, dry_run=True)
    assert dry.files == [] and not out.exists() and dry.data["streams"][0]["name"] == "business"
    scaffold("bdc", source, out=out)
    (out / "mappings" / "bdc.yaml").write_text("# edited by hand\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="--force"):
        scaffold("bdc", source, out=out)
    assert (out / "mappings" / "bdc.yaml").read_text(encoding="utf-8") == "# edited by hand\n"
    scaffold("bdc", source, out=out, force=True)
    assert "system: bdc" in (out / "mappings" / "bdc.yaml").read_text(encoding="utf-8")
    with pytest.raises(ConfigError, match="connector name"):
        scaffold("9bad-name", source, out=out, dry_run=True)


@pytest.mark.parametrize("text", ["just: yaml\n", '{"swagger": "1.2", "paths": {}}', "a: [unclosed\n"])
def test_not_an_openapi_document(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_openapi(text.encode())


def test_no_stream_still_writes_a_valid_yaml(tmp_path: Path) -> None:
    doc = {"openapi": "3.0.0", "info": {"title": "t", "version": "1"}, "paths": {"/ping": {"get": {"responses": {
        "200": {"description": "pong", "content": {"application/json": {"schema": {"type": "object"}}}}}}}},
        "components": {"securitySchemes": {"k": {"type": "apiKey", "in": "query", "name": "key"}}}}
    out = tmp_path / "repo"
    result = scaffold("empty", str(_write(tmp_path, "e.json", doc)), out=out)
    config, _ = _generated(out, "empty")
    assert _parses(config).check.path == "/ping" and config["streams"] == {}
    assert "auth" not in config and "query parameter `key`" in result.data["auth_why"]
    assert config["check"]["params"] == {"key": {"secret": "api_key"}}  # the check carries the key too


def _with_security(schemes: dict[str, Any], requirement: list[dict[str, Any]] | None,
                   op_requirement: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {"responses": {"200": {"description": "ok", "content": {
        "application/json": {"schema": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "string"}}}}}}}}}
    if op_requirement is not None:
        op["security"] = op_requirement
    doc: dict[str, Any] = {"openapi": "3.0.0", "info": {"title": "t", "version": "1"},
                           "servers": [{"url": "https://api.example.cn"}], "paths": {"/items": {"get": op}},
                           "components": {"securitySchemes": schemes}}
    if requirement is not None:
        doc["security"] = requirement
    return doc


@pytest.mark.parametrize(("schemes", "requirement", "op_requirement", "auth", "why"), [
    ({"q": {"type": "apiKey", "in": "query", "name": "appkey"}}, None, None, None, "query parameter `appkey`"),
    ({"d": {"type": "http", "scheme": "digest"}}, [{"d": []}], None, None, "not supported"),
    ({"o": {"type": "oauth2", "flows": {"authorizationCode": {"authorizationUrl": "/a", "tokenUrl": "/t",
                                                              "scopes": {}}}}}, [{"o": []}], None, None, "needs a user"),
    ({"app": {"type": "apiKey", "in": "header", "name": "X-App-Id"},
      "sig": {"type": "apiKey", "in": "header", "name": "X-Signature"}}, [{"app": [], "sig": []}], None, None,
     "signature"),
    ({"jwt": {"type": "apiKey", "in": "header", "name": "Authorization", "description": "Bearer <token>"}},
     [{"jwt": []}], None, {"type": "bearer", "secret": "token"}, "Bearer"),
    ({"k": {"type": "apiKey", "in": "header", "name": "X-Key"}}, [{"k": []}], [], None, "empty"),  # public operation
    ({"k": {"type": "apiKey", "in": "header", "name": "X-Key"}, "b": {"type": "http", "scheme": "basic"}},
     [{"k": []}], [{"b": []}], {"type": "basic", "username_secret": "username", "password_secret": "password"},
     "operation"),
])
def test_auth_from_security_schemes(tmp_path: Path, schemes: dict[str, Any], requirement: Any, op_requirement: Any,
                                    auth: dict[str, Any] | None, why: str) -> None:
    out = tmp_path / "repo"
    result = scaffold("sec", str(_write(tmp_path, "s.json", _with_security(schemes, requirement, op_requirement))),
                      out=out)
    config, text = _generated(out, "sec")
    assert config.get("auth") == auth and why in result.data["auth_why"]
    _parses(config)
    if why == "signature":
        assert "# auth: {type: signature" in text
    if "query parameter" in why:  # a key in the query string: a secret reference in every stream's params
        assert all(s["params"]["appkey"] == {"secret": "api_key"} for s in config["streams"].values())


def test_a_non_json_answer_is_no_stream() -> None:
    doc = {"openapi": "3.0.0", "info": {"title": "t", "version": "1"}, "paths": {"/export": {"get": {"responses": {
        "200": {"description": "xml", "content": {"application/xml": {"schema": {
            "type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}}}}}}}}}}}}
    report = inspect_openapi("xml", doc)
    assert report.streams == [] and report.skipped == [("GET /export", "the 200 answer is application/xml, not JSON")]


def test_a_url_that_fails_is_a_clear_error(tmp_path: Path) -> None:
    from gateway.contract.errors import SourceUnavailableError

    with _serve({}) as base, pytest.raises(SourceUnavailableError, match="HTTP 404"):
        scaffold("gone", f"{base}/openapi.json", out=tmp_path, dry_run=True)
    with pytest.raises(ConfigError, match="cannot read"):
        scaffold("gone", str(tmp_path / "missing.yaml"), out=tmp_path, dry_run=True)


@pytest.mark.parametrize(("name", "schema", "example", "expected"), [
    ("updateTime", {"type": "string", "format": "date-time"}, None, "iso8601"),
    ("updateTime", {"type": "string", "format": "date-time"}, "2024-03-05 10:31:00", "%Y-%m-%d %H:%M:%S"),
    ("gxsj", {"type": "string", "description": "更新时间，格式 yyyyMMddHHmmss"}, None, "%Y%m%d%H%M%S"),
    ("ts", {"type": "integer", "description": "毫秒时间戳"}, None, "epoch_ms"),
    ("updatedMillis", {"type": "integer"}, None, "epoch_ms"),
    ("ts", {"type": "integer", "description": "unix 秒"}, None, "epoch_s"),
    ("ts", {"type": "integer"}, 1709605860, "epoch_s"),
    ("modified", {"type": "string"}, "2024/03/05 10:31:00", "%Y/%m/%d %H:%M:%S"),
    ("modified", {"type": "string"}, None, "%Y-%m-%d %H:%M:%S"),  # the guess, marked not sure
])
def test_cursor_format_guesses(name: str, schema: dict[str, Any], example: Any, expected: str) -> None:
    guess = guess_time_format(name, schema, example)
    assert guess.format == expected
    assert guess.sure == (expected != "%Y-%m-%d %H:%M:%S" or example is not None)


# --- against the live sandbox ----------------------------------------------------------------------------------


def civil_openapi() -> dict[str, Any]:
    """The civil system's API, written in OpenAPI from sandbox/README.md (section civil) as its vendor would."""
    ts = {"type": "string", "example": "2024-03-05 10:30:00"}
    nullable_ts = {**ts, "nullable": True}
    return {
        "openapi": "3.0.3",
        "info": {"title": "山东省民政厅审批系统数据接口", "version": "1.0"},
        "servers": [{"url": "https://mz.shandong.gov.cn", "description": "生产"}],
        "security": [{"ApiKeyAuth": []}],
        "paths": {
            "/api/v1/approvals": {"get": {
                "operationId": "listApprovals",
                "summary": "按更新时间分页查询审批办件",
                "description": "records whose updateTime >= updatedSince, ordered by (updateTime, id) ascending",
                "parameters": [
                    {"name": "updatedSince", "in": "query", "required": False,
                     "description": "更新时间下限（含），yyyy-MM-dd HH:mm:ss 北京时间",
                     "schema": {"type": "string"}, "example": "2024-03-05 10:31:00"},
                    {"name": "pageNo", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
                    {"name": "pageSize", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}},
                ],
                "responses": {
                    "200": {"description": "成功", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/ApprovalPage"},
                        "example": {"code": 0, "msg": "success", "data": {"total": 1, "pageNo": 1, "pageSize": 100,
                                                                           "rows": [{"id": "MZ2024000123",
                                                                                     "updateTime": "2024-03-05 10:31:00"}]}},
                    }}},
                    "400": {"$ref": "#/components/responses/Error"},
                    "401": {"$ref": "#/components/responses/Error"},
                },
            }},
            "/api/v1/approvals/by-project/{projectNo}": {"put": {
                "parameters": [{"name": "projectNo", "in": "path", "required": True, "schema": {"type": "string"}},
                               {"name": "X-Request-Id", "in": "header", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {"200": {"description": "ok"}}}},
        },
        "components": {
            "securitySchemes": {"ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}},
            "responses": {"Error": {"description": "错误", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Result"}}}}},
            "schemas": {
                "Result": {"type": "object", "properties": {
                    "code": {"type": "integer", "description": "0 成功；400 参数错误；401 api key 无效"},
                    "msg": {"type": "string"}}},
                "ApprovalPage": {"allOf": [{"$ref": "#/components/schemas/Result"}, {"type": "object", "properties": {
                    "data": {"type": "object", "properties": {
                        "total": {"type": "integer"}, "pageNo": {"type": "integer"}, "pageSize": {"type": "integer"},
                        "rows": {"type": "array", "items": {"$ref": "#/components/schemas/Approval"}}}}}}]},
                "Applicant": {"type": "object", "properties": {
                    "name": {"type": "string"}, "type": {"type": "string"}, "certType": {"type": "string"},
                    "certNo": {"type": "string"}, "mobile": {"type": "string"}, "address": {"type": "string"}}},
                "Step": {"type": "object", "properties": {
                    "seq": {"type": "integer"}, "name": {"type": "string"}, "action": {"type": "string"},
                    "start": ts, "end": ts, "handler": {"type": "string"}, "opinion": {"type": "string"}}},
                "Approval": {"type": "object", "properties": {
                    "id": {"type": "string", "description": "办件唯一标识（MZ+年份+序号）"},
                    "projectNo": {"type": "string", "description": "项目编号（21 位）"},
                    "taskCode": {"type": "string"}, "catalogCode": {"type": "string"},
                    "itemName": {"type": "string"}, "itemVersion": {"type": "string"},
                    "summary": {"type": "string"}, "caseType": {"type": "string", "enum": ["1", "2"]},
                    "applicant": {"$ref": "#/components/schemas/Applicant"},
                    "applyTime": ts, "acceptTime": ts, "promiseTime": ts, "promiseDays": {"type": "integer"},
                    "deptName": {"type": "string"}, "deptCode": {"type": "string"}, "handler": {"type": "string"},
                    "areaCode": {"type": "string"}, "finishTime": nullable_ts,
                    "result": {"type": "string", "nullable": True}, "resultReason": {"type": "string", "nullable": True},
                    "certName": {"type": "string", "nullable": True}, "certNo": {"type": "string", "nullable": True},
                    "steps": {"type": "array", "items": {"$ref": "#/components/schemas/Step"}},
                    "specials": {"type": "array", "items": {"type": "object"}},
                    "materials": {"type": "array", "items": {"type": "object"}},
                    "isDeleted": {"type": "integer", "enum": [0, 1]},
                    "updateTime": {"type": "string", "description": "更新时间"},
                }},
            },
        },
    }


HALL_DEPT = "11370000004390448N"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    start_all = pytest.importorskip("sandbox").start_all
    with start_all(seed=1, records={"civil": 30, "hall": 0}, systems=["civil", "hall"]) as handle:
        handle.apps["hall"].new_frontdesk(9, HALL_DEPT)
        yield handle


def _own_ids(sandbox: Any, system: str, key: str) -> list[str]:
    answer = requests.get(f"{sandbox.admin_urls[system]}/_sandbox/records", timeout=10)
    answer.raise_for_status()
    return [json.loads(line)[key] for line in answer.text.splitlines() if line.strip()]


@pytest.mark.slow
def test_the_civil_scaffold_reads_every_record_of_the_live_sandbox(sandbox: Any, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "repo"
    result = scaffold("civil_oas", str(_write(tmp_path, "civil.json", civil_openapi())), out=out)
    config, _ = _generated(out, "civil_oas")
    stream = result.data["main_stream"]
    assert stream == "approvals"
    # the same choices as the hand-written config/connectors/sd_civil.yaml
    shipped = yaml.safe_load((REPO / "config" / "connectors" / "sd_civil.yaml").read_text(encoding="utf-8"))
    mine, theirs = config["streams"][stream], shipped["streams"]["cases"]
    for key in ("path", "record_selector", "primary_key", "success", "incremental"):
        assert mine[key] == theirs[key], key
    # the same paging, and the answer's count as total_path (a short read is stopped; the sandbox counts since)
    assert mine["pagination"] == {**theirs["pagination"], "total_path": "data.total"}
    assert config["auth"] == shipped["auth"]

    own = _own_ids(sandbox, "civil", "id")
    assert len(own) == 30
    secrets = {"api_key": "civil-demo-key"}
    with RestConnector({**config, "base_url": sandbox.urls["civil"]}, secrets=secrets) as connector:
        assert connector.check().ok
        pages = list(connector.read(stream))
        records = [r for p in pages for r in p.records]
        assert not any(p.rejects for p in pages)
        assert sorted(r.source_id for r in records) == sorted(own)
        # an incremental read from the 21st record's change time returns the rest, in the sandbox's order
        since = records[20].cursor
        later = [r.source_id for p in connector.read(stream, since=since) for r in p.records]
        assert later == [r.source_id for r in records if r.cursor >= since]
    # the guessed page parameters really page: seven records a page, every record once
    small = {**config, "streams": {stream: {**config["streams"][stream],
                                            "pagination": {**config["streams"][stream]["pagination"], "size": 7}}}}
    with RestConnector({**small, "base_url": sandbox.urls["civil"]}, secrets=secrets) as connector:
        pages = list(connector.read(stream))
        assert len(pages) >= 5 and sorted(r.source_id for p in pages for r in p.records) == sorted(own)
    with RestConnector({**config, "base_url": sandbox.urls["civil"]}, secrets={"api_key": "wrong"}) as refused:
        assert not refused.check().ok

    # the generated acceptance test runs against it (with the shipped civil mapping in place of the skeleton)
    shutil.copy(REPO / "mappings" / "sd_civil.yaml", out / "mappings" / "civil_oas.yaml")
    monkeypatch.setenv("TONGBAN_CIVIL_OAS_URL", sandbox.urls["civil"])
    monkeypatch.setenv("TONGBAN_CIVIL_OAS_API_KEY", "civil-demo-key")
    module = _import(out / "tests" / "connectors" / "test_civil_oas_acceptance.py")
    assert module.SECRETS == ["api_key"] and module.STREAM == stream
    module.test_civil_oas_acceptance()


@pytest.mark.slow
def test_the_hall_scaffold_reads_the_live_front_desk(sandbox: Any, tmp_path: Path) -> None:
    out = tmp_path / "repo"
    doc = HALL.replace("maximum: 500, default: 50", "maximum: 4, default: 4")  # small pages: several Link hops
    result = scaffold("hall_oas", str(_write(tmp_path, "hall.yaml", doc)), out=out)
    config, _ = _generated(out, "hall_oas")
    stream = result.data["main_stream"]
    assert config["streams"][stream]["pagination"] == {"type": "link_header", "size_param": "per_page", "size": 4}
    secrets = {"client_id": "tongban", "client_secret": "hall-demo-secret"}
    with RestConnector({**config, "base_url": sandbox.urls["hall"]}, secrets=secrets) as connector:
        pages = list(connector.read(stream))
    assert len(pages) >= 3
    assert sorted(r.source_id for p in pages for r in p.records) == sorted(_own_ids(sandbox, "hall", "fd_id"))


# --- helpers ---------------------------------------------------------------------------------------------------


def _import(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(path.stem, None)
    return module


@contextmanager
def _serve(files: dict[str, bytes]) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 serving fixed bodies by path; yields its base URL."""
    def answer(request: Seen) -> Answer:
        body = files.get(request.route)
        return Answer(200 if body is not None else 404, {"Content-Type": "application/yaml"}, body or b"")

    with ScriptedServer(answer) as server:
        yield server.url


def test_the_cli_scaffolds_from_openapi_through_the_registry(tmp_path: Path) -> None:
    """``tongban connector new NAME --openapi FILE`` reaches this scaffold by entry point, like --wsdl the SOAP one."""
    from typer.testing import CliRunner

    from gateway.cli import app

    source = _write(tmp_path, "gov.yaml", GOV_CASES)
    runner = CliRunner()
    result = runner.invoke(app, ["connector", "new", "gov", "--openapi", str(source), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    config, _ = _generated(tmp_path, "gov")
    assert _parses(config).streams
    both = runner.invoke(app, ["connector", "new", "x", "--openapi", str(source), "--wsdl", "a.wsdl"])
    assert both.exit_code == 1 and "exactly one of --wsdl" in both.output
