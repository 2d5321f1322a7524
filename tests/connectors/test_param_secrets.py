"""Secrets as parameters: ``{secret: NAME}`` sends the system's secret, for SOAP operation parameters (an ASMX
service's ``strUserName``/``strUserPwd``) and REST query parameters (``?access_token=``), over real HTTP.

The value goes on the wire and nowhere else: not in the YAML, not in logs, not in an error a server echoes it
into. A reference to a secret that is not set fails when the connector is built, naming the YAML path; the
other spellings people try (``${NOISE_USER}``, ``{password}``) fail at load instead of being sent literally.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from asmx_testlib import PASSWORD, SECRETS, USER, CorpusServices, noise_config
from http_testlib import Answer, ScriptedServer, Seen, json_answer

from connectors.common.secretrefs import SecretParams, is_secret_ref
from connectors.rest import RestConnector
from connectors.soap import SoapConnector
from gateway.contract.errors import AuthenticationError, ConfigError, FatalSyncError
from gateway.kernel.config import parse_systems


@pytest.fixture(scope="module")
def services() -> Iterator[CorpusServices]:
    with CorpusServices() as running:
        yield running


# --- SOAP --------------------------------------------------------------------------------------------------------


def test_soap_parameters_send_the_secrets(services: CorpusServices, caplog: pytest.LogCaptureFixture) -> None:
    before = len(services.calls)
    with caplog.at_level(logging.DEBUG):
        records = [r for p in SoapConnector(noise_config(base_url=services.url), secrets=SECRETS).read("warnings")
                   for r in p.records]
    assert len(records) == 23
    sent = services.calls[before:]
    assert sent and all((c.params["strUserName"], c.params["strUserPwd"]) == (USER, PASSWORD) for c in sent)
    assert PASSWORD not in caplog.text


def test_a_password_a_fault_echoes_is_masked(services: CorpusServices) -> None:
    wrong = {"username": USER, "password": "not-the-password"}
    connector = SoapConnector(noise_config(base_url=services.url), secrets=wrong)
    with pytest.raises(AuthenticationError) as caught:
        list(connector.read("warnings"))
    assert "用户名或密码错误" in str(caught.value) and "not-the-password" not in str(caught.value)
    result = connector.check()
    assert not result.ok and "not-the-password" not in result.message and "***" in result.message


def test_a_secret_that_is_not_set_fails_at_construction_naming_the_parameter() -> None:
    with pytest.raises(ConfigError, match=r"streams\.warnings\.params\.strUserPwd: secret 'password' is not set"):
        SoapConnector(noise_config(base_url="http://127.0.0.1:1"), secrets={"username": USER})


@pytest.mark.parametrize("value", ["${NOISE_USER}", "{password}", "${NOISE_PWD:-x}"])
def test_other_spellings_are_refused_not_sent_literally(value: str) -> None:
    config = noise_config(base_url="http://127.0.0.1:1")
    config["streams"]["warnings"]["params"]["strUserPwd"] = value
    with pytest.raises(ConfigError, match=r"params\.strUserPwd: .* would be sent as that text.*\{secret: NAME\}"):
        SoapConnector(config, secrets=SECRETS)


def test_a_check_call_and_write_parameters_take_secrets_too(services: CorpusServices) -> None:
    config = noise_config(base_url=services.url, check={"call": {"operation": "GetAreaPointData", "params": {
        "strUserName": {"secret": "username"}, "strUserPwd": {"secret": "password"}}}})
    assert SoapConnector(config, secrets=SECRETS).check().ok
    config["write"] = {"loans": {"upsert": {"operation": "GetAreaPointData", "params": {
        "strUserName": {"secret": "username"}, "strUserPwd": {"secret": "api_password"}}}}}
    with pytest.raises(ConfigError, match=r"write\.loans\.upsert\.params\.strUserPwd: secret 'api_password'"):
        SoapConnector(config, secrets=SECRETS)


def test_secrets_come_from_the_systems_files_environment_mapping(services: CorpusServices, tmp_path: Any,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """One way, end to end: the YAML names the secret, the systems file maps it to a variable."""
    monkeypatch.setenv("NOISE_USER", USER)
    monkeypatch.setenv("NOISE_PWD", PASSWORD)
    systems = parse_systems(f"""
systems:
  gov_noise:
    connector: soap
    mapping: m.yaml
    endpoint: {services.url}
    secrets: {{username: NOISE_USER, password: NOISE_PWD}}
""", base_dir=tmp_path)
    system = systems.get("gov_noise")
    system.connector_config = noise_config()
    connector = SoapConnector(system.load_connector_config(), secrets=system.resolve_secrets())
    assert connector.check().ok


# --- REST --------------------------------------------------------------------------------------------------------


class _TokenApi(ScriptedServer):
    """A REST API that wants ``?access_token=`` on every request (a common government gateway convention)."""

    TOKEN = "tk-9f8e7d6c5b4a"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, list[str]]]] = []
        super().__init__(self._reply)

    def _reply(self, request: Seen) -> Answer:
        query = parse_qs(urlsplit(request.path).query)
        self.calls.append((request.method, request.route, query))
        if query.get("access_token") != [self.TOKEN]:
            return Answer(401, body=f'{{"code": 40001, "msg": "invalid access_token {query.get("access_token")}"}}'
                          .encode())
        return json_answer(b'{"code": 0, "data": [{"id": "A1", "updateTime": "2024-03-01 10:00:00"}]}')


@pytest.fixture(scope="module")
def token_api() -> Iterator[_TokenApi]:
    with _TokenApi() as api:
        yield api


def _rest(url: str, token: str | None) -> RestConnector:
    ref = {"secret": "token"}
    config = {"kind": "rest", "name": "zjj", "base_url": url, "retry": {"max_attempts": 1},
              "check": {"path": "/api/ping", "params": {"access_token": ref}},
              "streams": {"cases": {"path": "/api/cases", "params": {"access_token": ref, "area": "370100"},
                                    "record_selector": "data", "primary_key": "id"}},
              "write": {"cases": {"upsert": {"method": "PUT", "path": "/api/cases/{key}",
                                             "params": {"access_token": ref}}}}}
    return RestConnector(config, secrets={"token": token} if token else {})


def test_a_rest_query_token_comes_from_a_secret(token_api: _TokenApi) -> None:
    connector = _rest(token_api.url, _TokenApi.TOKEN)
    assert connector.check().ok
    assert [r.source_id for p in connector.read("cases") for r in p.records] == ["A1"]
    assert connector.write("cases", {"id": "A1"}, key="A1", idempotency_key="A1:1").status == "applied"
    assert all(q["access_token"] == [_TokenApi.TOKEN] for _, _, q in token_api.calls)
    assert {(m, p) for m, p, _ in token_api.calls} == {("GET", "/api/ping"), ("GET", "/api/cases"),
                                                      ("PUT", "/api/cases/A1")}
    assert token_api.calls[1][2]["area"] == ["370100"]


def test_a_refused_rest_token_is_masked_in_the_error(token_api: _TokenApi) -> None:
    connector = _rest(token_api.url, "tk-wrong-token")
    with pytest.raises((AuthenticationError, FatalSyncError)) as caught:
        list(connector.read("cases"))
    assert "tk-wrong-token" not in str(caught.value) and "***" in str(caught.value)


def test_a_rest_token_that_is_not_set_fails_at_construction(token_api: _TokenApi) -> None:
    with pytest.raises(ConfigError) as caught:
        _rest(token_api.url, None)
    for path in ("streams.cases.params", "check.params", "write.cases.upsert.params"):  # every one, at once
        assert f"{path}.access_token: secret 'token' is not set" in str(caught.value)


def test_secret_params_resolve_nested_values_and_leave_the_reference() -> None:
    params = {"auth": {"user": {"secret": "u"}, "pwd": {"secret": "p"}}, "ids": [{"secret": "u"}], "n": 1}
    resolver = SecretParams({"u": "alice", "p": "s3cret"}, label="t")
    resolver.require(("params", params))
    assert resolver.resolve(params) == {"auth": {"user": "alice", "pwd": "s3cret"}, "ids": ["alice"], "n": 1}
    assert is_secret_ref(params["auth"]["pwd"])  # the config keeps the name, never the value
    assert resolver.redact("login alice/s3cret refused") == "login ***/*** refused"
