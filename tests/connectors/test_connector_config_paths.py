"""A relative path in a connector YAML (a SOAP ``wsdl``) is relative to the file that declares it, resolved when
the systems file is loaded — so ``tongban connector check`` works from any working directory (an Airflow
worker's is not the repository), against the noise-monitoring service over HTTP."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from asmx_testlib import PASSWORD, USER, CorpusServices, copy_wsdl, noise_config
from typer.testing import CliRunner

from connectors.testing import connector_config
from gateway.cli import app
from gateway.kernel.config import load_systems
from gateway.kernel.configpaths import resolve_config_paths

runner = CliRunner()


@pytest.fixture(scope="module")
def services() -> Iterator[CorpusServices]:
    with CorpusServices() as running:
        yield running


def _repo(tmp_path: Path, url: str, *, inline: bool) -> Path:
    """A repository with the WSDL beside the connector YAML (or, inline, beside the systems file)."""
    config_dir = tmp_path / "repo" / "config"
    system = {"connector": "soap", "mapping": "../mappings/gov_noise.yaml", "endpoint": url,
              "secrets": {"username": "NOISE_USER", "password": "NOISE_PWD"}}
    if inline:
        copy_wsdl(config_dir / "wsdl" / "noise.wsdl")
        system["connector_config"] = noise_config(wsdl="wsdl/noise.wsdl")  # relative to the systems file
    else:
        copy_wsdl(config_dir / "connectors" / "wsdl" / "noise.wsdl")
        (config_dir / "connectors" / "gov_noise.yaml").write_text(
            yaml.safe_dump(noise_config(wsdl="wsdl/noise.wsdl"), allow_unicode=True), encoding="utf-8")
        system["connector_config"] = "connectors/gov_noise.yaml"
    (config_dir / "systems.yaml").write_text(yaml.safe_dump({"systems": {"gov_noise": system}}), encoding="utf-8")
    (tmp_path / "repo" / "mappings").mkdir()  # the systems file is refused when a mapping it names is not there
    (tmp_path / "repo" / "mappings" / "gov_noise.yaml").write_text("system: gov_noise\n", encoding="utf-8")
    return config_dir / "systems.yaml"


@pytest.mark.parametrize("inline", [False, True], ids=["connector-yaml", "inline"])
def test_connector_check_finds_a_relative_wsdl_from_any_directory(services: CorpusServices, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  inline: bool) -> None:
    systems = _repo(tmp_path, services.url, inline=inline)
    elsewhere = tmp_path / "worker"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("NOISE_USER", USER)
    monkeypatch.setenv("NOISE_PWD", PASSWORD)
    result = runner.invoke(app, ["connector", "check", "gov_noise", "--systems", str(systems)])
    assert result.exit_code == 0, result.output
    assert "first page answered with 10 record(s)" in result.output
    loaded = load_systems(systems).get("gov_noise").load_connector_config()
    assert Path(loaded["wsdl"]).is_absolute() and Path(loaded["wsdl"]).is_file()


def test_only_relative_local_paths_are_resolved(tmp_path: Path) -> None:
    config = {"wsdl": "{base_url}/Service.asmx?WSDL", "schema_locations": {"http://x/a.xsd": "xsd/a.xsd",
                                                                           "http://x/b.xsd": "/abs/b.xsd"},
              "tls": {"ca_bundle": "certs/ca.pem", "verify": True}, "name": "relative/looking"}
    keys = ("wsdl", "schema_locations.*", "tls.ca_bundle", "tls.client_cert")
    resolved = resolve_config_paths(config, keys, tmp_path)
    assert resolved["wsdl"] == "{base_url}/Service.asmx?WSDL"
    assert resolved["schema_locations"] == {"http://x/a.xsd": str(tmp_path / "xsd" / "a.xsd"),
                                            "http://x/b.xsd": "/abs/b.xsd"}
    assert resolved["tls"] == {"ca_bundle": str(tmp_path / "certs" / "ca.pem"), "verify": True}
    assert resolved["name"] == "relative/looking" and config["tls"]["ca_bundle"] == "certs/ca.pem"  # a copy
    for url in ("http://h/x?wsdl", "file:///srv/x.wsdl"):
        assert resolve_config_paths({"wsdl": url}, keys, tmp_path)["wsdl"] == url


def test_the_acceptance_kit_loads_a_yaml_as_the_systems_file_does(tmp_path: Path) -> None:
    path = tmp_path / "config" / "connectors" / "gov_noise.yaml"
    copy_wsdl(path.parent / "wsdl" / "noise.wsdl")
    path.write_text(yaml.safe_dump(noise_config(wsdl="wsdl/noise.wsdl")), encoding="utf-8")
    config = connector_config(path, base_url="http://127.0.0.1:1")
    assert config["wsdl"] == str(path.parent / "wsdl" / "noise.wsdl") and config["base_url"] == "http://127.0.0.1:1"
    assert os.getcwd() != str(path.parent)
