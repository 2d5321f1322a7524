"""JSON values that cannot be represented never cost more than their own record.

NaN/Infinity (Python's ``json`` accepts them), ``1e400`` (a float overflow), a 10,000-digit integer (Python
3.11 refuses to convert it), integers beyond 64 bits (the ledger's orjson refuses them), lone surrogates and
undecodable bytes, repeated keys: inside a record, that record becomes a rejection naming its source key, the
field path and the rule, with its raw text kept; the rest of the page is delivered. Outside the records (the
envelope) the page fails with a message naming the path. A UTF-8 byte-order mark is accepted, UTF-16/32 not.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import responses
from hostile_testlib import HostileServer, assert_rejection, assert_storable, rest_connector

from connectors.common.jsontext import find_problems, parse_json, render_json
from connectors.common.records import RecordRejection
from gateway.contract.connector import Page
from gateway.contract.errors import FatalSyncError, RetriableSyncError

BASE = "http://hostile.test"
URL = f"{BASE}/cases"
HUGE_INT = "9" * 10_000


def _page(middle: str, *, field: str = "amount") -> bytes:
    """Three records; the second carries ``middle`` (JSON text) in ``field``."""
    return (
        '{"code":0,"data":['
        '{"id":"R1","name":"张三","amount":1},'
        f'{{"id":"R2","name":"李四","{field}":{middle}}},'
        '{"id":"R3","name":"王五","amount":3}]}'
    ).encode()


def _read(connector: Any) -> list[Page]:
    return list(connector.read("cases", mode="full_refresh"))


HOSTILE = [
    ("NaN", "number.not_finite"),
    ("Infinity", "number.not_finite"),
    ("-Infinity", "number.not_finite"),
    ("1e400", "number.too_large"),
    ("-1e400", "number.too_large"),
    ("1" + "0" * 400 + ".5", "number.too_large"),
    (HUGE_INT, "number.too_large"),
    ("-" + HUGE_INT, "number.too_large"),
    (str(2**64), "number.too_large"),
    (str(-(2**63) - 1), "number.too_large"),
    ("123456789012345678901234567890", "number.too_large"),
    ('"\\ud800"', "text.invalid_surrogate"),
    ('"abc\\udfff"', "text.invalid_surrogate"),
    ('"\\ude00\\ud83d"', "text.invalid_surrogate"),  # a pair in the wrong order is two lone halves
]


@responses.activate
@pytest.mark.parametrize(("literal", "rule"), HOSTILE, ids=[h[0][:16] for h in HOSTILE])
def test_an_unrepresentable_value_rejects_only_its_record(literal: str, rule: str) -> None:
    responses.get(URL, body=_page(literal), content_type="application/json")
    (page,) = _read(rest_connector(BASE))
    assert [r.source_id for r in page.records] == ["R1", "R3"]
    for record in page.records:
        assert_storable(record)
    (reject,) = page.rejects
    rejection = assert_rejection(reject)
    assert rejection.source_id == "R2"
    assert [(i.record, i.field, i.rule) for i in rejection.issues] == [("R2", "amount", rule)]
    assert literal in rejection.raw  # the value as it came, in the raw text kept for the dead letter
    message = str(rejection)
    assert "hostile stream 'cases': record R2: amount:" in message and f"[{rule}]" in message


@responses.activate
def test_the_nested_path_and_every_problem_are_named() -> None:
    nested = '{"mobile":NaN,"history":[1,{"at":1e999}],"ok":"fine"}'
    responses.get(URL, body=_page(nested, field="applicant"), content_type="application/json")
    (page,) = _read(rest_connector(BASE))
    (rejection,) = page.rejects
    assert isinstance(rejection, RecordRejection)
    assert [(i.field, i.rule) for i in rejection.issues] == [
        ("applicant.mobile", "number.not_finite"),
        ("applicant.history.1.at", "number.too_large"),
    ]
    assert json.loads(rejection.raw.replace("NaN", "null").replace("1e999", "0"))["id"] == "R2"


@responses.activate
def test_the_64_bit_boundaries_and_19_digit_ids_are_delivered_exactly() -> None:
    body = (
        b'{"data":[{"id":"A","big":18446744073709551615,"small":-9223372036854775808,'
        b'"snowflake":1790000000000000001,"f":1.7976931348623157e308,"tiny":5e-324}]}'
    )
    responses.get(URL, body=body, content_type="application/json")
    (page,) = _read(rest_connector(BASE))
    (record,) = page.records
    assert record.payload["big"] == 2**64 - 1 and isinstance(record.payload["big"], int)
    assert record.payload["small"] == -(2**63)
    assert record.payload["snowflake"] == 1790000000000000001
    assert record.payload["f"] == 1.7976931348623157e308
    assert_storable(record)


@responses.activate
def test_a_bad_value_in_the_primary_key_leaves_the_key_unread() -> None:
    body = b'{"data":[{"id":NaN,"name":"x"},{"id":"\\ud800","name":"y"},{"id":"OK","name":"z"}]}'
    responses.get(URL, body=body, content_type="application/json")
    (page,) = _read(rest_connector(BASE))
    assert [r.source_id for r in page.records] == ["OK"]
    first, second = (assert_rejection(r) for r in page.rejects)
    assert first.source_id is None and first.issues[0].record == "?" and first.issues[0].field == "id"
    assert second.source_id is None and second.issues[0].rule == "text.invalid_surrogate"
    assert "record ?:" in str(first)


@responses.activate
def test_bytes_that_are_not_utf8_reject_only_their_record() -> None:
    body = '{"data":[{"id":"R1","name":"张三"},{"id":"R2","name":"'.encode() + b"\xd5\xc5\xc8\xfd" + b'"}]}'
    responses.get(URL, body=body, content_type="application/json")
    (page,) = _read(rest_connector(BASE))
    assert [r.source_id for r in page.records] == ["R1"]
    (rejection,) = page.rejects
    rejection = assert_rejection(rejection)
    assert rejection.source_id == "R2" and rejection.issues[0].rule == "text.invalid_encoding"
    assert "d5 c5 c8 fd" in rejection.issues[0].message


@responses.activate
def test_a_declared_gbk_body_still_reads() -> None:
    body = '{"data":[{"id":"R1","name":"张三"}]}'.encode("gbk")
    responses.get(URL, body=body, content_type="application/json; charset=GBK")
    (page,) = _read(rest_connector(BASE))
    assert page.records[0].payload["name"] == "张三" and not page.rejects


@responses.activate
def test_a_repeated_key_in_a_record_rejects_it_and_keeps_both_values() -> None:
    middle = '{"name":"李四","name":"李肆"}'
    responses.get(URL, body=_page(middle, field="applicant"), content_type="application/json")
    (page,) = _read(rest_connector(BASE))
    assert [r.source_id for r in page.records] == ["R1", "R3"]
    (rejection,) = page.rejects
    rejection = assert_rejection(rejection)
    assert [(i.field, i.rule) for i in rejection.issues] == [("applicant.name", "json.duplicate_key")]
    assert '"name":"李四","name":"李肆"' in rejection.raw
    assert "appears 2 times" in str(rejection)


@responses.activate
def test_a_repeated_primary_key_is_ambiguous_so_the_key_is_not_read() -> None:
    body = b'{"data":[{"id":"R1","id":"R9","name":"x"}]}'
    responses.get(URL, body=body, content_type="application/json")
    (page,) = _read(rest_connector(BASE))
    (rejection,) = page.rejects
    assert isinstance(rejection, RecordRejection) and rejection.source_id is None
    assert rejection.issues[0].field == "id" and rejection.issues[0].rule == "json.duplicate_key"


@responses.activate
@pytest.mark.parametrize(
    ("body", "path", "rule"),
    [
        (b'{"code":0,"code":1,"data":[{"id":"R1"}]}', "code", "json.duplicate_key"),
        (b'{"code":0,"data":[{"id":"R1"}],"data":[]}', "data", "json.duplicate_key"),
        (b'{"code":0,"meta":{"total":NaN},"data":[{"id":"R1"}]}', "meta.total", "number.not_finite"),
    ],
)
def test_a_broken_envelope_fails_the_page_naming_the_path(body: bytes, path: str, rule: str) -> None:
    responses.get(URL, body=body, content_type="application/json")
    with pytest.raises(FatalSyncError) as info:
        _read(rest_connector(BASE))
    assert not isinstance(info.value, RetriableSyncError)
    message = str(info.value)
    assert f"{path}: " in message and f"[{rule}]" in message and "envelope" in message


@responses.activate
def test_a_utf8_bom_is_accepted() -> None:
    responses.get(URL, body=b"\xef\xbb\xbf" + _page("2"), content_type="application/json")
    (page,) = _read(rest_connector(BASE))
    assert [r.source_id for r in page.records] == ["R1", "R2", "R3"]


@responses.activate
@pytest.mark.parametrize(("encoding", "name"), [("utf-16", "UTF-16"), ("utf-32", "UTF-32")])
def test_a_utf16_or_utf32_body_is_refused_clearly(encoding: str, name: str) -> None:
    responses.get(URL, body=_page("2").decode().encode(encoding), content_type="application/json")
    with pytest.raises(FatalSyncError) as info:
        _read(rest_connector(BASE))
    assert f"{name} byte-order mark" in str(info.value) and "RFC 8259" in str(info.value)


@responses.activate
def test_check_reports_ok_when_only_records_are_bad() -> None:
    responses.get(URL, body=_page("NaN"), content_type="application/json")
    result = rest_connector(BASE).check()
    assert result.ok, result.message


def test_fast_path_pages_are_not_screened() -> None:
    clean = [
        b'{"data":[{"id":"a","n":1,"f":1.5,"t":"\\ud83d\\ude00 \\u003c"}]}',
        b'{ "data" : [ { "id" : "a" , "ts" : "10:31:00" } ] }',
        b'{"data":[{"id":"a","projectNo":"370000202012300000001000","amount":1e16}]}',
        b'{"data":[{"id":"a","snowflake":9223372036854775807,"u":18446744073709551615}]}',
    ]
    for body in clean:
        document = parse_json(body)
        assert not document.screen, body


@pytest.mark.parametrize(
    "body",
    [
        b'{"a":1,"a":1}',
        b'{"x":{"a":"t:1","b":2,"a":"t:1"}}',
        b'{"k\\u003a":1,"a":1,"a":2}',  # an escaped colon could hide the lost colon
        b'[123456789012345678901]',
        b'{"n":-9223372036854775809}',
    ],
)
def test_what_orjson_accepts_silently_is_caught(body: bytes) -> None:
    document = parse_json(body)
    assert document.screen
    assert find_problems(document.value)


def test_render_keeps_every_token_as_it_came() -> None:
    text = '{"a":NaN,"b":[1e400,-Infinity],"c":"\\ud800","c":"张三","d":' + HUGE_INT + "}"
    document = parse_json(text.encode())
    assert render_json(document.value) == text


def test_a_real_server_serving_every_hostile_value_through_the_rest_connector() -> None:
    records = [f'{{"id":"OK{n}","v":{n}}}' for n in range(5)]
    records += [f'{{"id":"BAD{n}","v":{literal}}}' for n, (literal, _) in enumerate(HOSTILE)]
    records.append('{"id":"DUP","v":1,"v":2}')
    body = ('{"code":0,"data":[' + ",".join(records) + "]}").encode()
    with HostileServer() as server:
        server.route("/cases", body=body)
        (page,) = _read(rest_connector(server.url))
    assert [r.source_id for r in page.records] == [f"OK{n}" for n in range(5)]
    for record in page.records:
        assert_storable(record)
    rules = {r.source_id: assert_rejection(r).issues[0].rule for r in page.rejects}
    assert rules == {f"BAD{n}": rule for n, (_, rule) in enumerate(HOSTILE)} | {"DUP": "json.duplicate_key"}


@responses.activate
@pytest.mark.parametrize("selector", ["", "."])
def test_a_body_that_is_the_record_list_screens_each_record(selector: str) -> None:
    responses.get(URL, body=b'[{"id":"R1"},NaN,{"id":"R3","v":Infinity}]', content_type="application/json")
    (page,) = _read(rest_connector(BASE, stream={"record_selector": selector}))
    assert [r.source_id for r in page.records] == ["R1"]
    first, second = (assert_rejection(r) for r in page.rejects)
    assert (first.source_id, first.issues[0].field, first.issues[0].rule) == (None, "$", "number.not_finite")
    assert (second.source_id, second.issues[0].field) == ("R3", "v")


def test_a_real_server_bom_and_envelope_cases() -> None:
    with HostileServer() as server:
        c = rest_connector(server.url)
        server.route("/cases", body=b"\xef\xbb\xbf" + _page("2"))
        (page,) = _read(c)
        assert [r.source_id for r in page.records] == ["R1", "R2", "R3"]
        server.route("/cases", body=_page("2").decode().encode("utf-16"))
        with pytest.raises(FatalSyncError, match="UTF-16 byte-order mark"):
            _read(c)
        server.route("/cases", body=b'{"code":0,"data":[{"id":"R1"}],"data":[{"id":"R2"}]}')
        with pytest.raises(FatalSyncError, match=r"data: key \"data\" appears 2 times .*\[json.duplicate_key\]"):
            _read(c)


@responses.activate
@pytest.mark.parametrize("depth", [260, 900])
def test_a_record_nested_deeper_than_the_ledger_writes_rejects_only_its_record(depth: int) -> None:
    """orjson reads 1,024 levels and writes 255: such a record passed the reader and then failed the page — every
    run — when the ledger serialised it."""
    responses.get(URL, body=_page("[" * depth + "]" * depth), content_type="application/json")
    (page,) = _read(rest_connector(BASE))
    assert [r.source_id for r in page.records] == ["R1", "R3"]
    (reject,) = page.rejects
    rejection = assert_rejection(reject)
    assert rejection.source_id == "R2" and [i.rule for i in rejection.issues] == ["json.too_deep"]
    assert rejection.issues[0].field.startswith("amount.0.0")
