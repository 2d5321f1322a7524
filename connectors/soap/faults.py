"""SOAP Faults (1.1 and 1.2) read from a response and mapped onto the engine's error hierarchy.

A fault says *who* is to blame (``Client``/``Sender``: our request; ``Server``/``Receiver``: theirs) and, in
Chinese systems, mostly *why* only in free text (``身份验证失败``). The mapping is configurable as ordered rules
(regular expressions over ``code`` and ``message``); the defaults:

==============================================  =======  =========================================
fault                                            action   raised
==============================================  =======  =========================================
message mentions authentication / 身份验证 …     auth     :class:`AuthenticationError`
``Server`` / ``Receiver``                        retry    retried, then :class:`RetriableSyncError`
``Client`` / ``Sender`` / anything else          reject   reading: :class:`FatalSyncError`;
                                                          writing: :class:`WriteRejectedError`
==============================================  =======  =========================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from lxml import etree

from gateway.contract.errors import (
    AuthenticationError,
    FatalSyncError,
    RetriableSyncError,
    SyncError,
    WriteRejectedError,
)

FaultAction = Literal["auth", "retry", "reject", "abort"]
_AUTH = re.compile(
    r"authenticat|unauthori[sz]|password|credential|usernametoken|security token|login failed|"
    r"身份验证|认证失败|鉴权|用户名或密码|密码错误|未授权|无权访问",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class SoapFault:
    code: str  # local part: Client, Server, Sender, Receiver, or a custom code
    message: str
    subcode: str | None = None
    detail: str = ""
    soap12: bool = False

    def __str__(self) -> str:
        sub = f"/{self.subcode}" if self.subcode else ""
        detail = f" ({self.detail})" if self.detail else ""
        return f"SOAP Fault {self.code}{sub}: {self.message}{detail}"


@dataclass(frozen=True, slots=True)
class FaultRule:
    """``pattern`` is searched in ``"<code> <subcode> <message>"``; the first matching rule decides."""

    pattern: str
    action: FaultAction

    def matches(self, fault: SoapFault) -> bool:
        text = f"{fault.code} {fault.subcode or ''} {fault.message}"
        return re.search(self.pattern, text, re.IGNORECASE) is not None


def _local(text: str | None) -> str:
    return (text or "").strip().rpartition(":")[2]


def _text(element: etree._Element | None) -> str:
    if element is None:
        return ""
    return " ".join("".join(element.itertext()).split())[:500]


def read_fault(body: etree._Element) -> SoapFault | None:
    """The Fault in a ``soap:Body``, or ``None``."""
    fault = next((c for c in body if isinstance(c.tag, str) and etree.QName(c).localname == "Fault"), None)
    if fault is None:
        return None
    children = {etree.QName(c).localname: c for c in fault if isinstance(c.tag, str)}
    if "Code" in children:  # SOAP 1.2
        code_el = children["Code"]
        value = next((c for c in code_el if etree.QName(c).localname == "Value"), None)
        sub = next((c for c in code_el if etree.QName(c).localname == "Subcode"), None)
        sub_value = next((c for c in sub if etree.QName(c).localname == "Value"), None) if sub is not None else None
        reason = children.get("Reason")
        text = next((c for c in reason if etree.QName(c).localname == "Text"), None) if reason is not None else None
        return SoapFault(_local(value.text if value is not None else ""), _text(text),
                         _local(sub_value.text) if sub_value is not None else None,
                         _text(children.get("Detail")), True)
    return SoapFault(_local(children["faultcode"].text if "faultcode" in children else ""),
                     _text(children.get("faultstring")), None, _text(children.get("detail")), False)


def classify(fault: SoapFault, rules: list[FaultRule]) -> FaultAction:
    for rule in rules:
        if rule.matches(fault):
            return rule.action
    if _AUTH.search(f"{fault.message} {fault.subcode or ''} {fault.detail}"):
        return "auth"
    if fault.code in ("Server", "Receiver"):
        return "retry"
    return "reject"


def fault_error(fault: SoapFault, action: FaultAction, *, where: str, writing: bool) -> SyncError:
    """The exception for a fault whose retries (if any) are spent."""
    message = f"{where}: {fault}"
    if action == "auth":
        return AuthenticationError(message)
    if action == "retry":
        return RetriableSyncError(message)
    if action == "reject" and writing:
        return WriteRejectedError(message)
    return FatalSyncError(message)


__all__ = ["FaultAction", "FaultRule", "SoapFault", "classify", "fault_error", "read_fault"]
