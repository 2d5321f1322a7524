"""The systems file's orchestration settings, refused when they load — each error naming the file, the line, the
system and the setting: a system's name (it becomes Airflow keys and the ledger's 64-character system column),
the retry policy, the task timeout, the Celery queue, six- and seven-field cron schedules; and the scheme of an
Airflow connection written without one (https, as the provider's form says)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.contract.errors import ConfigError
from gateway.kernel.config import airflow_connection, parse_systems, parse_systems_isolated
from gateway.kernel.schedules import check_schedule

WHERE = "/etc/tongban/systems.yaml"


def systems_text(**settings: object) -> str:
    lines = ["defaults: {lookback: 10m}", "systems:", "  good:", "    connector: rest", "    mapping: g.yaml",
             "  other:", "    connector: rest", "    mapping: o.yaml"]
    lines += [f"    {key}: {json.dumps(value, ensure_ascii=False)}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def load(text: str) -> object:
    return parse_systems(text, base_dir=Path("."), where=WHERE)


@pytest.mark.parametrize("name", ["sd civil2", "jn/gjj", "x" * 240, "济南公积金", "tab\there", "x" * 65])
def test_a_system_name_airflow_or_the_ledger_cannot_take_is_refused_naming_file_line_and_rule(name: str) -> None:
    text = systems_text().replace("  other:", f"  {json.dumps(name, ensure_ascii=False)}:")
    with pytest.raises(ConfigError) as caught:
        load(text)
    message = str(caught.value)
    assert message.startswith(f"{WHERE}: line 6: system "), message
    assert "1 to 64 ASCII letters, digits, '_', '.' or '-'" in message
    assert len(message) < 400  # a 240-character name is shown cut


@pytest.mark.parametrize("name", ["jn-gjj", "sd.civil", "A_1", "x" * 64])
def test_names_within_the_rule_load(name: str) -> None:
    assert name in load(systems_text().replace("  other:", f"  {name}:")).systems


def test_isolated_parsing_keeps_the_valid_systems_and_names_each_invalid_one() -> None:
    text = systems_text(retries="three").replace("  good:", "  'bad name':\n    connector: rest\n    mapping: b.yaml\n"
                                                              "  good:")
    systems, problems = parse_systems_isolated(text, base_dir=Path("."), where=WHERE)
    assert systems.names() == ["good"]
    assert list(problems) == ["bad name", "other"]
    assert str(problems["bad name"]).startswith(f"{WHERE}: line 3: system bad name: the name 'bad name' is not valid")
    assert str(problems["other"]).startswith(f"{WHERE}: line 12: system other: retries:")
    with pytest.raises(ConfigError, match="system bad name"):  # the strict loader raises the first, in file order
        load(text)


@pytest.mark.parametrize(("settings", "expected"), [
    ({"retry_delay": -5}, r"line 9: system other: retry_delay: Value error, -5s is not a positive duration"),
    ({"retry_delay": "0s"}, r"line 9: system other: retry_delay: Value error, 0s is not a positive duration"),
    ({"max_retry_delay": "0s"}, r"line 9: system other: max_retry_delay: Value error, 0s is not a positive"),
    ({"retry_delay": "1h", "max_retry_delay": "1m"},
     r"line 10: system other: max_retry_delay: Value error, 60s is shorter than retry_delay \(3600s\)"),
    ({"execution_timeout": "0s"}, r"line 9: system other: execution_timeout: Value error, 0s is not a positive"),
    ({"execution_timeout": "ten minutes"}, r"line 9: system other: execution_timeout: Value error, 'ten minutes'"),
    ({"queue": "   "}, r"line 9: system other: queue: Value error, an empty Celery queue name"),
    ({"queue": ""}, r"line 9: system other: queue: Value error, an empty Celery queue name"),
    ({"max_lag": "0s"}, r"line 9: system other: max_lag: Value error, 0s is not a positive duration"),
    ({"lookback": -1}, r"line 9: system other: lookback: Value error, -1s is negative"),
])
def test_retry_timeout_and_queue_settings_airflow_would_misread_are_refused(settings: dict[str, object],
                                                                              expected: str) -> None:
    with pytest.raises(ConfigError, match=f"^{WHERE}: {expected}"):
        load(systems_text(**settings))


def test_a_bad_default_is_reported_at_the_defaults_line() -> None:
    text = systems_text().replace("defaults: {lookback: 10m}", "defaults: {lookback: 10m, max_retry_delay: 0s}")
    with pytest.raises(ConfigError, match=f"^{WHERE}: line 1: system good: max_retry_delay"):
        load(text)


def test_valid_settings_load_and_the_queue_is_stripped() -> None:
    other = load(systems_text(retry_delay="10s", max_retry_delay="10s", execution_timeout="30m",
                              queue="  dept_net ")).get("other")
    assert (other.retry_delay, other.max_retry_delay) == (timedelta(seconds=10), timedelta(seconds=10))
    assert other.execution_timeout == timedelta(minutes=30) and other.queue == "dept_net"
    good = load(systems_text()).get("good")
    assert good.execution_timeout == timedelta(hours=2) and good.queue is None and good.lookback == timedelta(minutes=10)


@pytest.mark.parametrize(("schedule", "equivalent"), [
    ("0 */10 * * * *", '; write "*/10 * * * *"'),  # Quartz: every ten minutes; croniter ran it every second
    ("0 0 9 * * *", '; write "0 9 * * *"'),
    ("0 0 9 ? * MON-FRI", '; write "0 9 * * MON-FRI"'),
    ("0 0 9 * * ? *", '; write "0 9 * * *"'),  # seven fields: the year
    ("0 0 9 ? * 2", "; write it with five fields"),  # Quartz's 2 is Monday, cron's Tuesday: no guess
    ("*/10 * * * * *", "; write it with five fields"),
    ("0 0 9 * * * 2027", "; write it with five fields"),
])
def test_six_and_seven_field_cron_schedules_are_refused_naming_system_line_and_the_five_field_form(
        schedule: str, equivalent: str) -> None:
    with pytest.raises(ValueError, match="fields: the sync DAG takes five") as direct:
        check_schedule(schedule)
    assert equivalent in str(direct.value), str(direct.value)
    with pytest.raises(ConfigError) as caught:
        load(systems_text(schedule=schedule))
    message = str(caught.value)
    assert message.startswith(f"{WHERE}: line 9: system other: schedule: Value error, {schedule!r} has "), message
    assert equivalent in message


def test_five_field_schedules_and_presets_still_load() -> None:
    for schedule in ("*/10 * * * *", "0 9 * * MON-FRI", "@daily", "0 2 L * *"):
        assert load(systems_text(schedule=schedule)).get("other").schedule == schedule


@pytest.mark.parametrize(("raw", "endpoint"), [
    (json.dumps({"conn_type": "tongban_rest", "host": "approval.example.gov.cn", "extra": {"api_key": "k"}}),
     "https://approval.example.gov.cn"),
    ("tongban-rest://:s3cret@approval.example.gov.cn/?api_key=k", "https://approval.example.gov.cn"),
    ("tongban-soap://approval.example.gov.cn:8443/ws", "https://approval.example.gov.cn:8443/ws"),
    (json.dumps({"conn_type": "tongban_rest", "host": "approval.example.gov.cn", "port": 443}),
     "https://approval.example.gov.cn:443"),
    # http only when the connection says so
    (json.dumps({"conn_type": "tongban_rest", "host": "127.0.0.1", "port": 8101, "extra": {"scheme": "http"}}),
     "http://127.0.0.1:8101"),
    (json.dumps({"conn_type": "tongban_rest", "host": "http://127.0.0.1:8101"}), "http://127.0.0.1:8101"),
    ("tongban-rest://127.0.0.1:8101?scheme=http", "http://127.0.0.1:8101"),
    ("tongban-rest://127.0.0.1:8101?__extra__=%7B%22scheme%22%3A+%22http%22%7D", "http://127.0.0.1:8101"),
    ("http://hall.example:80/api", "http://hall.example:80/api"),
    (json.dumps({"conn_type": "http", "host": "hall.example", "port": 80}), "http://hall.example:80"),
])
def test_a_connection_without_a_scheme_is_called_over_https(monkeypatch: pytest.MonkeyPatch, raw: str,
                                                              endpoint: str) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_PROBE", raw)
    found = airflow_connection("probe")
    assert found["endpoint"] == endpoint
    assert "scheme" not in found["secrets"]


def test_a_retry_delay_longer_than_the_default_cap_raises_the_cap_to_it() -> None:
    """max_retry_delay is at least retry_delay: with only retry_delay written (1h, past the 30m default cap) the
    default was kept and the rule broken without a word (review of the change)."""
    other = load(systems_text(retry_delay="1h")).get("other")
    assert (other.retry_delay, other.max_retry_delay) == (timedelta(hours=1), timedelta(hours=1))
