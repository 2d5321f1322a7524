"""``tongban connector new --wsdl`` on real WSDLs of the corpus, then the generated files against the services
over HTTP (``asmx_testlib``), as an integration engineer would use them:

- the noise-monitoring ASMX service: the list query with a change-time window and paging is read, not the
  first DataSet; ``.NET`` names (``iPage``, ``iRows``, ``strDayTimeStrat``) are understood; the credentials
  parameters reference secrets; the address follows the systems file's endpoint; the WSDL path is relative to
  the YAML; the report says which operation was chosen and why, and every guess;
- the CXF OA loan service, whose only operation is a write (``receiveOaLoan``): the check never calls it.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from asmx_testlib import (
    NOISE_PATH,
    NOISE_WSDL,
    OALOAN_PATH,
    OALOAN_WSDL,
    PASSWORD,
    USER,
    CorpusServices,
    copy_wsdl,
)
from typer.testing import CliRunner

from connectors.common.guesses import guess_paging, guess_secret_params, looks_like_write
from connectors.soap.config import parse_config
from gateway.cli import app
from gateway.kernel.config import load_systems

runner = CliRunner()


@pytest.fixture(scope="module")
def services() -> Iterator[CorpusServices]:
    with CorpusServices() as running:
        yield running


def _new(name: str, wsdl: Path, out: Path, *extra: str) -> Any:
    result = runner.invoke(app, ["connector", "new", name, "--wsdl", str(wsdl), "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return result


def _systems(repo: Path, name: str, url: str) -> Path:
    path = repo / "config" / "systems.yaml"
    path.write_text(yaml.safe_dump({"systems": {name: {
        "connector": "soap", "connector_config": f"connectors/{name}.yaml", "mapping": f"../mappings/{name}.yaml",
        "endpoint": url, "secrets": {"username": "NOISE_USER", "password": "NOISE_PWD"}}}}), encoding="utf-8")
    return path


def test_the_noise_scaffold_reads_the_windowed_paged_query(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    wsdl = copy_wsdl(repo / "config" / "connectors" / "wsdl" / "noise.wsdl")
    result = _new("gov_noise", wsdl, repo)
    text = (repo / "config" / "connectors" / "gov_noise.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    assert raw["wsdl"] == "wsdl/noise.wsdl"                       # relative to the YAML, not to the cwd
    assert raw["address"] == "{base_url}" + NOISE_PATH           # the endpoint, with the WSDL's path
    stream = parse_config(raw | {"base_url": "http://127.0.0.1:1"}).streams["cases"]
    assert stream.operation == "GetPointWarningInfoSeach" and stream.result == "dataset"
    assert stream.params["strUserName"] == {"secret": "username"}
    assert stream.params["strUserPwd"] == {"secret": "password"}
    assert stream.params["strDayTimeStrat"] == "2000-01-01 00:00:00"      # a wide window until a cursor is named
    assert stream.params["strDayTimeEnd"] == "2099-12-31 23:59:59"
    assert "iPage" not in stream.params and "iRows" not in stream.params
    assert (stream.pagination.type, stream.pagination.page_param, stream.pagination.size_param) == (
        "page_number", "iPage", "iRows")
    out = result.output
    assert "operation: GetPointWarningInfoSeach — answers a .NET DataSet and takes a change-time window" in out
    assert "chosen over GetPointWarningInfoSeachNew" in out
    assert "params.strUserPwd: {secret: password} — reads as a password" in out
    assert "pagination: {type: page_number, page_param: iPage, size_param: iRows" in out
    assert "SavePwd (`save`)" in out and "secrets named: password, username" in out
    mapping = (repo / "mappings" / "gov_noise.yaml").read_text(encoding="utf-8")
    assert "docs/mapping-reference.md" in mapping


def test_the_generated_noise_connector_checks_and_reads_from_another_directory(
        services: CorpusServices, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    _new("gov_noise", copy_wsdl(repo / "config" / "connectors" / "wsdl" / "noise.wsdl"), repo)
    yaml_path = repo / "config" / "connectors" / "gov_noise.yaml"
    text = yaml_path.read_text(encoding="utf-8")  # the engineer names the key and the point filter, as asked
    yaml_path.write_text(text.replace("CHOOSE_KEY_FIELD", "WARN_ID").replace("strPointCodes: null",
                                                                            "strPointCodes: ''"), encoding="utf-8")
    systems = _systems(repo, "gov_noise", services.url)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NOISE_USER", USER)
    monkeypatch.setenv("NOISE_PWD", PASSWORD)
    before = len(services.calls)
    check = runner.invoke(app, ["connector", "check", "gov_noise", "--systems", str(systems)])
    assert check.exit_code == 0, check.output
    assert f"calls go to {services.url}{NOISE_PATH}" in check.output
    call = services.calls[before]
    assert (call.path, call.operation, call.params["strUserPwd"]) == (NOISE_PATH, "GetPointWarningInfoSeach",
                                                                      PASSWORD)
    system = load_systems(systems).get("gov_noise")
    from connectors.soap import SoapConnector

    connector = SoapConnector(system.load_connector_config(), secrets=system.resolve_secrets())
    assert len([r for p in connector.read("cases", mode="full_refresh") for r in p.records]) == 23
    # the generated acceptance test loads the same YAML the same way (a wrong password must fail check)
    module = _import(repo / "tests" / "connectors" / "test_gov_noise_acceptance.py")
    assert module.SECRETS == ["password", "username"] and Path(module.CONFIG["wsdl"]).is_file()


def test_a_wsdl_of_writes_only_gets_no_check_that_would_submit(services: CorpusServices, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    result = _new("oaloan", copy_wsdl(repo / "config" / "connectors" / "oaloan.wsdl", OALOAN_WSDL), repo)
    assert "every operation looks like a write (receiveOaLoan (`receive`))" in result.output
    raw = yaml.safe_load((repo / "config" / "connectors" / "oaloan.yaml").read_text(encoding="utf-8"))
    assert raw["check"]["call"]["operation"] == "CHOOSE_A_READ_OPERATION" and raw["address"] == "{base_url}/oa/loan"
    systems = _systems(repo, "oaloan", services.url)
    monkeypatch.setenv("NOISE_USER", USER)
    monkeypatch.setenv("NOISE_PWD", PASSWORD)
    check = runner.invoke(app, ["connector", "check", "oaloan", "--systems", str(systems)])
    assert check.exit_code == 1 and "CHOOSE_A_READ_OPERATION" in check.output
    assert services.operations("receiveOaLoan") == []          # nothing was submitted to the live system
    assert not [c for c in services.calls if c.path == OALOAN_PATH]


def test_the_json_report_carries_the_plan(tmp_path: Path) -> None:
    result = runner.invoke(app, ["connector", "new", "noise", "--wsdl", str(NOISE_WSDL), "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    chosen = json.loads(result.output)["plan"]
    assert chosen["operation"] == "GetPointWarningInfoSeach" and chosen["secrets"] == ["password", "username"]
    assert {"operation": "SavePwd", "word": "save"} in chosen["writes"]
    assert any(g["what"] == "operation" and "chosen over" in g["why"] for g in chosen["guesses"])


@pytest.mark.parametrize(("params", "expected"), [
    (["strPointCodes", "strDayTimeStrat", "strDayTimeEnd", "iPage", "iRows", "strUserName", "strUserPwd"],
     ("iPage", "iRows", None, "strDayTimeStrat", "strDayTimeEnd")),
    (["intPageIndex", "pageSize", "strStartTime", "strEndTime"], ("intPageIndex", "pageSize", None, "strStartTime",
                                                                   "strEndTime")),
    (["nPageNo", "nPageSize", "dtBegin", "dtEnd"], ("nPageNo", "nPageSize", None, "dtBegin", "dtEnd")),
    (["kssj", "jssj", "dqy", "mys"], ("dqy", "mys", None, "kssj", "jssj")),
    (["startTime", "pageIndex", "pageSize", "deptCode"], ("pageIndex", "pageSize", None, "startTime", None)),
    (["iStartRow", "iMaxRows"], (None, "iMaxRows", "iStartRow", None, None)),
    (["strPointCode", "strDayTime", "strUserName", "strUserPwd"], (None, None, None, None, None)),
])
def test_paging_and_window_names_with_type_prefixes(params: list[str], expected: tuple[Any, ...]) -> None:
    g = guess_paging(params)
    assert (g.page_param, g.size_param, g.offset_param, g.since_param, g.until_param) == expected


@pytest.mark.parametrize(("operation", "word"), [
    ("receiveOaLoan", "receive"), ("SavePwd", "save"), ("submitCase", "submit"), ("AddUser", "add"),
    ("updateStatus", "update"), ("DeleteItem", "delete"), ("SetConfig", "set"), ("pushData", "push"),
    ("tjSqxx", "tj"), ("BC_YWXX", "bc"), ("scFile", "sc"), ("savedata", "save"),
    # ending a session is no harmless read: Kingdee EAS's logout was chosen as the check call
    ("logout", "logout"), ("LogOut", "logout"), ("SignOut", "signout"), ("logOff", "logoff"), ("CloseCase", "close"),
    ("GetAreaPointData", None), ("queryCases", None), ("CheckUser", None), ("HelloWorld", None),
    ("getSupportDataSet", None), ("Settings", None), ("address", None), ("tjxx", None),
])
def test_operations_that_look_like_writes(operation: str, word: str | None) -> None:
    assert looks_like_write(operation) == word


def test_credential_parameters_reference_secrets() -> None:
    assert guess_secret_params(["strPointCode", "strUserName", "strUserPwd"]) == {
        "strUserPwd": "password", "strUserName": "username"}
    assert guess_secret_params(["userId", "pageNo"]) == {}                    # a user alone is whose records
    assert guess_secret_params(["access_token", "appKey"]) == {"access_token": "token", "appKey": "api_key"}


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


def test_turning_on_incremental_as_the_scaffold_says_gives_a_config_that_loads(tmp_path: Path) -> None:
    """The scaffold said to turn on the commented `incremental` once the change-time column is named, beside an
    `ordered: false` it had written: done exactly so, the file failed to load (paging a window needs ordered: true;
    a new-connector walkthrough's find). The commented line now says so, as the REST scaffold's does."""
    repo = tmp_path / "repo"
    _new("gov_noise", copy_wsdl(repo / "config" / "connectors" / "wsdl" / "noise.wsdl"), repo)
    text = (repo / "config" / "connectors" / "gov_noise.yaml").read_text(encoding="utf-8")
    (commented,) = [line for line in text.splitlines() if line.strip().startswith("# incremental:")]
    assert "(uncommented: set ordered: true)" in commented
    edited = (text.replace("CHOOSE_KEY_FIELD", "WARN_ID").replace(commented, commented.replace("# incremental:",
                                                                                               "incremental:", 1))
              .replace("CHANGED_AT", "WARN_TIME").replace("ordered: false", "ordered: true"))
    stream = parse_config(yaml.safe_load(edited) | {"base_url": "http://127.0.0.1:1"}).streams["cases"]
    assert stream.ordered and stream.incremental is not None and stream.incremental.cursor_field == "WARN_TIME"


def test_the_scaffold_prints_a_systems_entry_that_loads_with_tongban_variables(
        services: CorpusServices, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scaffold named the secrets' variables one way (NAME_PASSWORD), its acceptance test another
    (TONGBAN_NAME_PASSWORD) and printed no entry for the systems file: now one entry, TONGBAN_<NAME>_* as every
    shipped system's, that loads and checks as printed (once the key column is named)."""
    repo = tmp_path / "repo"
    out = _new("gov_noise", copy_wsdl(repo / "config" / "connectors" / "wsdl" / "noise.wsdl"), repo).output
    yaml_path = repo / "config" / "connectors" / "gov_noise.yaml"
    yaml_path.write_text(yaml_path.read_text(encoding="utf-8").replace("CHOOSE_KEY_FIELD", "WARN_ID")
                         .replace("strPointCodes: null", "strPointCodes: ''"), encoding="utf-8")
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("add to config/systems.yaml"))
    assert "TONGBAN_GOV_NOISE_URL, TONGBAN_GOV_NOISE_PASSWORD, TONGBAN_GOV_NOISE_USERNAME" in lines[start]
    entry = "\n".join(lines[start + 1:start + 7])
    systems = repo / "config" / "systems.yaml"
    systems.write_text("systems:\n" + entry + "\n", encoding="utf-8")
    monkeypatch.setenv("TONGBAN_GOV_NOISE_URL", services.url)
    monkeypatch.setenv("TONGBAN_GOV_NOISE_USERNAME", USER)
    monkeypatch.setenv("TONGBAN_GOV_NOISE_PASSWORD", PASSWORD)
    assert load_systems(systems).get("gov_noise").connector == "soap"  # loads as printed
    check = runner.invoke(app, ["connector", "check", "gov_noise", "--systems", str(systems)])
    assert check.exit_code == 0, check.output
    comment = next(line for line in yaml_path.read_text(encoding="utf-8").splitlines() if "# Secrets named" in line)
    assert "password: TONGBAN_GOV_NOISE_PASSWORD" in comment
