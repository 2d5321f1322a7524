"""Every placeholder the REST scaffold writes is refused when the connector config loads, naming setting and line.

The scaffold wrote ``CHECK`` for a required query parameter the document gives no value for (and in the
commented ``success:`` template); the loader only refused ``CHOOSE_…``, ``CHANGED_AT`` and ``SINCE_PARAM``, so
``channel=CHECK`` went to the live system on every request. The OpenAPI document is fetched over real HTTP from
127.0.0.1, as ``tongban connector new --openapi URL`` does.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from http_testlib import Answer, ScriptedServer

from connectors.rest.scaffold import scaffold
from gateway.contract.errors import ConfigError
from gateway.kernel.config import load_systems

DOCUMENT = """\
openapi: 3.0.1
info: {title: 审批信息接口, version: "1.0"}
paths:
  /api/list:
    get:
      parameters:
        - {name: channel, in: query, required: true, schema: {type: string}, description: 渠道编码}
        - {name: pageNo, in: query, schema: {type: integer, default: 1, minimum: 1}}
        - {name: pageSize, in: query, schema: {type: integer, default: 20}}
        - {name: updateTime, in: query, schema: {type: string}, description: 更新时间起（含）}
      responses:
        "200":
          description: 成功
          content:
            application/json:
              schema:
                type: object
                properties:
                  status: {type: string}
                  msg: {type: string}
                  data:
                    type: object
                    properties:
                      list:
                        type: array
                        items:
                          type: object
                          properties:
                            ywlsh: {type: string, description: 业务流水号（主键）}
                            updateTime: {type: string, example: "2026-12-01 09:30:00"}
"""


def _scaffolded(tmp_path: Path) -> tuple[Path, str]:
    with ScriptedServer(lambda request: Answer(200, {"Content-Type": "application/yaml"},
                                               DOCUMENT.encode())) as server:
        scaffold("gjj", f"{server.url}/openapi.yaml", out=tmp_path / "repo")
    connector = tmp_path / "repo" / "config" / "connectors" / "gjj.yaml"
    return connector, connector.read_text(encoding="utf-8")


def _systems(tmp_path: Path) -> Path:
    systems = tmp_path / "repo" / "config" / "systems.yaml"
    systems.write_text(yaml.safe_dump({"systems": {"gjj": {
        "connector": "rest", "connector_config": "connectors/gjj.yaml", "mapping": "../mappings/gjj.yaml",
        "endpoint": "http://127.0.0.1:1"}}}), encoding="utf-8")
    return systems


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_a_required_parameter_without_a_documented_value_is_refused_at_load(tmp_path: Path) -> None:
    _, text = _scaffolded(tmp_path)
    assert "CHECK" not in text
    assert "channel: CHOOSE_PARAM_VALUE" in text
    with pytest.raises(ConfigError) as caught:
        load_systems(_systems(tmp_path)).get("gjj").load_connector_config()
    message = str(caught.value)
    assert "streams.list.params.channel: CHOOSE_PARAM_VALUE is a placeholder" in message
    assert f"line {_line_of(text, 'channel: CHOOSE_PARAM_VALUE')}" in message


def test_the_success_template_once_uncommented_is_refused_until_its_value_is_chosen(tmp_path: Path) -> None:
    connector, text = _scaffolded(tmp_path)
    assert re.search(r"# success: \{field: status, equals: CHOOSE_SUCCESS_VALUE", text), text
    uncommented = text.replace("# success:", "success:").replace("channel: CHOOSE_PARAM_VALUE", "channel: web")
    connector.write_text(uncommented, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_systems(_systems(tmp_path)).get("gjj").load_connector_config()
    message = str(caught.value)
    assert "streams.list.success.equals: CHOOSE_SUCCESS_VALUE is a placeholder" in message
    assert f"line {_line_of(uncommented, 'equals: CHOOSE_SUCCESS_VALUE')}" in message


def test_once_chosen_the_config_loads(tmp_path: Path) -> None:
    connector, text = _scaffolded(tmp_path)
    connector.write_text(text.replace("channel: CHOOSE_PARAM_VALUE", "channel: web"), encoding="utf-8")
    loaded = load_systems(_systems(tmp_path)).get("gjj").load_connector_config()
    assert loaded["streams"]["list"]["params"] == {"channel": "web"}
