"""The scaffold's guesses: a key that identifies, a cursor that changes, the operation's real paging names."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from connectors.common.guesses import FieldHint, guess_cursor, guess_paging, guess_primary_key
from connectors.soap.config import parse_config
from gateway.cli import app
from sandbox.market_wsdl import wsdl
from typer.testing import CliRunner


@pytest.mark.parametrize(("fields", "key"), [
    (["BJJG", "BJYY", "SBLSH", "GXSJ"], "SBLSH"),                   # never the result code, whatever comes first
    (["resultCode", "statusCode", "caseNo", "updateTime"], "caseNo"),
    (["bjzt", "zjhm", "zjlx", "sqrmc"], None),                      # status, ID number, ID type, name: no key
    (["deptCode", "itemCode", "typeCode"], None),
    (["id", "name", "code"], "id"),
    (["ROWGUID", "PROJID", "TASKCODE"], "ROWGUID"),
])
def test_the_key_is_an_identifier_never_a_code(fields: list[str], key: str | None) -> None:
    assert guess_primary_key([FieldHint(f) for f in fields]) == key


def test_documentation_names_the_key() -> None:
    assert guess_primary_key([FieldHint("F1", doc="结果代码"), FieldHint("F2", doc="申报流水号")]) == "F2"


@pytest.mark.parametrize(("fields", "cursor"), [
    ([("createTime", "dateTime"), ("updateTime", "dateTime")], "updateTime"),
    ([("SQSJ", "string"), ("GXSJ", "string")], "GXSJ"),
    ([("create_time", "dateTime"), ("name", "string")], "create_time"),
    ([("name", "string"), ("code", "string")], None),
])
def test_the_cursor_is_the_change_time(fields: list[tuple[str, str]], cursor: str | None) -> None:
    assert guess_cursor([FieldHint(n, t) for n, t in fields]) == cursor


def test_paging_uses_the_operations_own_parameter_names() -> None:
    g = guess_paging(["startTime", "pageIndex", "pageSize", "deptCode"])
    assert (g.kind, g.page_param, g.size_param, g.since_param) == ("page_number", "pageIndex", "pageSize", "startTime")
    g = guess_paging(["offset", "limit", "updatedSince"])
    assert (g.kind, g.offset_param, g.size_param, g.since_param) == ("offset", "offset", "limit", "updatedSince")
    assert guess_paging(["areaCode"]).kind is None


def test_scaffold_of_the_market_wsdl_matches_the_hand_written_connector(tmp_path: Path) -> None:
    """The sandbox's .NET ASMX service: the scaffold picks what an engineer picked by hand in sd_market.yaml."""
    source = tmp_path / "market.wsdl"
    source.write_text(wsdl("http://127.0.0.1:8104/ScjgService.asmx"), encoding="utf-8")
    result = CliRunner().invoke(app, ["connector", "new", "mkt", "--wsdl", str(source), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "config" / "connectors" / "mkt.yaml").read_text(encoding="utf-8")
    stream = parse_config(yaml.safe_load(text) | {"base_url": "http://127.0.0.1:8104"}).streams["cases"]
    assert stream.primary_key == "YWLSH"
    assert stream.incremental is not None and (stream.incremental.cursor_field, stream.incremental.param) == (
        "GXSJ", "startTime")
    pagination = stream.pagination
    assert (pagination.type, pagination.page_param, pagination.size_param) == ("page_number", "pageIndex", "pageSize")
    assert "pageIndex" not in stream.params and "startTime" not in stream.params
    assert "\nwsse:" not in text  # the WSDL asks for no UsernameToken; the YAML writes none
    mapping = yaml.safe_load((tmp_path / "mappings" / "mkt.yaml").read_text(encoding="utf-8"))
    # the case number is the field named for 办件编号 (BJBH), not the row key YWLSH (as in mappings/sd_market.yaml)
    assert mapping["fields"]["case_no"] == "BJBH" and mapping["fields"]["updated_at"] == "GXSJ"
    assert "mapping.case_no: BJBH — the name `BJBH` is a usual spelling of 办件编号" in result.output
    generated = (tmp_path / "tests" / "connectors" / "test_mkt_acceptance.py").read_text(encoding="utf-8")
    assert "if SECRETS else None" in generated and "connector_config(" in generated


def test_scaffold_writes_wsse_only_where_the_policy_asks(tmp_path: Path) -> None:
    from soap_testlib import CORPUS as corpus
    result = CliRunner().invoke(app, ["connector", "new", "sec", "--wsdl",
                                      str(corpus / "cxf-secureservice-usernametoken-policy.wsdl"), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    config = yaml.safe_load((tmp_path / "config" / "connectors" / "sec.yaml").read_text(encoding="utf-8"))
    assert config["wsse"]["username_secret"] == "username"


def test_a_wsdl_scaffolded_from_the_services_own_host_follows_the_systems_files_endpoint(tmp_path: Path) -> None:
    """Outside review: scaffolded from a test instance's live WSDL, the YAML kept `wsdl: http://127.0.0.1:38137/…`
    (only a comment said to change it) while its calls followed `{base_url}`: production would have fetched the
    WSDL from the test host. A WSDL served by the service's own host is named from `{base_url}` too."""
    from http_testlib import Answer, ScriptedServer, Seen

    where: dict[str, str] = {}

    def service(request: Seen) -> Answer:
        return Answer(200, {"Content-Type": "text/xml; charset=utf-8"},
                      wsdl(f"{where['url']}/ScjgService.asmx").encode())

    with ScriptedServer(service) as server:
        where["url"] = server.url
        result = CliRunner().invoke(app, ["connector", "new", "mkt", "--wsdl", f"{server.url}/ScjgService.asmx?wsdl",
                                          "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    config = yaml.safe_load((tmp_path / "config" / "connectors" / "mkt.yaml").read_text(encoding="utf-8"))
    assert config["wsdl"] == "{base_url}/ScjgService.asmx?wsdl" and config["address"] == "{base_url}/ScjgService.asmx"
    production = parse_config(config | {"base_url": "https://zwfw.example.gov.cn"})
    assert production.wsdl_location == "https://zwfw.example.gov.cn/ScjgService.asmx?wsdl"
