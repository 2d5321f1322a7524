"""What the CLI prints is what happened, in one piece: a server command on a port another process holds fails in one
line naming the port, before it claims to be "on" an address the other process answers (found by a new engineer
with the demo's console on 8500); a system's own words are printed as they are, never read as markup."""

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


def test_connector_check_prints_the_systems_words_as_they_are(tmp_path) -> None:
    """Found by review: the check's message went through rich markup: a server's "[/api/v1/health]" crashed the
    command (a closing tag matching nothing) instead of printing why the check failed."""
    from pathlib import Path

    import yaml
    from http_testlib import ScriptedServer, json_answer

    repo = Path(__file__).resolve().parents[2]
    server = ScriptedServer(lambda seen: json_answer(
        b'{"code": 404, "msg": "The requested resource [/api/v1/health] is not available [error]"}'))
    server.start()
    try:
        config = yaml.safe_load((repo / "config" / "connectors" / "sd_civil.yaml").read_text(encoding="utf-8"))
        config.pop("auth", None)
        config["retry"] = {"max_attempts": 1, "backoff_seconds": 0, "jitter": False}
        (tmp_path / "civil.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        systems = yaml.safe_load((repo / "config" / "systems.yaml").read_text(encoding="utf-8"))
        civil = systems["systems"]["sd_civil"]
        civil.update(connector_config=str(tmp_path / "civil.yaml"), endpoint=server.url, secrets={},
                     mapping=str((repo / "config" / civil["mapping"]).resolve()))
        systems["systems"] = {"sd_civil": civil}
        (tmp_path / "systems.yaml").write_text(yaml.safe_dump(systems, allow_unicode=True), encoding="utf-8")
        result = CliRunner().invoke(app, ["connector", "check", "sd_civil", "--systems", str(tmp_path / "systems.yaml")],
                                    terminal_width=300)
    finally:
        server.stop()
    assert result.exit_code == 1 and result.exception is None or isinstance(result.exception, SystemExit), \
        result.output
    assert "[/api/v1/health] is not available [error]" in " ".join(result.output.split()), result.output
