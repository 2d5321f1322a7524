"""Where SOAP calls go: the configured endpoint, never silently the host a WSDL names.

The noise-monitoring WSDL of the corpus names a public IP in its ``soap:address``; the service here answers on
127.0.0.1 (``asmx_testlib``). A connector with an endpoint and no ``address`` calls the endpoint with the
WSDL's path; the WSDL's own address is used only when nothing else is configured, and ``check`` says which
URL was called and why. Every error names the URL it called.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from asmx_testlib import NOISE_PATH, SECRETS, CorpusServices, copy_wsdl, noise_config

from connectors.soap import SoapConnector
from connectors.soap.config import endpoint_address, parse_config
from gateway.contract.errors import FatalSyncError


@pytest.fixture(scope="module")
def services() -> Iterator[CorpusServices]:
    with CorpusServices() as running:
        yield running


def test_without_address_the_endpoint_is_called_with_the_wsdls_path(services: CorpusServices) -> None:
    before = len(services.calls)
    result = SoapConnector(noise_config(base_url=services.url), secrets=SECRETS).check()
    assert result.ok, result.message
    assert services.calls[before].path == NOISE_PATH
    assert f"calls go to {services.url}{NOISE_PATH}: the systems file's endpoint" in result.message
    assert "http://110.19.109.58:6789 in the WSDL is not called" in result.message


def test_the_scaffolds_address_template_follows_the_endpoint(services: CorpusServices) -> None:
    config = noise_config(base_url=services.url, address="{base_url}" + NOISE_PATH)
    result = SoapConnector(config, secrets=SECRETS).check()
    assert result.ok and "the connector's `address`" in result.message


def test_without_endpoint_the_wsdls_own_address_is_used_and_said(services: CorpusServices, tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    wsdl = copy_wsdl(tmp_path / "noise.wsdl", address=services.url + NOISE_PATH)  # a WSDL naming the right host
    with caplog.at_level(logging.WARNING, logger="connectors.soap"):
        result = SoapConnector(noise_config(wsdl=str(wsdl)), secrets=SECRETS).check()
    assert result.ok, result.message
    assert "the WSDL's own soap:address: neither `address` nor an endpoint is configured" in result.message
    assert any("the WSDL's own soap:address" in r.getMessage() for r in caplog.records)


def test_a_transport_error_names_the_url_it_called(services: CorpusServices) -> None:
    connector = SoapConnector(noise_config(base_url=services.url, address="{base_url}/Service.asmx"),
                              secrets=SECRETS)
    with pytest.raises(FatalSyncError) as caught:
        list(connector.read("warnings"))
    message = str(caught.value)
    assert f"POST {services.url}/Service.asmx" in message and "HTTP 404 with an empty body" in message
    check = connector.check()
    assert not check.ok and f"POST {services.url}/Service.asmx" in check.message
    assert "that URL is the connector's `address`" in check.message


def test_a_refused_connection_names_the_url() -> None:
    result = SoapConnector(noise_config(base_url="http://127.0.0.1:9"), secrets=SECRETS).check()
    assert not result.ok and f"POST http://127.0.0.1:9{NOISE_PATH}" in result.message


@pytest.mark.parametrize(("endpoint", "wsdl_address", "expected"), [
    ("http://10.1.2.3:8080", "http://59.110.236.229:8080/oa/loan", "http://10.1.2.3:8080/oa/loan"),
    ("http://gw.example/proxy/noise", "http://110.19.109.58:6789/Services/WebService.asmx",
     "http://gw.example/proxy/noise/Services/WebService.asmx"),                     # a gateway's prefix is kept
    ("http://10.0.0.5/axis", "http://internal/axis/services/X", "http://10.0.0.5/axis/services/X"),  # not doubled
    ("https://h/ws/CaseService", "http://old/ws/CaseService", "https://h/ws/CaseService"),   # the whole address
    ("http://h:81", "http://old/svc.asmx?version=2", "http://h:81/svc.asmx?version=2"),
])
def test_endpoint_address(endpoint: str, wsdl_address: str, expected: str) -> None:
    assert endpoint_address(endpoint, wsdl_address) == expected


def test_resolve_address_says_why() -> None:
    base = {"wsdl": "x.wsdl", "streams": {}, "check": {"call": {"operation": "Ping"}}}
    url, why = parse_config(base | {"base_url": "http://h"}).resolve_address("http://pub/a.asmx")
    assert url == "http://h/a.asmx" and "http://pub in the WSDL is not called" in why
    url, why = parse_config(base).resolve_address("http://pub/a.asmx")
    assert url == "http://pub/a.asmx" and "neither `address` nor an endpoint" in why
    url, _ = parse_config(base | {"base_url": "http://h"}).resolve_address(None)
    assert url == "http://h"
