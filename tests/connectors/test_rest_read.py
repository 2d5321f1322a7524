"""Reading with the three sandbox configurations (one per pagination style) plus offset paging, envelopes,
rejects and check(). HTTP is mocked with ``responses``; the changing table is in test_rest_reanchor.py."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import responses
import yaml
from rest_testlib import example

from connectors.rest import RestConnector
from gateway.contract.connector import StreamInfo
from gateway.contract.errors import FatalSyncError, SkippableSyncError

BEIJING = timezone(timedelta(hours=8))
ESTATE = "http://estate.test"
ESTATE_SECRETS = {"app_id": "estate-demo", "secret": "estate-demo-secret"}


def _example(name: str, base_url: str, **overrides: Any) -> dict[str, Any]:
    config = yaml.safe_load(example(name).read_text(encoding="utf-8"))
    config["base_url"] = base_url
    config["retry"] = {"max_attempts": 2}
    config.update(overrides)
    return config


def _query(call: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(call.request.url).query).items()}


# --- civil: page numbers inside an envelope ---------------------------------------------------------------


CIVIL = "http://civil.test"
CIVIL_URL = f"{CIVIL}/api/v1/approvals"
CIVIL_SECRETS = {"api_key": "civil-demo-key"}


def _civil(size: int = 2) -> RestConnector:
    config = _example("civil", CIVIL)
    config["streams"]["cases"]["pagination"]["size"] = size
    return RestConnector(config, secrets=CIVIL_SECRETS, sleep=lambda s: None)


def _rows(*rows: dict[str, Any]) -> dict[str, Any]:
    return {"code": 0, "msg": "success", "data": {"total": 99, "rows": list(rows)}}


def _case(id_: str, time: str, **extra: Any) -> dict[str, Any]:
    return {"id": id_, "updateTime": time, **extra}


@responses.activate
def test_civil_page_number_reads_reanchor_on_the_cursor() -> None:
    # re-anchored at the lower of page 1's last two (A's 10:00: a last record out of place would not carry the
    # anchor past the records after it), the source answers A and B again (read once), then its second page
    responses.get(CIVIL_URL, json=_rows(_case("A", "2024-03-05 10:00:00"), _case("B", "2024-03-05 10:01:00")))
    responses.get(CIVIL_URL, json=_rows(_case("A", "2024-03-05 10:00:00"), _case("B", "2024-03-05 10:01:00")))
    responses.get(CIVIL_URL, json=_rows(_case("C", "2024-03-05 10:02:00")))
    pages = list(_civil().read("cases", since=datetime(2024, 3, 5, 9, 0, tzinfo=BEIJING)))

    assert [[r.source_id for r in p.records] for p in pages] == [["A", "B"], [], ["C"]]
    first = pages[0].records[0]
    assert first.cursor == datetime(2024, 3, 5, 10, 0, tzinfo=BEIJING)
    assert first.payload["updateTime"] == "2024-03-05 10:00:00"
    assert [p.checkpoint for p in pages] == [
        {"cursor": "2024-03-05T10:01:00+08:00"},
        {"cursor": "2024-03-05T10:01:00+08:00"},
        {"cursor": "2024-03-05T10:02:00+08:00"},
    ]
    queries = [_query(c) for c in responses.calls]
    assert queries == [
        {"updatedSince": "2024-03-05 09:00:00", "pageNo": "1", "pageSize": "2"},
        {"updatedSince": "2024-03-05 10:00:00", "pageNo": "1", "pageSize": "2"},
        {"updatedSince": "2024-03-05 10:00:00", "pageNo": "2", "pageSize": "2"},
    ]
    assert all(c.request.headers["X-Api-Key"] == "civil-demo-key" for c in responses.calls)


@responses.activate
def test_since_in_another_zone_is_sent_in_the_systems_zone() -> None:
    responses.get(CIVIL_URL, json=_rows())
    list(_civil().read("cases", since=datetime(2024, 3, 5, 2, 0, tzinfo=timezone.utc)))
    assert _query(responses.calls[0])["updatedSince"] == "2024-03-05 10:00:00"


@responses.activate
def test_envelope_code_not_zero_is_fatal_with_the_servers_message() -> None:
    responses.get(CIVIL_URL, json={"code": 500101, "msg": "数据库连接失败", "data": None})
    with pytest.raises(FatalSyncError, match=r"code = 500101, expected 0: 数据库连接失败"):
        list(_civil().read("cases"))


@responses.activate
def test_missing_primary_key_or_bad_cursor_is_a_reject_not_a_failure() -> None:
    responses.get(
        CIVIL_URL,
        json=_rows(
            _case("A", "2024-03-05 10:00:00"),
            {"updateTime": "2024-03-05 10:00:30", "projectNo": "370000"},  # no id
            _case("", "2024-03-05 10:00:40"),  # empty id
            _case("B", "2024/03/05 10:01:00"),  # another date format
            "not an object",
            _case("C", "2024-03-05 10:02:00"),
        ),
    )
    (page,) = list(_civil(size=100).read("cases"))
    assert [r.source_id for r in page.records] == ["A", "C"]
    assert len(page.rejects) == 4
    assert all(isinstance(r, SkippableSyncError) for r in page.rejects)
    assert json.loads(page.rejects[0].raw) == {"updateTime": "2024-03-05 10:00:30", "projectNo": "370000"}
    assert "primary key 'id'" in str(page.rejects[0])
    assert page.rejects[2].source_id == "B" and "updateTime" in str(page.rejects[2])
    # each names its field and rule, so dead letters group by them
    assert [(i.field, i.rule) for r in page.rejects for i in r.issues] == [
        ("id", "record.key_missing"), ("id", "record.key_missing"), ("updateTime", "cursor.format"),
        ("$", "record.not_object")]
    assert page.checkpoint == {"cursor": "2024-03-05T10:02:00+08:00"}


@responses.activate
def test_record_selector_that_finds_no_list_is_fatal() -> None:
    responses.get(CIVIL_URL, json={"code": 0, "data": {"rows": {"id": "A"}}})
    with pytest.raises(FatalSyncError, match=r"data.rows is a dict, expected a list"):
        list(_civil().read("cases"))


@responses.activate
def test_check_ok_and_not_ok_never_raises() -> None:
    responses.get(CIVIL_URL, json=_rows(_case("A", "2024-03-05 10:00:00")))
    responses.get(CIVIL_URL, status=401, json={"code": 401, "msg": "invalid api key"})
    connector = _civil()
    ok = connector.check()
    assert ok.ok and "1 record" in ok.message
    refused = connector.check()
    assert not refused.ok and "invalid api key" in refused.message


@responses.activate
def test_check_of_an_unreachable_system() -> None:
    responses.get(CIVIL_URL, body=requests.exceptions.ConnectionError("Connection refused"))
    result = _civil().check()
    assert not result.ok and "did not answer" in result.message and CIVIL_URL in result.message


def test_streams_describe_the_config() -> None:
    secrets = {"client_id": "a", "client_secret": "b"}
    connector = RestConnector(_example("hall", "http://hall.test"), secrets=secrets)
    assert connector.streams() == [
        StreamInfo(name="frontdesk", readable=True, writable=False, incremental=True, ordered=True),
        StreamInfo(name="cases", readable=False, writable=True, incremental=False, ordered=False),
    ]


# --- offset ------------------------------------------------------------------------------------------------


@responses.activate
def test_offset_pagination_without_cursor_walks_offsets() -> None:
    url = "http://offset.test/items"
    responses.get(url, json={"items": [{"id": 1}, {"id": 2}]})
    responses.get(url, json={"items": [{"id": 3}, {"id": 4}]})
    responses.get(url, json={"items": [{"id": 5}]})
    config = {
        "base_url": "http://offset.test",
        "streams": {
            "items": {
                "path": "/items",
                "params": {"status": "open"},
                "record_selector": "items",
                "primary_key": "id",
                "pagination": {"type": "offset", "offset_param": "offset", "limit_param": "limit", "size": 2},
            }
        },
    }
    pages = list(RestConnector(config).read("items", mode="full_refresh"))
    assert [r.source_id for p in pages for r in p.records] == ["1", "2", "3", "4", "5"]
    assert [_query(c) for c in responses.calls] == [
        {"status": "open", "offset": "0", "limit": "2"},
        {"status": "open", "offset": "2", "limit": "2"},
        {"status": "open", "offset": "4", "limit": "2"},
    ]


# --- estate: opaque cursor, epoch millis --------------------------------------------------------------------


@responses.activate
def test_estate_cursor_pagination_follows_next_cursor() -> None:
    url = f"{ESTATE}/open/v2/business"
    first = [{"ywh": "Y1", "gxsj_ms": 1709605860000}]
    responses.get(url, json={"success": True, "items": first, "next_cursor": "eyJrIjoxfQ"})
    second = [{"ywh": "Y2", "gxsj_ms": "1709605861500"}]
    responses.get(url, json={"success": True, "items": second, "next_cursor": None})
    connector = RestConnector(_example("estate", "http://estate.test"), secrets=ESTATE_SECRETS)
    pages = list(connector.read("business", since=datetime(2024, 3, 5, 10, 31, tzinfo=BEIJING)))
    records = [r for p in pages for r in p.records]
    assert [r.source_id for r in records] == ["Y1", "Y2"]
    assert records[0].cursor == datetime(2024, 3, 5, 10, 31, tzinfo=BEIJING)
    assert records[1].cursor == datetime(2024, 3, 5, 10, 31, 1, 500000, tzinfo=BEIJING)
    assert [_query(c) for c in responses.calls] == [
        {"modified_after": "1709605860000", "limit": "200"},
        {"modified_after": "1709605860000", "limit": "200", "cursor": "eyJrIjoxfQ"},
    ]
    assert pages[-1].checkpoint == {"cursor": "2024-03-05T10:31:01.500000+08:00"}


@responses.activate
def test_estate_full_refresh_sends_the_initial_value() -> None:
    responses.get(f"{ESTATE}/open/v2/business", json={"success": True, "items": [], "next_cursor": None})
    connector = RestConnector(_example("estate", ESTATE), secrets=ESTATE_SECRETS)
    list(connector.read("business", since=datetime(2024, 3, 5, tzinfo=BEIJING), mode="full_refresh"))
    assert _query(responses.calls[0]) == {"modified_after": "0", "limit": "200"}


@responses.activate
def test_estate_failure_envelope_names_the_error_field() -> None:
    responses.get(f"{ESTATE}/open/v2/business", json={"success": False, "error": "limit too large"})
    connector = RestConnector(_example("estate", ESTATE), secrets=ESTATE_SECRETS)
    with pytest.raises(FatalSyncError, match="success = False, expected True: limit too large"):
        list(connector.read("business"))


# --- hall: OAuth2, Link header, ISO cursor, list body -------------------------------------------------------


@responses.activate
def test_hall_link_header_pagination_follows_rel_next() -> None:
    base = "http://hall.test"
    responses.post(f"{base}/oauth/token", json={"access_token": "T", "expires_in": 300})
    first = [
        {"fd_id": "FD1", "updated_at": "2024-03-05T10:00:00+08:00"},
        {"fd_id": "FD2", "updated_at": "2024-03-05T02:01:00Z"},
    ]
    query = "changed_since=2024-03-05T10%3A00%3A00%2B08%3A00&per_page=50&page_token=p2"
    next_url = f"{base}/api/frontdesk/cases?{query}"
    responses.get(f"{base}/api/frontdesk/cases", json=first, headers={"Link": f'<{next_url}>; rel="next"'})
    last = [{"fd_id": "FD3", "updated_at": "2024-03-05T10:02:00+08:00"}]
    responses.get(f"{base}/api/frontdesk/cases", json=last)
    secrets = {"client_id": "tongban", "client_secret": "hall-demo-secret"}
    connector = RestConnector(_example("hall", base), secrets=secrets)
    pages = list(connector.read("frontdesk", since=datetime(2024, 3, 5, 10, 0, tzinfo=BEIJING)))

    records = [r for p in pages for r in p.records]
    assert [r.source_id for r in records] == ["FD1", "FD2", "FD3"]
    assert records[1].cursor == datetime(2024, 3, 5, 10, 1, tzinfo=BEIJING)
    gets = [c for c in responses.calls if c.request.method == "GET"]
    assert _query(gets[0]) == {"changed_since": "2024-03-05T10:00:00+08:00", "per_page": "50"}
    assert gets[1].request.url == next_url
    assert all(c.request.headers["Authorization"] == "Bearer T" for c in gets)


@responses.activate
def test_resume_from_checkpoint_wins_over_an_older_since() -> None:
    base = "http://hall.test"
    responses.post(f"{base}/oauth/token", json={"access_token": "T", "expires_in": 300})
    responses.get(f"{base}/api/frontdesk/cases", json=[])
    connector = RestConnector(_example("hall", base), secrets={"client_id": "a", "client_secret": "b"})
    list(
        connector.read(
            "frontdesk",
            since=datetime(2024, 1, 1, tzinfo=BEIJING),
            checkpoint={"cursor": "2024-03-05T10:02:00+08:00"},
        )
    )
    assert _query(responses.calls[1])["changed_since"] == "2024-03-05T10:02:00+08:00"


def test_unknown_stream_is_a_config_error() -> None:
    from gateway.contract.errors import ConfigError

    with pytest.raises(ConfigError, match="no readable stream 'nope'"):
        list(_civil().read("nope"))
