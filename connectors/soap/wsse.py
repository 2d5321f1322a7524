"""WS-Security UsernameToken (OASIS 2004 profile) and Timestamp headers, built fresh for every attempt.

Servers that check digests remember nonces and refuse a reused one, and check that ``Created`` is recent; so
the header is built per HTTP attempt, never reused across retries. Digest mode sends
``Base64(SHA-1(nonce + created + password))`` instead of the password::

    header = security_header(WsseSettings("tongban", "secret", digest=True, timestamp_ttl=300), soap12=False)
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
_PROFILE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
PASSWORD_TEXT = _PROFILE + "#PasswordText"
PASSWORD_DIGEST = _PROFILE + "#PasswordDigest"
BASE64_BINARY = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"


@dataclass(frozen=True, slots=True)
class WsseSettings:
    username: str
    password: str
    digest: bool = False
    nonce: bool = True
    created: bool = True
    timestamp_ttl: int | None = None
    """Add a ``wsu:Timestamp`` valid for this many seconds (``None``: no timestamp)."""
    must_understand: bool = True


def _utc(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def security_header(
    settings: WsseSettings,
    *,
    soap12: bool,
    clock: Callable[[], float] = time.time,
    nonce_bytes: Callable[[int], bytes] = os.urandom,
) -> etree._Element:
    """A ``wsse:Security`` element to put into ``soap:Header``."""
    env = SOAP12_ENV if soap12 else SOAP11_ENV
    security = etree.Element(f"{{{WSSE}}}Security", nsmap={"wsse": WSSE, "wsu": WSU})
    if settings.must_understand:
        security.set(f"{{{env}}}mustUnderstand", "true" if soap12 else "1")
    now = clock()
    if settings.timestamp_ttl is not None:
        stamp = etree.SubElement(security, f"{{{WSU}}}Timestamp")
        stamp.set(f"{{{WSU}}}Id", "TS-1")
        etree.SubElement(stamp, f"{{{WSU}}}Created").text = _utc(now)
        etree.SubElement(stamp, f"{{{WSU}}}Expires").text = _utc(now + settings.timestamp_ttl)
    token = etree.SubElement(security, f"{{{WSSE}}}UsernameToken")
    token.set(f"{{{WSU}}}Id", "UsernameToken-1")
    etree.SubElement(token, f"{{{WSSE}}}Username").text = settings.username
    password = etree.SubElement(token, f"{{{WSSE}}}Password")
    created = _utc(now)
    nonce = nonce_bytes(16) if settings.nonce or settings.digest else b""
    if settings.digest:
        digest = hashlib.sha1(nonce + created.encode() + settings.password.encode()).digest()
        password.set("Type", PASSWORD_DIGEST)
        password.text = base64.b64encode(digest).decode()
    else:
        password.set("Type", PASSWORD_TEXT)
        password.text = settings.password
    if nonce:
        nonce_el = etree.SubElement(token, f"{{{WSSE}}}Nonce")
        nonce_el.set("EncodingType", BASE64_BINARY)
        nonce_el.text = base64.b64encode(nonce).decode()
    if settings.created or settings.digest:
        etree.SubElement(token, f"{{{WSU}}}Created").text = created
    return security


__all__ = ["PASSWORD_DIGEST", "PASSWORD_TEXT", "WsseSettings", "security_header"]
