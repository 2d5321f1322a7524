"""Fixtures of the process tests: the 一件事 company world (``world``; a test file may define its own)."""

from __future__ import annotations

from bundles_testlib import world  # noqa: F401  (the fixture)
