"""The foreign payload parsers, held to their promise whatever arrives: a usable record comes out, or a
RecordRejected naming the record, the field and the rule — never another exception."""

from __future__ import annotations

from datetime import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.citizen.conventions import from_evaluator, from_hotline, named_case, to_provincial
from gateway.citizen.models import Level
from gateway.contract.errors import RecordRejected
from sandbox.evaluator import generate as generate_ratings
from sandbox.hotline import generate as generate_orders

_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                     max_leaves=12)
RATING = generate_ratings(7, 80).ratings[5]
ORDER = generate_orders(7, 5)[3]


def _one_of_ours(fn, payload) -> None:
    try:
        fn(payload)
    except RecordRejected as exc:
        assert exc.issues and all(i.record and i.field and i.rule for i in exc.issues)


@settings(max_examples=300, deadline=None)
@given(_json)
def test_any_json_is_parsed_or_rejected_by_name(payload) -> None:
    _one_of_ours(from_evaluator, payload)
    _one_of_ours(from_hotline, payload)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(RATING)), _json)
def test_a_rating_with_any_field_replaced(field, value) -> None:
    _one_of_ours(from_evaluator, {**RATING, field: value})


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(ORDER)), _json)
def test_an_order_with_any_field_replaced(field, value) -> None:
    _one_of_ours(from_hotline, {**ORDER, field: value})


@given(st.integers(1, 5), st.sampled_from(["pc", "app", "qrcode", "device", "sms"]))
def test_the_provincial_codes_run_the_other_way(grade, channel) -> None:
    ev = from_evaluator({**RATING, "grade": grade, "channel": channel})
    fields = to_provincial(ev)
    assert fields["pjdj"] == f"0{6 - grade}"  # 5 非常满意 → 01, 1 非常不满意 → 05
    assert ev.bad == (ev.level in (Level.DISSATISFIED, Level.VERY_DISSATISFIED))
    assert fields["pjsj"] == datetime.strptime(RATING["ratedAt"], "%Y-%m-%d %H:%M:%S").strftime("%Y%m%d%H%M%S")


def test_the_case_a_citizen_names() -> None:
    assert named_case("370102202609010001", "") == "370102202609010001"
    assert named_case(None, "投诉：…，办件编号：370102202609010001，请处理") == "370102202609010001"
    assert named_case("", "办件编号 370102202609010002") == "370102202609010002"
    assert named_case(None, "没有编号") is None


def test_every_generated_record_parses() -> None:
    assert len([from_evaluator(r) for r in generate_ratings(3, 200).ratings]) > 100
    assert len([from_hotline(o) for o in generate_orders(3, 100)]) == 100
