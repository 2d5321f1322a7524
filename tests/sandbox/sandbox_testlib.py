"""HTTP helpers for the sandbox tests, written from the README independently of the sandbox code."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
import requests
from stdnum.cn import ric, uscc

from sandbox import start_all

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


# -- the two flat-record systems (social, welfare) ----------------------------------------------------------

OLD_PLACE_CODES = ("370181", "370125", "371202", "370101")  # former birthplace codes the README names


def flat_fixtures(system: str, generate: Callable[[int, int], dict[str, Any]], n: int) -> tuple[Any, ...]:
    """A one-system test module's fixtures: ``sb`` (seed 42 with ``n`` records, module-wide), ``fresh``
    (seed 5 with 200 records, one per test) and ``source`` (base records 0..n-1 of seed 42, from
    ``generate``)."""

    @pytest.fixture(scope="module")
    def sb() -> Iterator[Any]:
        handle = start_all(seed=42, records={system: n}, systems=(system,))
        yield handle
        handle.stop()

    @pytest.fixture()
    def fresh() -> Iterator[Any]:
        handle = start_all(seed=5, records={system: 200}, systems=(system,))
        yield handle
        handle.stop()

    @pytest.fixture(scope="module")
    def source() -> list[dict[str, Any]]:
        return [generate(42, i) for i in range(n)]

    return sb, fresh, source


def check_rule_breaking_shares(source: list[dict[str, Any]], issued: str, refusals: tuple[str, ...],
                               is_null: Callable[[Any], bool]) -> tuple[list[dict[str, Any]], ...]:
    """The README's shares of legitimate rule-breaking data, on records that name the fields as social does
    or in upper case (``bjjg``/``BJJG``…): a certificate case finished as ``issued`` names no certificate in
    20–40%, a refusal gives no reason in 55–85%, 3–8% carry a result code unfinished, 2–7% show the
    acceptance before the application (by at most 31 minutes). Returns the records (as given) of those
    finished certificate cases, of the swapped times and of the unfinished result codes."""
    low = [{k.lower(): v for k, v in r.items()} for r in source]
    n = len(low)
    cert_items = {r["jbbm"] for r in low if not is_null(r["zzmc"])}
    finished_cert = [i for i, r in enumerate(low)
                     if r["bjjg"] == issued and not is_null(r["bjsj"]) and r["jbbm"] in cert_items]
    no_cert = sum(is_null(low[i]["zzmc"]) and is_null(low[i]["zzbh"]) for i in finished_cert)
    no_cert /= len(finished_cert)
    refused = [r for r in low if r["bjjg"] in refusals]
    no_reason = sum(is_null(r["bjyy"]) for r in refused) / len(refused)
    unfinished = [i for i, r in enumerate(low) if not is_null(r["bjjg"]) and is_null(r["bjsj"])]
    swapped = [i for i, r in enumerate(low) if r["slsj"] < r["sqsj"]]
    assert 0.2 <= no_cert <= 0.4, no_cert
    assert 0.55 <= no_reason <= 0.85, no_reason
    assert 0.03 <= len(unfinished) / n <= 0.08, len(unfinished) / n
    assert 0.02 <= len(swapped) / n <= 0.07
    for i in swapped:
        gap = (datetime.strptime(low[i]["sqsj"], "%Y-%m-%d %H:%M:%S")
               - datetime.strptime(low[i]["slsj"], "%Y-%m-%d %H:%M:%S"))
        assert 0 < gap.total_seconds() <= 31 * 60
    return tuple([source[i] for i in idx] for idx in (finished_cert, swapped, unfinished))


def check_identifiers(source: list[dict[str, Any]], dept_code: str, *, dept_field: str, number_field: str,
                      number_prefix: str, resident: str, org: str,
                      others: tuple[str, ...] | None = None) -> None:
    """Valid identifiers throughout: the department's USCC (also at the head of every task code), record
    numbers ``number_prefix`` + 15 digits that the case numbers repeat after the division, unique; resident
    IDs (``zjlx`` ``resident``) pass GB 11643 with a real birth date, some with a former birthplace code;
    organisations (``org``) carry valid USCCs; any other ID type is one of ``others`` (unchecked if None)."""
    old, numbers = 0, set()
    assert uscc.is_valid(dept_code)
    for rec in source:
        r = {k.lower(): v for k, v in rec.items()}
        numbers.add(r[number_field])
        assert r[dept_field] == dept_code and r["sxbm"].startswith(dept_code)
        assert re.fullmatch(number_prefix + r"\d{15}", r[number_field])
        assert r["bjbh"][6:14] + r["bjbh"][15:] == r[number_field][len(number_prefix):]  # division, date, system, serial
        if r["zjlx"] == resident:
            assert ric.calc_check_digit(r["zjhm"]) == r["zjhm"][17]
            ric.get_birth_date(r["zjhm"])
            old += r["zjhm"][:6] in OLD_PLACE_CODES
        elif r["zjlx"] == org:
            assert uscc.is_valid(r["zjhm"]) and r["sqrlx"] == "2"
        elif others is not None:
            assert r["zjlx"] in others
    assert old > 5
    assert len(numbers) == len(source)
