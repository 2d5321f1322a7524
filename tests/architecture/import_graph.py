"""The project's import graph, read from the source with :mod:`ast` (nothing is imported to build it).

Every ``import`` statement counts, also those inside functions: a lazy import still ties two modules together,
it only moves the failure from start-up to first use.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("gateway", "connectors", "sandbox", "dags")


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    """Module name → source file: the Python modules, and the Cython ones (known by name, not parsed)."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted([*(REPO / package).rglob("*.py"), *(REPO / package).rglob("*.pyx")]):
            if "migrations" in path.parts:  # Alembic scripts: run by Alembic, imported by nobody
                continue
            found[module_name(path)] = path
    return found


def _resolve(name: str, modules: Iterable[str]) -> str | None:
    """The longest project module that ``name`` (a dotted import target) is, or is inside."""
    known = set(modules)
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return None


def edges() -> list[Edge]:
    modules = project_modules()
    result: list[Edge] = []
    for name, path in modules.items():
        if path.suffix != ".py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    prefix = ".".join(base + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                # ``from pkg import sub`` imports the submodule when there is one
                targets = [f"{prefix}.{alias.name}" for alias in node.names] or [prefix]
                targets = [t if _resolve(t, modules) not in (None, prefix) or t in modules else prefix
                           for t in targets]
            for target in targets:
                resolved = _resolve(target, modules)
                if resolved and resolved != name:
                    result.append(Edge(name, resolved, node.lineno))
    return result


def cycles(graph_edges: list[Edge]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {}
    for e in graph_edges:
        graph.setdefault(e.source, set()).add(e.target)
        graph.setdefault(e.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    import sys

    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found
