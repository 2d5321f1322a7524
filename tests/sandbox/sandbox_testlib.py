"""HTTP helpers for the sandbox tests, written from the README independently of the sandbox code."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from typing import Any

import requests

CIVIL_KEY = "civil-demo-key"
ESTATE_APP, ESTATE_SECRET = "estate-demo", "estate-demo-secret"


class EstateClient:
    """Signs requests the way README says, without using the sandbox's own signing code."""

    def __init__(self, base: str, app_id: str = ESTATE_APP, secret: str = ESTATE_SECRET) -> None:
        self.base, self.app_id, self.secret = base, app_id, secret
        self.session = requests.Session()

    def headers(self, method: str, target: str, body: bytes = b"", *, nonce: str | None = None,
                ts: int | None = None, secret: str | None = None) -> dict[str, str]:
        ts_s = str(int(time.time()) if ts is None else ts)
        nonce = nonce or uuid.uuid4().hex
        text = "\n".join((method, target, ts_s, nonce, hashlib.sha256(body).hexdigest()))
        sig = hmac.new((secret or self.secret).encode(), text.encode(), hashlib.sha256).hexdigest()
        return {"X-App-Id": self.app_id, "X-Timestamp": ts_s, "X-Nonce": nonce, "X-Signature": sig}

    def get(self, target: str, **kw: Any) -> requests.Response:
        return self.session.get(self.base + target, headers=self.headers("GET", target, **kw))

    def put(self, target: str, body: bytes, key: str) -> requests.Response:
        h = self.headers("PUT", target, body)
        h.update({"Idempotency-Key": key, "Content-Type": "application/json"})
        return self.session.put(self.base + target, data=body, headers=h)


def civil_get(base: str, **params: Any) -> requests.Response:
    return requests.get(base + "/api/v1/approvals", params=params, headers={"X-Api-Key": CIVIL_KEY})


def admin(base: str, path: str, body: Any = None) -> Any:
    r = requests.post(base + path, json=body) if body is not None else requests.get(base + path)
    r.raise_for_status()
    return r.json()


def records(base: str) -> list[dict[str, Any]]:
    import json

    r = requests.get(base + "/_sandbox/records")
    r.raise_for_status()
    return [json.loads(line) for line in r.text.splitlines() if line]
