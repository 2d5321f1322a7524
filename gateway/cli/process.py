"""Commands of the 一窗受理 hand-off: ``tongban handoff scan|list|show|reroute``.

``scan`` is what the ``tongban_handoff`` DAG runs every minute; ``--now`` scans as of an earlier instant (a
catch-up), and ``--dry-run --now`` is a drill (what would be deemed accepted at 10:10?) that writes nothing. A
scan as of a later instant without ``--dry-run`` is refused: it would tell departments and halls "deemed
accepted" while their windows are still open. The work is done in :mod:`gateway.process`.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from gateway.cli.options import (
    DbOpt,
    JsonOpt,
    SystemsOpt,
    app,
    guard,
    now_option,
    on_ledger,
    on_runtime,
    runtime_from,
)
from gateway.cli.output import console, print_json, print_table
from gateway.contract.errors import ConfigError

handoff_app = typer.Typer(no_args_is_help=True, help="一窗受理: front-desk cases handed to departments, deemed "
                                                     "accepted when unanswered.")
app.add_typer(handoff_app, name="handoff")



@handoff_app.command("scan")
@guard
def handoff_scan(
    now: Annotated[str | None, typer.Option("--now", help="Scan as of this ISO 8601 instant (default: now; a "
                                                          "later one only with --dry-run).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Write nothing: list what a scan as of --now would "
                                                            "deem accepted.")] = False,
    systems: SystemsOpt = None,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Register and route new front-desk cases, start their windows, take answers, deem the overdue accepted."""
    from gateway.models.datetimes import beijing_iso
    from gateway.ops.deadlines import WorkCalendar
    from gateway.process import TongbanCatalogue, preview_deemed, scan_handoffs
    from gateway.process.asof import refuse_ahead_of_clock
    from gateway.store.ledger import utcnow

    moment = now_option(now)
    if dry_run:
        at = moment or utcnow()
        runtime = runtime_from(systems, database_url)
        try:
            would = preview_deemed(runtime.engine, at)
        finally:
            runtime.close()
        if json_out:
            print_json({"now": beijing_iso(at), "would_deem": would})
            return
        print_table(f"would be deemed accepted as of {beijing_iso(at)} (nothing written)",
                    ["case", "department system", "hall", "due"],
                    [[w["case_no"], w["target_system"], w["hall_system"], w["due_at"]] for w in would])
        return
    refuse_ahead_of_clock(moment, name="--now", hint="add --dry-run to see what would be deemed then")
    runtime = runtime_from(systems, database_url)
    try:
        catalogue = TongbanCatalogue.load(systems_path=runtime.systems.path)
        calendar = WorkCalendar.load(systems_path=runtime.systems.path)
        report = scan_handoffs(runtime.engine, runtime.systems, catalogue, now=moment, calendar=calendar,
                               pii=runtime.pii).as_dict()
    finally:
        runtime.close()
    if json_out:
        print_json(report)
        if report["errors"]:
            raise typer.Exit(1)
        return
    print_table("hand-off scan", ["registered", "refused at routing", "ended at the hall", "handed", "accepted",
                                  "refused", "deemed", "late answers", "forwarded", "still pending"],
                [[report["registered"], report["refused_routing"], report["closed_at_hall"], report["handed"],
                  report["accepted"], report["refused"], report["deemed"], report["late_answers"],
                  report["forwarded"], report["pending"]]])
    for case_no in report["deemed_cases"]:
        console.print(f"deemed accepted: {case_no}", markup=False)
    for case_no, error in report["errors"].items():
        console.print(f"[red]not registered: {escape(case_no)}: {escape(error)}[/] (alerted: handoff_scan)")
    if report["errors"]:
        raise typer.Exit(1)  # the others were registered; these wait until what they name is fixed


@handoff_app.command("list")
@guard
def handoff_list(
    state: Annotated[str | None, typer.Option("--state", help="Only hand-offs in this state (pending, deemed …).")]
    = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many rows, newest first.")] = 500,
    systems: SystemsOpt = None,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Hand-offs, newest first, with where they stand (``--state`` filters in the query: an old one is found)."""
    from gateway.process import handoff_overview
    from gateway.process.handoff import HANDOFF_STATES

    if state is not None and state not in HANDOFF_STATES:  # a typo listed nothing, as if there were none
        raise ConfigError(f"--state {state!r}: not a hand-off state; one of {', '.join(HANDOFF_STATES)}")

    overview = on_ledger(systems, database_url, lambda engine: handoff_overview(
        engine, limit=limit, states=None if state is None else [state]))
    rows = overview["handoffs"]
    if json_out:
        print_json(overview)
        return
    total = overview["counts"].get(state, 0) if state else sum(overview["counts"].values())
    print_table(f"hand-offs ({len(rows)} of {total}, newest first)",
                ["case", "state", "hall", "office", "department system", "due", "decided", "by", "late answer"],
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

    detail = on_ledger(systems, database_url, lambda engine: handoff_detail(engine, case_no))
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


@handoff_app.command("reroute")
@guard
def handoff_reroute(
    case_no: Annotated[str, typer.Argument(help="The case number (办件编号) a routing alert names.")],
    by: Annotated[str | None, typer.Option("--by", help="Who moves it, for the audit trail (default: the login "
                                                        "name).")] = None,
    systems: SystemsOpt = None,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Move an undecided hand-off to the department the hall's correction makes competent (the routing alert).

    The new department's system gets the case and its window starts when it has it; the first department's
    system is sent a delete of the case (or its unsent push is cancelled); the trail names who moved it."""
    import getpass

    from gateway.process import TongbanCatalogue
    from gateway.process.reroute import reroute_handoff

    runtime = runtime_from(systems, database_url, existing=True)
    try:
        catalogue = TongbanCatalogue.load(systems_path=runtime.systems.path)
        done = reroute_handoff(runtime.engine, runtime.systems, catalogue, case_no, by=by or getpass.getuser())
    finally:
        runtime.close()
    if json_out:
        print_json(done.as_dict())
        return
    told = (f"; {', '.join(done.withdrawn_from)} sent a delete of the case" if done.withdrawn_from else "")
    cancelled = (f"; {done.cancelled} unsent push(es) to {done.from_system} cancelled" if done.cancelled else "")
    console.print(f"{case_no}: moved from {done.from_dept_code} ({done.from_system or '-'}) to {done.to_dept_code} "
                  f"({done.to_system}): version {done.version} queued for {done.to_system}{told}{cancelled}; its "
                  f"{done.window_s // 60}-minute window starts when {done.to_system} has the case", markup=False)


tickets_app = typer.Typer(no_args_is_help=True, help="办不成事: tickets a reply is owed to within 3 (simple) or 10 "
                                                     "(coordination) working days.")
app.add_typer(tickets_app, name="tickets")


@tickets_app.command("open")
@guard
def tickets_open(
    ticket_no: Annotated[str, typer.Argument(help="The ticket's number.")],
    subject: Annotated[str, typer.Option("--subject", help="What could not be done.")],
    kind: Annotated[str, typer.Option("--kind", help="simple (3 working days) or coordination (10).")] = "simple",
    office: Annotated[str | None, typer.Option("--office", help="The office (受理点) that took it.")] = None,
    case_no: Annotated[str | None, typer.Option("--case", help="The case it is about, if any.")] = None,
    systems: SystemsOpt = None,
    database_url: DbOpt = None,
) -> None:
    """Record a 办不成事 ticket; the deadline scan watches its reply."""
    from gateway.process import open_ticket

    runtime = runtime_from(systems, database_url)
    try:
        open_ticket(runtime.engine, ticket_no, kind, subject, office_code=office, case_no=case_no)  # type: ignore[arg-type]
    finally:
        runtime.close()
    from gateway.process.tickets import ticket_number

    console.print(f"ticket {ticket_number(ticket_no)} opened ({kind})", markup=False)


@tickets_app.command("reply")
@guard
def tickets_reply(
    ticket_no: Annotated[str, typer.Argument(help="The ticket's number.")],
    reply: Annotated[str, typer.Option("--reply", help="The reply given.")],
    systems: SystemsOpt = None,
    database_url: DbOpt = None,
) -> None:
    """Record the reply to a ticket (its alert resolves on the next deadline scan)."""
    from gateway.process import reply_ticket

    done = on_ledger(systems, database_url, lambda engine: reply_ticket(engine, ticket_no, reply))
    if not done:
        raise ConfigError(f"ticket {ticket_no}: no open ticket with that number (unknown, or replied already)")
    console.print(f"ticket {ticket_no} replied", markup=False)


@tickets_app.command("list")
@guard
def tickets_list(
    systems: SystemsOpt = None,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Open tickets with their reply deadline (working days) and level."""
    from gateway.ops.deadlines import WorkCalendar
    from gateway.ops.deadlines.stages import evaluate_ticket
    from gateway.process import TongbanCatalogue
    from gateway.store import process as store
    from gateway.store.ledger import utcnow

    runtime = runtime_from(systems, database_url, existing=True)
    try:
        calendar = WorkCalendar.load(systems_path=runtime.systems.path)
        limits = TongbanCatalogue.load(systems_path=runtime.systems.path).tickets
        with runtime.engine.connect() as conn:
            tickets = store.open_tickets(conn)
    finally:
        runtime.close()
    now = utcnow()
    rows = []
    for t in tickets:
        state = evaluate_ticket(t, limits, calendar, now=now)
        rows.append({"ticket_no": t["ticket_no"], "kind": t["kind"], "office_code": t["office_code"],
                     "case_no": t["case_no"], "subject": t["subject"], "opened_at": t["opened_at"],
                     "due_at": state.due_at if state else None, "level": state.level if state else None})
    if json_out:
        print_json(rows)
        return
    print_table("办不成事 tickets", ["ticket", "kind", "office", "opened", "reply due", "level", "subject"],
                [[r["ticket_no"], r["kind"], r["office_code"] or "", r["opened_at"], r["due_at"], r["level"] or "",
                  r["subject"]] for r in rows])


deadlines_app = typer.Typer(no_args_is_help=True, help="Time limits (电子监察): every case's, stage's, deferred "
                                                      "material's and ticket's clock against its limit.")
app.add_typer(deadlines_app, name="deadlines")


@deadlines_app.command("scan")
@guard
def deadlines_scan(
    now: Annotated[str | None, typer.Option("--now", help="Scan as of this instant (ISO 8601; default: now).")] = None,
    full: Annotated[bool, typer.Option("--full", help="Read every clock, not only those due or changed.")] = False,
    systems: SystemsOpt = None,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The deadline scan, as the tongban_deadlines DAG's scan_deadlines task runs it: yellow and red alerts filed or
    resolved per case, stage, deferred material, ticket and bundle (an operator without Airflow, or after a reply
    by hand, had no way to run it)."""
    from gateway.ops.deadlines import WorkCalendar, scan_deadlines
    from gateway.process import TongbanCatalogue

    moment = now_option(now)
    report = on_runtime(systems, database_url, lambda runtime: scan_deadlines(
        runtime.engine, WorkCalendar.load(systems_path=runtime.systems.path), now=moment,
        catalogue=TongbanCatalogue.load(systems_path=runtime.systems.path), full=full or None))
    if json_out:
        print_json(report.as_dict())
        return
    console.print(f"{'full' if report.full else 'incremental'} scan: {report.checked} clock(s) read; cases "
                  f"running {report.running}, paused {report.paused}, yellow {report.yellow}, red {report.red}; "
                  f"stages yellow {report.stages_yellow}, red {report.stages_red}; deferred materials overdue "
                  f"{report.materials_overdue}; tickets late {report.tickets_late} of {report.tickets_open}; "
                  f"alerts new {report.new_alerts}, resolved {report.resolved_alerts}", markup=False)
    if report.errors:
        console.print(f"{len(report.errors)} case(s) whose clock could not be read (each a deadline_scan alert): "
                      + ", ".join(sorted(report.errors)[:10]), markup=False)
