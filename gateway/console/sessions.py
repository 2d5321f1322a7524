"""Signed session cookies for the console, and the CSRF token of its forms.

A cookie is ``~NAME.role.issued.expiry.mac``: ``NAME`` the login name as base64url of its UTF-8 (a cookie is
ASCII on the wire: 张三 must fit in it), ``mac = HMAC-SHA256(secret, "v2:" + everything before it)``, ``issued``
in milliseconds. Stateless, so a restarted console keeps its operators logged in, and it expires on its own (8
hours, a working shift). A cookie of the first format (``name.role.issued.expiry.mac``, the name in clear, MAC
without the ``v2:``) is still read, so an upgrade logs nobody out. The role in the cookie is checked against the
operators file on every request, so removing an operator or demoting an admin takes effect at once; logging out,
or a new password, ends every session of that operator issued before it (the file's ``sessions_after``), in every
console process.

The CSRF token of a form is a MAC of the operator's name and of that ``sessions_after`` epoch, not of the cookie:
logging in again in another tab leaves the forms of an older tab working, a logout or a new password makes every
earlier form stale. A page from another origin cannot read it, so it cannot post a replay on an operator's
behalf (the cookie is also ``SameSite=Strict``).
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


_V2 = "~"
"""The first character of a cookie of the current format (never in a name of the first: those were letters,
digits, '-', '_' and '.')."""


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unb64(text: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("utf-8")
    except ValueError:  # binascii.Error and UnicodeDecodeError are both ValueErrors
        return None


def issue(secret: bytes, name: str, role: str, *, now: float | None = None) -> str:
    at = now or time.time()
    body = f"{_V2}{_b64(name)}.{role}.{int(at * 1000)}.{int(at + SESSION_SECONDS)}"
    return f"{body}.{_mac(secret, 'v2:' + body)}"


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison of what a client sent (any characters) with what the server computed."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode())


def read(secret: bytes, cookie: str | None, *, now: float | None = None) -> Session | None:
    """The session a cookie carries, or ``None`` if it is missing, forged, malformed or expired."""
    if not cookie or cookie.count(".") < 4:
        return None
    body, _, mac = cookie.rpartition(".")
    encoded, role, issued, expires = body.rsplit(".", 3)
    if encoded.startswith(_V2):
        if not _same(mac, _mac(secret, "v2:" + body)):
            return None
        name = _unb64(encoded[len(_V2):])
        if not name:
            return None
    else:  # the first format: the name in clear (an ASCII name: no other could ever be set)
        if not _same(mac, _mac(secret, body)):
            return None
        name = encoded
    if not (issued.isascii() and issued.isdigit() and expires.isascii() and expires.isdigit()) \
            or int(expires) < (now or time.time()):
        return None
    return Session(name, role, int(issued), int(expires))


def csrf_token(secret: bytes, name: str, epoch: int, *, now: float | None = None) -> str:
    """The token of ``name``'s forms until their sessions are next ended (``epoch``: the operators file's
    ``sessions_after_ms``) and for at most two session lengths: the same in every tab, whichever login the tab's
    cookie came from, and never valid for ever for an operator who never logs out."""
    return _csrf(secret, name, epoch, int((now or time.time()) // SESSION_SECONDS))


def _csrf(secret: bytes, name: str, epoch: int, period: int) -> str:
    return _mac(secret, f"csrf:{_b64(name)}:{int(epoch)}:{period}")


def csrf_ok(secret: bytes, name: str | None, epoch: int, token: str | None, *, now: float | None = None) -> bool:
    """A token of this period or the one before (a page opened just before the period turned)."""
    if not (name and token):
        return False
    period = int((now or time.time()) // SESSION_SECONDS)
    return any(_same(token, _csrf(secret, name, epoch, p)) for p in (period, period - 1))


FLASH_SECONDS = 120
"""How long a form's message is shown: long enough for the redirect after a slow replay, short enough that a
reload or a bookmark an hour later does not announce "replayed 3 dead letters" again as news."""


def flash(secret: bytes, text: str, *, now: float | None = None) -> str:
    """A message for the page a form redirects to, signed and stamped: a link cannot make the console say
    anything, and an old link says nothing."""
    stamp = int(time.time() if now is None else now)
    encoded = base64.urlsafe_b64encode(f"{stamp}:{text}".encode()).decode().rstrip("=")
    return f"{encoded}.{_mac(secret, 'flash:' + encoded)}"


def read_flash(secret: bytes, value: str | None, *, now: float | None = None) -> str:
    encoded, _, mac = (value or "").rpartition(".")
    if not encoded or not _same(mac, _mac(secret, "flash:" + encoded)):
        return ""
    stamp, _, text = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8", "replace") \
        .partition(":")
    if not stamp.isdigit() or not 0 <= (time.time() if now is None else now) - int(stamp) <= FLASH_SECONDS:
        return ""
    return text


__all__ = ["COOKIE", "SESSION_SECONDS", "Session", "csrf_ok", "csrf_token", "flash", "issue", "read", "read_flash"]
