"""``tongban sandbox serve``: the simulated foreign systems, started from the ``tongban`` command.

The sandbox stands for systems other people wrote; only demo code may import it (the import-direction test
holds the rest of the product to that).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any


def serve_sandbox(args: Sequence[str], systems_path: str | None = None) -> int:
    """Run ``python -m sandbox serve ARGS`` in this process until Ctrl+C; the exit code. Once the servers listen,
    prints the ``export`` lines a second shell needs for ``tongban sync``, ``push`` … to reach them: each system of
    the systems file (and of the citizen settings) whose endpoint's default port is a sandbox server's, its URL and
    demo secrets in the variables the files name — the sandbox's own lines give the secrets, not where they go."""
    from sandbox.server import main as sandbox_main

    def exports(handle: Any) -> None:
        print(export_lines(handle, systems_path), flush=True)

    return int(sandbox_main(["serve", *args], on_started=exports) or 0)


def export_lines(handle: Any, systems_path: str | None = None) -> str:
    """The ``export VAR=value`` lines (shell-quoted) wiring the systems file's, the citizen settings' and the gateway
    file's issuers' systems to the running sandbox, with a heading; a note instead when no system's endpoint points at a sandbox port."""
    from gateway.demo.once import citizen_entries, sandbox_variables
    from gateway.kernel.config import load_systems

    try:
        systems = load_systems(systems_path)
    except Exception as exc:  # noqa: BLE001 - the sandbox serves either way; say why no lines follow
        return f"# no export lines: the systems file could not be read ({exc})"
    entries = [(c.name, c.endpoint, c.secrets) for c in systems.systems.values()] + citizen_entries() \
        + _issuer_entries()
    wired, endpoints, secrets = sandbox_variables(entries, handle)
    if not wired:
        return "# no system of the systems file points at a sandbox port: nothing to export"
    lines = [f"export {name}={shlex.quote(value)}" for name, value in sorted({**endpoints, **secrets}.items())]
    return (f"# for another shell: {len(wired)} systems to the sandbox ({', '.join(sorted(wired))})\n"
            + "\n".join(lines) + f"\n{EXPORTS_END}")


def _issuer_entries() -> list[tuple[str, str | None, dict[str, str]]]:
    """The certificate issuers of the gateway file (``TONGBAN_GATEWAY_CONFIG``, else ``config/gateway.yaml``): the
    licence registry the harvest reads."""
    from gateway.sharing.settings import load_gateway_settings

    try:
        issuers = load_gateway_settings().issuers
    except Exception:  # noqa: BLE001 - no gateway file, or one with a mistake: the systems' lines still help
        return []
    return [(name, c.endpoint, c.secrets) for name, c in issuers.items()]


EXPORTS_END = "# paste the lines above into another shell, then: tongban sync sd_civil (Ctrl+C here stops the sandbox)"
"""The last line :func:`export_lines` prints: where the lines end, for a reader and for a script."""
