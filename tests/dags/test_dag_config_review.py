"""The configuration review's findings as Airflow's dag-processor sees them (a real ``DagBag`` over ``dags/``, in a
fresh interpreter): ``max_lag: ~`` in one system (an AttributeError from the duration reader) and a systems file
saved as GBK (a UnicodeDecodeError) each emptied ``dags/tongban.py`` — "No data found", one import error naming
neither file nor setting. Now the first is that system's placeholder and the second ``tongban_config_error``,
saying which file, which line and what to do; the DAGs that need no systems list stay in both."""

from __future__ import annotations

from pathlib import Path

from test_dag_config_errors import PROCESS_DAGS, dagbags, setting_line, systems_file


def test_an_empty_duration_in_one_system_and_a_gbk_file_leave_the_other_dags(tmp_path: Path) -> None:
    empty = systems_file(tmp_path / "empty.yaml", 3, sys_bad={"max_lag": None, "title": "济南市住房公积金"})
    gbk = tmp_path / "gbk.yaml"
    gbk.write_bytes(empty.read_text(encoding="utf-8").encode("gbk"))
    bags = dagbags({"empty": empty, "gbk": gbk})
    good = {f"tongban_sync_sys_{i:03d}" for i in range(3)} | {"tongban_push", "tongban_reconcile"} | PROCESS_DAGS

    empty_bag = bags["empty"]
    assert empty_bag["errors"] == {}
    assert set(empty_bag["dags"]) == good | {"tongban_sync_sys_bad"}
    task_id, kind, message = empty_bag["failures"]["tongban_sync_sys_bad"]
    assert (task_id, kind) == ("sync", "AirflowFailException")
    assert message.startswith(f"{empty}: line {setting_line(empty, 'sys_bad', 'max_lag')}: system sys_bad: max_lag: "
                              "Value error, None is not a duration like 30s, 10m, 2h or 1d"), message

    gbk_bag = bags["gbk"]
    assert gbk_bag["errors"] == {}
    assert set(gbk_bag["dags"]) == PROCESS_DAGS | {"tongban_config_error"}
    message = gbk_bag["failures"]["tongban_config_error"][2]
    assert message.startswith(f"{gbk}: line ") and "the file is not UTF-8 (it reads as GBK/GB18030" in message


def test_a_key_written_twice_in_one_system_is_that_systems_placeholder(tmp_path: Path) -> None:
    """A setting written twice in one entry, or a block pasted without renaming it, made the whole file unreadable:
    only ``tongban_config_error`` was left, every system's sync, push and reconcile gone (orchestration review's
    find). Now it is the entry's own mistake: its placeholder says which key, where."""
    twice = systems_file(tmp_path / "twice.yaml", 2)
    text = twice.read_text(encoding="utf-8")
    twice.write_text(text + "  newcomer:\n    schedule: '*/5 * * * *'\n    schedule: '*/7 * * * *'\n",
                     encoding="utf-8")
    pasted = systems_file(tmp_path / "pasted.yaml", 2)
    pasted.write_text(pasted.read_text(encoding="utf-8") + "  sys_000:\n    title: pasted again\n", encoding="utf-8")
    bags = dagbags({"twice": twice, "pasted": pasted})

    assert bags["twice"]["errors"] == {}
    assert set(bags["twice"]["dags"]) == {"tongban_sync_sys_000", "tongban_sync_sys_001", "tongban_sync_newcomer",
                                          "tongban_push", "tongban_reconcile"} | PROCESS_DAGS
    message = bags["twice"]["failures"]["tongban_sync_newcomer"][2]
    assert "key 'schedule' under systems.newcomer is written twice" in message and str(twice) in message

    assert bags["pasted"]["errors"] == {}
    assert set(bags["pasted"]["dags"]) == {"tongban_sync_sys_000", "tongban_sync_sys_001", "tongban_push",
                                           "tongban_reconcile"} | PROCESS_DAGS
    message = bags["pasted"]["failures"]["tongban_sync_sys_000"][2]
    assert "key 'sys_000' under systems is written twice" in message
