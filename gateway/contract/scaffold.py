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

PLACEHOLDER_PREFIX = "CHOOSE_"
"""A scaffold writes ``CHOOSE_…`` (``primary_key: CHOOSE_KEY_FIELD``, ``operation: CHOOSE_A_READ_OPERATION``, a
required parameter's ``CHOOSE_PARAM_VALUE``, a success template's ``CHOOSE_SUCCESS_VALUE``) where it could not guess
and a person must choose. Every value a scaffold leaves for a person must be one of these (or in
:data:`PLACEHOLDERS`): anything else loads, and goes to the live system as it is."""
PLACEHOLDERS = frozenset({"CHANGED_AT", "SINCE_PARAM"})
"""The other placeholders scaffolds write (in the commented-out ``incremental:`` line a person uncomments)."""


PLACEHOLDER_ADVICE = {
    "CHOOSE_KEY_FIELD": "write the record field that identifies a record (the `# record fields:` comment the scaffold "
                        "wrote above it lists them; for a DataSet, whose columns no WSDL names, write any name and "
                        "run `tongban connector check`: it lists the columns the first page has)",
    "CHOOSE_A_READ_OPERATION": "write the name of an operation that reads and changes nothing (the scaffold's report "
                               "lists the WSDL's operations); `tongban connector check` makes that call",
    "CHOOSE_PARAM_VALUE": "write the value the service expects; a credential (a token, password or key) is never "
                          "written here: write {secret: NAME} and name NAME's environment variable in the systems "
                          "file's `secrets`",
    "CHOOSE_SUCCESS_VALUE": "write the value the answer's field holds on success (a real answer shows it: "
                            "`tongban connector check` prints the first page's envelope)",
}
"""What to write instead of each placeholder, for the error that finds one."""


def placeholder_advice(value: str) -> str:
    """What to write instead of ``value`` (:data:`PLACEHOLDER_ADVICE`), or the general advice."""
    return PLACEHOLDER_ADVICE.get(value, "replace it with the system's own name for it (the `# record fields:` "
                                         "comment the scaffold wrote above it lists the fields its records have)")


def is_placeholder(value: object) -> bool:
    """Whether ``value`` is a scaffold's placeholder, left where a person had to choose. Configuration that still
    holds one is refused when it is loaded: it passed every check and failed at the first sync
    (``primary_key: CHOOSE_KEY_FIELD`` rejected every record as ``record.key_missing``)."""
    return isinstance(value, str) and (value.startswith(PLACEHOLDER_PREFIX) or value in PLACEHOLDERS)


@dataclass(frozen=True, slots=True)
class ScaffoldResult:
    """What a scaffold found and wrote: lines for people, a dict for ``--json``, the files written."""

    report: list[str]
    data: dict[str, Any]
    files: list[Path] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    """The secret names the connector YAML written refers to (each a ``TONGBAN_<NAME>_*`` variable to set)."""


class Scaffolder(Protocol):
    def __call__(self, name: str, source: str, *, out: Path, force: bool = False,
                 dry_run: bool = False) -> ScaffoldResult:
        """Describe ``source`` and (unless ``dry_run``) write the files for connector ``name`` under ``out``."""
        ...


__all__ = ["PLACEHOLDERS", "PLACEHOLDER_ADVICE", "PLACEHOLDER_PREFIX", "ScaffoldResult", "Scaffolder", "is_placeholder",
           "placeholder_advice"]
