"""docs/systems-file.md names every setting the systems file takes: an engineer adding a system reads that page,
not gateway/kernel/config.py. A setting added to the code without its line there fails here."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.kernel.config import PushConfig, SystemConfig, SystemsConfig

DOC = Path(__file__).resolve().parents[2] / "docs" / "systems-file.md"


def test_every_setting_of_the_systems_file_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    documented = set(re.findall(r"`([a-z_]+)`", text))
    settings = {n for n, f in SystemConfig.model_fields.items() if not f.exclude} - {"name"}
    settings |= set(PushConfig.model_fields) | (set(SystemsConfig.model_fields) - {"path"}) | {"defaults"}
    assert settings - documented == set()
