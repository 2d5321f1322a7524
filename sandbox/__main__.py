"""``python -m sandbox serve`` — see ``sandbox.server.main``."""

from __future__ import annotations

import sys

from .server import main

if __name__ == "__main__":
    sys.exit(main())
