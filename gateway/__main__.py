"""``python -m gateway`` is the ``tongban`` command (useful where the console script is not on PATH)."""

from gateway.cli import main

main()
