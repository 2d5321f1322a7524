"""Which catalogue systems to harvest: ``config/catalogues.yaml``, each entry shaped like a system of the systems
file (connector, connector_config, mapping, endpoint, secrets), so a catalogue is read through the same
connector contract and declarative mapping as any case system — but it is not a case system, and the sync
DAG factory must not build a case sync for it, hence a file of its own.

    catalogues:
      sd_catalogue:
        connector: rest
        connector_config: connectors/sd_catalogue.yaml
        mapping: ../mappings/catalogue/sd_catalogue.yaml
        stream: entries
        endpoint: ${TONGBAN_SD_CATALOGUE_URL:-http://127.0.0.1:8108}
        secrets: {token: TONGBAN_SD_CATALOGUE_TOKEN}

``TONGBAN_CATALOGUES`` points at the file (default ``catalogues.yaml`` here, then the repository's
``config/catalogues.yaml``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from gateway.contract.errors import ConfigError
from gateway.kernel.config import SystemConfig, find_config_file
from gateway.kernel.yamlfile import load_yaml, read_config_text

__all__ = ["load_catalogues", "parse_catalogues"]


def load_catalogues(path: str | Path | None = None) -> dict[str, SystemConfig]:
    """``path``, else ``TONGBAN_CATALOGUES``, else ``catalogues.yaml`` here, else config/catalogues.yaml."""
    chosen = find_config_file(path, "TONGBAN_CATALOGUES", "catalogues.yaml", "catalogues.yaml", "catalogues file")
    return parse_catalogues(read_config_text(chosen), base_dir=chosen.resolve().parent, where=str(chosen))


def parse_catalogues(text: str, *, base_dir: Path, where: str = "<catalogues>") -> dict[str, SystemConfig]:
    data = load_yaml(text, where=where) or {}
    entries = data.get("catalogues") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        raise ConfigError(f"{where}: expected a mapping with a 'catalogues:' section")
    found: dict[str, SystemConfig] = {}
    for name, entry in entries.items():
        try:
            found[name] = SystemConfig(**{**(entry or {}), "name": name, "base_dir": base_dir})
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"{where}: catalogue {name}: {problems}") from None
    return found
