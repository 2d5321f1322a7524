"""The ways a REST system asks us to prove who we are, as ``requests`` auth objects.

Each is a :class:`requests.auth.AuthBase`, applied to the *prepared* request, so that what is signed is
exactly what goes on the wire: the HMAC signature covers the path and query string as encoded by requests
and the body bytes as sent. Secret values come from the ``secrets`` mapping by name; the YAML holds names
only.

    auth = build_auth(config.auth, secrets, fetch_token=transport.fetch_token)
    session.auth = auth
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from connectors.common.records import answer_says, dig
from connectors.common.urls import shown
from connectors.http.signing import SignatureConfig, SigningConfigError, SigningError, TemplateSigner
from connectors.http.transport import RefreshableAuth
from gateway.contract.errors import AuthenticationError, ConfigError

from .config import (
    ApiKeyAuthConfig,
    AuthConfig,
    BasicAuthConfig,
    BearerAuthConfig,
    HmacAuthConfig,
    OAuth2ClientCredentialsConfig,
    TokenAuthConfig,
)

TokenFetcher = Callable[[str, Mapping[str, str], "AuthBase | None"], requests.Response]
"""POST a form to the token URL (relative or absolute) without the connector's own auth."""

TokenRequester = Callable[..., tuple[requests.Response, Any]]
"""``(method, path_or_url, *, params, json, data, headers)`` → the answer and its decoded JSON body, sent without
the connector's own auth (a platform's own token endpoint: :class:`TokenAuth`)."""


class RestAuth(RefreshableAuth):
    """Base of the REST connector's auth objects (see :class:`~connectors.http.transport.RefreshableAuth`)."""


class ApiKeyAuth(RestAuth):
    def __init__(self, header: str, key: str, prefix: str = "") -> None:
        self.header = header
        self.value = f"{prefix}{key}"

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers[self.header] = self.value
        return r


class BasicAuth(RestAuth):
    def __init__(self, username: str, password: str) -> None:
        self._basic = HTTPBasicAuth(username, password)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return self._basic(r)


class BearerAuth(RestAuth):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self.token}"
        return r


class CachedTokenAuth(RestAuth):
    """A token fetched when first needed and cached until shortly before its lifetime runs out (less
    ``expiry_margin_seconds``, never less than half of it), or until the system refuses it: :meth:`refresh` drops it
    and the transport tries once more with a new one. Subclasses say how a token is fetched (:meth:`_fetch`)."""

    def __init__(self, *, margin: float, clock: Callable[[], float],
                 on_token: Callable[[str], None] | None) -> None:
        self._margin = margin
        self._clock = clock
        self._on_token = on_token
        """Told every token fetched (the connector masks it in error messages)."""
        self._token: str | None = None
        self._expires_at: float | None = None
        self._lock = threading.Lock()
        self.tokens_fetched = 0

    def refresh(self) -> bool:
        with self._lock:
            self._token = None
        return True

    def token(self) -> str:
        with self._lock:
            if self._token is None or (self._expires_at is not None and self._clock() >= self._expires_at):
                token, lifetime = self._fetch()
                self.tokens_fetched += 1
                if self._on_token is not None:
                    self._on_token(token)
                self._token = token
                self._expires_at = None if lifetime is None else self._clock() + max(lifetime - self._margin,
                                                                                     lifetime / 2)
            return self._token

    def _fetch(self) -> tuple[str, float | None]:
        """A new token and how many seconds it lives (None: until refused)."""
        raise NotImplementedError


def _seconds(value: Any) -> float | None:
    """A lifetime in seconds as an answer gives it (``7200``, ``"7200"``), None when it is none."""
    text = str(value).strip() if isinstance(value, (int, float, str)) and not isinstance(value, bool) else ""
    return float(text) if text.replace(".", "", 1).isdigit() else None


class OAuth2ClientCredentialsAuth(CachedTokenAuth):
    """Client-credentials grant; the token is cached until shortly before ``expires_in`` runs out.

    A 401 with a cached token usually means the server restarted or revoked it, so :meth:`refresh` drops it
    and the transport tries once more with a new one; a second refusal is an :class:`AuthenticationError`.
    """

    def __init__(
        self,
        config: OAuth2ClientCredentialsConfig,
        client_id: str,
        client_secret: str,
        fetch_token: TokenFetcher,
        *,
        clock: Callable[[], float] = time.time,
        on_token: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(margin=config.expiry_margin_seconds, clock=clock, on_token=on_token)
        self.config = config
        self._client_id = client_id
        self._client_secret = client_secret
        self._post_form = fetch_token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self.token()}"
        return r

    def _fetch(self) -> tuple[str, float | None]:
        form = {"grant_type": "client_credentials"}
        basic: AuthBase | None = None
        if self.config.client_auth == "basic":
            basic = HTTPBasicAuth(self._client_id, self._client_secret)
        else:
            form |= {"client_id": self._client_id, "client_secret": self._client_secret}
        if self.config.scope:
            form["scope"] = self.config.scope
        response = self._post_form(self.config.token_url, form, basic)
        body: Any
        try:
            body = response.json()
        except ValueError:
            body = None
        if not response.ok or not isinstance(body, Mapping) or not body.get("access_token"):
            detail = ""
            if isinstance(body, Mapping):
                detail = str(body.get("error_description") or body.get("error") or "")
            raise AuthenticationError(
                f"token request to {shown(response.url)} failed (HTTP {response.status_code})"
                + (f": {detail}" if detail else "")
            )
        return str(body["access_token"]), _seconds(body.get("expires_in"))


class TokenAuth(CachedTokenAuth):
    """A token from the platform's own endpoint (``POST /auth/getToken`` with ``appId``/``appSecret`` as JSON,
    ``{"code": "200", "data": {"accessToken": …, "expiresIn": 7200}}``), put in a header or query parameter of every
    request, then — with ``sign`` — the request signed as well.

    The token is cached until ``expires_in`` (less the margin) runs out, or the system refuses it: a 401/403, or a
    ``reauth`` code of the stream's ``success`` rule in an HTTP 200 body — then :meth:`refresh` drops it and the
    transport sends once more with a new one. An answer without a token is an :class:`AuthenticationError` quoting
    the platform's code and message (``appSecret错误``), never a request sent with no token."""

    def __init__(self, config: TokenAuthConfig, request_token: TokenRequester, *,
                 signer: SignatureAuth | None = None, clock: Callable[[], float] = time.time,
                 on_token: Callable[[str], None] | None = None) -> None:
        super().__init__(margin=config.expiry_margin_seconds, clock=clock, on_token=on_token)
        self.config = config
        self._request = request_token
        self._signer = signer

    @property
    def signer(self) -> Any:
        """The signer of the request signature (``sign``), or None: a refused probe quotes the string it signed,
        as for ``type: signature`` — the way to find which part of the convention the YAML got wrong."""
        return getattr(self._signer, "signer", None)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        place = self.config.send_as
        value = f"{place.prefix}{self.token()}"
        if place.header is not None:
            r.headers[place.header] = value
        else:
            assert place.query is not None
            r.prepare_url(r.url, {place.query: value})
        return self._signer(r) if self._signer is not None else r

    def _fetch(self) -> tuple[str, float | None]:
        ask = self.config.request
        fields = dict(ask.fields)
        response, body = self._request(
            ask.method, ask.path, headers=dict(ask.headers) or None,
            params=fields if ask.send == "query" else None,
            json=fields if ask.send == "json" else None,
            data=fields if ask.send == "form" else None)
        token = dig(body, self.config.token_path, None) if isinstance(body, (Mapping, list)) else None
        if not response.ok or not isinstance(token, (str, int)) or isinstance(token, bool) or str(token) == "":
            detail = answer_says(body)
            raise AuthenticationError(
                f"token request to {shown(response.url)} (HTTP {response.status_code}) gave no token at "
                f"`{self.config.token_path}`" + (f": {detail}" if detail else ""))
        lifetime = _seconds(dig(body, self.config.expires_in_path, None)) if self.config.expires_in_path else None
        return str(token), lifetime


class HmacAuth(RestAuth):
    """Signs method, path+query as sent, a timestamp, a nonce and the SHA-256 of the body bytes.

    A fresh timestamp and nonce are made per attempt (requests re-prepares each retry), so retries are never
    refused as replays.
    """

    def __init__(
        self,
        config: HmacAuthConfig,
        secret: str,
        key_id: str | None,
        *,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self.config = config
        self._secret = secret.encode()
        self.key_id = key_id
        self._clock = clock
        self._nonce = nonce

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        body = r.body or b""
        body_bytes = body.encode() if isinstance(body, str) else bytes(body)
        timestamp = str(int(self._clock()))
        nonce = self._nonce()
        message = self.config.string_to_sign.format(
            method=(r.method or "GET").upper(),
            path_qs=r.path_url,
            timestamp=timestamp,
            nonce=nonce,
            body_sha256=hashlib.sha256(body_bytes).hexdigest(),
            key_id=self.key_id or "",
        )
        digest = hmac.new(self._secret, message.encode(), self.config.algorithm).digest()
        if self.config.signature_encoding == "hex":
            signature = digest.hex()
        else:
            signature = base64.b64encode(digest).decode()
        if self.config.key_id_header and self.key_id is not None:
            r.headers[self.config.key_id_header] = self.key_id
        r.headers[self.config.timestamp_header] = timestamp
        if self.config.nonce_header:
            r.headers[self.config.nonce_header] = nonce
        r.headers[self.config.signature_header] = signature
        return r


class SignatureAuth(RestAuth):
    """A :class:`~connectors.http.signing.TemplateSigner` (any gateway's signing convention, said in YAML)."""

    def __init__(self, config: SignatureConfig, secrets: Mapping[str, str], *, clock: Callable[[], float]) -> None:
        try:
            self.signer = TemplateSigner(config, secrets, clock=clock)
        except SigningConfigError as exc:
            raise ConfigError(str(exc)) from None

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        try:
            return self.signer(r)
        except SigningError as exc:
            raise ConfigError(f"auth (type signature): {exc}") from None


def _secret(secrets: Mapping[str, str], name: str, where: str) -> str:
    value = secrets.get(name)
    if value is None or value == "":
        raise ConfigError(f"{where}: secret {name!r} is not set (give it in the system's secrets)")
    return value


def build_auth(
    config: AuthConfig | None,
    secrets: Mapping[str, str],
    *,
    fetch_token: TokenFetcher,
    request_token: TokenRequester | None = None,
    clock: Callable[[], float] = time.time,
    on_token: Callable[[str], None] | None = None,
) -> RestAuth | None:
    """The auth object for a connector config; missing secrets are a :class:`ConfigError` at construction.
    ``on_token`` is told every access token fetched (to mask it in errors); ``request_token`` sends a platform's own
    token request (``type: token``)."""
    if config is None:
        return None
    if isinstance(config, TokenAuthConfig):
        if request_token is None:
            raise ConfigError("auth (type token): this connector cannot send a token request")
        signer = SignatureAuth(config.sign, secrets, clock=clock) if config.sign is not None else None
        return TokenAuth(config, request_token, signer=signer, clock=clock, on_token=on_token)
    if isinstance(config, ApiKeyAuthConfig):
        return ApiKeyAuth(config.header, _secret(secrets, config.secret, "auth.secret"), config.prefix)
    if isinstance(config, BasicAuthConfig):
        return BasicAuth(
            _secret(secrets, config.username_secret, "auth.username_secret"),
            _secret(secrets, config.password_secret, "auth.password_secret"),
        )
    if isinstance(config, BearerAuthConfig):
        return BearerAuth(_secret(secrets, config.secret, "auth.secret"))
    if isinstance(config, OAuth2ClientCredentialsConfig):
        return OAuth2ClientCredentialsAuth(
            config,
            _secret(secrets, config.client_id_secret, "auth.client_id_secret"),
            _secret(secrets, config.client_secret_secret, "auth.client_secret_secret"),
            fetch_token,
            clock=clock,
            on_token=on_token,
        )
    if isinstance(config, SignatureConfig):
        return SignatureAuth(config, secrets, clock=clock)
    key_id = config.key_id
    if config.key_id_secret:
        key_id = _secret(secrets, config.key_id_secret, "auth.key_id_secret")
    return HmacAuth(config, _secret(secrets, config.secret, "auth.secret"), key_id, clock=clock)


__all__ = [
    "ApiKeyAuth",
    "BasicAuth",
    "BearerAuth",
    "CachedTokenAuth",
    "HmacAuth",
    "OAuth2ClientCredentialsAuth",
    "RestAuth",
    "SignatureAuth",
    "TokenAuth",
    "TokenFetcher",
    "TokenRequester",
    "build_auth",
]
