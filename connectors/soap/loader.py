"""Loading a WSDL once: from a file or a URL (cached), hardened, offline for the standard schemas, into both
Tongban's own model (:class:`~connectors.soap.wsdl_model.WsdlModel`) and a zeep client.

Where an import may come from (:class:`ImportPolicy`), for Tongban's model and zeep alike:

1. well-known standard schemas (SOAP encoding and envelope, WSDL, ``xml.xsd``, XML Signature...) always come
   from the copies shipped in ``connectors/soap/schemas/``, however they are referenced, including the imports
   zeep adds by itself (``soapenc:Array`` in an rpc/encoded WSDL); government networks often have no internet;
2. imports from the service's own origin (scheme, host and port of the WSDL's URL: JAX-WS RI's ``?xsd=1``,
   .NET's ``?wsdl=wsdl1``, relative paths) are fetched through the connector's own session (its TLS settings
   and credentials apply);
3. a URL listed under the connector YAML's ``schema_locations`` is read from the local file it names;
4. anything else (another host) is refused with a message naming the URL and that YAML key.

zeep's own ``forbid_external`` switch would refuse every transitive http(s) import before asking the
transport, so it is off and this policy, applied in the transport that zeep calls for every document, decides.
DTDs and entities stay forbidden (``forbid_dtd``, ``forbid_entities``), so no external entity is ever resolved.

WSDLs fetched by URL are kept in a process-wide cache for ``ttl`` seconds, so a sync that builds several
connectors downloads the document once; ``cache_dir`` adds a file cache that survives restarts.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
import warnings
from collections.abc import Iterable, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests
import zeep
from zeep.cache import InMemoryCache
from zeep.exceptions import Error as ZeepError
from zeep.transports import Transport as ZeepTransport

from connectors.common.urls import same_origin, shown
from connectors.http.body import DEFAULT_BODY_SECONDS, ResponseTooLargeError, read_capped
from connectors.http.deadline import answer_deadline, watch_session
from gateway.contract.errors import ConfigError, RetriableSyncError, SourceUnavailableError

from .hardening import XmlLimits, check_prolog
from .wsdl_model import WsdlModel

STANDARD_SCHEMAS = {
    "http://schemas.xmlsoap.org/soap/encoding/": "soap-encoding.xsd",
    "http://schemas.xmlsoap.org/soap/envelope/": "soap-envelope.xsd",
    "http://schemas.xmlsoap.org/wsdl/": "wsdl.xsd",
    "http://schemas.xmlsoap.org/wsdl/soap/": "wsdl-soap.xsd",
    "http://www.w3.org/2001/xml.xsd": "xml.xsd",
    "http://www.w3.org/XML/1998/namespace": "xml.xsd",
    "http://www.w3.org/TR/xmldsig-core/xmldsig-core-schema.xsd": "xmldsig-core-schema.xsd",
    "http://www.w3.org/2000/09/xmldsig#": "xmldsig-core-schema.xsd",
    "http://www.w3.org/TR/2002/REC-xmlenc-core-20021210/xenc-schema.xsd": "xenc-schema.xsd",
    "http://www.w3.org/2001/04/xmlenc#": "xenc-schema.xsd",
}
"""Standard schemas by the URLs (and namespace names) WSDLs use for them; https spellings match too. The files
come from the W3C/WS-I originals as packaged by the ``xmlschema`` project (xmldsig and xenc with their DTD
entities expanded, since DTDs are refused here)."""
_QUERY = re.compile(r"\?[^\s)'\"]*")
_CACHE: dict[str, tuple[float, bytes]] = {}
_CACHE_LOCK = threading.Lock()


def bundled_schema(url: str) -> bytes | None:
    """The shipped copy of a standard schema, by the URL WSDLs use for it (http or https, with or without a
    fragment or a trailing slash)."""
    key = url.split("#", 1)[0]
    name = STANDARD_SCHEMAS.get(key) or STANDARD_SCHEMAS.get(key.rstrip("/")) or STANDARD_SCHEMAS.get(key + "/")
    if name is None and key.startswith("https://"):
        return bundled_schema("http://" + key[len("https://"):])
    return files("connectors.soap").joinpath("schemas", name).read_bytes() if name else None


def _origin(url: str) -> tuple[str, str, int | None] | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, (parts.hostname or "").lower(), port


@dataclass(frozen=True)
class ImportPolicy:
    """Which imported documents may be read, and from where (see the module docstring)."""

    wsdl_url: str | None
    """The WSDL's own URL when it was fetched over HTTP (its origin may serve the imports)."""
    schema_locations: Mapping[str, str] = field(default_factory=dict)
    """URL → local file, from the connector YAML's ``schema_locations``."""
    offline: bool = False

    def local_copy(self, url: str) -> bytes | None:
        """The bundled or configured local copy of ``url``, if there is one."""
        bundled = bundled_schema(url)
        if bundled is not None:
            return bundled
        path = self.schema_locations.get(url)
        if path is None:
            return None
        try:
            return Path(path).read_bytes()
        except OSError as exc:
            raise ConfigError(f"schema_locations[{url!r}]: cannot read {path}: {exc}") from None

    def check_remote(self, url: str) -> None:
        """Raise :class:`ConfigError` unless ``url`` may be read: over the network from the service's own origin,
        or — for a WSDL read from a file — a file beside it. A WSDL fetched from the service never names a file on
        this machine (``file:///etc/…`` read local files into the model and its error messages)."""
        if not url.startswith(("http://", "https://")):
            if self.wsdl_url is not None:
                raise ConfigError(f"the WSDL {shown(self.wsdl_url)} imports {shown(url)}, a file on this machine: a "
                                  "document the service sends is never allowed to read local files; if the file is "
                                  "the schema meant, map it in the connector YAML: schema_locations: "
                                  f"{{{url!r}: path/to/file.xsd}}")
            return
        if self.offline:
            raise ConfigError(f"the WSDL imports {url}, which is not shipped with Tongban and offline is set; "
                              f"map it to a local file under the connector YAML's schema_locations")
        if self.wsdl_url is None or _origin(url) != _origin(self.wsdl_url):
            where = f"the service's own origin ({urlsplit(self.wsdl_url).netloc})" if self.wsdl_url else \
                "a WSDL read from a file"
            raise ConfigError(
                f"the WSDL imports {url}, which is neither a standard schema shipped with Tongban nor from "
                f"{where}; download it and map it in the connector YAML: schema_locations: {{{url!r}: path/to/file.xsd}}")


def zeep_settings() -> zeep.Settings:
    """zeep's XML safety switches: DTDs and entities refused. ``forbid_external`` is off because
    :class:`ImportPolicy` (in the transport) decides which imports may be read, including zeep's own."""
    return zeep.Settings(strict=True, xml_huge_tree=False, forbid_dtd=True, forbid_entities=True,
                         forbid_external=False, raw_response=False)


class _ZeepTransport(ZeepTransport):  # type: ignore[misc]
    """zeep's document loader: standard schemas from package data, the main WSDL from memory, others by HTTP."""

    def __init__(self, session: requests.Session, documents: dict[str, bytes], *, policy: ImportPolicy,
                 timeout: float, total: float, limits: XmlLimits) -> None:
        super().__init__(session=session, cache=InMemoryCache(timeout=3600), timeout=timeout,
                         operation_timeout=timeout)
        self._documents = documents
        self._policy = policy
        self._limits = limits
        self._total = total

    def _load_remote_data(self, url: str) -> bytes:
        """zeep's own fetch of an import, without following a redirect to another origin (see
        :func:`get_within_origin`)."""
        response = get_within_origin(self.session, url, timeout=self.load_timeout, total=self._total)
        with closing(response):
            response.raise_for_status()
            return read_limited(response, self._limits.max_bytes, where=shown(url), total=self._total)

    def load(self, url: str) -> bytes:
        known = self._documents.get(url)
        if known is not None:
            return known
        local = self._policy.local_copy(url)
        if local is not None:
            return local
        self._policy.check_remote(url)
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


MAX_REDIRECTS = 5
"""Same-origin redirects followed to a WSDL or schema (``/svc?wsdl`` → ``/svc/?wsdl``); more is a loop."""


def get_within_origin(session: requests.Session, url: str, *, timeout: float,
                      total: float = DEFAULT_BODY_SECONDS) -> requests.Response:
    """GET ``url``, following redirects within its origin only.

    The session carries the system's credentials — static headers (an API key), a request signer, a TLS client
    certificate — and requests would follow a redirect anywhere, dropping only ``Authorization``; the redirect's
    target would then also be trusted as the service's contract. A redirect to another origin is a
    :class:`ConfigError` naming it (the endpoint is configured wrong, or someone is steering it). The wait for
    each answer's status line and headers is bounded by ``total`` (``timeout.total``:
    :func:`~connectors.http.deadline.answer_deadline`), as the body's is by :func:`read_limited`."""
    watch_session(session)
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        with answer_deadline(total):
            response = session.get(current, timeout=timeout, allow_redirects=False, stream=True)  # read_limited reads
        if not response.is_redirect:
            return response
        target = urljoin(current, response.headers.get("location", ""))
        response.close()
        if not same_origin(target, url):
            raise ConfigError(f"the WSDL or schema {shown(current)} was redirected (HTTP {response.status_code}) to "
                              f"another origin, {shown(target)}: not followed (the system's credentials would go "
                              "along); configure the address it now lives at")
        current = target
    raise ConfigError(f"the WSDL or schema {shown(url)}: more than {MAX_REDIRECTS} redirects")


def read_limited(response: requests.Response, max_bytes: int, *, where: str,
                 total: float = DEFAULT_BODY_SECONDS) -> bytes:
    """A streamed WSDL or schema, refused once it passes ``max_bytes`` (the connector's ``limits.max_bytes``: one
    that never ends, or ``/dev/zero`` served, filled memory until the worker was killed) or still arriving at
    ``total`` (``timeout.total``): :func:`~connectors.http.body.read_capped`, its too-large a :class:`ConfigError`
    (a contract no call can use)."""
    try:
        return read_capped(response, max_bytes, where=where, setting="limits.max_bytes", deadline=total)
    except ResponseTooLargeError as exc:
        raise ConfigError(str(exc)) from None


def _joined_within(chunks: Iterable[bytes], max_bytes: int, *, where: str) -> bytes:
    """The chunks joined, refused once they pass ``max_bytes`` (the caller closes what it read them from)."""
    kept: list[bytes] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise ConfigError(f"{where} is larger than {max_bytes:,} bytes (limits.max_bytes): not read further")
        kept.append(chunk)
    return b"".join(kept)


def fetch_wsdl(source: str, *, session: requests.Session, timeout: float = 30.0, ttl: float = 3600.0,
               cache_dir: str | None = None, max_bytes: int = XmlLimits().max_bytes,
               total: float = DEFAULT_BODY_SECONDS) -> bytes:
    """The WSDL bytes from a path or URL, through the in-process (and optional file) cache; at most ``max_bytes``."""
    if not source.startswith(("http://", "https://")):
        path = Path(source[7:] if source.startswith("file://") else source)
        try:
            with path.open("rb") as file:  # in chunks: read(max_bytes) alone set aside the whole limit at once
                return _joined_within(iter(lambda: file.read(1 << 16), b""), max_bytes, where=f"the WSDL {path}")
        except OSError as exc:
            raise ConfigError(f"cannot read the WSDL {path}: {exc}") from None
    now = time.monotonic()
    with _CACHE_LOCK:
        hit = _CACHE.get(source)
        if hit is not None and now - hit[0] < ttl:
            return hit[1]
    disk = Path(cache_dir) / (hashlib.sha256(source.encode()).hexdigest()[:32] + ".wsdl") if cache_dir else None
    try:
        response = get_within_origin(session, source, timeout=timeout, total=total)
        with closing(response):
            if response.status_code in (401, 403):
                from gateway.contract.errors import AuthenticationError

                raise AuthenticationError(f"the WSDL {source.split('?')[0]} refused our credentials "
                                          f"(HTTP {response.status_code})")
            data = read_limited(response, max_bytes, where=f"the WSDL {shown(source)}", total=total)  # streamed
    except (requests.RequestException, RetriableSyncError) as exc:  # no answer, or not all of one
        if disk is not None and disk.exists():
            return disk.read_bytes()
        where = shown(source)  # no query (a token may ride there), no user:password
        reason = _QUERY.sub("?…", str(exc))[:300]  # the library quotes the path with its query
        raise SourceUnavailableError(f"cannot fetch the WSDL {where}: {type(exc).__name__}: {reason}") from None
    if not response.ok or not data.strip():
        raise SourceUnavailableError(
            f"the WSDL {source.split('?')[0]} answered HTTP {response.status_code} with {len(data)} bytes"
        )
    with _CACHE_LOCK:
        _CACHE[source] = (now, data)
    if disk is not None:
        disk.parent.mkdir(parents=True, exist_ok=True)
        disk.write_bytes(data)
    return data


def load_wsdl(source: str, *, session: requests.Session | None = None, limits: XmlLimits | None = None,
              offline: bool = False, timeout: float = 30.0, cache_dir: str | None = None,
              schema_locations: Mapping[str, str] | None = None, total: float = DEFAULT_BODY_SECONDS) -> LoadedWsdl:
    """Read, check and model a WSDL; build the zeep client on the same bytes (no second download)."""
    limits = limits or XmlLimits()
    session = session or requests.Session()
    data = fetch_wsdl(source, session=session, timeout=timeout, cache_dir=cache_dir, max_bytes=limits.max_bytes,
                      total=total)
    remote = source.startswith(("http://", "https://"))
    location = source if remote else str(Path(source).resolve())
    documents = {location: data, source: data}
    policy = ImportPolicy(source if remote else None, dict(schema_locations or {}), offline)

    def follow(imported: str) -> bytes | None:  # the documents it imports: read once, for the model and zeep
        if bundled_schema(imported) is not None:
            return None
        local = policy.local_copy(imported)
        if local is not None:
            documents[imported] = local
            return local
        policy.check_remote(imported)
        try:
            documents[imported] = fetch_wsdl(imported, session=session, timeout=timeout, cache_dir=cache_dir,
                                             max_bytes=limits.max_bytes, total=total)
        except ConfigError as exc:
            raise ConfigError(f"the WSDL {source} imports {imported}, which cannot be read: {exc}") from None
        return documents[imported]

    model = WsdlModel.parse(data, where=f"WSDL {source}", limits=limits, base=location, fetch=follow)
    transport = _ZeepTransport(session, documents, policy=policy, timeout=timeout, total=total, limits=limits)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            client = zeep.Client(location, transport=transport, settings=zeep_settings())
        except (ZeepError, ValueError, KeyError) as exc:
            raise ConfigError(f"zeep cannot load the WSDL {source}: {type(exc).__name__}: {exc}") from None
    said = list(dict.fromkeys(str(w.message) for w in caught))
    return LoadedWsdl(location, data, model, client, said)


__all__ = ["STANDARD_SCHEMAS", "ImportPolicy", "LoadedWsdl", "bundled_schema", "fetch_wsdl", "load_wsdl", "read_limited",
           "zeep_settings"]
