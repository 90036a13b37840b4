"""No import cycle between rewardkit's modules (module-level imports; lazy imports inside
functions and ``TYPE_CHECKING`` blocks are how a cycle is broken on purpose)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def _module_graph() -> dict[str, set[str]]:
    modules = {}
    for path in (SRC / "rewardkit").rglob("*.py"):
        name = ".".join(path.relative_to(SRC).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for statement in ast.parse(path.read_text()).body:
            if isinstance(statement, ast.If) and getattr(statement.test, "id", "") == (
                "TYPE_CHECKING"
            ):
                continue
            nodes = (
                list(ast.walk(statement))
                if isinstance(statement, ast.If | ast.Try)
                else [statement]
            )
            for node in nodes:
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    for alias in node.names:
                        full = f"{node.module}.{alias.name}"
                        graph[name].add(full if full in modules else node.module)
                elif isinstance(node, ast.Import):
                    graph[name].update(alias.name for alias in node.names)
        graph[name] = {target for target in graph[name] if target in modules} - {name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles():
    assert _cycles(_module_graph()) == []


def test_the_check_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
