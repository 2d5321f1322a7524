"""The house rules of DESIGN.md, checked on every import in the tree (lazy ones included).

- no import cycle between modules;
- inside ``gateway``, each layer imports only its own layer or the ones below it (the table ``LAYERS``);
- ``connectors`` imports of ``gateway`` only the contract and the canonical models (the acceptance kit
  ``connectors.testing`` may use the core, as a test would); ``gateway`` never imports a concrete connector;
- ``sandbox`` (foreign systems, other people's conventions) imports nothing of ours, and of the product only
  the demo imports it;
- ``dags`` imports ``gateway``/``connectors``; nothing imports ``dags``.
"""

from __future__ import annotations

import ast
import re

import pytest
from import_graph import Edge, cycles, edges, project_modules

LAYERS: list[tuple[str, ...]] = [
    ("gateway.contract",),
    ("gateway.models", "gateway.crypto"),
    ("gateway.kernel", "gateway.kernel.config", "gateway.kernel.registry", "gateway.mapping"),
    ("gateway.store",),
    ("gateway.kernel.runtime",),
    ("gateway.sync", "gateway.ops", "gateway.sharing", "gateway.catalogue", "gateway.process", "gateway.citizen"),
    ("gateway.orchestration", "gateway.console"),
    ("gateway.cli", "gateway.demo", "gateway.__main__"),
]
"""Lowest first. A module belongs to the layer of its longest matching prefix."""


def _layer(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (prefix length, layer)
    for rank, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > best[0]:
                    best = (len(prefix), rank)
    return None if best is None else best[1]


@pytest.fixture(scope="module")
def graph() -> list[Edge]:
    return edges()


def _show(bad: list[Edge]) -> str:
    return "\n".join(f"  {e.source} (line {e.line}) imports {e.target}" for e in bad)


def test_the_graph_is_read(graph: list[Edge]) -> None:
    # a parser that silently found nothing would pass every rule below
    assert len(graph) > 500
    assert any(e.source == "gateway.sync.engine" and e.target.startswith("gateway.store") for e in graph)


def test_no_import_cycles(graph: list[Edge]) -> None:
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join("  " + " ⇄ ".join(c) for c in found)


def test_every_gateway_module_has_a_layer() -> None:
    unplaced = [m for m in project_modules() if m.startswith("gateway.") and _layer(m) is None]
    assert not unplaced, f"modules outside every layer of LAYERS (add them to the table): {unplaced}"


def test_gateway_layers_point_down(graph: list[Edge]) -> None:
    bad = [e for e in graph if e.source.startswith("gateway.") and e.target.startswith("gateway.")
           and (_layer(e.target) or 0) > (_layer(e.source) or 0)]
    assert not bad, "imports that point up the layers of LAYERS:\n" + _show(bad)


def test_connectors_use_only_the_contract_and_models(graph: list[Edge]) -> None:
    allowed = ("gateway.contract", "gateway.models")
    bad = [e for e in graph if e.source.startswith("connectors") and e.source != "connectors.testing"
           and e.target.startswith("gateway") and not e.target.startswith(allowed)]
    assert not bad, "connectors reaching past the contract into the core:\n" + _show(bad)


def test_gateway_never_imports_a_concrete_connector(graph: list[Edge]) -> None:
    bad = [e for e in graph if e.source.startswith("gateway") and e.target.startswith("connectors")]
    assert not bad, "the core imports a connector (use gateway.kernel.registry):\n" + _show(bad)


def test_sandbox_imports_nothing_of_ours(graph: list[Edge]) -> None:
    bad = [e for e in graph if e.source.startswith("sandbox") and not e.target.startswith("sandbox")]
    assert not bad, "the sandbox stands for foreign systems; it imports:\n" + _show(bad)


def test_only_the_demo_imports_the_sandbox(graph: list[Edge]) -> None:
    bad = [e for e in graph if e.target.startswith("sandbox") and not e.source.startswith(("sandbox", "gateway.demo"))]
    assert not bad, "product code importing the sandbox:\n" + _show(bad)


def test_nothing_imports_dags(graph: list[Edge]) -> None:
    bad = [e for e in graph if e.target.startswith("dags") and not e.source.startswith("dags")]
    assert not bad, _show(bad)


_SQL = re.compile(r"^\s*(SELECT|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|WITH\s+\w+\s+AS|CREATE\s+|ALTER\s+TABLE|"
                  r"DROP\s+|MERGE\s+INTO|COPY\s+\w+)\b")
_STATEMENT_BUILDERS = {"select", "insert", "update", "delete", "text", "union_all", "exists", "literal_column"}


def _sql_findings(module: str, source: str) -> list[str]:
    findings = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _SQL.match(node.value):
            findings.append(f"{module} line {node.lineno}: SQL text {node.value.strip()[:40]!r}")
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlalchemy":
            for alias in node.names:
                if alias.name in _STATEMENT_BUILDERS:
                    findings.append(f"{module} line {node.lineno}: builds statements (sqlalchemy.{alias.name})")
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(("sqlalchemy.dialects",)):
            findings.append(f"{module} line {node.lineno}: dialect-specific statements ({node.module})")
    return findings


def test_sql_lives_only_in_the_store() -> None:
    """Every statement the core runs is written, and named, in ``gateway.store``; elsewhere code calls it."""
    findings = []
    for module, path in project_modules().items():
        if path.suffix != ".py" or not module.startswith(("gateway", "connectors", "dags")):
            continue
        if module.startswith("gateway.store"):
            continue
        findings += _sql_findings(module, path.read_text(encoding="utf-8"))
    assert not findings, "SQL outside gateway.store:\n  " + "\n  ".join(findings)


def test_the_sql_check_sees_sql() -> None:
    sample = 'from sqlalchemy import select\nQ = "SELECT k.case_no FROM cases k"\n'
    assert len(_sql_findings("sample", sample)) == 2
    assert _sql_findings("sample", 'HELP = "Select a system"\n') == []
