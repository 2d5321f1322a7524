"""Time formats in connector YAML (connectors/common/timeformats.py): one check for a stream's cursor_format and
param_format and a signature's timestamp.format, refusing the Java/.NET spelling the system's documentation uses
with the strftime form to write — the outside review's ``cursor_format: "yyyyMMddHHmmss"`` was accepted and the
sync then dead-lettered every record as cursor.format with a misleading paging message."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from connectors.common.timeformats import CURSOR_NAMES, SIGNATURE_NAMES, check_time_format, strftime_from_java
from connectors.http.signing import SignatureConfig
from connectors.rest import parse_config
from gateway.contract.errors import ConfigError

ZJJ = """\
kind: rest
name: zjj
auth:
  type: signature
  algorithm: md5
  secret: app_secret
  app_key_secret: app_id
  encoding: hex_upper
  timestamp: {format: "%Y%m%d%H%M%S", tz: Asia/Shanghai}
  nonce: {kind: uuid4_hex}
  canonical_query: {encoding: raw}
  string_to_sign: "{app_key}{timestamp}{nonce}{query}{secret}"
  headers: {X-App-Id: "{app_key}", X-Timestamp: "{timestamp}", X-Nonce: "{nonce}", X-Sign: "{signature}"}
check: {stream: cases}
streams:
  cases:
    path: /api/sgxk/list
    record_selector: data.list
    primary_key: sblsh
    ordered: true
    incremental: {cursor_field: gxsj, cursor_format: "%Y%m%d%H%M%S", timezone: "+08:00", param: beginTime}
    pagination: {type: page_number, page_param: pageNo, size_param: pageSize, size: 7, start: 1}
"""


def config(text: str) -> Any:
    return parse_config(yaml.safe_load(text) | {"base_url": "http://127.0.0.1:9"})


def test_the_review_connector_is_valid() -> None:
    assert config(ZJJ).streams["cases"].incremental.cursor_format == "%Y%m%d%H%M%S"


def test_a_java_cursor_format_is_refused_naming_the_field_and_the_strftime_form() -> None:
    with pytest.raises(ConfigError) as caught:
        config(ZJJ.replace('cursor_format: "%Y%m%d%H%M%S"', 'cursor_format: "yyyyMMddHHmmss"'))
    assert ("streams.cases.incremental.cursor_format: Value error, 'yyyyMMddHHmmss' is a Java/.NET date pattern; "
            "write the strftime form \"%Y%m%d%H%M%S\" (or one of iso8601, epoch_ms, epoch_s)") in str(caught.value)


def test_param_format_is_checked_the_same_way() -> None:
    text = ZJJ.replace('param: beginTime}', 'param: beginTime, param_format: "yyyy-MM-dd HH:mm:ss"}')
    with pytest.raises(ConfigError, match=r"incremental\.param_format: .*write the strftime form \"%Y-%m-%d %H:%M:%S\""):
        config(text)


def test_the_signature_timestamp_uses_the_same_check() -> None:
    text = ZJJ.replace('timestamp: {format: "%Y%m%d%H%M%S"', 'timestamp: {format: "yyyyMMddHHmmss"')
    with pytest.raises(ConfigError) as caught:
        config(text)
    assert ("auth.timestamp.format: Value error, 'yyyyMMddHHmmss' is a Java/.NET date pattern; write the strftime "
            "form \"%Y%m%d%H%M%S\" (or one of seconds, milliseconds, http_date)") in str(caught.value)
    with pytest.raises(ValidationError, match="is a Java/.NET date pattern"):
        SignatureConfig.model_validate(yaml.safe_load(text)["auth"])


@pytest.mark.parametrize("java, strftime", [
    ("yyyyMMddHHmmss", "%Y%m%d%H%M%S"),
    ("yyyy-MM-dd HH:mm:ss", "%Y-%m-%d %H:%M:%S"),
    ("yyyy-MM-dd'T'HH:mm:ss.SSS", "%Y-%m-%dT%H:%M:%S.%f"),
    ("yyyy/MM/dd hh:mm", "%Y/%m/%d %H:%M"),
])
def test_java_patterns_and_their_strftime_forms(java: str, strftime: str) -> None:
    assert strftime_from_java(java) == strftime
    with pytest.raises(ValueError, match=f'write the strftime form "{strftime}"'):
        check_time_format(java, names=CURSOR_NAMES, parse=True)
    assert check_time_format(strftime, names=CURSOR_NAMES, parse=True) == strftime


@pytest.mark.parametrize("value", ["iso8601", "epoch_ms", "epoch_s", "%Y-%m-%d %H:%M:%S", "%Y%m%d",
                                   "%Y-%m-%dT%H:%M:%S%z", "%Y%m%dT%H%M%SZ"])
def test_names_and_strftime_patterns_pass(value: str) -> None:
    assert check_time_format(value, names=CURSOR_NAMES, parse=True) == value


@pytest.mark.parametrize("value, said", [
    ("every", "a time format is one of iso8601, epoch_ms, epoch_s or a strftime pattern"),
    ("%Y-MM-dd", "mixes strftime directives with Java/.NET letters; write \"%Y-%m-%d\""),
    ("milliseconds", "a time format is one of iso8601"),  # a signature's name, not a cursor's
    ("", "a time format is one of"),
])
def test_what_is_refused(value: str, said: str) -> None:
    with pytest.raises(ValueError, match=said.replace("(", r"\(").replace(")", r"\)")):
        check_time_format(value, names=CURSOR_NAMES, parse=True)
    assert check_time_format("milliseconds", names=SIGNATURE_NAMES) == "milliseconds"
