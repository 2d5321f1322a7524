"""A record's raw payload is written as the same bytes whether or not it holds keys that are not text: the hash
of those bytes is how an unchanged record is skipped, so a cheaper write that changed them would make every
record of every system look changed once (a version and a push each)."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.sync.ingest import raw_json

_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text() | st.integers(-1000, 1000), inner,
                                                                max_size=4),
    max_leaves=20)


@settings(max_examples=500, deadline=None)
@given(_VALUES)
def test_the_bytes_are_those_of_the_non_text_keys_option(value: Any) -> None:
    try:
        expected = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        return  # refused either way: the record is dead-lettered (payload.unserialisable)
    assert raw_json(value) == expected


def test_int_keys_are_written_as_text() -> None:
    assert raw_json({1: "a", "b": {2: None}}) == b'{"1":"a","b":{"2":null}}'
