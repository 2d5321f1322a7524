"""``tongban cases show CASE_NO``: one case as the ledger holds it — what an engineer adding a system looks at to
see that its records arrived canonical (characters, Beijing times, mapped codes), where they came from and
where they went. Personal data is masked as in ``tongban dead-letters show``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from gateway.cli.options import DbOpt, JsonOpt, SystemsOpt, app, guard, runtime_from
from gateway.cli.output import console, print_json, print_table

cases_app = typer.Typer(no_args_is_help=True, help="Cases as the ledger holds them.")
app.add_typer(cases_app, name="cases")


@cases_app.command("show")
@guard
def cases_show(
    case_no: Annotated[str, typer.Argument(help="The case number (办件编号).")],
    systems: SystemsOpt = None,
    database_url: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """One case: its canonical document (personal data masked), the source records it was merged from, its pushes
    and the dead letters under its number."""
    from gateway.ops.cases import case_view

    runtime = runtime_from(systems, database_url, existing=True)
    view = case_view(runtime.engine, case_no, runtime.pii)
    if json_out:
        print_json(view)
        return
    print_table(f"case {view['case_no']} (version {view['version']}{', deleted' if view['deleted'] else ''})",
                ["what", "value"],
                [["merged from", view["origin_system"]], ["changed at the source", view["source_updated_at"]],
                 ["written to the ledger", view["updated_at"]]])
    console.print("canonical document (personal data masked):", style="bold")
    console.print(json.dumps(view["document"], ensure_ascii=False, indent=2), markup=False, highlight=False,
                  soft_wrap=True)
    print_table("source records", ["system", "source id", "written", "deleted"],
                [[s["system"], s["source_id"], s["updated_at"], s["deleted"]] for s in view["sources"]])
    print_table("pushes", ["target", "version", "status", "delivered"],
                [[d["target_system"], d["version"], d["status"], d["delivered_at"]] for d in view["deliveries"]])
    if view["dead_letters"]:
        print_table("dead letters under this number", ["id", "system", "source id", "status", "reason"],
                    [[d["id"], d["system"], d["source_id"], d["status"], d["reason"]] for d in view["dead_letters"]])
