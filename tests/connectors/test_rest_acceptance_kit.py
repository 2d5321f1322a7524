"""The connector acceptance kit (connectors/testing.py) on the declarative REST connector, against each sandbox
system over real HTTP, with the shipped connector YAML and mapping."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from connectors.rest import RestConnector
from connectors.testing import assert_connector_acceptance
from gateway.mapping.mapper import Mapper
from sandbox.server import start_all

REPO = Path(__file__).resolve().parents[2]
SYSTEMS = {  # sandbox system → (systems-file name, stream, secrets)
    "civil": ("sd_civil", "cases", {"api_key": "civil-demo-key"}),
    "estate": ("jn_estate", "business", {"app_id": "estate-demo", "secret": "estate-demo-secret"}),
    "hall": ("sd_hall", "frontdesk", {"client_id": "tongban", "client_secret": "hall-demo-secret"}),
}


@pytest.fixture(scope="module")
def sandbox():
    handle = start_all(seed=11, records={"civil": 350, "estate": 350})
    handle.apps["hall"].new_frontdesk(12, "11370000004390448N")
    yield handle
    handle.stop()


def connector(sandbox, system: str, secrets: dict[str, str]) -> RestConnector:
    name = SYSTEMS[system][0]
    config = yaml.safe_load((REPO / "config" / "connectors" / f"{name}.yaml").read_text(encoding="utf-8"))
    return RestConnector({**config, "base_url": sandbox.urls[system]}, secrets=secrets)


@pytest.mark.parametrize("system", sorted(SYSTEMS))
def test_the_rest_connector_passes_the_acceptance_kit(sandbox, system: str) -> None:
    name, stream, secrets = SYSTEMS[system]
    wrong = {k: "wrong" for k in secrets}
    with connector(sandbox, system, secrets) as good, connector(sandbox, system, wrong) as broken:
        report = assert_connector_acceptance(
            connector=good,
            broken_connector=broken,
            stream=stream,
            mapper=Mapper.from_file(REPO / "mappings" / f"{name}.yaml"),
            system=name,
        )
    assert report.checked == ["check", "incremental", "checkpoint", "mapping"]
    assert report.records >= 12


def test_the_kit_catches_a_connector_that_ignores_the_watermark(sandbox) -> None:
    """A connector that re-reads everything on every run must fail the kit, with the reason."""
    name, stream, secrets = SYSTEMS["civil"]

    class IgnoresSince(RestConnector):
        def read(self, stream, *, since=None, mode="incremental", checkpoint=None):
            return super().read(stream, mode=mode)

    config = yaml.safe_load((REPO / "config" / "connectors" / f"{name}.yaml").read_text(encoding="utf-8"))
    with IgnoresSince({**config, "base_url": sandbox.urls["civil"]}, secrets=secrets) as lazy:
        with pytest.raises(AssertionError, match="older than its 'since'"):
            assert_connector_acceptance(connector=lazy, stream=stream,
                                        mapper=Mapper.from_file(REPO / "mappings" / f"{name}.yaml"))


def _always_ok(base: type[RestConnector]) -> type[RestConnector]:
    """``base`` whose check() says ok whatever the secrets: what an ASMX service answering a wrong password with an
    empty result looks like to check() (the kit failed against such a service, whatever the connector did)."""
    from gateway.contract.connector import CheckResult

    class AlwaysOk(base):  # type: ignore[misc, valid-type]
        def check(self) -> CheckResult:
            return CheckResult(True, "answered (an empty result for a wrong password looks the same)")

    return AlwaysOk


def test_a_service_answering_wrong_secrets_with_nothing_passes_the_kit(sandbox) -> None:
    name, stream, secrets = SYSTEMS["civil"]
    config = yaml.safe_load((REPO / "config" / "connectors" / f"{name}.yaml").read_text(encoding="utf-8"))

    class EmptyOnWrongSecret(RestConnector):
        def read(self, stream, *, since=None, mode="incremental", checkpoint=None):
            if self is broken_one:
                return iter(())  # the service's empty result
            return super().read(stream, since=since, mode=mode, checkpoint=checkpoint)

    quiet = _always_ok(EmptyOnWrongSecret)
    with quiet({**config, "base_url": sandbox.urls["civil"]}, secrets=secrets) as good, \
            quiet({**config, "base_url": sandbox.urls["civil"]}, secrets={"api_key": "wrong"}) as broken_one:
        report = assert_connector_acceptance(connector=good, broken_connector=broken_one, stream=stream,
                                             mapper=Mapper.from_file(REPO / "mappings" / f"{name}.yaml"), system=name)
    assert report.checked[0] == "check"


def test_a_connection_that_reads_records_with_wrong_secrets_fails_the_kit(sandbox) -> None:
    name, stream, secrets = SYSTEMS["civil"]
    config = yaml.safe_load((REPO / "config" / "connectors" / f"{name}.yaml").read_text(encoding="utf-8"))
    leaky = _always_ok(RestConnector)
    with leaky({**config, "base_url": sandbox.urls["civil"]}, secrets=secrets) as good, \
            leaky({**config, "base_url": sandbox.urls["civil"]}, secrets=secrets) as broken_one:  # "wrong": reads
        with pytest.raises(AssertionError, match="read records with wrong secrets"):
            assert_connector_acceptance(connector=good, broken_connector=broken_one, stream=stream,
                                        mapper=Mapper.from_file(REPO / "mappings" / f"{name}.yaml"))
