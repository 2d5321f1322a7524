"""What every scaffold writes the same way: the three files of a new connector, never over existing ones."""

from __future__ import annotations

from pathlib import Path

from gateway.contract.errors import ConfigError


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


__all__ = ["scaffold_files", "write_files"]
