"""Loading a WSDL once: from a file or a URL (cached), hardened, offline for the standard schemas, into both
Tongban's own model (:class:`~connectors.soap.wsdl_model.WsdlModel`) and a zeep client.

zeep fetches ``http://schemas.xmlsoap.org/soap/encoding/`` whenever an rpc/encoded WSDL mentions
``soapenc:Array``, and ``xml.xsd`` for ``xml:lang``; government networks often have no internet, so those
schemas ship with Tongban (``connectors/soap/schemas/``) and are served from there. Any other remote import
is fetched through the connector's own HTTP session (its TLS settings apply) unless ``offline`` is set.

WSDLs fetched by URL are kept in a process-wide cache for ``ttl`` seconds, so a sync that builds several
connectors downloads the document once; ``cache_dir`` adds a file cache that survives restarts.
"""

from __future__ import annotations

import hashlib
import threading
import time
import warnings
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import requests
import zeep
from zeep.cache import InMemoryCache
from zeep.exceptions import Error as ZeepError
from zeep.transports import Transport as ZeepTransport

from gateway.contract.errors import ConfigError, SourceUnavailableError

from .hardening import XmlLimits, check_prolog
from .wsdl_model import WsdlModel

STANDARD_SCHEMAS = {
    "http://schemas.xmlsoap.org/soap/encoding/": "soap-encoding.xsd",
    "https://schemas.xmlsoap.org/soap/encoding/": "soap-encoding.xsd",
    "http://www.w3.org/2001/xml.xsd": "xml.xsd",
    "https://www.w3.org/2001/xml.xsd": "xml.xsd",
}
_CACHE: dict[str, tuple[float, bytes]] = {}
_CACHE_LOCK = threading.Lock()


def bundled_schema(url: str) -> bytes | None:
    """The shipped copy of a standard schema, by the URL WSDLs use for it."""
    name = STANDARD_SCHEMAS.get(url.rstrip("#"))
    return files("connectors.soap").joinpath("schemas", name).read_bytes() if name else None


def zeep_settings() -> zeep.Settings:
    """zeep's own XML safety switches, all on (its parser then refuses DTDs, entities, external references)."""
    return zeep.Settings(strict=True, xml_huge_tree=False, forbid_dtd=True, forbid_entities=True,
                         forbid_external=True, raw_response=False)


class _ZeepTransport(ZeepTransport):  # type: ignore[misc]
    """zeep's document loader: standard schemas from package data, the main WSDL from memory, others by HTTP."""

    def __init__(self, session: requests.Session, documents: dict[str, bytes], *, offline: bool,
                 timeout: float, limits: XmlLimits) -> None:
        super().__init__(session=session, cache=InMemoryCache(timeout=3600), timeout=timeout,
                         operation_timeout=timeout)
        self._documents = documents
        self._offline = offline
        self._limits = limits

    def load(self, url: str) -> bytes:
        known = self._documents.get(url)
        if known is not None:
            return known
        bundled = bundled_schema(url)
        if bundled is not None:
            return bundled
        if self._offline and url.startswith(("http://", "https://")):
            raise ConfigError(f"the WSDL imports {url}, which is not shipped with Tongban and offline is set")
        data: bytes = super().load(url)
        check_prolog(data, where=url, limits=self._limits)
        return data


@dataclass
class LoadedWsdl:
    """A WSDL read once: its bytes, Tongban's model, zeep's client, and what zeep said while loading."""

    location: str
    data: bytes
    model: WsdlModel
    client: zeep.Client
    zeep_warnings: list[str] = field(default_factory=list)

    def zeep_operations(self) -> dict[str, set[str]]:
        """Binding name (Clark notation) -> operation names zeep exposes on it."""
        return {str(name): set(binding._operations) for name, binding in self.client.wsdl.bindings.items()}


def fetch_wsdl(source: str, *, session: requests.Session, timeout: float = 30.0, ttl: float = 3600.0,
               cache_dir: str | None = None) -> bytes:
    """The WSDL bytes from a path or URL, through the in-process (and optional file) cache."""
    if not source.startswith(("http://", "https://")):
        path = Path(source[7:] if source.startswith("file://") else source)
        try:
            return path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read the WSDL {path}: {exc}") from None
    now = time.monotonic()
    with _CACHE_LOCK:
        hit = _CACHE.get(source)
        if hit is not None and now - hit[0] < ttl:
            return hit[1]
    disk = Path(cache_dir) / (hashlib.sha256(source.encode()).hexdigest()[:32] + ".wsdl") if cache_dir else None
    try:
        response = session.get(source, timeout=timeout)
    except requests.RequestException as exc:
        if disk is not None and disk.exists():
            return disk.read_bytes()
        raise SourceUnavailableError(f"cannot fetch the WSDL {source.split('?')[0]}: {type(exc).__name__}") from None
    if response.status_code in (401, 403):
        from gateway.contract.errors import AuthenticationError

        raise AuthenticationError(f"the WSDL {source.split('?')[0]} refused our credentials (HTTP {response.status_code})")
    if not response.ok or not response.content.strip():
        raise SourceUnavailableError(
            f"the WSDL {source.split('?')[0]} answered HTTP {response.status_code} with {len(response.content)} bytes"
        )
    data = response.content
    with _CACHE_LOCK:
        _CACHE[source] = (now, data)
    if disk is not None:
        disk.parent.mkdir(parents=True, exist_ok=True)
        disk.write_bytes(data)
    return data


def load_wsdl(source: str, *, session: requests.Session | None = None, limits: XmlLimits | None = None,
              offline: bool = False, timeout: float = 30.0, cache_dir: str | None = None) -> LoadedWsdl:
    """Read, check and model a WSDL; build the zeep client on the same bytes (no second download)."""
    limits = limits or XmlLimits()
    session = session or requests.Session()
    data = fetch_wsdl(source, session=session, timeout=timeout, cache_dir=cache_dir)
    location = source if source.startswith(("http://", "https://")) else str(Path(source).resolve())
    documents = {location: data, source: data}

    def follow(imported: str) -> bytes | None:  # the documents it imports: read once, for the model and zeep
        if bundled_schema(imported) is not None:
            return None
        if offline and imported.startswith(("http://", "https://")):
            raise ConfigError(f"the WSDL imports {imported}, which is not shipped with Tongban and offline is set")
        try:
            documents[imported] = fetch_wsdl(imported, session=session, timeout=timeout, cache_dir=cache_dir)
        except ConfigError as exc:
            raise ConfigError(f"the WSDL {source} imports {imported}, which cannot be read: {exc}") from None
        return documents[imported]

    model = WsdlModel.parse(data, where=f"WSDL {source}", limits=limits, base=location, fetch=follow)
    transport = _ZeepTransport(session, documents, offline=offline, timeout=timeout, limits=limits)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            client = zeep.Client(location, transport=transport, settings=zeep_settings())
        except (ZeepError, ValueError, KeyError) as exc:
            raise ConfigError(f"zeep cannot load the WSDL {source}: {type(exc).__name__}: {exc}") from None
    said = list(dict.fromkeys(str(w.message) for w in caught))
    return LoadedWsdl(location, data, model, client, said)


__all__ = ["STANDARD_SCHEMAS", "LoadedWsdl", "bundled_schema", "fetch_wsdl", "load_wsdl", "zeep_settings"]
