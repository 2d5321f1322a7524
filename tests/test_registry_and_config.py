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
