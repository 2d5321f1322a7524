"""``tongban sandbox serve``: the simulated foreign systems, started from the ``tongban`` command.

The sandbox stands for systems other people wrote; only demo code may import it (the import-direction test
holds the rest of the product to that).
"""

from __future__ import annotations

from collections.abc import Sequence


def serve_sandbox(args: Sequence[str]) -> int:
    """Run ``python -m sandbox serve ARGS`` in this process until Ctrl+C; the exit code."""
    from sandbox.server import main as sandbox_main

    return int(sandbox_main(["serve", *args]) or 0)
