"""Commands of the 一窗受理 hand-off: ``tongban handoff scan|list|show``.

``scan`` is what the ``tongban_handoff`` DAG runs every minute; ``--now`` scans as of another instant (a drill:
what would be deemed accepted at 10:10?). The work is done in :mod:`gateway.process`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from gateway.cli.options import DbOpt, JsonOpt, SystemsOpt, app, guard, runtime_from
from gateway.cli.output import console, print_json, print_table
from gateway.contract.errors import ConfigError

handoff_app = typer.Typer(no_args_is_help=True, help="一窗受理: front-desk cases handed to departments, deemed "
                                                     "accepted when unanswered.")
app.add_typer(handoff_app, name="handoff")


def _moment(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--now {text!r}: expected an ISO 8601 instant like 2026-03-02T10:10:00+08:00") from None
    if moment.tzinfo is None:
        raise ConfigError(f"--now {text!r}: give the offset (+08:00 for Beijing time)")
    return moment


@handoff_app.command("scan")
@guard
def handoff_scan(
    now: Annotated[str | None, typer.Option("--now", help="Scan as of this ISO 8601 instant (default: now).")] = None,
    systems: SystemsOpt = None,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Register and route new front-desk cases, start their windows, take answers, deem the overdue accepted."""
    from gateway.ops.deadlines import WorkCalendar
    from gateway.process import TongbanCatalogue, scan_handoffs

    moment = _moment(now)
    runtime = runtime_from(systems, database_url)
    try:
        catalogue = TongbanCatalogue.load(systems_path=runtime.systems.path)
        calendar = WorkCalendar.load(systems_path=runtime.systems.path)
        report = scan_handoffs(runtime.engine, runtime.systems, catalogue, now=moment, calendar=calendar).as_dict()
    finally:
        runtime.close()
    if json_out:
        print_json(report)
        return
    print_table("hand-off scan", ["registered", "refused at routing", "handed", "accepted", "refused", "deemed",
                                  "late answers", "forwarded", "still pending"],
                [[report["registered"], report["refused_routing"], report["handed"], report["accepted"],
                  report["refused"], report["deemed"], report["late_answers"], report["forwarded"],
                  report["pending"]]])
    for case_no in report["deemed_cases"]:
        console.print(f"deemed accepted: {case_no}", markup=False)


@handoff_app.command("list")
@guard
def handoff_list(
    state: Annotated[str | None, typer.Option("--state", help="Only hand-offs in this state (pending, deemed …).")]
    = None,
    systems: SystemsOpt = None,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Hand-offs, newest first, with where they stand."""
    from gateway.process import handoff_overview

    runtime = runtime_from(systems, database_url, existing=True)
    try:
        overview = handoff_overview(runtime.engine)
    finally:
        runtime.close()
    rows = [h for h in overview["handoffs"] if state is None or h["state"] == state]
    if json_out:
        print_json({**overview, "handoffs": rows})
        return
    print_table("hand-offs", ["case", "state", "hall", "office", "department system", "due", "decided", "by",
                              "late answer"],
                [[h["case_no"], h["state"], h["hall_system"], h["office_code"] or "", h["target_system"] or "",
                  h["due_at"] or "", h["decided_at"] or "", h["decided_by"] or "", h["late_decision"] or ""]
                 for h in rows])


@handoff_app.command("show")
@guard
def handoff_show(
    case_no: Annotated[str, typer.Argument(help="The case number (办件编号).")],
    systems: SystemsOpt = None,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """One hand-off and its audit trail."""
    from gateway.process import handoff_detail

    runtime = runtime_from(systems, database_url, existing=True)
    try:
        detail = handoff_detail(runtime.engine, case_no)
    finally:
        runtime.close()
    if detail is None:
        raise ConfigError(f"case {case_no}: no hand-off (not a front-desk case, or not scanned yet)")
    if json_out:
        print_json(detail)
        return
    console.print(f"{case_no}: {detail['state']} — {detail['hall_system']} → {detail['target_system'] or '-'}"
                  + (f"; {detail['reason']}" if detail.get("reason") else ""), markup=False)
    print_table("audit trail", ["at", "step", "actor", "detail"],
                [[e["at"], e["step"], e["actor"], ", ".join(f"{k}={v}" for k, v in e["detail"].items())]
                 for e in detail["events"]])
