"""URLs as the connectors show and trust them: origins (where credentials may go) and URLs fit for messages.

Credentials — an ``Authorization`` header, an ``X-Api-Key``, a request signature, a WS-Security envelope — are
meant for the system's own origin (scheme, host, port). A redirect or a ``Link: rel="next"`` to another origin
would carry them to a host nobody configured, so the transport and the paginators compare origins before they
follow anything (:func:`same_origin`).

A URL in an error or a log goes through :func:`shown`: the query string may hold tokens or personal data, and
``user:password@`` in an endpoint is a password.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` of an absolute URL, the port made explicit (``http://a`` = ``http://a:80``)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: not the same origin as anything
        port = -1
    return scheme, (parts.hostname or "").lower(), port if port is not None else _DEFAULT_PORTS.get(scheme)


def same_origin(url: str, other: str) -> bool:
    return origin(url) == origin(other)


def https_upgrade(target: str, source: str) -> bool:
    """Whether ``target`` is ``source``'s own host moved from ``http`` to ``https``, both on their default
    ports (``http://a/x`` → ``https://a/x``): the same system, reached more safely, so a redirect may follow it.
    Never the other way round (``https`` → ``http`` would send credentials in clear)."""
    src, dst = origin(source), origin(target)
    return (src[0] == "http" and src[2] == _DEFAULT_PORTS["http"] and dst[0] == "https"
            and dst[2] == _DEFAULT_PORTS["https"] and bool(src[1]) and src[1] == dst[1])


def shown(url: str) -> str:
    """``url`` for a message or a log: no query string, no fragment, no ``user:password@``."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def has_userinfo(url: str) -> bool:
    """Whether ``url`` carries ``user[:password]@`` before its host."""
    return "@" in urlsplit(url).netloc


__all__ = ["has_userinfo", "https_upgrade", "origin", "same_origin", "shown"]
