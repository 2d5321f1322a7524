"""A long sync is not silent at a terminal (a live line with the records read so far), and prints nothing of it
into a pipe or with --json (logs and machines get the summary only)."""

from __future__ import annotations

import os
import pty
import subprocess
from typing import Any


def _in_a_terminal(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run ``argv`` with stdout and stderr on a pseudo-terminal; everything it wrote, and its exit code."""
    main, child = pty.openpty()
    process = subprocess.Popen(argv, stdin=child, stdout=child, stderr=child, env={**env, "COLUMNS": "200"},
                               close_fds=True)
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    return process.wait(timeout=300), b"".join(chunks).decode("utf-8", "replace")


def test_sync_shows_progress_at_a_terminal_only(make_world: Any) -> None:
    world = make_world(civil=1200, estate=0)
    code, shown = _in_a_terminal(world.cli("sync", "sd_civil"), world.env)
    assert code == 0, shown
    assert "\x1b[?25l" in shown and " records" in shown  # the live line (Rich hides the cursor, redraws it)
    assert "sync sd_civil ok" in shown
    piped = subprocess.run(world.cli("sync", "sd_civil", "--full-refresh"), env=world.env, capture_output=True,
                           text=True, timeout=300)
    assert piped.returncode == 0, piped.stderr
    assert " records " not in piped.stdout and "\x1b[?25l" not in piped.stdout  # no live line, no cursor games
    code, shown = _in_a_terminal(world.cli("sync", "sd_civil", "--json"), world.env)
    assert code == 0 and "\x1b[?25l" not in shown  # --json: the JSON only
