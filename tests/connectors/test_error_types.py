"""Nothing escapes the connectors as a requests or zeep exception: the engine decides retry, dead letter or
failure from the error *type*, so every failure must be one of ``gateway.contract.errors``, its message naming
the system and the URL (or the record).

- a body labelled ``Content-Encoding: gzip`` that is not gzip (a proxy's mistake): ``RetriableSyncError``;
- a read whose YAML parameters the schema refuses (zeep's ``ValidationError``: a required element missing):
  ``ConfigError``;
- a write whose *record* the schema refuses (a nested value where text belongs, an element the type does not
  have, a control character): ``WriteRejectedError`` — the push job dead-letters that record and goes on —
  and nothing is sent.

Real HTTP on 127.0.0.1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from asmx_testlib import SECRETS as NOISE_SECRETS
from asmx_testlib import noise_config
from http_testlib import Answer, ScriptedServer, plain_session
from soap_testlib import SECRETS, market_config

from connectors.rest import RestConnector
from connectors.soap import SoapConnector
from gateway.contract.errors import ConfigError, RetriableSyncError, WriteRejectedError

NOT_GZIP = {"Content-Type": "application/json", "Content-Encoding": "gzip"}


def test_a_body_that_is_not_the_gzip_it_claims_is_retriable_and_named() -> None:
    with ScriptedServer(lambda r: Answer(200, NOT_GZIP, b'{"data": []}')) as server:
        config = {"kind": "rest", "name": "civil", "base_url": server.url,
                  "retry": {"max_attempts": 3, "backoff_seconds": 0, "jitter": False},
                  "streams": {"cases": {"path": "/api/cases", "record_selector": "data", "primary_key": "id"}},
                  "write": {"cases": {"upsert": {"method": "POST", "path": "/api/cases"}}}}
        connector = RestConnector(config, session=plain_session(), sleep=lambda s: None)
        with pytest.raises(RetriableSyncError) as read:
            list(connector.read("cases"))
        assert len(server.seen) == 3
        with pytest.raises(RetriableSyncError) as write:  # a write reads its answer whole (no stream)
            connector.write("cases", {"id": "R1"}, key="R1", idempotency_key="R1:1")
    assert f"civil: GET {server.url}/api/cases" in str(read.value) and "gzip" in str(read.value)
    assert f"civil: POST {server.url}/api/cases" in str(write.value)


def test_a_soap_answer_that_is_not_the_gzip_it_claims_is_retriable(tmp_path: Path) -> None:
    headers = {"Content-Type": "text/xml; charset=utf-8", "Content-Encoding": "gzip"}
    with ScriptedServer(lambda r: Answer(200, headers, b"<soap:Envelope/>")) as server:
        config = market_config(tmp_path, address=server.url + "/ScjgService.asmx")
        connector = SoapConnector(config, secrets=SECRETS, session=plain_session(), sleep=lambda s: None)
        with pytest.raises(RetriableSyncError, match=f"POST {server.url}/ScjgService.asmx.*gzip"):
            list(connector.read("cases"))
        assert len(server.seen) == 3  # retried within the budget, like a reset


def test_read_parameters_the_schema_refuses_are_a_config_error(tmp_path: Path) -> None:
    with ScriptedServer(lambda r: Answer(500)) as server:
        config = noise_config(base_url=server.url)
        config["streams"]["warnings"]["pagination"] = {"type": "none"}  # iPage/iRows are required ints
        connector = SoapConnector(config, secrets=NOISE_SECRETS, session=plain_session())
        with pytest.raises(ConfigError, match="gov_noise GetPointWarningInfoSeach: .*iPage"):
            list(connector.read("warnings"))
        assert server.seen == []


@pytest.mark.parametrize("record", [
    {"YWLSH": "Y1", "SQRMC": "王秀英", "GXSJ": {"nested": "dict"}},
    {"YWLSH": "Y1", "SQRMC": "王秀英", "NOT_IN_THE_SCHEMA": "x"},
    {"YWLSH": "Y1", "SQRMC": "王秀英\x01"},
], ids=["nested value", "unknown element", "control character"])
def test_a_record_the_schema_refuses_is_rejected_alone_and_nothing_is_sent(tmp_path: Path,
                                                                          record: dict[str, Any]) -> None:
    with ScriptedServer(lambda r: Answer(500)) as server:
        connector = SoapConnector(market_config(tmp_path, address=server.url + "/ScjgService.asmx"),
                                  secrets=SECRETS, session=plain_session(), sleep=lambda s: None)
        with pytest.raises(WriteRejectedError, match="market write 'cases' key 'K1': the record cannot be sent"):
            connector.write("cases", record, key="K1", idempotency_key="K1:1")
        assert server.seen == []


def test_a_write_parameter_the_operation_lacks_is_still_the_yamls_error(tmp_path: Path) -> None:
    config = market_config(tmp_path, address="http://127.0.0.1:9/ScjgService.asmx")
    config["write"]["cases"]["upsert"]["params"]["notAParameter"] = "x"
    connector = SoapConnector(config, secrets=SECRETS, session=plain_session())
    with pytest.raises(ConfigError) as caught:
        connector.write("cases", {"YWLSH": "Y1"}, key="K1", idempotency_key="K1:1")
    assert not isinstance(caught.value, WriteRejectedError) and "notAParameter" in str(caught.value)
