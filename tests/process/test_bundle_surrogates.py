"""A lone surrogate ("\ud800", which JSON can carry and no UTF-8 text can) anywhere in a bundle application is a
broken rule like any other (422 over the API), never a TypeError deep in hashing or storing it (a 500)."""

from __future__ import annotations

import json
import types
from typing import Any

import pytest
from bundles_testlib import SPEC, application

from gateway.contract.errors import RecordRejected
from gateway.process.bundles import apply_bundle
from gateway.store import bundles as store
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade

LONE = json.loads('"\\u6d4e\\u5357\\ud800\\u516c\\u53f8"')  # 济南?公司 with a lone high surrogate


def _with_surrogate(where: str) -> tuple[dict[str, Any], str]:
    app = application("HALL-BAD")
    if where == "form":
        app["form"]["company_name"] = LONE
        return app, "form.company_name"
    if where == "key":
        app["form"][LONE] = "x"
        return app, "form.济南\\ud800公司"
    if where == "material":
        app["materials"][0] = {"code": app["materials"][0]["code"], "text": LONE, "media_type": "text/plain"}
        return app, "materials.0.text"
    app["reference"] = LONE
    return app, "reference"


@pytest.mark.parametrize("where", ["form", "key", "material", "reference"])
def test_a_lone_surrogate_is_a_broken_rule_and_nothing_is_stored(sqlite_url: str, where: str) -> None:
    """Review r3 (end): apply_bundle raised TypeError from orjson on the application's hash: a 500, not a 422."""
    app, field = _with_surrogate(where)
    with pytest.raises(RecordRejected) as caught:
        SPEC.check(app)
    assert [(i.field, i.rule) for i in caught.value.issues] == [(field, "bundle.text")]
    str(caught.value).encode("utf-8")  # the message itself is writable (a 422 body, a log line)
    engine = make_engine(sqlite_url)
    upgrade(engine)
    systems = types.SimpleNamespace(systems={"sd_market": 1, "jn_seal": 1, "jn_tax": 1})
    with pytest.raises(RecordRejected):
        apply_bundle(engine, SPEC, app, systems=systems, pii=None)
    with engine.connect() as conn:
        assert store.applications(conn) == []
    engine.dispose()
