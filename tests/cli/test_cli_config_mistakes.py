"""The mistakes an integration engineer makes adding a connector (the outside review of the "106th connector"),
as the reviewer met them: one edit to a good world, then the ``tongban`` command. Each must fail when the file is
loaded — exit code 1, one message naming the file (and line or field) — instead of passing the checks and
dead-lettering records at the first sync."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from zjj_world import ZjjWorld, make_zjj_world, zjj_server


@pytest.fixture
def world(tmp_path: Path) -> ZjjWorld:
    return make_zjj_world(tmp_path)


def failed(result) -> str:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    return " ".join(line.strip() for line in result.stderr.splitlines())


def test_the_good_world_passes(world: ZjjWorld) -> None:
    result = world.run("mapping", "check", "jn_zjj", "--sample", str(world.sample), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["valid"] == 30


def test_a_field_written_twice_in_the_mapping(world: ZjjWorld) -> None:
    world.edit(world.mapping, "  result_reason: bjyy\n", "  result_reason: bjyy\n  result: {path: bjjg}\n")
    message = failed(world.run("mapping", "check", "jn_zjj", "--sample", str(world.sample)))
    assert "jn_zjj.yaml: line 24: key 'result' under fields is written twice (first at line 22)" in message


def test_unquoted_codes_with_leading_zeros(world: ZjjWorld) -> None:
    world.edit(world.mapping, "result: {准予许可: issued, 不予许可: not_permitted, 撤回申请: withdrawn}",
               "result: {01: issued, 02: not_permitted, 03: withdrawn}")
    rows = json.loads(world.sample.read_text(encoding="utf-8"))
    for row in rows:
        row["bjjg"] = {"准予许可": "01", "不予许可": "02", "": ""}[row["bjjg"]]
    world.sample.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    result = world.run("mapping", "check", "jn_zjj", "--sample", str(world.sample), "--json")
    assert result.returncode == 0, result.stdout[-2000:]
    assert json.loads(result.stdout)["valid"] == 30


def test_a_code_table_value_outside_the_canonical_code_list(world: ZjjWorld) -> None:
    # passed `mapping check --sample` (no 转报 in the sample) and dead-lettered the first real 转报 record
    world.edit(world.mapping, "撤回申请: withdrawn}", "撤回申请: withdrawn, 转报: forwardd}")
    message = failed(world.run("mapping", "check", "jn_zjj", "--sample", str(world.sample)))
    assert "mappings/jn_zjj.yaml: line 9: fields: result: code table 'result' maps '转报' to 'forwardd', which is " \
           "not a value of CaseResult (did you mean 'forwarded'?); allowed: issued, not_permitted" in message


def test_a_target_that_is_not_a_canonical_field(world: ZjjWorld) -> None:
    world.edit(world.mapping, "  finished_at:", "  finshed_at:")
    message = failed(world.run("mapping", "check", "jn_zjj", "--sample", str(world.sample)))
    assert "mappings/jn_zjj.yaml: line 21: fields: finshed_at is not a field of the canonical Case (did you mean " \
           "'finished_at'?)" in message


def test_a_java_cursor_format(world: ZjjWorld) -> None:
    # accepted before: the sync then failed with a paging message and 21 cursor.format dead letters
    world.edit(world.connector, 'cursor_format: "%Y%m%d%H%M%S"', 'cursor_format: "yyyyMMddHHmmss"')
    message = failed(world.run("connector", "check", "jn_zjj"))
    assert f"error: {world.connector}: rest connector config for zjj is invalid:" in message
    assert "streams.cases.incremental.cursor_format: Value error, 'yyyyMMddHHmmss' is a Java/.NET date pattern; " \
           "write the strftime form \"%Y%m%d%H%M%S\"" in message


def test_hh_in_a_mapping_date_format(world: ZjjWorld) -> None:
    world.edit(world.mapping, "accepted_at: {path: slsj, date: yyyyMMddHHmmss}",
               "accepted_at: {path: slsj, date: yyyyMMddhhmmss}")
    message = failed(world.run("mapping", "check", "jn_zjj", "--sample", str(world.sample)))
    assert "fields: accepted_at: date format 'yyyyMMddhhmmss' has hh, the 12-hour clock" in message
    assert "write HH: 'yyyyMMddHHmmss'" in message


def test_the_scaffold_placeholder_for_the_key(world: ZjjWorld) -> None:
    # connector check said ok, mapping check "0 records, 0 valid, 0 rejected" with exit 0, the sync rejected 5 of 5
    world.edit(world.connector, "primary_key: sblsh", "primary_key: CHOOSE_KEY_FIELD")
    for command in (("connector", "check", "jn_zjj"), ("mapping", "check", "jn_zjj"), ("sync", "jn_zjj")):
        message = failed(world.run(*command))
        assert "config/connectors/jn_zjj.yaml: line 13: streams.cases.primary_key: CHOOSE_KEY_FIELD is a " \
               "placeholder written by `tongban connector new`" in message, command


def test_connector_check_reads_the_first_page_for_the_key_and_the_cursor_field(world: ZjjWorld) -> None:
    good = world.connector.read_text(encoding="utf-8")
    with zjj_server() as url:
        result = world.run("connector", "check", "jn_zjj", "--json", url=url)
        assert result.returncode == 0, result.stderr
        checked = json.loads(result.stdout)
        assert checked["ok"] and checked["first_page"]["records"] == 7 and "sblsh" in checked["first_page"]["fields"]

        world.edit(world.connector, "primary_key: sblsh", "primary_key: sblshh")
        message = failed(world.run("connector", "check", "jn_zjj", url=url))
        assert "primary_key 'sblshh' (" in message and "streams.cases.primary_key) is in none of the first page's " \
               "7 records (did you mean 'sblsh'?); they have: bjbh, bjjg," in message
        # and mapping check on the live system says why it has nothing to check
        message = failed(world.run("mapping", "check", "jn_zjj", url=url))
        assert "the connector refused all" in message and "primary key 'sblshh' is missing" in message

        world.connector.write_text(good.replace("cursor_field: gxsj", "cursor_field: gxsjj"), encoding="utf-8")
        message = failed(world.run("connector", "check", "jn_zjj", url=url))
        assert "cursor_field 'gxsjj' (" in message and "(did you mean 'gxsj'?)" in message

        world.connector.write_text(good.replace('cursor_format: "%Y%m%d%H%M%S"', 'cursor_format: "%Y-%m-%d %H:%M:%S"'),
                                   encoding="utf-8")
        message = failed(world.run("connector", "check", "jn_zjj", url=url))
        assert "cursor_format '%Y-%m-%d %H:%M:%S' (" in message and "reads none of the first page's 7 records" \
            in message


def test_mapping_check_fails_when_it_saw_no_records_and_says_why(world: ZjjWorld) -> None:
    world.sample.write_text("[]", encoding="utf-8")
    message = failed(world.run("mapping", "check", "jn_zjj", "--sample", str(world.sample)))
    assert "mapping jn_zjj: no records to check — the sample" in message and "holds none" in message
    with zjj_server(rows=[]) as url:
        message = failed(world.run("mapping", "check", "jn_zjj", url=url))
        assert "no records to check — the system's stream 'cases' answered none (try --sample FILE)" in message


def test_mapping_check_says_how_many_it_rejected(world: ZjjWorld) -> None:
    world.edit(world.mapping, "承诺件: promised}", "承诺件: promised}\n  unused: {x: y}")
    rows = json.loads(world.sample.read_text(encoding="utf-8"))
    rows[0]["bllx"] = "特别件"
    world.sample.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    message = failed(world.run("mapping", "check", "jn_zjj", "--sample", str(world.sample)))
    assert "mapping jn_zjj: 1 of 30 records rejected" in message


@pytest.mark.parametrize("old, new, said", [
    ('schedule: "*/10 * * * *"', 'schedule: "every 10 minutes"',
     "systems.yaml: line 4: system jn_zjj: schedule: Value error, 'every 10 minutes' is not a cron expression"),
    ('departments: ["113701000043020001"]', 'departments: ["11370100004302000"]',
     "systems.yaml: line 9: system jn_zjj: departments: Value error, [0] '11370100004302000' is not a "
     "统一社会信用代码 (USCC)"),
    ("mapping: ../mappings/jn_zjj.yaml", "mapping: mappings/jn_zjj.yaml",
     "systems.yaml: line 12: system jn_zjj: mapping: no file at "),
])
def test_systems_file_values_that_only_failed_later(world: ZjjWorld, old: str, new: str, said: str) -> None:
    world.edit(world.systems, old, new)
    assert said in failed(world.run("connector", "check", "jn_zjj"))


def test_a_connector_config_error_names_the_file_not_only_the_yaml_name(world: ZjjWorld) -> None:
    world.edit(world.connector, "page_param: pageNo", "page_parm: pageNo")
    message = failed(world.run("connector", "check", "jn_zjj"))
    assert f"error: {world.connector}: rest connector config for zjj is invalid:" in message
    written = world.connector.read_text(encoding="utf-8").splitlines()
    line = next(n for n, text in enumerate(written, 1) if "page_parm" in text)
    assert f"line {line}: streams.cases.pagination.page_parm: Extra inputs are not permitted" in message
    # a key left out has no line of its own: the line of the mapping that lacks it
    world.edit(world.connector, "param: beginTime}", "}")
    message = failed(world.run("connector", "check", "jn_zjj"))
    line = next(n for n, text in enumerate(written, 1) if "incremental:" in text)
    assert f"line {line}: streams.cases.incremental.param: Field required" in message


def test_dead_letters_replay_takes_the_system_as_sync_and_remap_do(world: ZjjWorld) -> None:
    world.edit(world.mapping, "不予许可: not_permitted, ", "")
    with zjj_server() as url:
        synced = world.run("sync", "jn_zjj", "--json", url=url)
        assert json.loads(synced.stdout)["rejected"] == 3  # the 不予许可 cases, dead-lettered
        world.mapping.write_text(world.mapping.read_text(encoding="utf-8").replace(
            "准予许可: issued, ", "准予许可: issued, 不予许可: not_permitted, "), encoding="utf-8")
        assert "two systems named: jn_zjj and --system other" in failed(
            world.run("dead-letters", "replay", "jn_zjj", "--system", "other"))
        assert "unknown system 'nope'" in failed(world.run("dead-letters", "replay", "nope"))
        replayed = world.run("dead-letters", "replay", "jn_zjj", "--json")
        assert replayed.returncode == 0, replayed.stderr
        assert json.loads(replayed.stdout)["still_open"] == 0
        again = world.run("dead-letters", "replay", "--system", "jn_zjj", "--json")  # the option still works
        assert again.returncode == 0 and json.loads(again.stdout)["still_open"] == 0


def test_connector_check_finds_a_change_time_parameter_the_source_ignores(world: ZjjWorld) -> None:
    """A misspelt change-time parameter (`beginTimee`) is dropped by the source, which answers everything: on a
    table whose records changed within a day the read's own guard never fires, and every sync read the whole table
    again, exit 0. The check asks for records changed after tomorrow: a source that filters answers none."""
    with zjj_server() as url:
        assert world.run("connector", "check", "jn_zjj", url=url).returncode == 0  # the real name: no complaint
        world.edit(world.connector, "param: beginTime}", "param: beginTimee}")
        message = failed(world.run("connector", "check", "jn_zjj", url=url))
    assert "asked for records changed after tomorrow" in message and "beginTimee" in message, message
