"""Data-path commands: sync, push, status, reconcile, dead letters, mappings, connectors, database, sandbox, demo."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer

from gateway.cli.options import (
    DbOpt,
    JsonOpt,
    SystemsOpt,
    alerts_app,
    app,
    connector_app,
    db_app,
    dead_letters_app,
    guard,
    ledger_engine,
    mapping_app,
    runtime_from,
    sandbox_app,
)
from gateway.cli.output import (
    activity,
    console,
    err_console,
    fail,
    human_age,
    human_duration,
    print_json,
    print_table,
)
from gateway.contract.errors import ConfigError, TongbanError


@app.command()
@guard
def sync(
    system: Annotated[str, typer.Argument(help="System name from the systems file.")],
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="Re-read the source from the start.")] = False,
    systems: SystemsOpt = None,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Read SYSTEM incrementally into the ledger."""
    from gateway.sync.engine import SyncFailed, sync_system

    runtime = runtime_from(systems, database_url)
    try:
        with activity(f"sync {system}", enabled=not json_out) as progress:
            report = sync_system(runtime, system, full_refresh=full_refresh, progress=progress)
    except SyncFailed as exc:
        if json_out:
            print_json(exc.report.as_dict())
        fail(str(exc))
        raise typer.Exit(1) from None
    degraded = report.status == "degraded"
    if json_out:
        print_json(report.as_dict())
    else:
        data = report.as_dict()
        head = f"[yellow]sync {system} degraded[/]" if degraded else f"[green]sync {system} ok[/]"
        console.print(
            f"{head} run {data['run_id']}: read {data['read']}, inserted {data['inserted']}, "
            f"updated {data['updated']}, unchanged {data['unchanged']}, rejected {data['rejected']}, "
            f"deleted {data['deleted']}, queued {data['queued']} pushes in {data['duration_s']} s; "
            f"watermark {data['watermark_after']}", markup=True, highlight=False,
        )
        if degraded:
            fail(str(report.error))
    if degraded:
        raise typer.Exit(1)


@app.command()
@guard
def remap(
    system: Annotated[str, typer.Argument(help="System whose ledger records are mapped again.")],
    systems: SystemsOpt = None,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Re-apply SYSTEM's current mapping to the raw payloads already in the ledger."""
    from gateway.sync.reprocess import remap_system

    with activity(f"remap {system}", enabled=not json_out):
        report = remap_system(runtime_from(systems, database_url), system)
    if json_out:
        print_json(report.as_dict())
    else:
        d = report.as_dict()
        said = "[green]ok[/]" if report.status == "succeeded" else f"[red]{report.status}[/]"
        console.print(f"remap {system} {said}: {d['read']} records, {d['updated']} changed, "
                      f"{d['unchanged']} unchanged, {d['rejected']} rejected")
        if report.error:
            console.print(report.error, markup=False)
    if report.status != "succeeded":  # a script must notice: most records rejected by the mapping in force
        raise typer.Exit(1)


@app.command()
@guard
def push(
    target: Annotated[list[str] | None, typer.Option("--target", help="Only these systems.")] = None,
    ignore_wait: Annotated[bool, typer.Option(
        "--ignore-wait", help="Send even to a target that asked to be left alone (its Retry-After, at most an hour "
                              "kept): the maintenance is known to be over.")] = False,
    systems: SystemsOpt = None,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Deliver pending outbox rows to the hall and the department systems."""
    from gateway.sync.push import push as run_push

    with activity("push", enabled=not json_out, unit=""):
        report = run_push(runtime_from(systems, database_url), targets=target or None, ignore_wait=ignore_wait)
    if json_out:
        print_json(report.as_dict())
    else:
        print_table(
            "push",
            ["target", "delivered", "duplicates", "superseded", "retried", "dead", "held", "pending", "error"],
            [[t.target, t.delivered, t.duplicates, t.superseded, t.retried, t.dead, t.held, t.pending, t.error]
             for t in report.targets],
        )
        for t in report.targets:  # what a target that reads first read (or why not, and what it held back)
            if t.read_first:
                print(f"{t.target}: read first — {t.read_first}" + (f"; held {t.held} (not sent)" if t.held else ""))
    if not report.ok:
        raise typer.Exit(1)


@app.command()
@guard
def backfill(
    target: Annotated[str, typer.Argument(help="The system to send the cases it should hold and never got.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count, queue nothing.")] = False,
    systems: SystemsOpt = None,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Queue every live case TARGET should hold at its current version, where it was never sent (a system added,
    or given departments, after the cases were synced); `tongban push` then delivers them."""
    from gateway.sync.backfill import backfill as run_backfill

    report = run_backfill(runtime_from(systems, database_url, existing=dry_run), target, dry_run=dry_run)
    if json_out:
        print_json(report.as_dict())
    else:
        verb = "would queue" if dry_run else "queued"
        console.print(f"{target}: {report.live_cases} live cases read, {report.for_target} it should hold, "
                      f"{verb} {report.queued} it was never sent", markup=False)


@app.command()
@guard
def status(systems: SystemsOpt = None, database_url: DbOpt = None, json_out: JsonOpt = False) -> None:
    """A table per system (last run, lag, newest change, counts, rejects, dead letters, pending pushes) and the open
    alerts."""
    from gateway.ops.alerts import open_alerts
    from gateway.ops.status import dead_letters_elsewhere, system_status

    runtime = runtime_from(systems, database_url, existing=True)
    rows = system_status(runtime.engine, runtime.systems)
    elsewhere = dead_letters_elsewhere(runtime.engine, runtime.systems)
    alerts = open_alerts(runtime.engine, levels=_OPERATIONAL_LEVELS)  # every error and warning, errors first
    clocks = _time_limit_counts(runtime.engine)
    counts = Counter(a["level"] for a in alerts)
    for (_, level), n in clocks.items():
        counts[level] += n
    alert_counts = {lvl: counts[lvl] for lvl in ("error", "warning", "red", "yellow") if counts[lvl]}
    # entries of the systems file that do not validate: not in the table above (no settings to read), said here
    # at once — their config_invalid alert waits for the next freshness check
    invalid = {name: str(entry.error) for name, entry in runtime.systems.invalid.items()}
    if json_out:
        for r in rows:  # each system's own alerts beside it (time limits as counts: there may be thousands)
            r["alerts"] = [a for a in alerts if a["system"] == r["system"]]
            r["deadline_alerts"] = {lvl: clocks.get((r["system"], lvl), 0) for lvl in ("yellow", "red")}
        deadline_counts = [{"system": s, "level": lvl, "count": n} for (s, lvl), n in sorted(
            clocks.items(), key=lambda item: (item[0][0] or "", item[0][1]))]
        print_json({"systems": rows, "alerts": alerts, "deadline_counts": deadline_counts,
                    "alert_counts": alert_counts, "other_dead_letters": elsewhere, "invalid_entries": invalid})
        return
    table_rows = []
    for r in rows:
        last = r["last_run"] or {}
        lag = r["lag_s"]
        flags = sum((last.get("quality_flags") or {}).values())
        table_rows.append([
            r["system"], last.get("status", "never"), last.get("finished_at") or last.get("started_at"),
            (human_duration(lag) if lag is not None else ("never succeeded" if last else ""))
            + (" (behind)" if r["behind"] else ""),
            human_age(r["source_change_age_s"]),
            last.get("read"), last.get("rejected"), flags or "", r["open_dead_letters"], r["pending_outbox"],
            _clip(last.get("error") or "", 300),
        ])
    print_table("systems (times in Beijing time; lag: since the last successful sync)",
                ["system", "last run", "at", "lag", "newest change", "read", "rejected", "flagged", "dead letters",
                 "outbox", "error"], table_rows)
    print_table(f"open alerts ({len(alerts)} errors and warnings, every one)",
                ["level", "kind", "system", "about", "since", "times", "message"],
                [[a["level"], a["kind"], a["system"], a["key"], a["first_seen_at"], a["occurrences"],
                  a["message"]] for a in alerts])  # whole: the remedy is at the end of the message
    print_table("time limits running out (open alerts, counted)", ["system", "red", "yellow"],
                [[s or "", clocks.get((s, "red"), 0), clocks.get((s, "yellow"), 0)]
                 for s in sorted({s for s, _ in clocks}, key=lambda s: s or "")])
    if invalid:
        print_table("systems-file entries that do not validate (their syncs fail, their cases wait in the outbox)",
                    ["system", "error"], [[name, error] for name, error in invalid.items()])
    if elsewhere:
        print_table("open dead letters outside the systems file (citizen processes, removed systems)",
                    ["filed under", "dead letters"], [[name, n] for name, n in elsewhere.items()])


def _clip(text: str, limit: int) -> str:
    """``text`` whole, or its first ``limit`` characters marked as cut (``--json`` has the whole text)."""
    return text if len(text) <= limit else text[:limit] + "… (--json: the whole text)"


@alerts_app.command("resolve")
@guard
def alerts_resolve(
    kind: Annotated[str, typer.Argument(help="The alert's kind, as tongban status shows it (task_failed, behind…).")],
    key: Annotated[str, typer.Argument(help="The alert's key ('about' in tongban status).")],
    systems: SystemsOpt = None,
    database_url: DbOpt = None,
) -> None:
    """Resolve one open alert by hand: for an alert whose cause a person has dealt with and that no run will
    resolve (a task renamed, a problem fixed outside Tongban). An alert whose cause is still there is raised
    again by the next run that meets it."""
    from gateway.ops.alerts import resolve_alerts

    runtime = runtime_from(systems, database_url, existing=True)
    if not resolve_alerts(runtime.engine, kind, [key]):  # type: ignore[arg-type]
        raise ConfigError(_no_such_alert(runtime.engine, kind, key))
    console.print(f"resolved {kind} {key}", markup=False)


def _no_such_alert(engine: Any, kind: str, key: str) -> str:
    """Why ``alerts resolve KIND KEY`` resolved nothing, with what is open: a kind nothing is open of (a typo) is
    not "no alert with that key", and the keys of a kind ``status`` only counts (time limits) are shown."""
    from gateway.store import alerts as alert_store

    with engine.connect() as conn:
        keys = sorted(alert_store.open_keys(conn, kind))
        kinds = sorted(alert_store.open_counts(conn)) if not keys else []
    if not keys:
        return (f"no open {kind} alert with key {key!r}: no alert of kind {kind!r} is open"
                + (f" (open kinds: {', '.join(kinds)})" if kinds else ""))
    shown = ", ".join(repr(k) for k in keys[:5]) + (f" … ({len(keys)} open)" if len(keys) > 5 else "")
    return f"no open {kind} alert with key {key!r}; open {kind} keys: {shown}"


_OPERATIONAL_LEVELS = ("error", "warning")
"""Listed one by one by ``status``, as on the console: these are few and each needs a person."""

_TIME_LIMIT_LEVELS = ("red", "yellow")
"""Counted, never listed: clocks running out on cases, materials, callbacks — there may be hundreds of thousands."""


def _time_limit_counts(engine: Any) -> Counter[tuple[str | None, str]]:
    """Open time-limit alerts per (system, level), counted in SQL by the query the console uses, so ``status``
    stays bounded in time and memory however many deadlines are open."""
    from gateway.store import alerts as alert_store

    counts: Counter[tuple[str | None, str]] = Counter()
    with engine.connect() as conn:
        for _kind, system, _stage, level, n in alert_store.time_limit_counts(conn, _TIME_LIMIT_LEVELS):
            counts[(system, level)] += n
    return counts


@app.command()
@guard
def reconcile(
    system: Annotated[str, typer.Argument(help="System to reconcile (source vs ledger vs hall, per day).")],
    day: Annotated[str | None, typer.Option("--day", help="Only this Beijing day (YYYY-MM-DD): reads that day's "
                                             "changes, not the whole source and ledger.")] = None,
    systems: SystemsOpt = None,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Per day: counts and content hashes of SYSTEM's source, the ledger and the hall; missing or divergent cases."""
    from datetime import date

    from gateway.sync.reconcile import reconcile_system

    try:
        only = None if day is None else date.fromisoformat(day)
    except ValueError:
        raise typer.BadParameter(f"{day!r} is not a date like 2026-12-03", param_hint="--day") from None
    report = reconcile_system(runtime_from(systems, database_url), system, day=only)
    if json_out:
        print_json(report.as_dict())
    else:
        receipts = report.hall_view == "receipts"
        seen = ("by Tongban's delivery receipts: the hall is not read back" if receipts
                else f"via {report.hall_view}")
        print_table(f"reconcile {system} (hall: {report.hall or 'none'}, {seen})",
                    ["day", "source", "ledger", "matched", "missing", "divergent", "extra", "rejected",
                     "hall (receipts)" if receipts else "hall", "missing in hall", "stale in hall", "same hash"],
                    [[d.day, d.source_count, d.ledger_count, d.matched, d.missing_in_ledger, d.divergent,
                      d.extra_in_ledger, d.rejected, f"{d.hall_count}/{d.hall_expected}", d.missing_in_hall,
                      d.stale_in_hall, "yes" if d.source_hash == d.ledger_hash else "no"] for d in report.days])
        problems = [p | {"day": d.day} for d in report.days for p in d.problems]
        if problems:
            print_table("missing or divergent", ["day", "source id", "case", "problem"],
                        [[p["day"], p["source_id"], p["case_no"],
                          p["problem"] + (" (not yet synced)" if p.get("not_yet_synced") else "")]
                         for p in problems[:200]])
        agree = ("source and ledger agree; the hall acknowledged every case (a hall that lost cases after "
                 "acknowledging them is not seen this way)" if receipts else "source, ledger and hall agree")
        console.print(f"[green]{agree}[/]" if report.ok else "[red]differences found[/]")
    if not report.ok:
        raise typer.Exit(1)


def _known_dead_letter_system(runtime: Any, system: str) -> None:
    """Refuse a ``--system`` that is neither configured nor named by any dead letter (a typo listed an empty table,
    as if the system had none). Dead letters of systems outside the systems file (好差评 ``evaluator``, 12345
    ``hotline``, a push target removed since) are filtered like any other."""
    from gateway.store.queries import dead_letter_listing

    if system in runtime.systems.names():
        return
    with runtime.engine.connect() as conn:
        if dead_letter_listing(conn, system=system, include_resolved=True, limit=1):
            return
    raise ConfigError(f"--system {system!r}: no such system in the systems file nor in the dead letters "
                      f"(configured: {', '.join(sorted(runtime.systems.names()))})")


@dead_letters_app.command("list")
@guard
def dead_letters_list(
    system: Annotated[str | None, typer.Option("--system")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include resolved ones.")] = False,
    records: Annotated[bool, typer.Option("--records", help="One row per dead letter instead of per rule.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="With --records: how many, newest first.")] = 100,
    systems: SystemsOpt = None,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Dead letters grouped by system, rule and field (count, example ids); --records for one row each."""
    runtime = runtime_from(systems, database_url, existing=True)
    if system is not None:
        _known_dead_letter_system(runtime, system)
    if records:
        from gateway.store.queries import dead_letter_count, dead_letter_listing

        with runtime.engine.connect() as conn:  # newest first: the ones being looked into
            rows = dead_letter_listing(conn, system=system, include_resolved=all_, limit=limit, newest_first=True)
            total = dead_letter_count(conn, system=system, include_resolved=all_) if len(rows) == limit else len(rows)
        shown = f"the newest {len(rows)} of {total}; --limit for more" if total > len(rows) else f"{total}"
        if json_out:
            print_json(rows)
            if total > len(rows):  # the list is what it always was; the rest is said beside it, not in it
                err_console.print(f"dead letters: {shown}", markup=False)
            return
        print_table(f"dead letters ({shown})", ["id", "kind", "system", "source id", "status", "tries", "reason"],
                    [[r["id"], r["kind"], r["system"], r["source_id"], r["status"], r["attempts"], r["reason"]]
                     for r in rows])
        return
    from gateway.ops.dead_letters import grouped_dead_letters

    groups = grouped_dead_letters(runtime.engine, system=system, include_resolved=all_)
    if json_out:
        print_json([g.as_dict() for g in groups])
        return
    print_table(f"dead letters by rule ({sum(g.count for g in groups)} rule breaks; tongban dead-letters show ID)",
                ["system", "kind", "rule", "field", "count", "e.g. #id (record)", "message"],
                [[g.system, g.kind, g.rule, g.field, g.count, g.examples(), g.message]
                 for g in groups])


@dead_letters_app.command("show")
@guard
def dead_letters_show(
    dead_letter_id: Annotated[int, typer.Argument(help="The id from tongban dead-letters list.")],
    systems: SystemsOpt = None,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """One dead letter in full: what broke which rule, and the raw input (personal data masked)."""
    from gateway.ops.dead_letters import dead_letter_detail

    runtime = runtime_from(systems, database_url, existing=True)
    detail = dead_letter_detail(runtime.engine, dead_letter_id, runtime.pii)
    if json_out:
        print_json(detail)
        return
    print_table(f"dead letter {detail['id']} ({detail['system']}, {detail['status']})", ["what", "value"],
                [[k, detail[k]] for k in ("kind", "source_id", "case_no", "attempts", "mapping_version",
                                          "created_at", "updated_at")])
    print_table("issues", ["field", "rule", "message"],
                [[i.get("field"), i.get("rule"), i.get("message")] for i in detail["issues"]])
    console.print("raw input (personal data masked):", style="bold")
    console.print(detail["raw"], markup=False, highlight=False, soft_wrap=True)


_CITIZEN_DEAD_LETTERS = {
    "evaluator": "好差评 ratings are replayed by tongban evaluations replay",
    "hotline": "12345 work orders are replayed by tongban workorders replay",
}
"""The dead-letter "systems" of the citizen processes (as the console names them) and the command that replays
each."""


@dead_letters_app.command("replay")
@guard
def dead_letters_replay(
    system_arg: Annotated[str | None, typer.Argument(
        metavar="SYSTEM", help="Only this system's dead letters (named as sync and remap name it).")] = None,
    system: Annotated[str | None, typer.Option("--system", help="The same, as an option.")] = None,
    systems: SystemsOpt = None,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Run dead-lettered records through the (fixed) mapping again; re-queue dead pushes."""
    from gateway.contract.errors import ConfigError
    from gateway.sync.reprocess import replay_dead_letters

    if system_arg is not None and system is not None and system_arg != system:
        raise ConfigError(f"two systems named: {system_arg} and --system {system}; name one")
    system = system_arg or system
    runtime = runtime_from(systems, database_url)
    if system in _CITIZEN_DEAD_LETTERS:  # dead letters of their own, outside the systems file: their own replay
        raise ConfigError(f"{system}'s dead letters are not a system's records: {_CITIZEN_DEAD_LETTERS[system]}")
    if system is not None:
        runtime.systems.get(system)  # an unknown name is an error, not "replayed 0"
    report = replay_dead_letters(runtime, system=system)
    if json_out:
        print_json(report.as_dict())
    else:
        for name, counts in report.systems.items():
            console.print(f"{name}: replayed {counts.read}, now in the ledger {counts.inserted + counts.updated}, "
                          f"still rejected {counts.rejected}")
        if report.rekeyed:
            console.print(f"records read without a usable key, keyed by the connector's current config: "
                          f"{report.rekeyed}")
        console.print(f"pushes re-queued {report.requeued_pushes}; open record dead letters left "
                      f"{report.still_open}")
        console.print(report.summary(), markup=False)
        for name, why in report.skipped.items():
            console.print(f"{name}: {why} (run the replay again once it ends)", markup=False)
        for name, why in report.unreplayable.items():
            console.print(f"{name}: not replayed: {why}", markup=False)
    if report.skipped or report.unreplayable:  # some systems were not replayed: a script must notice
        raise typer.Exit(1)


@mapping_app.command("check")
@guard
def mapping_check(
    system: Annotated[str, typer.Argument()],
    sample: Annotated[Path | None, typer.Option("--sample", help="JSON list or NDJSON of raw records.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Records to fetch from the live system.")] = 200,
    systems: SystemsOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Per-field coverage and failures of SYSTEM's mapping on its live sample (or --sample FILE)."""
    from gateway.kernel.config import load_systems_isolated
    from gateway.mapping.check import check_mapping, load_sample, quality_lines, sample_from_system

    config = load_systems_isolated(systems)[0]  # another entry's mistake is not this system's
    config.get(system)  # this one's: its error (file, line, setting), or "unknown system"
    records = load_sample(sample, **_sample_reading(config.get(system))) if sample else sample_from_system(
        config, system, limit=limit)
    result = check_mapping(config, system, records)
    if json_out:
        print_json(result)
    else:
        print_table(
            f"mapping {system} v{result['mapping_version']}: {result['records']} records, "
            f"{result['valid']} valid, {result['rejected']} rejected",
            ["field", "filled", "coverage", "failures", "rules"],
            [[f["field"], f["filled"], f"{f['coverage']:.0%}", f["failures"], ", ".join(f["rules"])]
             for f in result["fields"]],
        )
        for example in result["examples"][:10]:
            console.print(f"{example['record']}: {example['field']}: {example['message']} [{example['rule']}]",
                          style="yellow", markup=False, highlight=False)
            console.print(f"    input: {example['input']}", markup=False, highlight=False)
        flagged = quality_lines(result)
        if flagged:  # what --json lists under quality: kept and synced, but flagged
            console.print("quality flags (the records are kept, flagged):", style="yellow", markup=False)
            for line in flagged:
                console.print(f"    {line}", markup=False, highlight=False)
        if result["unmapped_source_fields"]:
            console.print("source fields the mapping does not read (schema drift?): "
                          + ", ".join(result["unmapped_source_fields"]), style="yellow", markup=False)
    # "0 records, 0 valid, 0 rejected" with exit 0 read as a pass: a check that saw nothing proves nothing
    if not result["records"]:
        fail(f"mapping {system}: no records to check — "
             + (f"the sample {sample} holds none" if sample else
                f"the system's stream {config.get(system).stream!r} answered none (try --sample FILE)"))
        raise typer.Exit(1)
    if result["rejected"]:
        fail(f"mapping {system}: {result['rejected']} of {result['records']} records rejected "
             f"(their fields and rules are listed {'under fields and examples' if json_out else 'above'})")
        raise typer.Exit(1)


def _sample_reading(system: Any) -> dict[str, Any]:
    """How a saved answer of ``system`` is read: its stream's ``record_selector`` and the connector's ``charset``
    (none when its connector config does not load: the sample is then read as a list of records)."""
    try:
        config = system.load_connector_config()
    except TongbanError:
        return {}
    stream = (config.get("streams") or {}).get(system.stream) or {}
    selector = stream.get("record_selector") if isinstance(stream, dict) else None
    charset = config.get("charset")
    return {"record_selector": selector if isinstance(selector, str) else "",
            "charset": charset if isinstance(charset, str) else None}


@connector_app.command("list")
@guard
def connector_list(systems: SystemsOpt = None, json_out: JsonOpt = False) -> None:
    """Registered connector kinds (entry-point group tongban.connectors) and the configured systems."""
    from gateway.kernel.config import load_systems_isolated
    from gateway.kernel.registry import available_kinds

    kinds = available_kinds()
    problem = None
    try:
        configured, invalid = load_systems_isolated(systems)
        system_rows = [[s.name, s.connector, s.role, s.title, ""] for s in configured.systems.values()]
        system_rows += [[name, "", "", "", str(error)] for name, error in invalid.items()]
    except TongbanError as exc:  # the file itself: said, not an empty table that reads as "no systems"
        system_rows, problem = [], str(exc)
    if json_out:
        print_json({"kinds": kinds, "systems": [dict(zip(["name", "kind", "role", "title", "error"], r, strict=True))
                                                for r in system_rows], **({"error": problem} if problem else {})})
    else:
        print_table("connector kinds", ["kind", "implementation"], list(kinds.items()))
        print_table("systems", ["system", "kind", "role", "title", "error"], system_rows)
    if problem or any(row[4] for row in system_rows):
        fail(problem or "the systems file has invalid entries (their errors are listed)")
        raise typer.Exit(1)


@connector_app.command("check")
@guard
def connector_check(
    system: Annotated[str, typer.Argument()],
    systems: SystemsOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Make one authenticated call to SYSTEM, then read the first page of its stream: its records must have the
    primary key and the cursor field the connector YAML names."""
    from gateway.kernel.config import load_systems_isolated
    from gateway.kernel.firstpage import check_first_page

    config = load_systems_isolated(systems)[0].get(system)  # this entry's error only, files checked
    connector_config = config.load_connector_config()
    connector = config.build_connector(connector_config)
    with connector:
        result = connector.check()
        page = check_first_page(config, connector, connector_config) if result.ok else None
    ok = result.ok and (page is None or page.ok)
    if json_out:
        print_json({"system": system, "ok": ok, "message": result.message,
                    **({"first_page": page.as_dict()} if page is not None else {})})
    else:
        console.print(f"{'[green]ok[/]' if result.ok else '[red]failed[/]'} {system}: ", end="", markup=True)
        console.print(result.message, markup=False, highlight=False)  # the system's own words: "[/api/v1/health]"
        if page is not None and page.ok:
            console.print(f"[green]ok[/] {system}: ", end="", markup=True)
            console.print(page.message, markup=False, highlight=False)
    if not ok:
        if page is not None and not page.ok:
            fail(f"{system}: {page.message}")
        raise typer.Exit(1)


@connector_app.command("new")
@guard
def connector_new(
    name: Annotated[str, typer.Argument(help="Name of the new connector (letters, digits, underscores).")],
    wsdl: Annotated[str | None, typer.Option("--wsdl", help="A SOAP service's WSDL: file or URL.")] = None,
    openapi: Annotated[str | None, typer.Option("--openapi", help="A REST API's OpenAPI/Swagger document.")] = None,
    out: Annotated[Path, typer.Option("--out", help="Repository root to write into.")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only report what was found; write nothing.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """From a WSDL or an OpenAPI document: the operations found (and what zeep loses), then a connector YAML,
    a mapping skeleton and an acceptance test with the key, cursor, paging and auth guessed from the source."""
    from gateway.contract.errors import ConfigError
    from gateway.kernel.registry import scaffolder

    if (wsdl is None) == (openapi is None):
        raise ConfigError("give exactly one of --wsdl FILE_OR_URL (a SOAP service) or --openapi FILE_OR_URL (REST)")
    kind, source = ("soap", wsdl) if wsdl is not None else ("rest", openapi)
    assert source is not None
    result = scaffolder(kind)(name, source, out=out, force=force, dry_run=dry_run)
    if json_out:
        print_json({**result.data, "files": [str(p) for p in result.files]})
        return
    for line in result.report:
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    for path in result.files:
        console.print(f"[green]wrote[/] {path}")
    if not dry_run and result.files:
        console.print(systems_entry(name, kind, result.secrets), markup=False, highlight=False, soft_wrap=True)


def systems_entry(name: str, kind: str, secrets: list[str]) -> str:
    """The entry to paste into ``config/systems.yaml`` for a connector just scaffolded: its files, its endpoint and
    each secret its YAML names, from ``TONGBAN_<NAME>_*`` variables as every shipped system's are (the scaffold
    named them three ways: the comment, the acceptance test and the shipped systems disagreed)."""
    env = f"TONGBAN_{name.upper()}"
    lines = [f"add to config/systems.yaml (under systems:), set {env}_URL"
             + "".join(f", {env}_{s.upper()}" for s in secrets) + f", then `tongban connector check {name}`:",
             f"  {name}:", f"    connector: {kind}", f"    connector_config: connectors/{name}.yaml",
             f"    mapping: ../mappings/{name}.yaml", f"    endpoint: ${{{env}_URL}}"]
    if secrets:
        lines.append("    secrets: {" + ", ".join(f"{s}: {env}_{s.upper()}" for s in secrets) + "}")
    return "\n".join(lines)


@db_app.command("upgrade")
@guard
def db_upgrade(systems: SystemsOpt = None, database_url: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Create or migrate the ledger schema (Alembic): the ledger every other command uses."""
    from gateway.store.migrate import current_revision

    engine = ledger_engine(systems, database_url)
    revision = current_revision(engine) or "base"
    if json_out:
        print_json({"database": engine.url.render_as_string(hide_password=True).split("@")[-1],
                    "revision": revision})
    else:
        console.print(f"[green]ledger at revision {revision}[/]")


@sandbox_app.command("serve", add_help_option=False,
                     context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def sandbox_serve(ctx: typer.Context) -> None:
    """Run the sandbox systems on 127.0.0.1 until Ctrl+C (--help lists the sandbox's own options)."""
    from gateway.demo.sandbox import serve_sandbox

    raise typer.Exit(serve_sandbox(ctx.args))


def demo_next_steps(workdir: Path) -> str:
    """What a user does after ``demo --once`` to look around: the ledger stays, sealed with the demo's key."""
    env = workdir / "demo.env"
    return (f"\nThe demo's ledger stays in {workdir}; its key and secrets are in {env}. To look at it:\n"
            f"  set -a; . {env}; set +a        # without the key, sealed records and replays are refused\n"
            "  tongban status\n"
            "  tongban console operators add admin --role admin     # asks for a password\n"
            "  tongban console serve --port 8500                     # http://127.0.0.1:8500/console/")


@app.command()
@guard
def demo(
    once: Annotated[bool, typer.Option("--once", help="Run every DAG once in this process, print a summary, exit.")] = False,
    records: Annotated[int, typer.Option("--records", help="Records per department system.")] = 300,
    frontdesk: Annotated[int, typer.Option("--frontdesk", help="Cases accepted at the hall's windows.")] = 10,
    seed: Annotated[int, typer.Option("--seed")] = 42,
    workdir: Annotated[Path, typer.Option("--workdir", help="Where the demo ledger and Airflow home go.")] = Path(".tongban"),
    airflow_port: Annotated[int, typer.Option("--airflow-port", help="Airflow UI/API port (live mode).")] = 8080,
    api_port: Annotated[int, typer.Option("--api-port", help="Gateway API port (live mode).")] = 8400,
    console_port: Annotated[int, typer.Option("--console-port", help="Ops console port (live mode).")] = 8500,
    json_out: JsonOpt = False,
) -> None:
    """The sandbox systems, Airflow (standalone) and the gateway API until Ctrl+C; --once: every DAG once."""
    if not once:
        from gateway.demo.live import run_demo_live

        raise typer.Exit(run_demo_live(records=records, frontdesk=frontdesk, seed=seed, workdir=workdir,
                                       airflow_port=airflow_port, api_port=api_port, console_port=console_port))
    from gateway.demo.once import run_demo_once

    summary = run_demo_once(records=records, frontdesk=frontdesk, seed=seed, workdir=workdir,
                            progress=None if json_out else console.print)
    if json_out:
        print_json(summary)
    else:
        print_table("demo summary", ["what", "value"], [[k, v] for k, v in summary["checks"].items()])
        for failure in summary["failures"]:
            fail(failure)
        console.print(f"Airflow task logs: {summary['airflow_log']}")
        console.print(demo_next_steps(workdir), markup=False)
    if not summary["ok"]:
        raise typer.Exit(1)

