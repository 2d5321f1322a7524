"""An outside review of the connector author's path (2026-12-07), against a real HTTP server on 127.0.0.1:

- a source counting pages from 0 behind ``pagination.start: 1`` (what the scaffolds write when the document says
  nothing) lost its first page on every read — 138 of 250 records never read, exit 0, "nothing lost here": the
  read now looks at the page before ``start`` when a re-anchored first page lacks the anchor's records, and
  ``connector check`` looks there once;
- a server capping the page size below ``size`` passed ``connector check``, and the sync then failed;
- ``areaCode: 0370`` in a connector's params was sent as 248 (YAML's octal), without a word;
- epoch seconds declared ``epoch_ms`` were stored as January 1970 and the cursor never moved;
- a date sent as a JSON number (20261207) "did not match" the format it matches;
- the leading-zero advice quoted the number YAML made of the value, not the value written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from http_testlib import Answer, ScriptedServer, Seen, json_answer

from connectors.common.cursors import CursorCodec
from connectors.rest import RestConnector
from gateway.contract.errors import ConfigError, FatalSyncError
from gateway.kernel.config import SystemConfig
from gateway.kernel.firstpage import check_first_page
from gateway.kernel.yamlfile import load_yaml
from gateway.mapping.mapper import Mapper
from gateway.models import Case

BEIJING = timezone(timedelta(hours=8))
FMT = "%Y-%m-%d %H:%M:%S"
SIZE = 10
ROWS = [{"id": f"R{i:03d}", "updateTime": (datetime(2024, 1, 1) + timedelta(minutes=i)).strftime(FMT)}
        for i in range(45)]


def _answer(*, first_page: int, cap: int | None = None) -> Any:
    def answer(request: Seen) -> Answer:
        if request.route != "/api/cases":
            return Answer(404, {})
        size = min(int(request.query.get("pageSize", SIZE)), cap or 10**6)
        page = int(request.query.get("pageNo", first_page))
        if page < first_page:
            return Answer(400, {})
        since = request.query.get("updatedSince")
        rows = [r for r in ROWS if since is None or r["updateTime"] >= since]
        chunk = rows[(page - first_page) * size:(page - first_page + 1) * size]
        return json_answer(json.dumps({"code": 0, "data": {"rows": chunk, "total": len(rows)}}).encode())
    return answer


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[ScriptedServer] = []

    def start(**kwargs: Any) -> str:
        servers.append(ScriptedServer(_answer(**kwargs)).start())
        return servers[-1].url

    yield start
    for server in servers:
        server.stop()


def _config(url: str, *, start: int = 1, size: int = SIZE, incremental: bool = True) -> dict[str, Any]:
    stream: dict[str, Any] = {
        "path": "/api/cases", "record_selector": "data.rows", "success": {"field": "code", "equals": 0},
        "primary_key": "id", "pagination": {"type": "page_number", "page_param": "pageNo", "size_param": "pageSize",
                                            "size": size, "start": start, "total_path": "data.total"}}
    if incremental:
        stream["incremental"] = {"cursor_field": "updateTime", "cursor_format": FMT, "param": "updatedSince"}
    return {"kind": "rest", "base_url": url, "streams": {"cases": stream}}


def test_a_source_counting_pages_from_zero_stops_the_read_saying_what_to_write(serve: Any) -> None:
    connector = RestConnector(_config(serve(first_page=0)), secrets={})
    with pytest.raises(FatalSyncError) as caught:
        for _ in connector.read("cases", since=datetime(2023, 1, 1, tzinfo=BEIJING), mode="incremental"):
            pass
    message = str(caught.value)
    assert "pagination.start looks wrong" in message and "Set `pagination.start: 0`" in message
    assert "--full-refresh" in message


def test_a_source_counting_from_one_reads_everything_and_is_not_stopped(serve: Any) -> None:
    connector = RestConnector(_config(serve(first_page=1)), secrets={})
    ids = {r.source_id for page in connector.read("cases", since=datetime(2023, 1, 1, tzinfo=BEIJING),
                                                   mode="incremental") for r in page.records}
    assert ids == {r["id"] for r in ROWS}


def _system(tmp_path: Path, config: dict[str, Any]) -> SystemConfig:
    (tmp_path / "c.yaml").write_text(json.dumps(config), encoding="utf-8")
    return SystemConfig(name="nb_fire", connector="rest", connector_config="c.yaml", mapping="m.yaml",
                        base_dir=tmp_path)


def test_connector_check_says_start_is_one_too_high(serve: Any, tmp_path: Path) -> None:
    system = _system(tmp_path, _config(serve(first_page=0), incremental=False))
    config = system.load_connector_config()
    with system.build_connector(config) as connector:
        result = check_first_page(system, connector, config)
    assert not result.ok
    assert "pagination.start 1" in result.message and "looks one too high" in result.message
    assert "write `start: 0`" in result.message


def test_connector_check_of_a_source_counting_from_one_passes(serve: Any, tmp_path: Path) -> None:
    system = _system(tmp_path, _config(serve(first_page=1), incremental=False))
    config = system.load_connector_config()
    with system.build_connector(config) as connector:
        assert check_first_page(system, connector, config).ok


def test_connector_check_finds_a_page_size_the_server_caps(serve: Any, tmp_path: Path) -> None:
    system = _system(tmp_path, _config(serve(first_page=1, cap=5), incremental=False))
    config = system.load_connector_config()
    with system.build_connector(config) as connector:
        result = check_first_page(system, connector, config)
    assert not result.ok and "cap the page size below 10" in result.message


@pytest.mark.parametrize(("written", "read"), [("0370", 248), ("0012", 10), ("1:30", 90)])
def test_a_parameter_yaml_reads_as_another_number_is_refused_naming_what_was_written(written: str,
                                                                                    read: int) -> None:
    config = load_yaml(f"kind: rest\nbase_url: http://127.0.0.1:9\nstreams:\n  cases:\n    path: /c\n"
                       f"    primary_key: id\n    params: {{areaCode: {written}, dept: '0089'}}\n", where="c.yaml")
    with pytest.raises((ConfigError, ValueError)) as caught:
        RestConnector(config, secrets={})
    assert f"params.areaCode: {written} is read by YAML as the number {read}: quote it ('{written}')" in \
        str(caught.value)


def test_epoch_seconds_declared_as_milliseconds_are_refused_not_stored_as_1970() -> None:
    with pytest.raises(ValueError, match="looks like seconds since 1970, not milliseconds: write epoch_s"):
        CursorCodec("epoch_ms", BEIJING).parse(1796443440)
    with pytest.raises(ValueError, match="looks like milliseconds since 1970, not seconds: write epoch_ms"):
        CursorCodec("epoch_s", BEIJING).parse(1796443440000)
    assert CursorCodec("epoch_ms", BEIJING).parse(1796443440000) == datetime(2026, 12, 5, 12, 4, tzinfo=BEIJING)
    mapper = Mapper.from_text("system: x\nversion: 1\nfields:\n  case_no: {path: a}\n"
                              "  updated_at: {path: t, date: epoch_ms}\n", where="m.yaml", model=Case)
    _, issues = mapper.map({"a": "1", "t": 1796443440})
    assert issues == [("updated_at", "mapping.date_format", "value 1796443440 does not match the date format(s) "
                       "epoch_ms — it looks like seconds since 1970, not milliseconds: write epoch_s")]


def test_a_date_sent_as_a_json_number_matches_its_format() -> None:
    mapper = Mapper.from_text("system: x\nversion: 1\nfields:\n  case_no: {path: a}\n"
                              "  accepted_at: {path: t, date: yyyyMMdd}\n", where="m.yaml", model=Case)
    assert mapper.map({"a": "1", "t": 20261207}) == ({"case_no": "1", "accepted_at": "2026-12-07T00:00:00+08:00"}, [])
    assert mapper.map({"a": "1", "t": True})[1][0][1] == "mapping.date_format"  # a boolean is no date


def test_the_leading_zero_advice_quotes_what_was_written() -> None:
    with pytest.raises(ConfigError) as caught:
        Mapper.from_text("system: x\nversion: 1\nfields:\n  case_no: {path: a}\n  item_code: {const: 0370}\n",
                         where="m.yaml", model=Case)
    assert 'const 0370 (read by YAML as the number 248): quote it ("0370")' in str(caught.value)


def test_the_rest_scaffold_writes_credential_parameters_as_secrets(tmp_path: Path) -> None:
    """A documented default of a credential went into the connector YAML (a file meant to be committed), and the
    placeholder of another invited pasting the token there; the SOAP scaffold already wrote {secret: …}."""
    from connectors.rest.scaffold import scaffold

    record = {"type": "object", "properties": {"ywlsh": {"type": "string"},
                                               "gxsj": {"type": "string", "example": "2026-12-07 09:30:00"}}}
    answer = {"type": "object", "properties": {"code": {"type": "integer"}, "data": {"type": "object", "properties": {
        "total": {"type": "integer"}, "list": {"type": "array", "items": record}}}}}
    params = [{"name": "token", "in": "query", "required": True, "schema": {"type": "string"}},
              {"name": "appSecret", "in": "query", "required": True,
               "schema": {"type": "string", "default": "8f3a9c0e1d"}},
              {"name": "areaCode", "in": "query", "required": True, "schema": {"type": "string", "default": "370100"}}]
    spec = {"openapi": "3.0.0", "info": {"title": "t", "version": "1"}, "servers": [{"url": "http://127.0.0.1:9"}],
            "paths": {"/api/cases": {"get": {"operationId": "listCases", "parameters": params, "responses": {
                "200": {"description": "ok", "content": {"application/json": {"schema": answer}}}}}}}}
    (tmp_path / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    scaffold("sp2", str(tmp_path / "spec.json"), out=tmp_path / "out")
    written = (tmp_path / "out" / "config" / "connectors" / "sp2.yaml").read_text(encoding="utf-8")
    stream = load_yaml(written, where="sp2.yaml")["streams"]
    (params_of,) = [s["params"] for s in stream.values()]
    assert params_of == {"token": {"secret": "token"}, "appSecret": {"secret": "api_key"}, "areaCode": "370100"}
    assert "8f3a9c0e1d" not in written


def test_mapping_check_reads_a_saved_answer_where_the_stream_reads_its_records(tmp_path: Path) -> None:
    """``curl … > sample.json`` was one record (the envelope) whose every field was missing; saved as the system
    sends it, in GBK, it was "cannot read it" with no hint."""
    from gateway.mapping.check import load_sample

    answer = {"code": 0, "data": {"total": 2, "list": [{"业务流水号": "YW1", "申请人": "张三"},
                                                        {"业务流水号": "YW2", "申请人": "李四"}]}}
    sample = tmp_path / "sample.json"
    sample.write_bytes(json.dumps(answer, ensure_ascii=False).encode("gbk"))
    records = load_sample(sample, record_selector="data.list", charset="gbk")
    assert [r["业务流水号"] for r in records] == ["YW1", "YW2"] and records[1]["申请人"] == "李四"
    with pytest.raises(ConfigError, match="neither UTF-8: save it as UTF-8, or set the connector's `charset`"):
        load_sample(sample)
    with pytest.raises(ConfigError, match="no list at the stream's record_selector 'rows'"):
        load_sample(sample, record_selector="rows", charset="gbk")


@pytest.mark.parametrize(("cursor_format", "date"), [("%Y%m%d%H%M%S", "yyyyMMddHHmmss"), ("epoch_ms", "epoch_ms"),
                                                     ("%Y/%m/%d %H:%M", "yyyy/MM/dd HH:mm"),
                                                     ("%Y-%m-%dT%H:%M:%S.%f", None)])
def test_the_mapping_skeleton_reads_the_cursor_in_the_format_the_scaffold_found(cursor_format: str,
                                                                                date: str | None) -> None:
    from connectors.rest.scaffold import mapping_date_format

    assert mapping_date_format(cursor_format) == date
