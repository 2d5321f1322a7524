"""A server command on a port another process holds fails in one line naming the port, before it claims to be
"on" an address the other process answers (found by a new engineer with the demo's console on 8500)."""

from __future__ import annotations

import socket

from typer.testing import CliRunner

from gateway.cli import app


def test_console_and_gateway_on_a_taken_port_fail_in_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for args, what in ((["console", "serve"], "ops console"), (["serve"], "gateway API")):
            result = CliRunner().invoke(app, [*args, "--port", str(port)])
            assert result.exit_code != 0
            assert f"{what}: 127.0.0.1:{port} is in use" in " ".join(result.output.split()), result.output
            assert "on http://" not in result.output and "Traceback" not in result.output
