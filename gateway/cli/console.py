"""``tongban console``: serve the ops console, and manage who may log in to it."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.options import DbOpt, JsonOpt, SystemsOpt, app, guard, require_free_port, runtime_from
from gateway.cli.output import console, print_json, print_table

console_app = typer.Typer(no_args_is_help=True, help="The ops console: Tongban's own pages for operators.")
operators_app = typer.Typer(no_args_is_help=True, help="Who may log in to the console (viewer or admin).")
console_app.add_typer(operators_app, name="operators")
app.add_typer(console_app, name="console")

OperatorsOpt = Annotated[Path | None, typer.Option(
    "--operators", help="Operators file (default: $TONGBAN_CONSOLE_OPERATORS or .tongban/console-operators.json).")]


def _book(path: Path | None):  # noqa: ANN202 - OperatorBook, imported lazily to keep `tongban --help` fast
    from gateway.console.operators import OperatorBook, operators_path

    return OperatorBook(operators_path(path))


@console_app.command("serve")
@guard
def console_serve(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8500,
    operators: OperatorsOpt = None,
    systems: SystemsOpt = None,
    database_url: DbOpt = None,
    forwarded_allow_ips: Annotated[str | None, typer.Option(
        "--forwarded-allow-ips",
        help="Behind a reverse proxy: the proxy addresses (comma-separated, '*' for any) whose X-Forwarded-For and "
             "X-Forwarded-Proto are believed. Without it they are ignored from everyone, so a client cannot pick "
             "its own address to dodge the per-address login throttle.")] = None,
) -> None:
    """Serve the console at http://HOST:PORT/console/ until Ctrl+C (log in as an operator added first).

    The client address the login throttle counts is the TCP peer's, unless --forwarded-allow-ips names the
    reverse proxy in front of the console."""
    import uvicorn

    from gateway.console.app import create_console_app
    from gateway.crypto.pii import install_log_redaction

    require_free_port(host, port, "ops console")
    application = create_console_app(runtime_from(systems, database_url, existing=True), _book(operators))
    install_log_redaction()
    console.print(f"ops console on http://{host}:{port}/console/")
    trusted = (forwarded_allow_ips or "").strip()
    uvicorn.run(application, host=host, port=port, log_level="warning", proxy_headers=bool(trusted),
                forwarded_allow_ips=trusted or None)


@operators_app.command("add")
@guard
def operators_add(
    name: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option("--role", help="viewer (reads) or admin (may replay dead letters).")] = "viewer",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    operators: OperatorsOpt = None,
) -> None:
    """Add an operator, or set a new password and role for one that exists."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif os.environ.get("TONGBAN_CONSOLE_PASSWORD"):
        password = os.environ["TONGBAN_CONSOLE_PASSWORD"]
    else:
        password = typer.prompt(f"password for {name}", hide_input=True, confirmation_prompt=True)
    book = _book(operators)
    book.add(name, password, role)
    console.print(f"{name} ({role}) can log in to the console; operators file: {book.path}")


@operators_app.command("list")
@guard
def operators_list(operators: OperatorsOpt = None, json_out: JsonOpt = False) -> None:
    """The operators and their roles (never their passwords)."""
    names = _book(operators).names()
    if json_out:
        print_json([{"name": n, "role": r} for n, r in names])
        return
    print_table("console operators", ["name", "role"], names)


@operators_app.command("remove")
@guard
def operators_remove(name: Annotated[str, typer.Argument()], operators: OperatorsOpt = None) -> None:
    """Remove an operator: their open sessions stop working at their next request."""
    _book(operators).remove(name)
    console.print(f"{name} removed")
