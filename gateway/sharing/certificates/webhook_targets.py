"""Where the gateway may POST a webhook: not to itself, not to the cloud's metadata service.

A subscription names a URL and the gateway calls it from inside the district's network, so a client could
otherwise make the gateway call what only the gateway can reach: ``http://127.0.0.1:…`` (its own admin ports, the
ledger's database, Redis), ``http://169.254.169.254/`` (a cloud's instance metadata and credentials; also
Alibaba Cloud's ``100.100.100.200``, the shared address space ``100.64/10``, AWS's ``fd00:ec2::254``), an
unspecified or multicast address. Those are refused — at subscription, and again at every delivery, because a
name can resolve elsewhere later (DNS rebinding). Private networks (10/8, 172.16/12, 192.168/16) stay allowed:
department systems live there. ``webhook_allowed_hosts`` (gateway file) names the exceptions an operator wants
(a receiver on the gateway's own machine), as host names, addresses or networks.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter

__all__ = ["PinnedAdapter", "checked_target", "target_problem"]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


METADATA_SERVICES: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = (
    (ipaddress.ip_network("100.100.100.200/32"), "Alibaba Cloud"),
    (ipaddress.ip_network("fd00:ec2::254/128"), "AWS (IPv6)"),
    (ipaddress.ip_network("100.64.0.0/10"), "shared address space (carrier-grade NAT, cloud service addresses)"),
)
"""Instance metadata and cloud-internal services outside link-local: government clouds in China run on Alibaba
Cloud (its metadata answers at 100.100.100.200, in the shared address space 100.64/10 its internal services use),
AWS's answers on IPv6 too. Link-local (169.254/16, fe80::/10: AWS, Azure, GCP, Tencent, Huawei) is refused as
such."""


def _kind(address: Address) -> str | None:
    """What makes ``address`` off limits, or None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local (cloud metadata)"
    for network, what in METADATA_SERVICES:
        if address in network:
            return f"a cloud metadata or internal service address ({what})"
    if address.is_unspecified:
        return "unspecified"
    if address.is_multicast:
        return "multicast"
    if address.is_reserved:
        return "reserved"
    return None


def _allowed(host: str, address: Address, allowed: Sequence[str]) -> bool:
    for entry in allowed:
        if entry.lower() == host.lower():
            return True
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def target_problem(url: str, allowed: Sequence[str] = ()) -> str | None:
    """Why the gateway must not POST to ``url`` (None: it may). Resolves the host name (blocking: call it off the
    event loop)."""
    return checked_target(url, allowed)[0]


def checked_target(url: str, allowed: Sequence[str] = ()) -> tuple[str | None, list[Address]]:
    """``(why the gateway must not POST to url, or None; the addresses checked)``. A delivery connects to one of
    those addresses (:class:`PinnedAdapter`), never to what the name resolves to a moment later."""
    problem, addresses = _check(url, allowed)
    return problem, (addresses if problem is None else [])


def _check(url: str, allowed: Sequence[str]) -> tuple[str | None, list[Address]]:
    try:  # a malformed bracketed host ("http://[zz]/") raises here, not later
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        return f"the webhook URL is malformed ({exc})", []
    if parts.scheme not in ("http", "https"):
        return "a webhook URL is http:// or https://", []
    if parts.username or parts.password:
        return "a webhook URL carries no user name or password", []
    if not host:
        return "a webhook URL names a host", []
    try:
        given = parts.port
    except ValueError:
        given = -1
    if given is not None and not 1 <= given <= 65535:  # port 0 is no port a receiver listens on
        return "the webhook URL's port is not a number from 1 to 65535", []
    port = given or (443 if parts.scheme == "https" else 80)
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            return f"the webhook host {host} does not resolve ({exc})", []
        # in the resolver's order (a delivery tries them so), each once
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos))
    for address in addresses:
        kind = _kind(address)
        if kind is not None and not _allowed(host, address, allowed):
            return (f"the webhook host {host} is {address}, a {kind} address the gateway does not call "
                    f"(webhook_allowed_hosts in the gateway file lists exceptions)"), addresses
    return None, addresses


class PinnedAdapter(HTTPAdapter):
    """Connects to the address :func:`checked_target` checked, not to what the host name resolves to when the
    connection is made: between the check and the POST a name can be rebound (DNS rebinding) to 127.0.0.1 or
    169.254.169.254. The request goes to the address; the ``Host`` header keeps the name, and for https the
    certificate is still checked against the name (SNI and hostname verification use it)."""

    def __init__(self, address: Address, **kwargs: Any) -> None:
        self.address = address
        super().__init__(**kwargs)

    def send(self, request: PreparedRequest, **kwargs: Any) -> Response:  # type: ignore[override]
        parts = urlsplit(request.url or "")
        host = parts.hostname or ""
        try:
            ipaddress.ip_address(host)
        except ValueError:  # a name: connect to the checked address instead
            ip = str(self.address)
            netloc = (f"[{ip}]" if self.address.version == 6 else ip) + (f":{parts.port}" if parts.port else "")
            request.headers["Host"] = parts.netloc.rpartition("@")[2]
            request.url = urlunsplit(parts._replace(netloc=netloc))
            if parts.scheme == "https":
                self.poolmanager.connection_pool_kw.update(server_hostname=host, assert_hostname=host)
        return super().send(request, **kwargs)
