"""What every scaffold does the same way: a reason for every guess, and the three files of a new connector,
never written over existing ones."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.contract.errors import ConfigError


@dataclass
class Guess:
    """One thing a scaffold guessed: what (a YAML key), the value written, why, and whether a person must check it."""

    what: str
    value: Any
    why: str
    check: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"what": self.what, "value": self.value, "why": self.why, "check": self.check}


def guess_lines(guesses: Iterable[Guess], flow: Callable[[Any], str], indent: str = "      ") -> list[str]:
    """The report's line per guess — what, the value written (``flow`` renders it as YAML), why, and "(check)"
    where a person must look — the same in every scaffold's report."""
    lines = []
    for g in guesses:
        mark = " (check)" if g.check and "check" not in g.why else ""
        value = "none" if g.value is None else flow(g.value)
        lines.append(f"{indent}{g.what}: {value} — {g.why}{mark}")
    return lines


def scaffold_files(root: Path, name: str, *, connector: str, mapping: str, test: str) -> dict[Path, str]:
    """Where the connector YAML, the mapping skeleton and the acceptance test of ``name`` go under ``root``."""
    if not name.replace("_", "").isalnum() or not name[0].isalpha():
        raise ConfigError(f"connector name {name!r}: use letters, digits and underscores, starting with a letter")
    return {
        root / "config" / "connectors" / f"{name}.yaml": connector,
        root / "mappings" / f"{name}.yaml": mapping,
        root / "tests" / "connectors" / f"test_{name}_acceptance.py": test,
    }


def write_files(files: dict[Path, str], *, force: bool) -> list[Path]:
    """Write ``files``; refuse (naming them) to overwrite any that exist unless ``force``."""
    existing = [p for p in files if p.exists()]
    if existing and not force:
        raise ConfigError(f"would overwrite {', '.join(map(str, existing))}; pass --force to replace them")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)


__all__ = ["Guess", "scaffold_files", "write_files"]
