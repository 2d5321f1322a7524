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
