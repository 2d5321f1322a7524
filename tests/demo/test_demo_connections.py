"""The demo's systems as Airflow connections: the systems file Airflow reads names a connection per system and
no endpoint, Airflow's environment holds none of the sandbox's variables, and a system resolves its endpoint and
secrets from the connection alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from gateway.demo.connections import demo_connections, without_wiring, write_airflow_systems
from gateway.kernel.config import load_systems

REPO = Path(__file__).resolve().parents[2]


def test_connections_carry_everything_and_airflow_gets_nothing_else(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TONGBAN_SD_CIVIL_URL", "http://127.0.0.1:18101")
    monkeypatch.setenv("TONGBAN_SD_CIVIL_API_KEY", "civil-key")
    monkeypatch.setenv("TONGBAN_SD_MARKET_URL", "http://127.0.0.1:18104")
    monkeypatch.setenv("TONGBAN_SD_MARKET_USERNAME", "tongban")
    monkeypatch.setenv("TONGBAN_SD_MARKET_PASSWORD", "market-secret")
    systems = load_systems(REPO / "config" / "systems.yaml")
    wired = {"sd_civil": "civil", "sd_market": "market"}
    connections = {c.system: c for c in demo_connections(systems, wired)}
    assert connections["sd_civil"].conn_type == "tongban_rest" and connections["sd_market"].conn_type == "tongban_soap"
    assert connections["sd_civil"].host == "http://127.0.0.1:18101"
    assert connections["sd_civil"].extra == {"api_key": "civil-key"}
    body = connections["sd_market"].as_api_body()
    assert body["connection_id"] == "tongban_sd_market" and json.loads(body["extra"])["password"] == "market-secret"

    path = write_airflow_systems(systems, list(connections.values()), tmp_path / "systems-airflow.yaml")
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))["systems"]
    assert entries["sd_civil"]["airflow_conn_id"] == "tongban_sd_civil" and "endpoint" not in entries["sd_civil"]
    assert "airflow_conn_id" not in entries["jn_estate"]  # not wired: left as it was

    env = without_wiring({"TONGBAN_SD_CIVIL_URL": "x", "TONGBAN_SD_CIVIL_API_KEY": "y", "PATH": "/bin",
                          "TONGBAN_DATABASE_URL": "sqlite://"}, systems, wired)
    assert env == {"PATH": "/bin", "TONGBAN_DATABASE_URL": "sqlite://"}

    for name in list(wired):  # as an Airflow task sees it: only the connection (here from AIRFLOW_CONN_<ID>)
        for var in ("TONGBAN_SD_CIVIL_URL", "TONGBAN_SD_CIVIL_API_KEY", "TONGBAN_SD_MARKET_URL",
                    "TONGBAN_SD_MARKET_USERNAME", "TONGBAN_SD_MARKET_PASSWORD"):
            monkeypatch.delenv(var, raising=False)
        c = connections[name]
        monkeypatch.setenv(f"AIRFLOW_CONN_{c.conn_id.upper()}",
                           json.dumps({"conn_type": c.conn_type, "host": c.host, "extra": c.extra}))
    airflow_view = load_systems(path)
    assert airflow_view.get("sd_civil").load_connector_config()["base_url"] == "http://127.0.0.1:18101"
    assert airflow_view.get("sd_civil").resolve_secrets() == {"api_key": "civil-key"}
    assert airflow_view.get("sd_market").resolve_secrets()["password"] == "market-secret"
