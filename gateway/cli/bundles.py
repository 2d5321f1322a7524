"""Commands of the 一件事 bundles: ``tongban bundles apply FILE|- / status REF / list``.

``apply`` takes one application (JSON or YAML, from a file or ``-`` for stdin): the bundle's code (``bundle``, or
``--bundle``, or the only bundle defined), the hall's own ``reference``, the ``channel``, the merged ``form`` and
each material once (``content_base64``, ``text``, or ``file``: a path read from the application's directory). Every
broken rule of the form is named — the application, the field, the rule — and the exit code is 1. The parts that
wait for nothing are queued at once; the push delivers them, and the ``tongban_handoff`` DAG releases the rest
(:func:`gateway.process.bundles.scan_bundles`). ``status`` reads one bundle by its number or by the application's
reference; ``list`` all of them, newest first.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

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
from gateway.cli.output import console, fail, print_json, print_table
from gateway.contract.errors import ConfigError, FieldIssue, RecordRejected

bundles_app = typer.Typer(no_args_is_help=True, help="一件事: one application, each material once, N department "
                                                     "systems, one status.")
app.add_typer(bundles_app, name="bundles")

BundlesOpt = Annotated[Path | None, typer.Option("--bundles", help="Bundles file (default: $TONGBAN_BUNDLES, "
                                                                   "bundles.yaml, config/bundles.yaml).")]


def read_application(source: str) -> tuple[dict[str, Any], str]:
    """The application in ``source`` (a path, or ``-`` for stdin) and the name to call it by; materials given as
    ``file`` are read (relative to the application's directory) into ``content_base64``."""
    from gateway.kernel.yamlfile import load_yaml, read_config_text

    if source == "-":
        text, where, base = sys.stdin.read(), "<stdin>", Path.cwd()
    else:
        path = Path(source)
        text, where, base = read_config_text(path), str(path), path.resolve().parent
    data = load_yaml(text, where=where)  # JSON is YAML
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected one application (a mapping with reference, form and materials)")
    record = str(data.get("reference") or where)
    issues: list[FieldIssue] = []
    materials = data.get("materials")
    entries = materials if isinstance(materials, list) else \
        [{"code": k, **_material_entry(v)} for k, v in materials.items()] if isinstance(materials, dict) else []
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("file"), str) and "content_base64" not in entry:
            file = base / entry["file"]
            try:
                entry["content_base64"] = base64.b64encode(file.read_bytes()).decode()
            except OSError as exc:
                issues.append(FieldIssue(record, f"materials.{entry.get('code') or '?'}", "bundle.material_file",
                                         f"cannot read {file}: {exc.strerror}"))
    if issues:
        raise RecordRejected(record, issues)
    if isinstance(materials, dict):
        data["materials"] = entries
    return data, where


def _material_entry(value: Any) -> dict[str, Any]:
    """A material written under its code: its settings, or a file's path alone (``id_proof: id.pdf``)."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        return {"file": value}
    return {} if value is None else {"content": value}  # checked, and named, with the others


def _rejected(exc: RecordRejected, json_out: bool) -> NoReturn:
    if json_out:
        print_json({"applied": False, "record": exc.record,
                    "issues": [{"record": i.record, "field": i.field, "rule": i.rule, "message": i.message}
                               for i in exc.issues]})
    for issue in exc.issues:
        fail(str(issue))
    fail(f"{exc.record}: not applied ({len(exc.issues)} rule(s) broken)")
    raise typer.Exit(1)


@bundles_app.command("apply")
@guard
def bundles_apply(
    source: Annotated[str, typer.Argument(metavar="FILE|-", help="The application (JSON or YAML); - reads stdin.")],
    bundle: Annotated[str | None, typer.Option("--bundle", help="The bundle's code (default: the application's "
                                                                "`bundle`, or the only one defined).")] = None,
    bundles_file: BundlesOpt = None,
    systems: SystemsOpt = None,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Check one application against the merged form, store it and each material once, queue the first parts."""
    from gateway.ops.deadlines import WorkCalendar
    from gateway.process.bundle_spec import BundleCatalogue
    from gateway.process.bundles import BundleConsents, apply_bundle, bundle_detail

    try:
        application, where = read_application(source)
    except RecordRejected as exc:
        _rejected(exc, json_out)
    spec = BundleCatalogue.load(bundles_file).chosen(bundle or application.get("bundle"), where=where,
                                                     ask="`bundle:` in the application or --bundle")
    runtime = runtime_from(systems, database_url)
    try:
        consents = BundleConsents.for_runtime(runtime)
        calendar = WorkCalendar.load(systems_path=runtime.systems.path)
        try:
            result = apply_bundle(runtime.engine, spec, application, systems=runtime.systems, pii=runtime.pii,
                                  consents=consents, calendar=calendar)
        except RecordRejected as exc:
            _rejected(exc, json_out)
        detail = bundle_detail(runtime.engine, result.bundle_no) or {}
    finally:
        runtime.close()
    parts = [{"part": p["part"], "system": p["system"], "case_no": p["case_no"], "state": p["state"]}
             for p in detail.get("parts", [])]
    if json_out:
        print_json({"applied": True, "bundle_no": result.bundle_no, "bundle_code": spec.code,
                    "reference": application.get("reference"), "created": result.created,
                    "released": result.released, "status": detail.get("status"), "due_at": detail.get("due_at"),
                    "parts": parts})
        return
    console.print(f"{result.bundle_no}: {'applied' if result.created else 'already applied'} — {spec.code} "
                  f"{spec.name}" + (f" (reference {application['reference']})" if application.get("reference")
                                    else ""), markup=False)
    print_table("parts", ["part", "system", "case", "state"],
                [[p["part"], p["system"], p["case_no"], p["state"]] for p in parts])
    if runtime.pii is None:
        console.print("no gateway keys (TONGBAN_KEY_FILE): the parts that fetch a certificate through the gateway "
                      "cannot be released", markup=False)


def _find(engine: Any, ref: str, bundles_file: Path | None) -> dict[str, Any] | None:
    """A bundle by its number, else by the application's reference under any defined bundle."""
    from gateway.process.bundle_spec import BundleCatalogue
    from gateway.process.bundles import find_bundle

    try:
        codes = sorted(BundleCatalogue.load(bundles_file).bundles)
    except ConfigError:
        codes = []
    return find_bundle(engine, ref, codes)


@bundles_app.command("status")
@guard
def bundles_status(
    ref: Annotated[str, typer.Argument(metavar="REF", help="The bundle number (YJS…) or the application's "
                                                           "reference.")],
    bundles_file: BundlesOpt = None,
    systems: SystemsOpt = None,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """One bundle: its status (and why), its parts as their systems last wrote them, its materials, its trail."""
    detail = on_ledger(systems, database_url, lambda engine: _find(engine, ref, bundles_file))
    if detail is None:
        raise ConfigError(f"bundle {ref}: no such bundle (give its number, YJS…, or the application's reference; "
                          "tongban bundles list shows them)")
    if json_out:
        print_json(detail)
        return
    console.print(f"{detail['bundle_no']}: {detail['status']} — {detail['bundle_code']} {detail['applicant_name']}"
                  + (f" (reference {detail['reference']})" if detail.get("reference") else "")
                  + (f"; {detail['reason']}" if detail.get("reason") else ""), markup=False)
    console.print(f"submitted {detail['submitted_at']}, due {detail.get('due_at') or '-'}, finished "
                  f"{detail.get('finished_at') or '-'}", markup=False)
    print_table("parts", ["part", "system", "case", "state", "released", "finished", "certificate", "reason"],
                [[p["part"], p["system"], p["case_no"], p["state"], p.get("released_at") or "",
                  p.get("finished_at") or "", p.get("certificate_no") or "", p.get("reason") or ""]
                 for p in detail["parts"]])
    print_table("materials (each stored once)", ["code", "name", "sha256", "bytes"],
                [[m["code"], m["name"], m["sha256"][:16], m["size"]] for m in detail["materials"]])
    print_table("audit trail", ["at", "step", "actor", "detail"],
                [[e["at"], e["step"], e["actor"],
                  ", ".join(f"{k}={v}" for k, v in (e.get("detail") or {}).items() if v is not None)]
                 for e in detail["events"]])


@bundles_app.command("list")
@guard
def bundles_list(
    status: Annotated[str | None, typer.Option("--status", help="Only bundles in this status (submitted, "
                                                                "in_progress, held, finished, failed).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many rows, newest first.")] = 200,
    systems: SystemsOpt = None,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Bundles, newest first, with their status and why."""
    from gateway.process.bundles import bundle_overview

    overview = on_ledger(systems, database_url, lambda engine: bundle_overview(engine, status=status, limit=limit))
    rows = overview["bundles"]
    if json_out:
        print_json(overview)
        return
    print_table("一件事 bundles", ["bundle", "code", "reference", "applicant", "status", "submitted", "due",
                                  "finished", "reason"],
                [[b["bundle_no"], b["bundle_code"], b.get("reference") or "", b["applicant_name"], b["status"],
                  b["submitted_at"], b.get("due_at") or "", b.get("finished_at") or "", b.get("reason") or ""]
                 for b in rows])
    if overview["shown"] < overview["total"]:
        console.print(f"the newest {overview['shown']} of {overview['total']} shown (--limit)", markup=False)
    console.print(", ".join(f"{k}: {v}" for k, v in sorted(overview["counts"].items())) or "no bundles",
                  markup=False)


@bundles_app.command("scan")
@guard
def bundles_scan(
    now: Annotated[str | None, typer.Option("--now", help="Scan as of this instant (ISO 8601; default: now).")] = None,
    bundles_file: BundlesOpt = None,
    systems: SystemsOpt = None,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """One pass over every live bundle, as the tongban_handoff DAG's scan_bundles task runs it: read each part as its
    system last wrote it, release the parts whose turn has come, derive each bundle's status."""
    from gateway.process.asof import BUNDLE_CONSEQUENCE, refuse_ahead_of_clock
    from gateway.process.bundle_spec import BundleCatalogue
    from gateway.process.bundles import BundleConsents, scan_bundles

    moment = now_option(now)
    refuse_ahead_of_clock(moment, name="--now", consequence=BUNDLE_CONSEQUENCE,
                          hint="scan without --now (the present) or with an earlier instant (a catch-up)")
    catalogue = BundleCatalogue.load(bundles_file)
    report = on_runtime(systems, database_url, lambda runtime: scan_bundles(
        runtime.engine, catalogue, systems=runtime.systems, pii=runtime.pii,
        consents=BundleConsents.for_runtime(runtime), now=moment))
    if json_out:
        print_json(report.as_dict())
        return
    console.print(f"{report.live} live bundle(s): {report.released} part(s) released, {report.in_progress} in "
                  f"progress, {report.held} held; finished {', '.join(report.finished) or 'none'}; failed "
                  f"{', '.join(report.failed) or 'none'}", markup=False)
