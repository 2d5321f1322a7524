"""Each auth kind puts the right headers on the wire; HMAC is verified independently; OAuth2 caches tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qs

import pytest
import responses
import yaml
from rest_testlib import example

from connectors.rest import RestConnector
from gateway.contract.errors import AuthenticationError, ConfigError

BASE = "http://system.test"



def _connector(
    auth: dict[str, Any], secrets: dict[str, str], clock: Any = lambda: 1_700_000_000.0
) -> RestConnector:
    config = {
        "base_url": BASE,
        "retry": {"max_attempts": 1},
        "auth": auth,
        "streams": {"items": {"path": "/items", "primary_key": "id"}},
        "write": {"items": {"upsert": {"method": "PUT", "path": "/items/{key}"}}},
    }
    return RestConnector(config, secrets=secrets, clock=clock, sleep=lambda s: None)


def _read(connector: RestConnector) -> None:
    list(connector.read("items", mode="full_refresh"))


@responses.activate
def test_api_key_header() -> None:
    responses.get(f"{BASE}/items", json=[])
    _read(_connector({"type": "api_key", "header": "X-Api-Key", "secret": "k"}, {"k": "civil-demo-key"}))
    assert responses.calls[0].request.headers["X-Api-Key"] == "civil-demo-key"


@responses.activate
def test_basic_auth_header() -> None:
    responses.get(f"{BASE}/items", json=[])
    auth = {"type": "basic", "username_secret": "u", "password_secret": "p"}
    _read(_connector(auth, {"u": "zhang", "p": "s3cret"}))
    expected = "Basic " + base64.b64encode(b"zhang:s3cret").decode()
    assert responses.calls[0].request.headers["Authorization"] == expected


@responses.activate
def test_bearer_header() -> None:
    responses.get(f"{BASE}/items", json=[])
    _read(_connector({"type": "bearer", "secret": "t"}, {"t": "abc.def"}))
    assert responses.calls[0].request.headers["Authorization"] == "Bearer abc.def"


def test_missing_secret_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="auth.secret: secret 'api_key' is not set"):
        _connector({"type": "api_key", "secret": "api_key"}, {})


# --- HMAC ---------------------------------------------------------------------------------------------------


def _verify_estate_signature(request: Any, secret: bytes) -> None:
    """The sandbox README's rule, written independently of connectors.rest.auth."""
    body = request.body or b""
    body = body.encode() if isinstance(body, str) else body
    path_qs = request.path_url
    timestamp, nonce = request.headers["X-Timestamp"], request.headers["X-Nonce"]
    string_to_sign = "\n".join([request.method, path_qs, timestamp, nonce, hashlib.sha256(body).hexdigest()])
    expected = hmac.new(secret, string_to_sign.encode(), hashlib.sha256).hexdigest()
    assert request.headers["X-Signature"] == expected


@responses.activate
def test_hmac_signs_the_exact_path_query_and_body() -> None:
    estate = yaml.safe_load(example("estate").read_text()) | {"base_url": BASE}
    estate["retry"] = {"max_attempts": 1}
    connector = RestConnector(
        estate,
        secrets={"app_id": "estate-demo", "secret": "estate-demo-secret"},
        clock=lambda: 1_709_605_860.7,
    )
    responses.get(f"{BASE}/open/v2/business", json={"success": True, "items": [], "next_cursor": None})
    responses.put(f"{BASE}/open/v2/business/370100202403050001234", json={"success": True, "ywh": "Y1"})
    from datetime import datetime, timedelta, timezone

    list(connector.read("business", since=datetime(2024, 3, 5, 10, 31, tzinfo=timezone(timedelta(hours=8)))))
    connector.write("business", {"sxmc": "首次登记 a&b"}, key="370100202403050001234", idempotency_key="k1")

    get, put = responses.calls[0].request, responses.calls[1].request
    assert get.path_url == "/open/v2/business?modified_after=1709605860000&limit=200"
    for request in (get, put):
        assert request.headers["X-App-Id"] == "estate-demo"
        assert request.headers["X-Timestamp"] == "1709605860"
        assert len(request.headers["X-Nonce"]) == 32
        _verify_estate_signature(request, b"estate-demo-secret")
    assert get.headers["X-Nonce"] != put.headers["X-Nonce"]
    assert put.body and "首次登记".encode() in put.body  # the signed body is the one sent


@responses.activate
def test_hmac_base64_and_custom_string_to_sign() -> None:
    responses.get(f"{BASE}/items", json=[])
    auth = {
        "type": "hmac",
        "algorithm": "sha1",
        "secret": "s",
        "key_id": "app-7",
        "key_id_header": "X-Key",
        "nonce_header": None,
        "signature_encoding": "base64",
        "string_to_sign": "{key_id}|{method}|{path_qs}|{timestamp}",
    }
    _read(_connector(auth, {"s": "topsecret"}))
    request = responses.calls[0].request
    message = f"app-7|GET|/items|{request.headers['X-Timestamp']}".encode()
    expected = base64.b64encode(hmac.new(b"topsecret", message, hashlib.sha1).digest()).decode()
    assert request.headers["X-Signature"] == expected
    assert "X-Nonce" not in request.headers


def test_hmac_unknown_placeholder_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"auth.string_to_sign: .*unknown placeholder"):
        _connector({"type": "hmac", "secret": "s", "string_to_sign": "{method}{body}"}, {"s": "x"})


# --- OAuth2 client credentials -----------------------------------------------------------------------------


def _oauth(clock: Any = lambda: 1000.0) -> RestConnector:
    auth = {
        "type": "oauth2_client_credentials",
        "token_url": "/oauth/token",
        "client_id_secret": "client_id",
        "client_secret_secret": "client_secret",
        "scope": "cases",
    }
    return _connector(auth, {"client_id": "tongban", "client_secret": "hall-demo-secret"}, clock=clock)


def _token(token: str, expires_in: int = 300) -> dict[str, Any]:
    return {"access_token": token, "token_type": "Bearer", "expires_in": expires_in}


@responses.activate
def test_oauth2_token_is_fetched_once_and_cached() -> None:
    responses.post(f"{BASE}/oauth/token", json=_token("T1"))
    responses.get(f"{BASE}/items", json=[])
    connector = _oauth()
    _read(connector)
    _read(connector)
    token_calls = [c for c in responses.calls if c.request.url.endswith("/oauth/token")]
    assert len(token_calls) == 1
    form = parse_qs(token_calls[0].request.body)
    assert form == {
        "grant_type": ["client_credentials"],
        "client_id": ["tongban"],
        "client_secret": ["hall-demo-secret"],
        "scope": ["cases"],
    }
    assert "Authorization" not in token_calls[0].request.headers
    assert [c.request.headers["Authorization"] for c in responses.calls[1:]] == ["Bearer T1", "Bearer T1"]


@responses.activate
def test_oauth2_token_is_renewed_before_it_expires() -> None:
    now = [1000.0]
    responses.post(f"{BASE}/oauth/token", json=_token("T1", 300))
    responses.post(f"{BASE}/oauth/token", json=_token("T2", 300))
    responses.get(f"{BASE}/items", json=[])
    connector = _oauth(clock=lambda: now[0])
    _read(connector)
    now[0] += 269  # within the 30 s safety margin
    _read(connector)
    now[0] += 2
    _read(connector)
    items = [c.request for c in responses.calls if c.request.url.endswith("/items")]
    headers = [r.headers.get("Authorization") for r in items]
    assert headers == ["Bearer T1", "Bearer T1", "Bearer T2"]


@responses.activate
def test_oauth2_refreshes_once_on_401_then_succeeds() -> None:
    responses.post(f"{BASE}/oauth/token", json=_token("OLD"))
    responses.post(f"{BASE}/oauth/token", json=_token("NEW"))
    responses.get(f"{BASE}/items", status=401, json={"error": "invalid_token"})
    responses.get(f"{BASE}/items", json=[])
    _read(_oauth())
    items = [c.request.headers["Authorization"] for c in responses.calls if c.request.url.endswith("/items")]
    assert items == ["Bearer OLD", "Bearer NEW"]


@responses.activate
def test_oauth2_second_401_is_an_authentication_error() -> None:
    responses.post(f"{BASE}/oauth/token", json=_token("T"))
    responses.get(f"{BASE}/items", status=401, json={"error": "invalid_token"})
    with pytest.raises(AuthenticationError, match="HTTP 401"):
        _read(_oauth())
    assert sum(c.request.url.endswith("/oauth/token") for c in responses.calls) == 2
    assert sum(c.request.url.endswith("/items") for c in responses.calls) == 2


@responses.activate
def test_oauth2_refused_client_secret() -> None:
    responses.post(f"{BASE}/oauth/token", status=401, json={"error": "invalid_client"})
    with pytest.raises(AuthenticationError, match=r"token request .* failed \(HTTP 401\): invalid_client"):
        _read(_oauth())
