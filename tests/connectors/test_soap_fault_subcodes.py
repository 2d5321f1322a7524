"""SOAP fault codes refined with dots (``soap:Server.Busy``, ``Client.Authentication``) and SOAP 1.2 ``Subcode``
chains are classified by their base: Server/Receiver retry, Client/Sender reject (or auth when the code says
authentication), VersionMismatch/MustUnderstand abort; YAML rules still win."""

from __future__ import annotations

from pathlib import Path

import pytest
import responses
from hostile_testlib import Reply, soap_read_after
from lxml import etree
from soap_testlib import ADDRESS, connector, envelope, page, record

from connectors.soap.faults import FaultRule, classify, read_fault
from gateway.contract.errors import (
    AuthenticationError,
    FatalSyncError,
    RetriableSyncError,
    WriteRejectedError,
)


def fault11(code: str, message: str = "出错了") -> str:
    return (f"<soap:Fault><faultcode>{code}</faultcode><faultstring>{message}</faultstring></soap:Fault>")


def fault12(value: str, *subcodes: str, message: str = "出错了") -> str:
    nested = ""
    for sub in reversed(subcodes):
        nested = f"<soap:Subcode><soap:Value>{sub}</soap:Value>{nested}</soap:Subcode>"
    return (f'<soap:Fault><soap:Code><soap:Value>{value}</soap:Value>{nested}</soap:Code><soap:Reason>'
            f'<soap:Text xml:lang="zh">{message}</soap:Text></soap:Reason></soap:Fault>')


def _body(xml: str, soap12: bool = False) -> etree._Element:
    root = etree.fromstring(envelope(xml, soap12=soap12).encode())
    return root[0]


@pytest.mark.parametrize(
    ("code", "action"),
    [
        ("soap:Server.Busy", "retry"),
        ("Server.Timeout", "retry"),
        ("soap:Server.Database.Unavailable", "retry"),
        ("soap:Client.Authentication", "auth"),
        ("Client.InvalidParameter", "reject"),
        ("wsse:FailedAuthentication", "auth"),
        ("wsse:InvalidSecurityToken", "auth"),
        ("wsse:InvalidSecurity", "auth"),
        ("soap:VersionMismatch", "abort"),
        ("soap:MustUnderstand.Security", "abort"),
        ("app:Busy", "reject"),
        ("soap:Server", "retry"),
        ("soap:Client", "reject"),
    ],
)
def test_soap11_codes_are_classified_by_their_base(code: str, action: str) -> None:
    fault = read_fault(_body(fault11(code)))
    assert fault is not None and fault.code == code.rpartition(":")[2]
    assert classify(fault, []) == action


@pytest.mark.parametrize(
    ("value", "subcodes", "action", "shown"),
    [
        ("soap:Receiver", ("app:Busy",), "retry", "Receiver/Busy"),
        ("soap:Receiver", ("app:Busy", "app:TryLater"), "retry", "Receiver/Busy.TryLater"),
        ("soap:Sender", ("wsse:FailedAuthentication",), "auth", "Sender/FailedAuthentication"),
        ("soap:Sender", ("app:Authentication.Expired",), "auth", "Sender/Authentication.Expired"),
        ("soap:Sender", ("app:InvalidParameter",), "reject", "Sender/InvalidParameter"),
        ("soap:Receiver.Busy", (), "retry", "Receiver.Busy"),
        ("soap:DataEncodingUnknown", (), "abort", "DataEncodingUnknown"),
    ],
)
def test_soap12_subcode_chains_are_read_and_classified(value: str, subcodes: tuple[str, ...], action: str,
                                                       shown: str) -> None:
    fault = read_fault(_body(fault12(value, *subcodes), soap12=True))
    assert fault is not None and str(fault).startswith(f"SOAP Fault {shown}:")
    assert classify(fault, []) == action


def test_yaml_rules_still_win_and_see_the_dotted_code() -> None:
    fault = read_fault(_body(fault11("soap:Server.Busy")))
    assert fault is not None
    assert classify(fault, [FaultRule(r"^Server\.Busy", "abort")]) == "abort"


@responses.activate
def test_a_dotted_server_fault_is_retried_then_succeeds(tmp_path: Path) -> None:
    responses.post(ADDRESS, body=envelope(fault11("soap:Server.Busy", "系统繁忙")).encode(), status=500,
                   content_type="text/xml")
    responses.post(ADDRESS, body=envelope(page([record("SCJG1")])).encode(), content_type="text/xml")
    (only,) = list(connector(tmp_path).read("cases"))
    assert [r.source_id for r in only.records] == ["SCJG1"] and len(responses.calls) == 2


@responses.activate
def test_a_dotted_server_fault_that_persists_is_retriable(tmp_path: Path) -> None:
    responses.post(ADDRESS, body=envelope(fault11("soap:Server.Timeout", "超时")).encode(), status=500,
                   content_type="text/xml")
    with pytest.raises(RetriableSyncError, match="Server.Timeout"):
        list(connector(tmp_path).read("cases"))
    assert len(responses.calls) == 3


@responses.activate
def test_client_authentication_aborts_at_once(tmp_path: Path) -> None:
    responses.post(ADDRESS, body=envelope(fault11("soap:Client.Authentication", "invalid user")).encode(),
                   status=500, content_type="text/xml")
    with pytest.raises(AuthenticationError, match="Client.Authentication"):
        list(connector(tmp_path).read("cases"))
    assert len(responses.calls) == 1


@responses.activate
def test_a_soap12_receiver_busy_subcode_is_retried(tmp_path: Path) -> None:
    body = envelope(fault12("soap:Receiver", "app:Busy", message="忙"), soap12=True).encode()
    responses.post(ADDRESS, body=body, status=500, content_type="application/soap+xml")
    with pytest.raises(RetriableSyncError, match="Receiver/Busy"):
        list(connector(tmp_path).read("cases"))
    assert len(responses.calls) == 3


@responses.activate
def test_a_dotted_client_fault_rejects_a_write_and_version_mismatch_aborts_it(tmp_path: Path) -> None:
    responses.post(ADDRESS, body=envelope(fault11("soap:Client.InvalidParameter", "缺少 BJBH")).encode(),
                   status=500, content_type="text/xml")
    with pytest.raises(WriteRejectedError, match="Client.InvalidParameter"):
        connector(tmp_path).write("cases", {"SXMC": "x"}, key="k", idempotency_key="k:1")
    responses.replace(responses.POST, ADDRESS, body=envelope(fault11("soap:VersionMismatch", "1.2?")).encode(),
                      status=500, content_type="text/xml")
    with pytest.raises(FatalSyncError) as info:
        connector(tmp_path).write("cases", {"SXMC": "x"}, key="k", idempotency_key="k:1")
    assert not isinstance(info.value, WriteRejectedError)


def test_a_real_server_answering_server_busy_then_the_page(tmp_path: Path) -> None:
    busy = Reply(500, {"Content-Type": "text/xml; charset=utf-8"},
                 envelope(fault11("soap:Server.Busy", "系统繁忙，请稍后再试")).encode())
    ids, hits = soap_read_after(busy, tmp_path)
    assert ids == ["SCJG1"] and hits == 2
