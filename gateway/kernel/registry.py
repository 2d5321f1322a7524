"""Finding connector kinds: the ``tongban.connectors`` entry-point group, nothing hard-coded.

A third-party package adds a connector without touching this repository::

    [project.entry-points."tongban.connectors"]
    myhall = "mypackage.connector:MyHallConnector"

``gateway`` never imports a concrete connector; it asks this registry by kind.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

from gateway.contract.errors import ConfigError

if TYPE_CHECKING:
    from gateway.contract.connector import Connector
    from gateway.contract.scaffold import Scaffolder

GROUP = "tongban.connectors"
SCAFFOLD_GROUP = "tongban.scaffolds"


@lru_cache(maxsize=1)
def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def available_kinds() -> dict[str, str]:
    """Kind → ``module:Class`` for every registered connector."""
    return {name: ep.value for name, ep in sorted(_entry_points().items())}


def connector_class(kind: str) -> type[Connector]:
    ep = _entry_points().get(kind)
    if ep is None:
        known = ", ".join(sorted(_entry_points())) or "none (is tongban installed? pip install -e .)"
        raise ConfigError(f"no connector kind {kind!r} registered under {GROUP} (available: {known})")
    try:
        cls = ep.load()
    except Exception as exc:  # an entry point that fails to import is a broken plugin, say which
        raise ConfigError(f"connector kind {kind!r} ({ep.value}) failed to load: {exc}") from exc
    from gateway.contract.connector import INTERFACE_VERSION

    version = getattr(cls, "interface_version", None)
    if version != INTERFACE_VERSION:
        raise ConfigError(
            f"connector kind {kind!r} ({ep.value}) implements interface version {version}, "
            f"this Tongban speaks {INTERFACE_VERSION}"
        )
    return cls  # type: ignore[no-any-return]


def build_connector(kind: str, config: dict[str, Any], secrets: dict[str, str]) -> Connector:
    return connector_class(kind)(config, secrets=secrets)


def scaffolder(kind: str) -> Scaffolder:
    """The scaffold a connector kind offers (entry-point group ``tongban.scaffolds``), by kind name."""
    found = {ep.name: ep for ep in entry_points(group=SCAFFOLD_GROUP)}
    ep = found.get(kind)
    if ep is None:
        offered = ", ".join(sorted(found)) or "none"
        raise ConfigError(f"connector kind {kind!r} offers no scaffold (kinds with one: {offered})")
    try:
        return ep.load()  # type: ignore[no-any-return]
    except Exception as exc:
        raise ConfigError(f"scaffold of connector kind {kind!r} ({ep.value}) failed to load: {exc}") from exc
