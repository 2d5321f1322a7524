"""SOAP Faults and HTTP errors onto retry / skip / abort: auth faults abort, server faults are retried, client
faults reject a write for good; SOAP 1.2 faults read the same; IIS 503 pages are retried then reported."""

from __future__ import annotations

from pathlib import Path

import pytest
import responses
from soap_testlib import ADDRESS, connector, envelope, page, record

from gateway.contract.errors import (
    AuthenticationError,
    FatalSyncError,
    RetriableSyncError,
    WriteRejectedError,
)


def fault11(code: str, message: str) -> bytes:
    return envelope(f"<soap:Fault><faultcode>soap:{code}</faultcode><faultstring>{message}</faultstring>"
                    f"<detail/></soap:Fault>").encode()


def fault12(code: str, message: str) -> bytes:
    return envelope(f"<soap:Fault><soap:Code><soap:Value>soap:{code}</soap:Value></soap:Code><soap:Reason>"
                    f'<soap:Text xml:lang="zh">{message}</soap:Text></soap:Reason></soap:Fault>', soap12=True).encode()


@responses.activate
def test_an_authentication_fault_aborts_at_once(tmp_path: Path) -> None:
    responses.post(ADDRESS, body=fault11("Client", "身份验证失败：用户名或密码错误"), status=500, content_type="text/xml")
    with pytest.raises(AuthenticationError, match="身份验证失败"):
        list(connector(tmp_path).read("cases"))
    assert len(responses.calls) == 1


@responses.activate
def test_a_server_fault_is_retried_then_succeeds(tmp_path: Path) -> None:
    responses.post(ADDRESS, body=fault12("Receiver", "数据库连接超时"), status=500, content_type="application/soap+xml")
    responses.post(ADDRESS, body=envelope(page([record("SCJG1")])).encode(), content_type="text/xml")
    (only,) = list(connector(tmp_path).read("cases"))
    assert [r.source_id for r in only.records] == ["SCJG1"] and len(responses.calls) == 2


@responses.activate
def test_a_server_fault_that_persists_is_retriable(tmp_path: Path) -> None:
    responses.post(ADDRESS, body=fault11("Server", "System.OutOfMemoryException"), status=500, content_type="text/xml")
    with pytest.raises(RetriableSyncError, match="OutOfMemory"):
        list(connector(tmp_path).read("cases"))
    assert len(responses.calls) == 3  # retry.max_attempts


@responses.activate
def test_a_server_crash_whose_stack_trace_mentions_a_password_is_retried_not_an_auth_failure(tmp_path: Path) -> None:
    crash = envelope("<soap:Fault><faultcode>soap:Server</faultcode><faultstring>Object reference not set to an "
                     "instance of an object.</faultstring><detail><trace>at Ws.Security.PasswordHasher.Verify() at "
                     "Ws.Auth.Login()</trace></detail></soap:Fault>").encode()
    responses.post(ADDRESS, body=crash, status=500, content_type="text/xml")
    with pytest.raises(RetriableSyncError, match="Object reference"):
        list(connector(tmp_path).read("cases"))
    assert len(responses.calls) == 3  # retried as any server fault, never "fix your secret"


@responses.activate
def test_fault_rules_from_the_yaml_win(tmp_path: Path) -> None:
    responses.post(ADDRESS, body=fault11("Server", "ORA-00942: 表或视图不存在"), status=500, content_type="text/xml")
    c = connector(tmp_path, faults=[{"match": "ORA-", "action": "abort"}])
    with pytest.raises(FatalSyncError, match="ORA-00942") as caught:
        list(c.read("cases"))
    assert not isinstance(caught.value, RetriableSyncError) and len(responses.calls) == 1


@responses.activate
def test_a_client_fault_on_a_write_rejects_that_record(tmp_path: Path) -> None:
    responses.post(ADDRESS, body=fault11("Client", "参数错误：business 缺少办件编号 BJBH"), status=500,
                   content_type="text/xml")
    with pytest.raises(WriteRejectedError, match="BJBH"):
        connector(tmp_path).write("cases", {"SXMC": "x"}, key="k", idempotency_key="k:1")


@responses.activate
def test_an_unsuccessful_result_code_rejects_the_write(tmp_path: Path) -> None:
    body = ('<SubmitBusinessResponse xmlns="http://scjg.jinan.gov.cn/zwfw/"><SubmitBusinessResult><CODE>9</CODE>'
            "<MSG>办件编号格式错误</MSG></SubmitBusinessResult></SubmitBusinessResponse>")
    responses.post(ADDRESS, body=envelope(body).encode(), content_type="text/xml")
    with pytest.raises(WriteRejectedError, match="办件编号格式错误"):
        connector(tmp_path).write("cases", {"BJBH": "1"}, key="1", idempotency_key="1:1")


@responses.activate
def test_iis_503_pages_are_retried_by_the_shared_transport(tmp_path: Path) -> None:
    page_503 = b"<HTML><HEAD><TITLE>Service Unavailable</TITLE></HEAD><BODY>HTTP Error 503</BODY></HTML>"
    responses.post(ADDRESS, body=page_503, status=503, content_type="text/html", headers={"Retry-After": "1"})
    with pytest.raises(RetriableSyncError, match="Service Unavailable"):
        list(connector(tmp_path).read("cases"))
    assert len(responses.calls) == 3
