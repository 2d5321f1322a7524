"""Division codes (``qhdm``, ``areaCode``) in full-width digits are read as the case model reads them, as ASCII —
so an order routes as ``370102`` does and a rating goes up with ``xzqh`` 370102; digits of other scripts, which
the case model refuses too, are refused by name instead of misrouting."""

from __future__ import annotations

from datetime import datetime, timedelta

import orjson
import pytest
from citizen_testlib import Pages, add_case, migrated, order, rating
from sqlalchemy import select

from gateway.citizen import load_citizen, sync_evaluations, sync_workorders
from gateway.citizen.conventions import from_evaluator, from_hotline, to_provincial
from gateway.citizen.settings import parse_citizen
from gateway.contract.errors import RecordRejected
from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar
from gateway.store import citizen as store
from gateway.store.tables import citizen_outbox

T = datetime(2026, 12, 1, 9, 0, tzinfo=BEIJING)


@pytest.mark.parametrize("code", ["３７０１０２", " 370102 ", "３７０１０２\u3000"])
def test_full_width_digits_are_ascii(code: str) -> None:
    assert from_hotline(order("G1", "待转派", T, T, qhdm=code)).division == "370102"
    ev = from_evaluator(rating("R1", "C1", 4, T, T, areaCode=code))
    assert ev.division == "370102" and to_provincial(ev)["xzqh"] == "370102"


@pytest.mark.parametrize("code", ["٣٧٠١٠٢", "३७०१०२", "37010２x"])
def test_other_digits_are_refused_by_name(code: str) -> None:
    for parse, raw, record in ((from_hotline, order("G1", "待转派", T, T, qhdm=code), "hotline:G1"),
                               (from_evaluator, rating("R1", "C1", 4, T, T, areaCode=code), "evaluator:R1")):
        with pytest.raises(RecordRejected) as caught:
            parse(raw)
        assert [(i.record, i.field) for i in caught.value.issues] == [(record, "division")]


def test_routes_compare_ascii_digits() -> None:
    settings = load_citizen()
    exact = settings.route("住房公积金", "370102")
    assert exact is not None and exact.division == "370102"
    assert settings.route("住房公积金", "３７０１０２") == exact
    text = ("evaluator: {endpoint: http://e}\nprovincial_pj: {endpoint: http://p}\nhotline: {endpoint: http://h}\n"
            "district: '３７０１０２'\nroutes:\n  - {category: 民政, division: '３７０１０３', dept_code: D, dept_name: N}\n")
    parsed = parse_citizen(text)
    assert parsed.district == "370102" and parsed.route("民政", "370103") is not None


def test_a_full_width_order_routes_and_a_rating_goes_up_in_ascii(sqlite_url: str) -> None:
    engine = migrated(sqlite_url)
    settings, calendar = load_citizen(), WorkCalendar.load()
    try:
        orders = [order("G-A", "待转派", T, T, ywfl="住房公积金", qhdm="370102"),
                  order("G-W", "待转派", T, T, ywfl="住房公积金", qhdm="３７０１０２")]
        report = sync_workorders(engine, settings, client=Pages(orders), calendar=calendar,  # type: ignore[arg-type]
                                 now=T + timedelta(minutes=3))
        assert report.new == 2 and report.rejected == 0
        add_case(engine, "C1", T - timedelta(hours=1))
        sync_evaluations(engine, settings, client=Pages([rating("R1", "C1", 4, T, T, areaCode="３７０１０２")]),  # type: ignore[arg-type]
                         calendar=calendar, now=T)
        with engine.connect() as conn:
            ascii_, wide = store.workorder(conn, "G-A"), store.workorder(conn, "G-W")
            payload = conn.execute(select(citizen_outbox.c.payload).where(citizen_outbox.c.key == "rating:R1")
                                   ).scalar_one()
        assert wide["division"] == "370102" and wide["dept_name"] == ascii_["dept_name"] == "住房公积金管理中心历下管理部"
        assert orjson.loads(payload)["xzqh"] == "370102"
    finally:
        engine.dispose()
