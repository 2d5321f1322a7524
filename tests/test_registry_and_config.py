"""Connector discovery through entry points, and the systems configuration's rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.kernel.config import airflow_connection, parse_systems
from gateway.contract.errors import ConfigError
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
    with pytest.raises(ConfigError, match="<systems>: system x: role: Input should be 'department' or 'hall'"):
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
