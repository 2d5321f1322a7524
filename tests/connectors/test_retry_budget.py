"""One call, one attempt budget, one backoff sequence — and a server's long ``Retry-After`` is obeyed.

The page read retries what the transport retries (503, 429, resets) and more (an HTML page with HTTP 200, a
body cut short; for SOAP a fault or an IIS error page): with a budget per layer a flapping gateway got
``max_attempts²`` requests per page and the backoff restarted at its shortest delay each round. And a
``Retry-After`` of an hour was cut to the 30 s cap and the connector kept calling, which gets app keys blocked;
now the run stops with ``RetriableSyncError(retry_after=…)``. Real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import email.utils
import itertools
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from http_testlib import Answer, ScriptedServer, Seen, plain_session
from soap_testlib import SECRETS, envelope, market_config, page, record

from connectors.rest import RestConnector
from connectors.soap import SoapConnector
from gateway.contract.errors import RetriableSyncError

RETRY = {"max_attempts": 5, "backoff_seconds": 0.5, "max_backoff_seconds": 30, "jitter": False}
MAINTENANCE = Answer(200, {"Content-Type": "text/html"}, b"<html><title>maintenance</title></html>")


def _rest(url: str, sleeps: list[float], retry: dict[str, object] = RETRY) -> RestConnector:
    config = {"kind": "rest", "name": "civil", "base_url": url, "retry": retry,
              "streams": {"cases": {"path": "/api/cases", "record_selector": "data", "primary_key": "id"}}}
    return RestConnector(config, session=plain_session(), sleep=sleeps.append)


def _flapping(busy: Answer, every: int = 5) -> Callable[[Seen], Answer]:
    """``every - 1`` answers of ``busy``, then the maintenance page, and so on."""
    served = itertools.count(1)
    return lambda request: MAINTENANCE if next(served) % every == 0 else busy


def test_a_flapping_gateway_costs_max_attempts_requests_not_their_square() -> None:
    sleeps: list[float] = []
    with ScriptedServer(_flapping(Answer(503, {"Content-Type": "text/plain"}, b"busy"))) as server:
        with pytest.raises(RetriableSyncError, match="maintenance"):
            list(_rest(server.url, sleeps).read("cases"))
        assert len(server.seen) == 5
    assert sleeps == [0.5, 1.0, 2.0, 4.0]  # one growing sequence


def test_a_soap_call_shares_its_budget_with_the_transport(tmp_path: Path) -> None:
    iis_page = Answer(500, {"Content-Type": "text/html"}, b"<html><title>Runtime Error</title></html>")
    answers = itertools.cycle([Answer(503, {"Content-Type": "text/plain"}, b"busy"), iis_page])
    sleeps: list[float] = []
    with ScriptedServer(lambda request: next(answers)) as server:
        config = market_config(tmp_path, address=server.url + "/ScjgService.asmx", retry=RETRY)
        connector = SoapConnector(config, secrets=SECRETS, session=plain_session(), sleep=sleeps.append)
        with pytest.raises(RetriableSyncError, match=r"HTTP 503 after 5 attempt\(s\)"):
            list(connector.read("cases"))
        assert len(server.seen) == 5  # 503, IIS page, 503, IIS page, 503: one budget for both kinds
    assert sleeps == [0.5, 1.0, 2.0, 4.0]


def test_a_soap_call_that_recovers_is_read(tmp_path: Path) -> None:
    ok = Answer(200, {"Content-Type": "text/xml; charset=utf-8"}, envelope(page([record("SCJG1")])).encode())
    answers = iter([Answer(503, {"Content-Type": "text/plain"}, b"busy"),
                    Answer(500, {"Content-Type": "text/html"}, b"<html><title>x</title></html>"), ok])
    with ScriptedServer(lambda request: next(answers)) as server:
        config = market_config(tmp_path, address=server.url + "/ScjgService.asmx", retry=RETRY)
        connector = SoapConnector(config, secrets=SECRETS, session=plain_session(), sleep=lambda s: None)
        assert [r.source_id for p in connector.read("cases") for r in p.records] == ["SCJG1"]


@pytest.mark.parametrize("retry_after", ["3600", "http-date"])
def test_a_retry_after_beyond_the_cap_stops_the_call_and_is_handed_on(retry_after: str) -> None:
    def answer(request: Seen) -> Answer:
        value = email.utils.formatdate(time.time() + 3600, usegmt=True) if retry_after == "http-date" else "3600"
        return Answer(429, {"Content-Type": "text/plain", "Retry-After": value}, b"slow down")

    sleeps: list[float] = []
    with ScriptedServer(answer) as server:
        with pytest.raises(RetriableSyncError) as caught:
            list(_rest(server.url, sleeps).read("cases"))
        assert len(server.seen) == 1
    assert sleeps == []
    assert caught.value.retry_after is not None and 3590 <= caught.value.retry_after <= 3600
    assert "Retry-After" in str(caught.value) and "max_backoff_seconds (30 s)" in str(caught.value)


def test_a_retry_after_within_the_cap_is_waited_for() -> None:
    answers = iter([Answer(429, {"Content-Type": "text/plain", "Retry-After": "2"}, b"slow down"),
                    Answer(200, {"Content-Type": "application/json"}, b'{"data": [{"id": "R1"}]}')])
    sleeps: list[float] = []
    with ScriptedServer(lambda request: next(answers)) as server:
        pages = list(_rest(server.url, sleeps).read("cases"))
    assert [r.source_id for p in pages for r in p.records] == ["R1"] and sleeps == [2.0]
