"""Property: whatever JSON value sits in whatever field of a source record — huge or non-finite numbers, lone
surrogates, repeated keys, nesting — reading it from a real server through ``RestConnector.read`` yields, for
every record, either a storable :class:`RawRecord` or a per-record rejection, and never raises.

The oracle is independent of the connector: the record is delivered exactly when Python's ``json`` with strict
hooks and orjson (the ledger's serialiser) both accept it unchanged.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hostile_testlib import HostileServer, assert_rejection, assert_storable, rest_connector
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.rest import RestConnector
from gateway.contract.errors import SkippableSyncError

_ALL_CHARACTERS = st.characters(codec=None, exclude_categories=())  # surrogates included


def _json_string(text: str) -> str:
    return json.dumps(text)  # ensure_ascii: a lone surrogate becomes a \udXXX escape


numbers = st.one_of(
    st.integers().map(str),
    st.integers(min_value=2**63 - 3, max_value=2**64 + 3).map(str),
    st.integers(min_value=-(2**63) - 3, max_value=-(2**63) + 3).map(str),
    st.integers(min_value=19, max_value=12_000).map(lambda n: "7" * n),
    st.floats(allow_nan=True, allow_infinity=True).map(json.dumps),  # NaN, Infinity, -Infinity as Python writes
    st.sampled_from(["1e400", "-1e400", "1E+999", "2e308", "1" + "0" * 330 + ".0", "5e-324", "-0.0", "1e16"]),
)
scalars = st.one_of(
    st.sampled_from(["null", "true", "false"]),
    numbers,
    st.text(alphabet=_ALL_CHARACTERS, max_size=8).map(_json_string),
)
keys = st.one_of(st.sampled_from(['"a"', '"b"', '"id"']), st.text(alphabet=_ALL_CHARACTERS, max_size=4).map(_json_string))
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4).map(lambda items: "[" + ",".join(items) + "]"),
        st.lists(st.tuples(keys, children), max_size=4).map(
            lambda pairs: "{" + ",".join(f"{k}:{v}" for k, v in pairs) + "}"),
    ),
    max_leaves=8,
)


def _strict_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("repeated key")
    return obj


def _refuse(token: str) -> Any:
    raise ValueError(token)


def _finite(token: str) -> float:
    number = float(token)
    if not math.isfinite(number):
        raise ValueError(token)
    return number


def _small_int(token: str) -> int:
    if len(token) > 25:
        raise ValueError(token)
    number = int(token)
    if not -(2**63) <= number < 2**64:
        raise ValueError(token)
    return number


def representable(record_text: str) -> bool:
    """The oracle: strict stdlib parse (no NaN, no overflow, no repeated key) and orjson can write it."""
    try:
        value = json.loads(record_text, object_pairs_hook=_strict_pairs, parse_constant=_refuse,
                           parse_float=_finite, parse_int=_small_int)
        orjson.dumps(value)  # refuses surrogates and integers beyond 64 bits
    except (ValueError, TypeError):
        return False
    return True


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[HostileServer, RestConnector]]:
    with HostileServer() as server:
        server.route("/cases", body=b'{"data":[]}')
        yield server, rest_connector(server.url)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(field=keys, value=values, position=st.integers(min_value=0, max_value=2))
def test_every_record_is_delivered_or_rejected_never_raised(
    served: tuple[HostileServer, RestConnector], field: str, value: str, position: int
) -> None:
    server, connector = served
    records = [f'{{"id":"R{n}","name":"记录{n}"}}' for n in range(3)]
    records[position] = f'{{"id":"R{position}","name":"记录{position}",{field}:{value}}}'
    server.route("/cases", body=('{"code":0,"data":[' + ",".join(records) + "]}").encode())

    pages = list(connector.read("cases", mode="full_refresh"))  # the property: this never raises

    delivered = {r.source_id: r for page in pages for r in page.records}
    rejects: list[SkippableSyncError] = [r for page in pages for r in page.rejects]
    assert len(delivered) + len(rejects) == 3
    for record in delivered.values():
        assert_storable(record)
    for reject in rejects:
        assert assert_rejection(reject).source_id in (None, f"R{position}")
    others = {f"R{n}" for n in range(3)} - {f"R{position}"}
    assert others <= set(delivered)
    assert (f"R{position}" in delivered) is representable(records[position]), records[position]
