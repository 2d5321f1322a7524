"""The scaffold contract: a connector kind may write a starting connector YAML, mapping and test from a source's
own description (a WSDL, an OpenAPI document).

A kind offers one by registering a :class:`Scaffolder` under the entry-point group ``tongban.scaffolds`` with the
kind's name; ``tongban connector new NAME --wsdl FILE`` (or ``--openapi``) finds it through
:func:`gateway.kernel.registry.scaffolder`, so the CLI never imports a concrete connector::

    [project.entry-points."tongban.scaffolds"]
    soap = "connectors.soap.scaffold:scaffold"
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class ScaffoldResult:
    """What a scaffold found and wrote: lines for people, a dict for ``--json``, the files written."""

    report: list[str]
    data: dict[str, Any]
    files: list[Path] = field(default_factory=list)


class Scaffolder(Protocol):
    def __call__(self, name: str, source: str, *, out: Path, force: bool = False,
                 dry_run: bool = False) -> ScaffoldResult:
        """Describe ``source`` and (unless ``dry_run``) write the files for connector ``name`` under ``out``."""
        ...


__all__ = ["ScaffoldResult", "Scaffolder"]
