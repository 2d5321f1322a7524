"""Shared setup of the citizen tests: the three sandbox systems on ephemeral ports, settings pointing at them,
a migrated ledger holding the collection point's generated cases."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any, NamedTuple

import orjson
import pytest
import requests

from gateway.citizen import HotlineClient, load_citizen
from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import cases
from sandbox.server import start_all

SYSTEMS = ("evaluator", "provincial_pj", "hotline")


ALL_CALLBACKS_COUNTED = datetime(2000, 1, 1, tzinfo=BEIJING)
"""A ``callbacks_from`` before the collection point's history: a district that took its 差评 over long ago, every
callback counted (the default cut-over, Tongban's first read, makes the sandbox's history the collection point's)."""


def point_settings(monkeypatch: pytest.MonkeyPatch, sandbox: Any, *, callbacks_from: datetime | None = None) -> Any:
    """Environment and settings for the running sandbox (what a deployment puts in its environment);
    ``callbacks_from``: the policy's cut-over of 差评 callbacks, when a test sets one."""
    creds = sandbox.credentials
    env = {"TONGBAN_EVALUATOR_URL": sandbox.urls["evaluator"],
           "TONGBAN_EVALUATOR_API_KEY": creds["evaluator"]["api_key"],
           "TONGBAN_PROVINCIAL_PJ_URL": sandbox.urls["provincial_pj"],
           "TONGBAN_PROVINCIAL_PJ_APP_ID": creds["provincial_pj"]["app_id"],
           "TONGBAN_PROVINCIAL_PJ_APP_KEY": creds["provincial_pj"]["app_key"],
           "TONGBAN_HOTLINE_URL": sandbox.urls["hotline"], "TONGBAN_HOTLINE_APPID": creds["hotline"]["appid"],
           "TONGBAN_HOTLINE_SECRET": creds["hotline"]["secret"]}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    settings = load_citizen()
    if callbacks_from is None:
        return settings
    return replace(settings, policy=replace(settings.policy, callbacks_from=callbacks_from))


def start(records: dict[str, int] | None = None) -> Any:
    return start_all(seed=42, records={"evaluator": 1000, "hotline": 300, **(records or {})}, systems=SYSTEMS)


def ledger_with_cases(database_url: str, sandbox: Any) -> Any:
    """A migrated ledger holding the collection point's cases (what the case syncs would have brought)."""
    engine = make_engine(database_url)
    upgrade(engine)
    generated = requests.get(sandbox.admin_urls["evaluator"] + "/_sandbox/cases", timeout=10).json()["cases"]
    now = datetime.now(BEIJING)
    rows = []
    for c in generated:
        finished = datetime.strptime(c["finished_at"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
        doc = {"case_no": c["case_no"], "finished_at": finished.isoformat(), "dept_code": c["dept_code"],
               "channel": c["channel"], "office": c["office"], "division_code": c["division"]}
        rows.append({"case_no": c["case_no"], "version": 1, "content_hash": "x" * 32,
                     "data": orjson.dumps(doc).decode(), "origin_system": "sd_hall", "origin_source_id": c["case_no"],
                     "source_updated_at": now, "dept_code": c["dept_code"], "item_code": None, "deleted": False,
                     "updated_at": now})
    if rows:
        with engine.begin() as conn:
            conn.execute(cases.insert(), rows)
    return engine


def hotline_clock(sandbox: Any, at: datetime) -> None:
    """Set the sandbox 12345 platform's clock (its time limits and stamps follow it)."""
    requests.post(sandbox.admin_urls["hotline"] + "/_sandbox/clock",
                  json={"now": at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")}, timeout=10).raise_for_status()


def hotline_platform(sandbox: Any) -> dict[str, Any]:
    """The sandbox 12345 platform's own view: its orders and what it received from Tongban, per key."""
    return requests.get(sandbox.admin_urls["hotline"] + "/_sandbox/orders", timeout=10).json()


def handed_at(order: dict[str, Any]) -> datetime:
    """When the platform handed the order out (派单时间, Beijing)."""
    return datetime.strptime(order["pdsj"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)


class Hotline(NamedTuple):
    """A running sandbox 12345 platform and what a test of it needs (:func:`hotline`)."""

    sandbox: Any
    settings: Any
    engine: Any
    calendar: WorkCalendar
    client: HotlineClient
    orders: list[dict[str, Any]]


@contextmanager
def hotline(database_url: str, monkeypatch: pytest.MonkeyPatch, orders: int) -> Iterator[Hotline]:
    """The sandbox with ``orders`` 12345 work orders, the settings pointing at it, a ledger of the collection
    point's cases, the work calendar, a platform client and the platform's orders; the sandbox stops after."""
    sandbox = start({"hotline": orders, "evaluator": 0})
    try:
        settings = point_settings(monkeypatch, sandbox)
        engine = ledger_with_cases(database_url, sandbox)
        yield Hotline(sandbox, settings, engine, WorkCalendar.load(), HotlineClient(settings.hotline),
                      hotline_platform(sandbox)["orders"])
    finally:
        sandbox.stop()


class CollectionPoint(NamedTuple):
    """A running sandbox 好差评 collection point and provincial system, settings pointing at them and a ledger of
    the collection point's cases (:func:`collection_point`)."""

    sandbox: Any
    settings: Any
    engine: Any


@contextmanager
def collection_point(database_url: str, monkeypatch: pytest.MonkeyPatch, ratings: int) -> Iterator[CollectionPoint]:
    """The sandbox with ``ratings`` generated ratings, the settings pointing at it and a ledger holding the
    collection point's cases; the sandbox stops after."""
    sandbox = start({"evaluator": ratings})
    try:
        yield CollectionPoint(sandbox, point_settings(monkeypatch, sandbox), ledger_with_cases(database_url, sandbox))
    finally:
        sandbox.stop()


# -- in-process pages, no sandbox: for the rules of one rating or one order ------------------------------------


class Pages:
    """A collection point or a platform serving the given pages, whatever the watermark (a re-read included)."""

    def __init__(self, *pages: list[dict[str, Any]]) -> None:
        self._pages = list(pages)

    def pages(self, since: Any) -> Iterator[list[dict[str, Any]]]:
        yield from self._pages

    def orders(self, since: Any, *, page_size: int = 100) -> Iterator[list[dict[str, Any]]]:
        yield from self._pages

    def close(self) -> None:
        pass


def migrated(database_url: str) -> Any:
    engine = make_engine(database_url)
    upgrade(engine)
    return engine


def rating(rating_id: str, case_no: str, grade: int, rated: datetime, changed: datetime, **extra: Any
           ) -> dict[str, Any]:
    """A rating as the collection point serves it (``updateTime`` in ms); ``areaCode`` 370102 unless given."""
    return {"ratingId": rating_id, "caseNo": case_no, "grade": grade, "channel": "pc", "areaCode": "370102",
            "ratedAt": rated.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
            "updateTime": int(changed.timestamp() * 1000), "comment": "", **extra}


def add_case(engine: Any, case_no: str, finished: datetime, **doc: Any) -> None:
    """A finished case in the ledger (what the case sync brings), with extra document fields."""
    data = {"case_no": case_no, "finished_at": finished.isoformat(), "dept_code": "D1", **doc}
    with engine.begin() as conn:
        conn.execute(cases.insert(), [{
            "case_no": case_no, "version": 1, "content_hash": "x" * 32, "data": orjson.dumps(data).decode(),
            "origin_system": "sd_hall", "origin_source_id": case_no, "source_updated_at": finished,
            "dept_code": "D1", "item_code": None, "deleted": False, "updated_at": finished}])


def order(order_no: str, status: str, handed: datetime, changed: datetime, **extra: Any) -> dict[str, Any]:
    """A 12345 work order as the platform serves it (民政, 370102: routed to the civil affairs bureau)."""
    def dash(moment: datetime) -> str:
        return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")

    return {"gdbh": order_no, "gdlx": "3", "ywfl": "民政", "qhdm": "370102", "nr": "投诉", "pdsj": dash(handed),
            "gxsj": dash(changed), "zt": status, "blsx": 1,
            **{k: dash(v) if isinstance(v, datetime) else v for k, v in extra.items()}}
