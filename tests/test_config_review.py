"""An outside review of the configuration (2026-12-07): a mistake in a systems file, a connector YAML, a calendar
or an Airflow connection — each one an engineer makes in an afternoon — is an error naming the file, the line
and the setting, and one system's mistake is that system's alone. Before, each of these raised a bare Python
exception (every DAG of ``dags/tongban.py`` gone, every task failing and retried, a CLI traceback), or loaded
silently and did something else than was written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.contract.errors import ConfigError
from gateway.kernel.config import SystemConfig, airflow_connection, parse_systems, parse_systems_isolated
from gateway.kernel.schedules import check_schedule, longest_gap
from gateway.kernel.yamlfile import load_yaml_document, read_config_text
from gateway.ops.deadlines.calendar import WorkCalendar

REPO = Path(__file__).resolve().parents[1]
WHERE = "/etc/tongban/systems.yaml"


def systems_text(*extra_lines: str, top: str = "") -> str:
    """``good`` and ``other``; ``extra_lines`` are settings of ``other`` (YAML as written, for YAML's own readings)."""
    lines = [*([top] if top else []), "defaults: {lookback: 10m}", "systems:", "  good:", "    connector: rest",
             "    mapping: g.yaml", "  other:", "    connector: rest", "    mapping: o.yaml"]
    return "\n".join([*lines, *(f"    {line}" for line in extra_lines)]) + "\n"


def isolated(text: str) -> tuple[object, dict[str, ConfigError]]:
    return parse_systems_isolated(text, base_dir=Path("."), where=WHERE)


# -- durations: an empty, listed, endless or base-60 value is that entry's error ---------------------------------


@pytest.mark.parametrize(("line", "setting"), [
    ("max_lag: ~", "max_lag"), ("max_lag:", "max_lag"), ("lookback: ~", "lookback"),
    ("retry_delay: [1m, 2m]", "retry_delay"), ("execution_timeout: 100000000000000", "execution_timeout"),
    ("max_lag: .inf", "max_lag"), ("max_lag: .nan", "max_lag"), ("execution_timeout: true", "execution_timeout"),
    ("execution_timeout: 99999999999d", "execution_timeout"), ("max_lag: 400d", "max_lag"),
])
def test_a_duration_that_is_none_of_30s_10m_2h_1d_is_that_entrys_error(line: str, setting: str) -> None:
    systems, problems = isolated(systems_text(line))
    assert systems.names() == ["good"], problems
    message = str(problems["other"])
    assert message.startswith(f"{WHERE}: line 9: system other: {setting}:"), message


@pytest.mark.parametrize(("line", "meant"), [("execution_timeout: 2:00", "2:00"), ("max_lag: 1:30", "1:30"),
                                             ("lookback: 1:00", "1:00"), ("push: {dead_after: 12:00}", "12:00")])
def test_a_base_60_number_yaml_made_of_hours_is_refused_not_read_as_seconds(line: str, meant: str) -> None:
    systems, problems = isolated(systems_text(line))
    assert "other" in problems, f"{line} loaded as {systems.systems.get('other')}"
    assert f"{meant} is " in str(problems["other"]) and "write 2h, 90m or 30s" in str(problems["other"])


def test_quoted_and_unit_durations_still_load() -> None:
    systems, problems = isolated(systems_text("execution_timeout: 2h", "max_lag: '3h'", "retry_delay: 90"))
    assert not problems
    other = systems.get("other")
    assert (other.execution_timeout, other.max_lag, other.retry_delay) == (
        timedelta(hours=2), timedelta(hours=3), timedelta(seconds=90))


# -- the file itself: encoding, nesting, numbers, aliases ------------------------------------------------------


def test_a_systems_file_saved_as_gbk_names_the_file_the_line_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "systems.yaml"
    path.write_bytes(systems_text("title: 济南市住房公积金").encode("gbk"))
    with pytest.raises(ConfigError) as caught:
        read_config_text(path)
    assert str(caught.value) == (f"{path}: line 9: the file is not UTF-8 (it reads as GBK/GB18030: a Chinese "
                                 "Windows editor's default): save it as UTF-8")


def test_a_bom_written_by_notepad_is_no_part_of_the_first_key(tmp_path: Path) -> None:
    path = tmp_path / "systems.yaml"
    path.write_bytes("\ufeff".encode() + systems_text().encode())
    assert parse_systems(read_config_text(path), base_dir=tmp_path).names() == ["good", "other"]


@pytest.mark.parametrize(("text", "said"), [
    ("a: " + "[" * 5000 + "]" * 5000, "nested too deeply"),
    ("a: 1" + "0" * 5000, "line 1: an integer of more than 4300 digits"),
    ("a: 2026-13-45", "a value cannot be read: month must be in 1..12"),
    ("x_meta: &loop [*loop]\n", "recursive alias"),
    ("x_meta: &loop {a: *loop}\n", "recursive alias"),
])
def test_yaml_no_configuration_needs_is_a_config_error_naming_the_file(text: str, said: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_yaml_document(text, where="conn.yaml")
    assert str(caught.value).startswith("conn.yaml") and said in str(caught.value)


@pytest.mark.timeout(120)
def test_an_alias_bomb_in_a_connector_config_is_read_once_per_value(tmp_path: Path) -> None:
    """Nine levels of ten aliases: 10**9 leaves to a walker that follows every alias (it never came back)."""
    lines = ["kind: rest", "x_0: &l0 [a, b, c, d, e, f, g, h, i, j]"]
    lines += [f"x_{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]" for n in range(1, 10)]
    (tmp_path / "bomb.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    system = SystemConfig(name="bomb", connector="rest", connector_config="bomb.yaml", mapping="m.yaml",
                          base_dir=tmp_path)
    assert system.load_connector_config()["kind"] == "rest"


# -- schedules: what Airflow's timetable refuses or never fires -------------------------------------------------


@pytest.mark.parametrize("schedule", ["0 0 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *", "０ */5 * * *",
                                      "0 0 ?,1 * *", "0 9 * * 5#3,1"])
def test_a_schedule_airflow_refuses_or_that_never_fires_is_refused_at_load(schedule: str) -> None:
    with pytest.raises(ValueError, match="not a schedule Airflow can run|not valid"):
        check_schedule(schedule)


def test_a_schedule_is_kept_as_airflow_reads_it() -> None:
    assert check_schedule("@hourly ") == "@hourly"
    assert check_schedule(" */15  * * * * ") == "*/15 * * * *"
    assert check_schedule("0 0 29 2 *") == "0 0 29 2 *"  # fires every four years: runs
    assert check_schedule("0 9 * * 5#3") == "0 9 * * 5#3"


# -- max_lag against the schedule --------------------------------------------------------------------------------


def test_a_nightly_system_is_not_behind_all_day_after_a_green_run() -> None:
    systems, problems = isolated(systems_text("schedule: '30 2 * * *'"))
    assert not problems
    assert longest_gap("30 2 * * *") == timedelta(days=1)
    assert systems.get("other").max_lag == timedelta(days=1, hours=2)  # the gap and the longest a run may take
    assert systems.get("good").max_lag == timedelta(hours=1)  # every 15 minutes: the default stands


def test_a_max_lag_shorter_than_the_schedules_gap_is_the_gap_plus_a_run_not_a_refusal() -> None:
    """Refusing it broke files that loaded before (``defaults: {max_lag: 2h}`` beside a nightly system; the gateway's
    issuers and the catalogues, which read the same model and never use it): it could only ever alert."""
    systems, problems = isolated(systems_text("schedule: '0 9 * * 1-5'", "max_lag: 1h"))
    assert not problems
    assert systems.get("other").max_lag == timedelta(days=3, hours=2)
    text = systems_text("schedule: '30 2 * * *'").replace("defaults: {lookback: 10m}", "defaults: {max_lag: 2h}")
    systems, problems = isolated(text)
    assert not problems and systems.get("other").max_lag == timedelta(days=1, hours=2)
    assert systems.get("good").max_lag == timedelta(hours=2)  # every 15 minutes: as written


@pytest.mark.parametrize(("schedule", "gap"), [
    ("*/5 * 1-15 * *", timedelta(days=16, minutes=5)), ("* * * * 1-3", timedelta(days=4, minutes=1)),
    ("0 0 1 1 *", timedelta(days=366)), ("0 9 * * 1-5", timedelta(days=3)),
    ("*/5 8-18 * * *", timedelta(hours=13, minutes=5)),
    ("0 9 * * 5#3", timedelta(days=35)), ("@weekly", timedelta(days=7)), ("0 0 29 2 *", timedelta(days=1461)),
])
def test_the_longest_gap_of_a_schedule_is_its_real_one(schedule: str, gap: timedelta) -> None:
    assert longest_gap(schedule) == gap


def test_a_system_synced_by_hand_only_is_not_behind_an_hour_after_its_sync() -> None:
    systems, _ = isolated(systems_text("schedule: null"))
    assert systems.get("other").max_lag == timedelta(days=366)
    systems, _ = isolated(systems_text("schedule: null", "max_lag: 2d"))
    assert systems.get("other").max_lag == timedelta(days=2)


# -- secrets, connections, ${…} -----------------------------------------------------------------------------------


@pytest.mark.parametrize("pasted", ["'Zq8-LIVE-9f8e7d6c5b4a'", "d41d8cd98f00b204e9800998ecf8427e"])
def test_a_secret_pasted_into_the_file_is_refused_without_being_repeated(pasted: str) -> None:
    _, problems = isolated(systems_text(f"secrets: {{api_key: {pasted}}}"))
    message = str(problems["other"])
    assert "secret 'api_key': the value is not the name of an environment variable" in message
    assert pasted.strip("'")[:8] not in message


@pytest.mark.parametrize(("raw", "said"), [
    ('{"host": "h", "extra": {"a": 1},}', "Expecting property name"),
    ("tongban-rest://10.0.0.5:80800/", "Port out of range"),
    ('{"host": "h", "extra": "[\\"api_key\\"]"}', "extra is a list"),
    ("tongban-rest://h/?__extra__=%5B1%5D", "__extra__ is a list"),
])
def test_a_malformed_airflow_connection_is_a_config_error_naming_it(monkeypatch: pytest.MonkeyPatch, raw: str,
                                                                   said: str) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SD_CIVIL_CONN", raw)
    with pytest.raises(ConfigError) as caught:
        airflow_connection("sd_civil_conn")
    assert str(caught.value).startswith("Airflow connection 'sd_civil_conn' (AIRFLOW_CONN_SD_CIVIL_CONN")
    assert said in str(caught.value)


def test_a_variable_in_a_setting_that_is_not_expanded_is_refused_naming_it() -> None:
    _, problems = isolated(systems_text("queue: ${TONGBAN_CIVIL_QUEUE:-dept_civil}"))
    assert str(problems["other"]).startswith(f"{WHERE}: line 9: system other: queue: ${{…}} is read from the "
                                             "environment only in endpoint and database_url")


def test_database_url_and_endpoint_read_variables_as_the_shell_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TONGBAN_LEDGER", "sqlite:////srv/tongban/ledger.db")
    monkeypatch.setenv("tongban_jn_url", "http://10.1.2.3:8080")
    monkeypatch.setenv("TONGBAN_EMPTY", "")
    text = systems_text("endpoint: ${tongban_jn_url}", top="database_url: ${TONGBAN_LEDGER}")
    systems = parse_systems(text.replace("mapping: g.yaml", "mapping: g.yaml\n    endpoint: "
                                                            "${TONGBAN_EMPTY:-http://127.0.0.1:8101}"),
                            base_dir=Path("."), where=WHERE)
    assert systems.ledger_url() == "sqlite:////srv/tongban/ledger.db"
    assert systems.get("other").resolved_endpoint() == "http://10.1.2.3:8080"
    assert systems.get("good").resolved_endpoint() == "http://127.0.0.1:8101"  # set but empty: the default


# -- keys nobody reads ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("top", "nearest"), [("default: {schedule: '0 2 * * *'}", "defaults"),
                                              ("databse_url: sqlite:///x.db", "database_url"),
                                              ("Defaults: {}", "defaults")])
def test_a_misspelt_top_level_key_is_refused_with_the_nearest_right_one(top: str, nearest: str) -> None:
    with pytest.raises(ConfigError) as caught:
        isolated(systems_text(top=top))
    assert str(caught.value).startswith(f"{WHERE}: line 1: ")
    assert f"(did you mean {nearest!r}?)" in str(caught.value)


def test_a_place_for_anchors_is_no_misspelt_key() -> None:
    systems, problems = isolated(systems_text("retries: 5", top="x-common: &common {retries: 5}"))
    assert not problems and systems.names() == ["good", "other"]


@pytest.mark.parametrize(("text", "said"), [
    ("holiday: [2026-12-24]\n", "'holiday' is not a setting of the working-day calendar (did you mean 'holidays'?)"),
    ("timezone: Asia/Shangai\n", "timezone 'Asia/Shangai': the working-day calendar and every deadline are Beijing"),
    ("timezone: '-05:00'\n", "timezone '-05:00'"),
])
def test_a_calendar_setting_nobody_would_read_is_refused(text: str, said: str) -> None:
    with pytest.raises(ConfigError, match=None) as caught:
        WorkCalendar.from_text(text, where="calendar.yaml", national=False)
    assert str(caught.value).startswith("calendar.yaml: line 1: ") and said in str(caught.value)


@pytest.mark.parametrize("zone", ["'+08:00'", "+08:00", "Asia/Shanghai"])
def test_the_shipped_calendars_beijing_zone_loads_however_written(zone: str) -> None:
    WorkCalendar.from_text(f"timezone: {zone}\nholidays: [2026-12-24]\n", where="calendar.yaml", national=False)


# -- the CLI: another entry's mistake is not this command's --------------------------------------------------------


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TONGBAN_DATABASE_URL", "TONGBAN_SYSTEMS")}
    return subprocess.run([sys.executable, "-m", "gateway", *args, "--systems", str(tmp_path / "systems.yaml")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)


@pytest.mark.slow
def test_one_bad_entry_blocks_neither_db_upgrade_nor_status_and_connector_list_names_it(tmp_path: Path) -> None:
    civil = REPO / "config"
    (tmp_path / "systems.yaml").write_text(
        f"database_url: sqlite:///{tmp_path / 'ledger.db'}\nsystems:\n"
        f"  sd_civil:\n    connector: rest\n    connector_config: {civil / 'connectors' / 'sd_civil.yaml'}\n"
        f"    mapping: {REPO / 'mappings' / 'sd_civil.yaml'}\n    endpoint: http://127.0.0.1:9\n"
        f"  jn_estate:\n    connector: rest\n    connector_config: {civil / 'connectors' / 'sd_civil.yaml'}\n"
        f"    mapping: {REPO / 'mappings' / 'sd_civil.yaml'}\n    schedule: every 10 minutes\n", encoding="utf-8")
    upgraded = _cli(tmp_path, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert (tmp_path / "ledger.db").exists()
    status = _cli(tmp_path, "status", "--json")
    assert status.returncode in (0, 1), status.stderr  # 1: nothing synced yet; no traceback, no jn_estate error
    assert "sd_civil" in status.stdout and "Traceback" not in status.stderr
    listed = _cli(tmp_path, "connector", "list", "--json")
    assert listed.returncode == 1
    systems = {s["name"]: s for s in json.loads(listed.stdout)["systems"]}
    assert systems["sd_civil"]["error"] == "" and "schedule" in systems["jn_estate"]["error"]


def test_a_key_written_twice_in_an_anchored_entry_sets_aside_every_entry_that_borrows_it() -> None:
    """Review of the isolation fix: ``b: {<<: *base}`` and ``c: *base`` loaded with YAML's silent last value of a
    key written twice in ``a``; only ``a`` was set aside (before the fix the whole file was refused)."""
    text = (
        "systems:\n"
        "  a: &base\n"
        "    role: department\n"
        "    connector: rest\n"
        "    connector_config: connectors/sd_civil.yaml\n"
        "    mapping: ../mappings/sd_civil.yaml\n"
        "    endpoint: http://127.0.0.1:8101\n"
        "    schedule: '*/5 * * * *'\n"
        "    schedule: '*/7 * * * *'\n"
        "  b:\n"
        "    <<: *base\n"
        "    endpoint: http://127.0.0.1:8102\n"
        "  c: *base\n"
        "  d:\n"
        "    role: department\n"
        "    connector: rest\n"
        "    connector_config: connectors/sd_civil.yaml\n"
        "    mapping: ../mappings/sd_civil.yaml\n"
        "    endpoint: http://127.0.0.1:8103\n")
    config, problems = parse_systems_isolated(text, base_dir=REPO / "config", where="sys.yaml")
    assert set(problems) == {"a", "b", "c"} and config.names() == ["d"]
    assert all("key 'schedule' under systems.a is written twice" in str(p) for p in problems.values())
