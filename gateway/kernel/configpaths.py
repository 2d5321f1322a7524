"""File paths inside a connector's config are relative to the file that declares them, never to the working
directory.

A SOAP connector names its WSDL (``wsdl: wsdl/noise.wsdl``), schema copies and client certificates by path. Read
against the working directory, the same YAML works from the repository root and fails on an Airflow worker,
whose working directory is anything. So when the systems file is loaded, the relative paths of a connector's
config are made absolute against the directory of the file they were written in: the connector YAML
(``connector_config: connectors/gov_noise.yaml``), or the systems file itself for an inline config.

A connector kind says which of its keys are paths with a class attribute (dotted keys, ``*`` for every value of a
mapping); a kind that declares none is left alone::

    class SoapConnector(DeclarativeConnector):
        config_paths = ("wsdl", "schema_locations.*", "tls.ca_bundle")
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gateway.contract.errors import ConfigError

from .registry import connector_class


def connector_config_paths(kind: str) -> tuple[str, ...]:
    """The keys of connector kind ``kind``'s config that hold local file paths (its class's ``config_paths``);
    none for a kind that declares none or cannot be loaded (building the connector reports that)."""
    try:
        cls = connector_class(kind)
    except ConfigError:
        return ()
    return tuple(getattr(cls, "config_paths", ()))


def resolve_config_paths(config: Mapping[str, Any], keys: tuple[str, ...], base_dir: Path) -> dict[str, Any]:
    """``config`` with the relative local paths under ``keys`` made absolute against ``base_dir`` (a copy). URLs,
    absolute paths and templates (``{base_url}/x?wsdl``) are left as they are::

        resolve_config_paths({"wsdl": "wsdl/noise.wsdl"}, ("wsdl",), Path("/srv/config/connectors"))
        # {"wsdl": "/srv/config/connectors/wsdl/noise.wsdl"}
    """

    result: dict[str, Any] = dict(config)
    for key in keys:
        result = _walk(result, key.split("."), base_dir)
    return result


def _walk(node: Any, parts: list[str], base_dir: Path) -> Any:
    # module functions, not closures: a closure that calls itself is a reference cycle, garbage for the collector
    # on every run that builds a connector
    if not parts:
        return _resolved(node, base_dir)
    if not isinstance(node, Mapping):
        return node
    head, rest = parts[0], parts[1:]
    if head == "*":
        return {k: _walk(v, rest, base_dir) for k, v in node.items()}
    return {**node, head: _walk(node[head], rest, base_dir)} if head in node else node


def _resolved(value: Any, base_dir: Path) -> Any:
    if not isinstance(value, str) or not value or "://" in value or value.startswith("{"):
        return value
    path = Path(value).expanduser()
    return value if path.is_absolute() else str((base_dir / path).resolve())


def declared_config(kind: str, config: Mapping[str, Any], declared_in: Path) -> dict[str, Any]:
    """A connector config as declared in a file in ``declared_in``, its relative paths resolved for its kind."""
    return resolve_config_paths(config, connector_config_paths(kind), declared_in)


__all__ = ["connector_config_paths", "declared_config", "resolve_config_paths"]
