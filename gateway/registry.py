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

from gateway.errors import ConfigError

if TYPE_CHECKING:
    from connectors.base import Connector

GROUP = "tongban.connectors"


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
    from connectors.base import INTERFACE_VERSION

    version = getattr(cls, "interface_version", None)
    if version != INTERFACE_VERSION:
        raise ConfigError(
            f"connector kind {kind!r} ({ep.value}) implements interface version {version}, "
            f"this Tongban speaks {INTERFACE_VERSION}"
        )
    return cls  # type: ignore[no-any-return]


def build_connector(kind: str, config: dict[str, Any], secrets: dict[str, str]) -> Connector:
    return connector_class(kind)(config, secrets=secrets)
