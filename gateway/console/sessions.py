"""Signed session cookies for the console, and the CSRF token of its forms.

A cookie is ``name.role.issued.expiry.mac`` with ``mac = HMAC-SHA256(secret, name.role.issued.expiry)``
(``issued`` in milliseconds): stateless, so a restarted console keeps its operators logged in, and it expires on
its own (8 hours, a working shift). The role in the cookie is checked against the operators file on every
request, so removing an operator or demoting an admin takes effect at once; logging out, or a new password,
ends every session of that operator issued before it (the file's ``sessions_after``), in every console
process. The CSRF token of a form is a second MAC of the cookie: a page from another origin
cannot read it, so it cannot post a replay on an admin's behalf (the cookie is also ``SameSite=Strict``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

SESSION_SECONDS = 8 * 3600
COOKIE = "tongban_console"


def _mac(secret: bytes, text: str) -> str:
    return base64.urlsafe_b64encode(hmac.new(secret, text.encode(), hashlib.sha256).digest()).decode().rstrip("=")


@dataclass(frozen=True)
class Session:
    name: str
    role: str
    issued_ms: int
    expires: int


def issue(secret: bytes, name: str, role: str, *, now: float | None = None) -> str:
    at = now or time.time()
    body = f"{name}.{role}.{int(at * 1000)}.{int(at + SESSION_SECONDS)}"
    return f"{body}.{_mac(secret, body)}"


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison of what a client sent (any characters) with what the server computed."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode())


def read(secret: bytes, cookie: str | None, *, now: float | None = None) -> Session | None:
    """The session a cookie carries, or ``None`` if it is missing, forged, malformed or expired."""
    if not cookie or cookie.count(".") < 4:
        return None
    body, _, mac = cookie.rpartition(".")
    if not _same(mac, _mac(secret, body)):
        return None
    name, role, issued, expires = body.rsplit(".", 3)
    if not (issued.isdigit() and expires.isdigit()) or int(expires) < (now or time.time()):
        return None
    return Session(name, role, int(issued), int(expires))


def csrf_token(secret: bytes, cookie: str) -> str:
    return _mac(secret, "csrf:" + cookie)


def csrf_ok(secret: bytes, cookie: str | None, token: str | None) -> bool:
    return bool(cookie and token) and _same(token or "", csrf_token(secret, cookie or ""))


def flash(secret: bytes, text: str) -> str:
    """A message for the page a form redirects to, signed: a link cannot make the console say anything."""
    encoded = base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
    return f"{encoded}.{_mac(secret, 'flash:' + encoded)}"


def read_flash(secret: bytes, value: str | None) -> str:
    encoded, _, mac = (value or "").rpartition(".")
    if not encoded or not _same(mac, _mac(secret, "flash:" + encoded)):
        return ""
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8", "replace")


__all__ = ["COOKIE", "SESSION_SECONDS", "Session", "csrf_ok", "csrf_token", "flash", "issue", "read", "read_flash"]
