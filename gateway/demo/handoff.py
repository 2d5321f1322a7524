"""What the demo leaves for a second shell: ``tongban.yaml`` in the working directory (the demo's systems, wired
to the sandbox ports it used, with its ledger as ``database_url``) and ``.tongban/demo.env`` (the sandbox's demo
secrets), so that ``tongban status`` or ``tongban dead-letters list`` there read the demo's ledger instead of a
new empty one.

A ``tongban.yaml`` that the demo did not write is never overwritten (the demo says so and writes nothing).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from gateway.kernel.config import SystemConfig, SystemsConfig

MARKER = "# written by `tongban demo`: the demo's systems and ledger for a second shell (safe to delete)"


def is_handoff(path: Path) -> bool:
    """A systems file the demo wrote (never the demo's own input: its endpoints hold last run's ports)."""
    try:
        return path.read_text(encoding="utf-8").startswith(MARKER)
    except OSError:
        return False


def portable_entry(system: SystemConfig) -> dict[str, Any]:
    """A system's entry for a systems file written elsewhere: what differs from the defaults, with the mapping
    and connector files as absolute paths (a relative one would be read against the new file's folder)."""
    entry = system.model_dump(mode="json", exclude={"name", "base_dir"}, exclude_defaults=True)
    entry["mapping"] = str(system.mapping_path)
    if isinstance(system.connector_config, str):
        entry["connector_config"] = str(system.resolve_path(system.connector_config))
    return entry


def write_handoff(systems: SystemsConfig, *, database_url: str, env: Mapping[str, str], workdir: Path,
                  cwd: Path | None = None) -> list[Path]:
    """Write ``tongban.yaml`` (unless a foreign one is there) and ``demo.env``; the paths written."""
    cwd = (cwd or Path.cwd()).resolve()
    written: list[Path] = []
    target = cwd / "tongban.yaml"
    if not target.exists() or is_handoff(target):
        entries = {}
        for name, system in systems.systems.items():
            entry = portable_entry(system)
            if system.endpoint is not None:  # the sandbox ports this demo uses (the process's environment)
                entry["endpoint"] = system.resolved_endpoint()
            entries[name] = entry
        text = MARKER + "\n" + yaml.safe_dump({"database_url": database_url, "systems": entries},
                                               allow_unicode=True, sort_keys=False)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    env_file = workdir / "demo.env"
    text = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in sorted(env.items())
                   if k.startswith(("TONGBAN_", "AIRFLOW_CONN_")))
    # the sandbox's secrets and the ledger's key: readable by this user only, as the key file and operators file are
    fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(env_file, 0o600)  # a file an earlier demo wrote keeps its mode through O_CREAT: set it

    written.append(env_file)
    return written


__all__ = ["MARKER", "is_handoff", "portable_entry", "write_handoff"]
