"""The import graph of the installed tree (core/ and tui/), read from the source: every import,
those under ``if TYPE_CHECKING:`` and inside functions included."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers.samples import REPO

TOP = ("core", "tui")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(["ota_provider", *parts])


def modules() -> dict[str, Path]:
    return {module_name(path): path for top in TOP for path in sorted((REPO / top).rglob("*.py"))}


def _targets(module: str, path: Path, node: ast.Import | ast.ImportFrom, known: dict[str, Path]) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        parts = package.split(".")
        base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]


def graph() -> dict[str, set[str]]:
    """module -> the project's modules it imports (a package's __init__ only when it is imported itself)."""
    known = modules()
    edges: dict[str, set[str]] = {}
    for module, path in known.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for named in _targets(module, path, node, known):
                    target = named
                    while target and target not in known:
                        target = target.rpartition(".")[0]
                    # importing a sibling through its package ("from .. import x") is not importing the package
                    if target and target != module and not module.startswith(target + "."):
                        found.add(target)
        edges[module] = found
    return edges


def layer(module: str) -> str:
    """The unit of the layer rule: a package of core/ (core/bdx/...), a module of core/ or tui/."""
    parts = module.split(".")
    return ".".join(parts[:3])


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def between_layers(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    folded: dict[str, set[str]] = {}
    for module, targets in edges.items():
        for target in targets:
            if layer(module) != layer(target):
                folded.setdefault(layer(module), set()).add(layer(target))
    return folded
