"""Config validation (clear errors by YAML path), the shipped examples, and cursor formats."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from importlib.metadata import entry_points
from typing import Any

import pytest
import yaml
from rest_testlib import REPO, example

from connectors.rest import CursorCodec, RestConnector, parse_config
from connectors.rest.config import CursorPagination, HmacAuthConfig, PageNumberPagination
from gateway.contract.errors import ConfigError

BEIJING = timezone(timedelta(hours=8))
ISO = "2024-03-05T10:31:00+08:00"


def _minimal(**stream: Any) -> dict[str, Any]:
    return {"base_url": "http://x.test", "streams": {"cases": {"path": "/c", "primary_key": "id", **stream}}}


@pytest.mark.parametrize("name", ["civil", "estate", "hall", "social"])
def test_examples_are_valid(name: str) -> None:
    raw = yaml.safe_load(example(name).read_text(encoding="utf-8"))
    assert "base_url" not in raw  # injected from the systems config
    config = parse_config(raw | {"base_url": "http://127.0.0.1:8101/"})
    assert config.base_url == "http://127.0.0.1:8101"
    assert config.name == name


def test_estate_example_details() -> None:
    raw = yaml.safe_load(example("estate").read_text(encoding="utf-8"))
    config = parse_config(raw | {"base_url": "http://127.0.0.1:8102"})
    assert isinstance(config.auth, HmacAuthConfig)
    assert config.auth.string_to_sign == "{method}\n{path_qs}\n{timestamp}\n{nonce}\n{body_sha256}"
    assert isinstance(config.streams["business"].pagination, CursorPagination)


def test_missing_base_url() -> None:
    with pytest.raises(ConfigError, match="base_url: missing"):
        parse_config({"streams": {}})


def test_typo_is_reported_by_yaml_path() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(_minimal(pagination={"type": "page_number", "page_parm": "pageNo"}))
    assert "streams.cases.pagination.page_parm: Extra inputs are not permitted" in str(info.value)


def test_every_problem_is_listed_with_its_path() -> None:
    config = _minimal(pagination={"type": "page_number", "size": 0}) | {
        "auth": {"type": "api_key"},
        "retry": {"max_attempts": 0},
    }
    with pytest.raises(ConfigError) as info:
        parse_config(config)
    message = str(info.value)
    assert "auth.secret: Field required" in message
    assert "retry.max_attempts: Input should be greater than or equal to 1" in message
    assert "streams.cases.pagination.size: Input should be greater than or equal to 1" in message


def test_unknown_auth_or_pagination_type() -> None:
    with pytest.raises(ConfigError, match=r"auth: Input tag 'digest' found using 'type' does not match"):
        parse_config(_minimal() | {"auth": {"type": "digest"}})


def test_positional_paging_of_an_unordered_incremental_stream_is_refused() -> None:
    incremental = {"cursor_field": "t", "param": "since"}
    with pytest.raises(ConfigError, match="streams.cases: .*needs ordered: true"):
        parse_config(_minimal(ordered=False, incremental=incremental, pagination={"type": "offset"}))
    parse_config(_minimal(ordered=False, incremental=incremental, pagination={"type": "cursor"}))


def test_check_stream_must_exist_and_bad_timezone() -> None:
    with pytest.raises(ConfigError, match="check.stream 'x' is not one of streams"):
        parse_config(_minimal() | {"check": {"stream": "x"}})
    with pytest.raises(ConfigError, match="streams.cases.incremental.timezone"):
        parse_config(_minimal(incremental={"cursor_field": "t", "param": "p", "timezone": "Asia/Shanghai"}))


def test_defaults() -> None:
    config = parse_config(_minimal(pagination={"type": "page_number"}))
    assert config.retry.retry_statuses == {429, 500, 502, 503, 504}
    assert config.timeout.connect == 5 and config.timeout.read == 30
    assert isinstance(config.streams["cases"].pagination, PageNumberPagination)
    assert config.streams["cases"].pagination.start == 1


def test_entry_point_is_registered() -> None:
    eps = [ep for ep in entry_points(group="tongban.connectors") if ep.name == "rest"]
    if not eps:
        pytest.skip("package not installed in this venv (entry points come from the installed metadata)")
    assert eps[0].load() is RestConnector


@pytest.mark.parametrize(
    ("fmt", "raw", "expected", "formatted"),
    [
        ("%Y-%m-%d %H:%M:%S", "2024-03-05 10:31:00", datetime(2024, 3, 5, 10, 31, tzinfo=BEIJING), None),
        ("%Y%m%d%H%M%S", "20240305103100", datetime(2024, 3, 5, 10, 31, tzinfo=BEIJING), None),
        ("epoch_ms", 1709605860123, datetime(2024, 3, 5, 10, 31, 0, 123000, tzinfo=BEIJING), "1709605860123"),
        ("epoch_s", "1709605860", datetime(2024, 3, 5, 10, 31, tzinfo=BEIJING), "1709605860"),
        ("iso8601", "2024-03-05T02:31:00Z", datetime(2024, 3, 5, 10, 31, tzinfo=BEIJING), ISO),
        ("iso8601", "2024-03-05T10:31:00", datetime(2024, 3, 5, 10, 31, tzinfo=BEIJING), ISO),
    ],
)
def test_cursor_formats(fmt: str, raw: Any, expected: datetime, formatted: str | None) -> None:
    codec = CursorCodec(fmt, BEIJING)
    parsed = codec.parse(raw)
    assert parsed == expected and parsed.tzinfo is not None
    assert codec.format(parsed) == (formatted or raw)


def test_cursor_parameters_round_down_never_up() -> None:
    moment = datetime(2024, 3, 5, 10, 31, 0, 999999, tzinfo=BEIJING)
    assert CursorCodec("epoch_ms", BEIJING).format(moment) == "1709605860999"
    assert CursorCodec("epoch_s", BEIJING).format(moment) == "1709605860"
    assert CursorCodec("%Y-%m-%d %H:%M:%S", BEIJING).format(moment) == "2024-03-05 10:31:00"


@pytest.mark.parametrize("raw", [None, "", "2024/03/05 10:31:00", "2024-03-05", True, {"t": 1}])
def test_unreadable_cursors_raise_value_error(raw: Any) -> None:
    with pytest.raises(ValueError):
        CursorCodec("%Y-%m-%d %H:%M:%S", BEIJING).parse(raw)


def test_readme_examples_match_the_shipped_files() -> None:
    """The README's per-system examples are the documentation people copy: keep them equal to examples/."""
    readme = (REPO / "connectors" / "rest" / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The sandbox systems", 1)[1]
    blocks = [block.split("```", 1)[0] for block in section.split("```yaml\n")[1:]]
    documented = {yaml.safe_load(block)["name"]: yaml.safe_load(block) for block in blocks}
    assert set(documented) == {"civil", "estate", "hall", "social"}
    for name, config in documented.items():
        shipped = yaml.safe_load(example(name).read_text(encoding="utf-8"))
        assert config == shipped, name
