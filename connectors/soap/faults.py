"""SOAP Faults (1.1 and 1.2) read from a response and mapped onto the engine's error hierarchy.

A fault says *who* is to blame (``Client``/``Sender``: our request; ``Server``/``Receiver``: theirs) and, in
Chinese systems, mostly *why* only in free text (``身份验证失败``). The mapping is configurable as ordered rules
(regular expressions over ``code`` and ``message``); the defaults:

==============================================  =======  =========================================
fault                                            action   raised
==============================================  =======  =========================================
code, subcode or message says authentication     auth     :class:`AuthenticationError`
(``Client.Authentication``, ``wsse:Failed-
Authentication``, 身份验证 …)
``Server`` / ``Receiver`` (``Server.Busy`` …)    retry    retried, then :class:`RetriableSyncError`
``VersionMismatch`` / ``MustUnderstand`` /       abort    :class:`FatalSyncError`: our envelope is
``DataEncodingUnknown``                                   wrong for every record, reading or writing
``Client`` / ``Sender`` / anything else          reject   reading: :class:`FatalSyncError`;
                                                          writing: :class:`WriteRejectedError`
==============================================  =======  =========================================

Codes are classified by their *base*: SOAP 1.1 refines a code with dots (``soap:Server.Busy``,
``Client.Authentication``: base ``Server``/``Client``, the rest is the subcode); SOAP 1.2 nests ``Subcode``
elements under ``Code`` (read as one dotted subcode, ``Busy.Later``). Custom codes outside the SOAP namespace
(``app:Busy``) have no base the table knows: ``reject``, unless a rule from the YAML says otherwise.
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
    r"authenticat|unauthori[sz]|password|credential|usernametoken|security ?token|login failed|"
    r"invalidsecurity|failedcheck|"
    r"身份验证|认证失败|鉴权|用户名或密码|密码错误|未授权|无权访问",
    re.IGNORECASE,
)
_RETRY_BASES = frozenset({"Server", "Receiver"})
_ABORT_BASES = frozenset({"VersionMismatch", "MustUnderstand", "DataEncodingUnknown"})


@dataclass(frozen=True, slots=True)
class SoapFault:
    code: str  # local part as sent: Client, Server.Busy, Sender, Receiver, or a custom code
    message: str
    subcode: str | None = None
    detail: str = ""
    soap12: bool = False

    @property
    def base(self) -> str:
        """The code without its dotted refinements: ``Server.Busy`` → ``Server``."""
        return self.code.partition(".")[0]

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
        reason = children.get("Reason")
        text = next((c for c in reason if etree.QName(c).localname == "Text"), None) if reason is not None else None
        return SoapFault(_local(value.text if value is not None else ""), _text(text), _subcodes(code_el),
                         _text(children.get("Detail")), True)
    return SoapFault(_local(children["faultcode"].text if "faultcode" in children else ""),
                     _text(children.get("faultstring")), None, _text(children.get("detail")), False)


def _subcodes(code: etree._Element) -> str | None:
    """SOAP 1.2 ``Subcode/Value`` chain, outermost first, joined with dots (``Busy.Later``)."""
    values: list[str] = []
    current: etree._Element | None = code
    while current is not None and len(values) < 8:
        sub = next((c for c in current if isinstance(c.tag, str) and etree.QName(c).localname == "Subcode"), None)
        if sub is None:
            break
        value = next((c for c in sub if isinstance(c.tag, str) and etree.QName(c).localname == "Value"), None)
        if value is not None and _local(value.text):
            values.append(_local(value.text))
        current = sub
    return ".".join(values) or None


def classify(fault: SoapFault, rules: list[FaultRule]) -> FaultAction:
    for rule in rules:
        if rule.matches(fault):
            return rule.action
    # not the detail: it holds stack traces ("at PasswordHasher.Verify()"), and a server's crash is not our
    # credentials being refused (an auth fault would stop the system until an operator changes a secret)
    if _AUTH.search(f"{fault.code} {fault.subcode or ''} {fault.message}"):
        return "auth"
    if fault.base in _RETRY_BASES:
        return "retry"
    if fault.base in _ABORT_BASES:
        return "abort"
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
