"""Connector discovery through entry points, and the systems configuration's rules."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gateway.contract.errors import ConfigError
from gateway.kernel.config import airflow_connection, parse_systems
from gateway.kernel.registry import connector_class

SYSTEMS = """
systems:
  dept_a:
    connector: rest
    mapping: a.yaml
    departments: ["11370000004390448N"]
    endpoint: ${A_URL:-http://127.0.0.1:9}
    secrets: {api_key: A_KEY}
    push: {stream: cases}
  dept_b:
    connector: rest
    mapping: b.yaml
    departments: ["113701000042183922"]
    push: {stream: cases}
  hall:
    role: hall
    connector: rest
    mapping: h.yaml
    airflow_conn_id: hall_api
    push: {stream: cases}
  readonly:
    connector: rest
    mapping: r.yaml
"""


def systems():
    return parse_systems(SYSTEMS, base_dir=Path("/cfg"))


def test_unknown_kind_names_what_is_available() -> None:
    with pytest.raises(ConfigError, match=r"no connector kind 'nope' registered under tongban.connectors \(available: .*rest"):
        connector_class("nope")


def test_cases_go_to_the_hall_and_their_department_only_never_back_to_the_origin() -> None:
    config = systems()
    assert config.targets_for("11370000004390448N", origin="dept_b") == ["dept_a", "hall"]
    assert config.targets_for("11370000004390448N", origin="dept_a") == ["hall"]
    assert config.targets_for("113701000042183922", origin="hall") == ["dept_b"]
    assert config.targets_for("000000000000000000", origin="dept_a") == ["hall"]


def test_secrets_come_from_the_environment_and_a_missing_one_is_named(monkeypatch) -> None:
    system = systems().get("dept_a")
    monkeypatch.delenv("A_KEY", raising=False)
    with pytest.raises(ConfigError, match="secret 'api_key' expects environment variable A_KEY"):
        system.resolve_secrets()
    monkeypatch.setenv("A_KEY", "k")
    monkeypatch.setenv("A_URL", "http://10.0.0.5:8080")
    assert system.resolve_secrets() == {"api_key": "k"}
    assert system.resolved_endpoint() == "http://10.0.0.5:8080"


def test_airflow_connections_are_read_without_airflow_in_uri_and_json_forms(monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_HALL_API", "https://tongban:s%40cret@hall.example:8443/api?scope=cases")
    assert airflow_connection("hall_api") == {"endpoint": "https://hall.example:8443/api",
                                              "secrets": {"scope": "cases", "login": "tongban", "password": "s@cret"}}
    monkeypatch.setenv("AIRFLOW_CONN_HALL_API", json.dumps({"conn_type": "http", "host": "hall.example", "port": 80,
                                                            "login": "u", "password": "p",
                                                            "extra": {"client_id": "c"}}))
    hall = systems().get("hall")
    assert hall.resolved_endpoint() == "http://hall.example:80"
    assert hall.resolve_secrets() == {"client_id": "c", "login": "u", "password": "p"}


def test_bad_entries_name_the_file_and_the_system() -> None:
    with pytest.raises(ConfigError, match="<systems>: line 2: system x: role: Input should be 'department' or 'hall'"):
        parse_systems("systems:\n  x: {connector: rest, mapping: m.yaml, role: boss}\n", base_dir=Path("."))
    with pytest.raises(ConfigError, match="lookback: Value error, '5 minutes' is not a duration"):
        parse_systems("systems:\n  x: {connector: rest, mapping: m.yaml, lookback: 5 minutes}\n", base_dir=Path("."))
    with pytest.raises(ConfigError, match="unknown system 'zz' \\(configured: dept_a, dept_b, hall, readonly\\)"):
        systems().get("zz")


def test_scaffold_placeholders_are_known_and_refused_when_the_connector_config_loads(tmp_path: Path) -> None:
    import re

    from gateway.contract.scaffold import is_placeholder

    # every ALL_CAPS word a scaffold writes that is no Python name of its own, no environment variable and not
    # the CLI's FILE_OR_URL is a placeholder for a person to replace: each must be one the loader refuses
    found: set[str] = set()
    for source in sorted((Path(__file__).resolve().parents[1] / "connectors").glob("*/scaffold.py")):
        text = source.read_text(encoding="utf-8")
        names = set(re.findall(r"^\s*([A-Z][A-Z0-9_]*)\s*[:=]", text, re.M))
        names |= {n for line in re.findall(r"^from .* import .*$", text, re.M) for n in re.findall(r"\b[A-Z_]+\b", line)}
        found |= {t for t in re.findall(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b", text)
                  if t not in names and not t.startswith("TONGBAN_") and t != "FILE_OR_URL"}
    assert {"CHOOSE_KEY_FIELD", "CHANGED_AT", "SINCE_PARAM"} <= found
    assert all(is_placeholder(t) for t in found), sorted(t for t in found if not is_placeholder(t))
    assert not any(is_placeholder(v) for v in ("sblsh", "UPDATE_TIME", "CHOOSE", "choose_key_field", None, 7))

    (tmp_path / "c.yaml").write_text(
        "kind: rest\nstreams:\n  cases:\n    path: /x\n    primary_key: sblsh\n"
        "    incremental: {cursor_field: CHANGED_AT, param: SINCE_PARAM}\n", encoding="utf-8")
    system = parse_systems("systems:\n  a: {connector: rest, mapping: m.yaml, connector_config: c.yaml}\n",
                           base_dir=tmp_path).get("a")
    with pytest.raises(ConfigError, match=r"c\.yaml: line 6: streams\.cases\.incremental\.cursor_field: CHANGED_AT "
                                          r"is a placeholder written by `tongban connector new`"):
        system.load_connector_config()
    inline = parse_systems("systems:\n  a: {connector: soap, mapping: m.yaml, connector_config: "
                           "{check: {call: {operation: CHOOSE_A_READ_OPERATION}}}}\n", base_dir=tmp_path).get("a")
    with pytest.raises(ConfigError, match=r"^system a: connector_config: check\.call\.operation: "
                                          r"CHOOSE_A_READ_OPERATION is a placeholder"):
        inline.load_connector_config()


REVIEW_SYSTEMS = """\
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
    endpoint: http://127.0.0.1:18931
    secrets: {app_id: ZJJ_APP_ID, app_secret: ZJJ_APP_SECRET}
"""


def review_world(tmp_path: Path, old: str = "", new: str = "") -> Path:
    (tmp_path / "config" / "connectors").mkdir(parents=True)
    (tmp_path / "mappings").mkdir()
    (tmp_path / "config" / "connectors" / "jn_zjj.yaml").write_text("kind: rest\n", encoding="utf-8")
    (tmp_path / "mappings" / "jn_zjj.yaml").write_text("system: jn_zjj\n", encoding="utf-8")
    path = tmp_path / "config" / "systems.yaml"
    path.write_text(REVIEW_SYSTEMS.replace(old, new), encoding="utf-8")
    return path


def test_the_review_systems_file_loads(tmp_path: Path) -> None:
    from gateway.kernel.config import load_systems

    system = load_systems(review_world(tmp_path)).get("jn_zjj")
    assert system.schedule == "*/10 * * * *" and system.departments == ["113701000043020001"]


def test_a_schedule_the_sync_dag_cannot_take_names_the_system_and_line(tmp_path: Path) -> None:
    from gateway.kernel.config import load_systems

    with pytest.raises(ConfigError) as caught:
        load_systems(review_world(tmp_path, '"*/10 * * * *"', '"every 10 minutes"'))
    assert str(caught.value).endswith(
        "systems.yaml: line 4: system jn_zjj: schedule: Value error, 'every 10 minutes' is not a cron expression "
        "(five fields: minute hour day-of-month month day-of-week, e.g. \"*/10 * * * *\") nor one of @hourly, "
        "@daily, @weekly, @monthly, @quarterly, @yearly; write \"*/10 * * * *\" for every 10 minute(s)")
    with pytest.raises(ConfigError, match=r"line 15: system jn_zjj: schedule: Value error, '@once' is not a schedule"):
        load_systems(review_world(tmp_path / "b", "secrets:", "schedule: '@once'\n    secrets:"))


@pytest.mark.parametrize("schedule", ["*/10 * * * *", "0 2 * * *", "30 2 * * 1-5", "0 9-17/2 * * MON-FRI", "0 0 L * *",
                                      "0 0 1 JAN,JUL *", "0 0 * * 5#3", "15,45 * * * *", "*/5 * * * 7", "5/15 * * * *",
                                      "@hourly", "@daily", "@weekly", "@monthly", "@quarterly",
                                      "@yearly"])
def test_schedules_airflow_takes_are_taken(schedule: str) -> None:
    from gateway.kernel.schedules import check_schedule

    assert check_schedule(schedule) == schedule


@pytest.mark.parametrize("schedule, said", [
    ("every 10 minutes", 'write "*/10 * * * *"'), ("2h", 'write "0 */2 * * *"'), ("* * * *", "five fields"),
    ("60 * * * *", "the minute field '60' is not valid ('60' is not in 0-59)"), ("*/0 * * * *", "step '0'"),
    ("0 25 * * *", "hour field"), ("0 0 32 * *", "day of month field"), ("0 0 * 13 *", "month field"),
    ("0 0 * * 8", "day of week field"), ("0 0 * * FOO", "'FOO' is not in 0-7"), ("@once", "the presets are"),
    ("0 0 * * 5L", "day of week field"),
    # six fields: croniter reads the sixth as the second (Quartz writes it first: "0 */10 * * * *" ran every second)
    ("0 0 * * * 30", "has 6 fields: the sync DAG takes five"), ("0 */10 * * * *", 'write "*/10 * * * *"'),
])
def test_schedules_airflow_refuses_are_refused_saying_why(schedule: str, said: str) -> None:
    from gateway.kernel.schedules import check_schedule

    with pytest.raises(ValueError, match=re.escape(said)):
        check_schedule(schedule)


def test_the_schedule_check_agrees_with_airflows_croniter() -> None:
    croniter = pytest.importorskip("croniter").croniter
    from gateway.kernel.schedules import check_schedule

    for expression in ["*/10 * * * *", "0 9-17/2 * * MON-FRI", "0 0 L * *", "0 0 * * 5#3", "5/15 * * * *",
                       "0 0 * * * 30", "60 * * * *", "*/0 * * * *", "0 25 * * *", "0 0 32 * *", "0 0 * 13 *",
                       "0 0 * * 8", "0 0 * * FOO", "0 0 * * 5L", "* * * *", "every 10 minutes"]:
        try:
            croniter(expression)
            airflow_takes = True
        except Exception:  # noqa: BLE001 - croniter's errors vary by version
            airflow_takes = False
        try:
            check_schedule(expression)
            we_take = True
        except ValueError:
            we_take = False
        six_fields = len(expression.split()) == 6  # croniter's seconds-last: refused on purpose
        assert we_take == (airflow_takes and not six_fields), expression


def test_departments_must_be_valid_uscc_and_are_stored_normalised(tmp_path: Path) -> None:
    from gateway.kernel.config import load_systems

    with pytest.raises(ConfigError) as caught:
        load_systems(review_world(tmp_path, "113701000043020001", "11370100004302000"))
    assert str(caught.value).endswith(
        "systems.yaml: line 9: system jn_zjj: departments: Value error, [0] '11370100004302000' is not a "
        "统一社会信用代码 (USCC): USCC has 17 characters, expected 18")
    with pytest.raises(ConfigError, match=r"\[0\] '113701000043020002' is not .* check character is 2, expected 1"):
        load_systems(review_world(tmp_path / "b", "113701000043020001", "113701000043020002"))
    lower = parse_systems("systems:\n  a: {connector: rest, mapping: m.yaml, departments: [11370000004390448n]}\n",
                          base_dir=tmp_path)
    assert lower.get("a").departments == ["11370000004390448N"]


def test_a_mapping_or_connector_config_that_is_not_there_names_the_system_and_the_path(tmp_path: Path) -> None:
    from gateway.kernel.config import load_systems

    path = review_world(tmp_path, "mapping: ../mappings/jn_zjj.yaml", "mapping: mappings/jn_zjj.yaml")
    with pytest.raises(ConfigError) as caught:
        load_systems(path, check_files="jn_zjj")  # what connector check and mapping check ask
    assert str(caught.value).endswith(
        f"systems.yaml: line 12: system jn_zjj: mapping: no file at {tmp_path / 'config' / 'mappings' / 'jn_zjj.yaml'} "
        f"(mappings/jn_zjj.yaml is relative to {tmp_path / 'config'})")
    # by default (the runtime, the DAG factory, every other command) one system's missing file stops nobody else
    assert load_systems(path).get("jn_zjj")
    assert load_systems(path, check_files="another_system").get("jn_zjj")
    with pytest.raises(ConfigError, match=r"line 11: system jn_zjj: connector_config: no file at"):
        load_systems(review_world(tmp_path / "b", "connectors/jn_zjj.yaml", "connector/jn_zjj.yaml"), check_files=True)
