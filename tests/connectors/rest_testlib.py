"""What the REST connector tests share: the shipped connector YAML of each sandbox REST system."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHIPPED = {"civil": "sd_civil", "estate": "jn_estate", "hall": "sd_hall", "social": "jn_social"}
"""Connector name → its file in config/connectors (the one copy the sync, the docs and these tests use)."""


def example(name: str) -> Path:
    return REPO / "config" / "connectors" / f"{SHIPPED[name]}.yaml"
