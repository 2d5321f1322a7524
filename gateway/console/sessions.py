"""Signed session cookies for the console, and the CSRF token of its forms.

A cookie is ``name.role.expiry.mac`` with ``mac = HMAC-SHA256(secret, name.role.expiry)``: stateless, so a
restarted console keeps its operators logged in, and it expires on its own (8 hours, a working shift). The role
in the cookie is checked against the operators file on every request, so removing an operator or demoting an
admin takes effect at once. The CSRF token of a form is a second MAC of the cookie: a page from another origin
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
    expires: int


def issue(secret: bytes, name: str, role: str, *, now: float | None = None) -> str:
    expires = int((now or time.time()) + SESSION_SECONDS)
    body = f"{name}.{role}.{expires}"
    return f"{body}.{_mac(secret, body)}"


def read(secret: bytes, cookie: str | None, *, now: float | None = None) -> Session | None:
    """The session a cookie carries, or ``None`` if it is missing, forged, malformed or expired."""
    if not cookie or cookie.count(".") < 3:
        return None
    body, _, mac = cookie.rpartition(".")
    if not hmac.compare_digest(mac, _mac(secret, body)):
        return None
    name, role, expires = body.rsplit(".", 2)
    if not expires.isdigit() or int(expires) < (now or time.time()):
        return None
    return Session(name, role, int(expires))


def csrf_token(secret: bytes, cookie: str) -> str:
    return _mac(secret, "csrf:" + cookie)


def csrf_ok(secret: bytes, cookie: str | None, token: str | None) -> bool:
    return bool(cookie and token) and hmac.compare_digest(csrf_token(secret, cookie or ""), token or "")


__all__ = ["COOKIE", "SESSION_SECONDS", "Session", "csrf_ok", "csrf_token", "issue", "read"]
