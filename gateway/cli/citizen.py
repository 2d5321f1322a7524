"""Commands of the citizen's voice: ``tongban evaluations …`` (好差评) and ``tongban workorders …`` (12345).

Registered on :data:`gateway.cli.options.app`; the work is done in :mod:`gateway.citizen`, the same functions
the ``tongban_citizen`` DAG runs. A refused operation (a second redo, a callback for a good review) exits 1 with
the record, field and rule it broke.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from gateway.cli.options import DbOpt, JsonOpt, app, guard, ledger_engine, period_option
from gateway.cli.output import console, print_json, print_table
from gateway.contract.errors import ConfigError
from gateway.models.datetimes import beijing_minute

evaluations_app = typer.Typer(no_args_is_help=True, help="好差评: ratings, callbacks, rectifications, appeals, misuse.")
workorders_app = typer.Typer(no_args_is_help=True, help="12345 work orders: routing, replies, redo, satisfaction.")
app.add_typer(evaluations_app, name="evaluations")
app.add_typer(workorders_app, name="workorders")

CitizenOpt = Annotated[Path | None, typer.Option("--citizen", help="Citizen settings (default: $TONGBAN_CITIZEN, "
                                                 "citizen.yaml, config/citizen.yaml).")]


def _deliver_unless_busy(engine: Any, target: Any, client: Any, pii: Any) -> Any:
    """:func:`gateway.citizen.deliver`, or — while another run delivers to ``target`` (the DAG's) — a report saying
    so: what this command read stays read, and that run sends it."""
    from gateway.citizen import DeliveryReport, deliver
    from gateway.contract.errors import LeaseHeldError

    try:
        return deliver(engine, target, client, pii=pii)
    except LeaseHeldError as exc:
        report = DeliveryReport(target)
        report.errors.append(f"not sent by this command: {exc}")
        return report


def _print_errors(sent: Any) -> None:
    for error in sent.errors[:5]:
        console.print(error, style="yellow", markup=False, highlight=False)


def _pct(value: Any) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


# -- evaluations ------------------------------------------------------------------------------------------------


@evaluations_app.command("sync")
@guard
def evaluations_sync(citizen: CitizenOpt = None, database_url: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Read new ratings, forward them to the provincial system, ask about appeals, flag misuse, raise alerts."""
    from gateway.citizen import (
        ProvincialClient,
        detect_misuse,
        load_citizen,
        poll_appeals,
        scan_citizen,
        sync_evaluations,
    )
    from gateway.contract.errors import LeaseHeldError
    from gateway.crypto.pii import codec_from_env

    engine = ledger_engine(None, database_url)
    with _alerted(engine, "evaluations") as outcome:
        settings, pii = load_citizen(citizen), codec_from_env()
        read = sync_evaluations(engine, settings, pii=pii)
        client = ProvincialClient(settings.provincial_pj)
        try:
            sent = outcome["sent"] = _deliver_unless_busy(engine, "provincial_pj", client, pii)
            try:
                appeals = poll_appeals(engine, client, pii=pii)
            except LeaseHeldError as exc:  # the DAG's poll runs: it asks; this command's read and forwarding stand
                appeals = []
                sent.errors.append(f"appeals not polled by this command: {exc}")
        finally:
            client.close()
        misuse = detect_misuse(engine, settings.policy.misuse)
        alerts = scan_citizen(engine, policy=settings.policy)
        out = {"read": read.as_dict(), "forwarded": sent.as_dict(), "appeals": appeals,
               "misuse": {"examined": misuse.examined, "flagged": len(misuse.flagged), "groups": len(misuse.groups)},
               "alerts": alerts}
        if json_out:
            print_json(out)
        else:
            print_table("evaluations sync", ["read", "new", "rejected", "bad", "forwarded", "retried", "dead",
                                             "appeals decided", "flagged"],
                        [[read.read, read.inserted, read.rejected, read.bad, sent.delivered, sent.retried, sent.dead,
                          sum(1 for a in appeals if a["decision"] != "error"), len(misuse.flagged)]])
            _print_errors(sent)
        _fail_if_unreached(sent)


@evaluations_app.command("replay")
@guard
def evaluations_replay(citizen: CitizenOpt = None, database_url: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Run the dead-lettered ratings again (after a fix); those that now parse are ingested and resolved."""
    from gateway.citizen import load_citizen, replay_evaluations
    from gateway.crypto.pii import codec_from_env

    report = replay_evaluations(ledger_engine(None, database_url), load_citizen(citizen),
                                pii=codec_from_env())
    if json_out:
        print_json(report.as_dict())
        return
    console.print(f"replayed {report.read}: ingested {report.inserted + report.updated}, still rejected "
                  f"{report.rejected}")


def _resend(target: Literal["provincial_pj", "hotline"], database_url: str | None, json_out: bool) -> None:
    """Queue ``target``'s dead outbox items again; the next sync sends them."""
    from gateway.citizen import resend_dead
    from gateway.crypto.pii import codec_from_env

    report = resend_dead(ledger_engine(None, database_url), target, pii=codec_from_env())
    if json_out:
        print_json(report.as_dict())
        return
    console.print(f"{target}: re-queued {report.requeued} dead item(s); sent at the next sync")
    if report.unnamed:
        console.print(f"not re-queued (dead letters that name no outbox row): "
                      f"{', '.join(map(str, report.unnamed[:20]))} — see tongban dead-letters show ID")


@evaluations_app.command("resend")
@guard
def evaluations_resend(database_url: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Queue again what the provincial system refused for good (ratings, callbacks, appeals), once the cause is
    fixed; their dead letters are resolved."""
    _resend("provincial_pj", database_url, json_out)


@evaluations_app.command("summary")
@guard
def evaluations_summary(database_url: DbOpt = None, json_out: JsonOpt = False, period: PeriodOpt = None) -> None:
    """评价率, 好评率, 差评回复率, 差评整改率, 限时整改率 … overall and per month (``--period``: one month's or year's
    report)."""
    from gateway.citizen import evaluation_summary

    s = evaluation_summary(ledger_engine(None, database_url, existing=True), period=period_option(period))
    if json_out:
        print_json(s)
        return
    print_table(f"好差评{' ' + period if period else ''}",
                ["评价数", "评价率 (≥70%)", "好评率 (其中本库无办件)", "申诉 待/成立/驳回", "上报省级 已/待/失败", "疑似刷评"],
                [[s["evaluations"], _pct(s["coverage"]), _good_ratio_cell(s),
                  "/".join(str(s["appeals"][k]) for k in ("pending", "upheld", "rejected")),
                  "/".join(str(s["forwarded"][k]) for k in ("delivered", "pending", "dead")), s["flagged"]]])
    print_table(f"差评 回访与整改{' ' + period if period else ''}",
                ["差评 / 收到 (其中接入前)", "差评回复率", "按时回访率", "待回访", "超时未回访", "差评整改率",
                 "已整改 按时/超时", "未整改", "超时未整改", "限时整改率"],
                [[f'{s["bad"]} / {s["bad_received"]} ({s["callbacks_before_tongban"]})', _pct(s["reply_ratio"]),
                  _pct(s["callback_on_time_ratio"]), s["callbacks_open"], s["callbacks_overdue"],
                  _pct(s["rectification_ratio"]), f'{s["rectified_in_time"]}/{s["rectified_late"]}',
                  s["rectifications_open"], s["rectifications_overdue"], _pct(s["rectification_on_time_ratio"])]])
    print_table("per month", ["month", "评价数", "好评率", "差评 / 收到", "差评回复率", "差评整改率"],
                [[m["month"], m["evaluations"], _pct(m["good_ratio"]), f'{m["bad"]} / {m["bad_received"]}',
                  _pct(m["reply_ratio"]), _pct(m["rectification_ratio"])]
                 for m in s["by_month"]])


def _good_ratio_cell(s: dict[str, Any]) -> str:
    """好评率 with, beside it, how many of the rated cases the ledger does not hold: their ratings are real and
    counted, but a ratio half made of another district's (or not yet synced) cases must say so where it is read."""
    ratio = _pct(s["good_ratio"])
    if not s.get("unlinked"):
        return ratio
    return f'{ratio} ({s["unlinked"]:,} of {s["evaluations"]:,} rated cases not in the ledger)'


@evaluations_app.command("list")
@guard
def evaluations_list(
    bad: Annotated[bool, typer.Option("--bad", help="Only bad reviews, with their callback.")] = False,
    flagged: Annotated[bool, typer.Option("--flagged", help="Only ratings the misuse rules flagged.")] = False,
    limit: Annotated[int, typer.Option("--limit")] = 50,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Ratings, newest first."""
    from gateway.citizen import list_evaluations

    rows = list_evaluations(ledger_engine(None, database_url, existing=True), bad=bad, flagged=flagged, limit=limit)
    if json_out:
        print_json(rows)
        return
    print_table("evaluations", ["rating", "case", "level", "channel", "device", "rated", "callback due", "called back",
                                "appeal", "flags"],
                [[r["rating_id"], r["case_no"], r["level"], r["channel"], r["device"], r["rated_at"],
                  _callback_due(r), r["called_back_at"], r["appeal"], ",".join(r["flags"])] for r in rows])


def _callback_due(r: dict[str, Any]) -> Any:
    """A callback due before the cut-over is history: said beside its due time (it counts in no figure)."""
    due = r["callback_due_at"]
    return f"{due} (before cut-over: not counted)" if due is not None and r.get("callback_predates") else due


@evaluations_app.command("callback")
@guard
def evaluations_callback(rating_id: str, result: str, citizen: CitizenOpt = None, json_out: JsonOpt = False,
                         database_url: DbOpt = None) -> None:
    """Record the callback (回访) of a bad review; opens its rectification (due ``rectification_days`` working days
    later, at ``callback_closing``: the settings' policy, as the sync reads it)."""
    from gateway.citizen import load_citizen, record_callback
    from gateway.crypto.pii import codec_from_env

    out = record_callback(ledger_engine(None, database_url), rating_id, result, policy=load_citizen(citizen).policy,
                          pii=codec_from_env())
    when = ("due before Tongban's cut-over: recorded, not counted" if out["predates"]
            else "on time" if out["on_time"] else "late")
    print_json(out) if json_out else console.print(f"{rating_id}: called back ({when}); rectification due "
                                                   f"{beijing_minute(out['rect_due_at'])}")


@evaluations_app.command("rectify")
@guard
def evaluations_rectify(rating_id: str, note: str, json_out: JsonOpt = False, database_url: DbOpt = None) -> None:
    """Record that the rectification (整改) of a bad review is done."""
    from gateway.citizen import finish_rectification
    from gateway.crypto.pii import codec_from_env

    out = finish_rectification(ledger_engine(None, database_url), rating_id, note, pii=codec_from_env())
    print_json(out) if json_out else console.print(f"{rating_id}: rectified ({'on time' if out['on_time'] else 'late'})")


@evaluations_app.command("appeal")
@guard
def evaluations_appeal(rating_id: str, reason: str, json_out: JsonOpt = False, database_url: DbOpt = None) -> None:
    """Appeal a mistaken bad review (to the city; a rejection there goes to the province)."""
    from gateway.citizen import file_appeal
    from gateway.crypto.pii import codec_from_env

    out = file_appeal(ledger_engine(None, database_url), rating_id, reason, pii=codec_from_env())
    print_json(out) if json_out else console.print(f"{rating_id}: appeal filed with the city")


@evaluations_app.command("misuse")
@guard
def evaluations_misuse(citizen: CitizenOpt = None, database_url: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Run the evaluator-misuse rules and show the flagged (device, day) groups."""
    from gateway.citizen import detect_misuse, load_citizen

    report = detect_misuse(ledger_engine(None, database_url), load_citizen(citizen).policy.misuse)
    if json_out:
        print_json(report.as_dict())
        return
    print_table(f"evaluator misuse ({report.examined} device ratings examined)",
                ["device", "window", "day", "staff", "ratings", "rules"],
                [[g["device"], g["window"], g["day"], ",".join(g["staff"]), len(g["ratings"]), ",".join(g["rules"])]
                 for g in report.groups])


# -- work orders --------------------------------------------------------------------------------------------------


@workorders_app.command("sync")
@guard
def workorders_sync(citizen: CitizenOpt = None, database_url: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Read the platform's orders, route or return each, send what is owed back, raise alerts."""
    from gateway.citizen import HotlineClient, load_citizen, scan_citizen, sync_workorders
    from gateway.crypto.pii import codec_from_env

    engine = ledger_engine(None, database_url)
    with _alerted(engine, "workorders") as outcome:
        settings, pii = load_citizen(citizen), codec_from_env()
        client = HotlineClient(settings.hotline)
        try:
            read = sync_workorders(engine, settings, client=client, pii=pii)
            sent = outcome["sent"] = _deliver_unless_busy(engine, "hotline", client, pii)
        finally:
            client.close()
        alerts = scan_citizen(engine, policy=settings.policy)
        if json_out:
            print_json({"read": read.as_dict(), "delivered": sent.as_dict(), "alerts": alerts})
        else:
            print_table("workorders sync", ["read", "new", "dispatched", "returned", "unroutable", "redo opened",
                                            "redo refused", "rejected", "sent", "dead"],
                        [[read.read, read.new, read.dispatched, read.returned, read.unroutable, read.redo_opened,
                          read.redo_refused, read.rejected, sent.delivered, sent.dead]])
            _print_errors(sent)
        _fail_if_unreached(sent)


def _fail_if_unreached(sent: Any) -> None:
    """A delivery that reached nothing while items failed fails the command (exit 1, the ``citizen_sync_failed``
    alert) after its report is printed, as it fails the DAG's task: the receiver is down."""
    from gateway.contract.errors import RetriableSyncError

    failure = sent.unreached()
    if failure is not None:
        raise RetriableSyncError(failure)


def _settled(engine: Any, sent: Any) -> bool:
    """Whether a run that did not fail shows its receiver well: it delivered something, or nothing waits for it.
    A run whose items all wait out their back-off tried nothing — the receiver may still be down — so it resolves
    no alert (it closed the one the failure before it had raised)."""
    if sent.delivered:
        return True
    from gateway.store import citizen as citizen_store

    with engine.connect() as conn:
        return not citizen_store.outbox_status_counts(conn, sent.target, key_prefix="").get("pending", 0)


@contextmanager
def _alerted(engine: Any, which: str) -> Iterator[dict[str, Any]]:
    """A citizen sync run from a shell (cron, by hand) keeps its own ``citizen_sync_failed`` alert, as the
    Airflow task's failure callback does for the DAG: it failed, exited 1, and no view said so. Resolved by the
    next run that ends well (the command puts its delivery report in the yielded dict as ``sent``: a run that only
    waited out a back-off is not that, :func:`_settled`); a run that found another one at work (its lease) is no
    failure."""
    from gateway.contract.errors import LeaseHeldError
    from gateway.crypto.error_text import describe_error
    from gateway.ops.alerts import raise_alert, resolve_alerts

    outcome: dict[str, Any] = {}
    try:
        yield outcome
    except LeaseHeldError:
        raise
    except Exception as exc:
        error = describe_error(exc)  # masked: an error may quote a record
        try:
            raise_alert(engine, "citizen_sync_failed", which, level="error", system=None,
                        message=f"tongban {which} sync failed: {error}"[:2000], details={"error": error[:2000]})
        except Exception:  # noqa: BLE001 - the ledger itself may be what failed: the command's error is the news
            pass
        raise
    if "sent" not in outcome or _settled(engine, outcome["sent"]):
        resolve_alerts(engine, "citizen_sync_failed", [which])


@workorders_app.command("replay")
@guard
def workorders_replay(citizen: CitizenOpt = None, database_url: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Run the dead-lettered orders again (after a fix or a new route); unroutable ones are routed now."""
    from gateway.citizen import load_citizen, replay_workorders
    from gateway.crypto.pii import codec_from_env

    report = replay_workorders(ledger_engine(None, database_url), load_citizen(citizen),
                               pii=codec_from_env())
    if json_out:
        print_json(report.as_dict())
        return
    console.print(f"replayed {report.read}: dispatched {report.dispatched}, returned {report.returned}, still "
                  f"unroutable {report.unroutable}, rejected {report.rejected}")


@workorders_app.command("resend")
@guard
def workorders_resend(database_url: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Queue again what the 12345 platform refused for good (dispatches, returns, signatures, replies), once the
    cause is fixed; their dead letters are resolved."""
    _resend("hotline", database_url, json_out)


@workorders_app.command("list")
@guard
def workorders_list(
    dept: Annotated[str | None, typer.Option("--dept", help="One department's queue (its code).")] = None,
    status: Annotated[str | None, typer.Option("--status", help="received|dispatched|returned|replied|redo|closed")
                      ] = None,
    limit: Annotated[int, typer.Option("--limit")] = 100,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Work orders, oldest first."""
    from gateway.citizen import list_workorders
    from gateway.citizen.workorders import STATUSES

    if status is not None and status not in STATUSES:  # else an empty table, as if none were in that state
        raise ConfigError(f"--status {status!r} is not a work order state: expected one of {', '.join(STATUSES)}")
    rows = list_workorders(ledger_engine(None, database_url, existing=True), dept_code=dept, status=status, limit=limit)
    if json_out:
        print_json(rows)
        return
    print_table("work orders", ["order", "type", "category", "status", "department", "received", "dispatched",
                                "reply due", "redo due", "rating", "case"],
                [[r["order_no"], r["matter_type"], r["category"], r["status"], r["dept_name"] or r["dept_code"],
                  r["received_at"], r["dispatched_at"], r["reply_due_at"], r["redo_due_at"], r["rating"], r["case_no"]]
                 for r in rows])


@workorders_app.command("sign")
@guard
def workorders_sign(order_no: str, json_out: JsonOpt = False, database_url: DbOpt = None) -> None:
    """The department signs for an order (签收)."""
    from gateway.citizen import sign_workorder
    from gateway.crypto.pii import codec_from_env

    out = sign_workorder(ledger_engine(None, database_url), order_no, pii=codec_from_env())
    print_json(out) if json_out else console.print(f"{order_no}: signed ({'on time' if out['on_time'] else 'late'})")


@workorders_app.command("reply")
@guard
def workorders_reply(order_no: str, text: str, json_out: JsonOpt = False, database_url: DbOpt = None) -> None:
    """The department's reply (答复), the first or the redo's; sent to the platform at the next sync."""
    from gateway.citizen import reply_workorder
    from gateway.crypto.pii import codec_from_env

    out = reply_workorder(ledger_engine(None, database_url), order_no, text, pii=codec_from_env())
    print_json(out) if json_out else console.print(_reply_line(order_no, out))


def _reply_line(order_no: str, out: dict[str, Any]) -> str:
    """What became of a reply: queued for the platform, or — the reply to a redo opened here by hand — recorded
    and not sent, with the reason (``sent: false`` in --json); "queued" there would promise a sending that never
    comes."""
    when = "on time" if out["on_time"] else "late"
    if out["sent"]:
        return f"{order_no}: reply round {out['round']} queued for the platform ({when})"
    from gateway.citizen.workorders import HAND_REDO_UNSENT

    return f"{order_no}: reply round {out['round']} recorded ({when}) but not sent to the platform: {HAND_REDO_UNSENT}"


@workorders_app.command("redo")
@guard
def workorders_redo(order_no: str, citizen: CitizenOpt = None, json_out: JsonOpt = False,
                    database_url: DbOpt = None) -> None:
    """Open the one redo (重办) of a replied order by hand, due in the settings' ``redo_days``; a second is
    refused."""
    from gateway.citizen import load_citizen, request_redo

    out = request_redo(ledger_engine(None, database_url), order_no, policy=load_citizen(citizen).policy)
    print_json(out) if json_out else console.print(f"{order_no}: redo due {beijing_minute(out['redo_due_at'])}")


PeriodOpt = Annotated[str | None, typer.Option("--period", help="One month (2026-11) or year (2026): the ratings "
                                                               "given / orders handed out in it.")]


def _in_time_cell(s: dict[str, Any]) -> str:
    """15分钟内转派 over the routed orders Tongban could route in time, its base said when orders late on arrival
    (the platform's backlog when Tongban was connected) are left out of it."""
    ratio = _pct(s["dispatched_in_time_ratio"])
    set_apart = s["late_on_arrival"] + s["routed_before_tongban"] + s["routed_by_platform"]
    if not set_apart:
        return ratio
    return f"{ratio} (of {s['routed'] - set_apart:,}; all routed: {_pct(s['dispatched_in_time_ratio_all'])})"


@workorders_app.command("summary")
@guard
def workorders_summary(database_url: DbOpt = None, json_out: JsonOpt = False, period: PeriodOpt = None) -> None:
    """Dispatch time percentiles, on-time replies, redo, satisfaction per unit and month. Orders late on arrival
    (their 15 minutes gone before Tongban first read the platform) are counted apart from Tongban's own late
    dispatches and left out of 15分钟内转派."""
    from gateway.citizen import workorder_summary

    s = workorder_summary(ledger_engine(None, database_url, existing=True), period=period_option(period))
    if json_out:
        print_json(s)
        return
    d = s["dispatch_minutes"]
    print_table(f"12345{' ' + period if period else ''}", ["工单", "转派 (接入前/平台)", "转派 p50/p90/max (min)", "15分钟内转派", "自身超时转派",
                          "到达即超时", "未转派超时", "按时签收", "超时未签收", "按时答复", "超时未答复", "答复未送达 待/失败", "重办 开/拒",
                          "满意率"],
                [[s["orders"], f'{s["routed"]} ({s["routed_before_tongban"]}/{s["routed_by_platform"]})', "/".join("—" if d[k] is None else str(d[k]) for k in ("p50", "p90", "max")),
                  _in_time_cell(s), s["dispatched_late"], s["late_on_arrival"],
                  s["undispatched_overdue"], _pct(s["sign_on_time_ratio"]), s["signs_overdue"],
                  _pct(s["reply_on_time_ratio"]), s["replies_overdue"],
                  "{pending}/{dead}".format(**s["replies_not_received"]),
                  f"{s['redo']['opened']}/{s['redo']['refused']}", _pct(s["satisfaction"])]])
    print_table("满意率 per unit and month", ["unit", "month", "rated", "满意", "基本满意", "不满意", "满意率"],
                [[g["dept_name"] or g["dept_code"], g["month"], g["rated"], g["satisfied"], g["basic"],
                  g["unsatisfied"], _pct(g["satisfaction"])] for g in s["by_unit_month"]])
    print_table("签收与答复 per unit and month", ["unit", "month", "按时签收", "超时未签收", "按时答复", "超时未答复"],
                [[g["dept_name"] or g["dept_code"], g["month"], _pct(g["sign_on_time_ratio"]), g["signs_overdue"],
                  _pct(g["reply_on_time_ratio"]), g["replies_overdue"]] for g in s["timeliness_by_unit_month"]])
