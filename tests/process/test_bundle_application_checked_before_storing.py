"""A 一件事 application is checked completely before anything is stored: what the merged form lets through but a
part's case would refuse (a channel the case model does not know, a required name that is only spaces, a division
the case model refuses) is a broken rule of the application — named by the application's reference, the field and
the rule — and nothing is stored, so a retry is refused the same way instead of finding a bundle that never moves.
The channel spellings the API documents (``app``, the national codes, the Chinese labels) are the case channels
they mean."""

from __future__ import annotations

import orjson
import pytest
import requests
import yaml
from bundles_testlib import CompanyWorld, application
from gateway_testlib import REPO, bearer
from sqlalchemy import func, select

from gateway.contract.errors import RecordRejected
from gateway.process.bundle_spec import BundleCatalogue
from gateway.process.bundles import BundleConsents, apply_bundle
from gateway.store.tables import bundle_applications, cases


def _bundles(world: CompanyWorld) -> int:
    with world.runtime.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(bundle_applications)).scalar_one())


def _case_channel(world: CompanyWorld, case_no: str) -> str | None:
    with world.runtime.engine.connect() as conn:
        data = conn.execute(select(cases.c.data).where(cases.c.case_no == case_no)).scalar_one()
    return orjson.loads(data).get("channel")  # type: ignore[no-any-return]


def test_documented_channels_are_case_channels_and_others_are_refused_with_nothing_stored(
        world: CompanyWorld) -> None:
    url = world.server.url + "/v1/bundles"
    hall = bearer(world.hall_credential)
    for n, (given, meant) in enumerate([("app", "mobile"), ("2", "online"), ("自助终端", "kiosk"),
                                        ("window", "window")]):
        app = application(f"CHANNEL-{n}")
        app["channel"] = given
        answer = requests.post(url, json=app, headers=hall, timeout=60)
        assert answer.status_code == 201, answer.text
        licence = next(p for p in answer.json()["parts"] if p["part"] == "licence")
        assert licence["state"] == "released" and _case_channel(world, licence["case_no"]) == meant
    assert _bundles(world) == 4

    for _ in range(2):  # refused, and refused again on the retry: nothing was stored the first time
        app = application("CHANNEL-TV")
        app["channel"] = "tv"
        answer = requests.post(url, json=app, headers=hall, timeout=60)
        assert answer.status_code == 422, answer.text
        problem = answer.json()
        assert problem["record"] == "CHANNEL-TV" and "YJS" not in problem["detail"]
        assert [(i["field"], i["rule"]) for i in problem["issues"]] == [("channel", "bundle.channel")]
    assert _bundles(world) == 4


def test_a_required_field_of_only_spaces_is_missing_and_nothing_is_stored(world: CompanyWorld) -> None:
    url = world.server.url + "/v1/bundles"
    hall = bearer(world.hall_credential)
    for _ in range(2):
        answer = requests.post(url, json=application("BLANK-NAME", company_name="\u3000\u3000", phone=" \u3000"),
                               headers=hall, timeout=60)
        assert answer.status_code == 422, answer.text
        named = {(i["field"], i["rule"]) for i in answer.json()["issues"]}
        assert named == {("form.company_name", "bundle.required"), ("form.phone", "bundle.required")}
    assert _bundles(world) == 0


def test_what_only_a_part_case_refuses_is_refused_before_anything_is_stored(world: CompanyWorld) -> None:
    # a definition whose division field has no pattern: the form takes "abc", no case has such a division
    data = yaml.safe_load((REPO / "config" / "bundles.yaml").read_text(encoding="utf-8"))
    del data["bundles"]["KBQY"]["form"]["division"]["pattern"]
    spec = BundleCatalogue.from_text(yaml.safe_dump(data, allow_unicode=True)).get("KBQY")
    with pytest.raises(RecordRejected) as refused:
        apply_bundle(world.runtime.engine, spec, application("BAD-DIVISION", division="abc"),
                     systems=world.runtime.systems, pii=world.runtime.pii, consents=BundleConsents.from_gateway(world.gw))
    assert refused.value.record == "BAD-DIVISION"
    assert {i.field for i in refused.value.issues} == {"form.division"}
    assert all(i.record == "BAD-DIVISION" for i in refused.value.issues)
    assert _bundles(world) == 0
