"""The layer rule of DESIGN.md: imports go one way, by statement and by string alike.

core → lm → verify/explore/shaping/models → credit → audit/steer
     → adapters/serve/distributed → train → envs → bench → cli

A module may import its own package and any package of a lower layer, never
a package of its own layer or a higher one. Import statements (at any depth,
including ``TYPE_CHECKING`` blocks and lazy imports inside functions), string
constants naming a ``rewardkit.`` module (``importlib`` targets, entry-point
style ``"module:attr"``), and the imports of doctest examples all count.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "rewardkit"

#: package → layer; a package may only depend on packages of a lower layer
LAYERS: dict[str, int] = {
    "core": 0,
    "lm": 1,
    "verify": 2,
    "explore": 2,
    "shaping": 2,
    "models": 2,
    "judge": 2,
    "signals": 2,
    "credit": 3,
    "audit": 4,
    "steer": 4,
    "author": 4,
    "adapters": 5,
    "serve": 5,
    "distributed": 5,
    "train": 6,
    "envs": 7,
    "bench": 8,
    "cli": 9,
    "__main__": 10,
    "__init__": 10,
}

_MODULE_IN_STRING = re.compile(r"\brewardkit\.([A-Za-z_]\w*)")
_DOCTEST_IMPORT = re.compile(r"^[ \t]*(?:>>>|\.\.\.)[ \t]+(?:from|import)\s+rewardkit\.(\w+)", re.M)


def _package_of(path: Path) -> str:
    parts = path.relative_to(SRC).parts
    return parts[0] if len(parts) > 1 else path.stem


def _docstring_nodes(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _targets(path: Path) -> list[tuple[int, str, str]]:
    """(line, kind, target package) for every rewardkit package ``path`` reaches."""
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = _docstring_nodes(tree)
    found: list[tuple[int, str, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] == "rewardkit":
                if len(parts) > 1:
                    found.append((node.lineno, "import", parts[1]))
                else:  # from rewardkit import x
                    found.extend((node.lineno, "import", alias.name) for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "rewardkit" and len(parts) > 1:
                    found.append((node.lineno, "import", parts[1]))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) in docstrings:
                found.extend(
                    (node.lineno + node.value.count("\n", 0, m.start()), "doctest", m.group(1))
                    for m in _DOCTEST_IMPORT.finditer(node.value)
                )
            else:
                found.extend(
                    (node.lineno, "string", m.group(1))
                    for m in _MODULE_IN_STRING.finditer(node.value)
                )
    return [(line, kind, target) for line, kind, target in found if target in LAYERS]


def _violations() -> list[str]:
    problems = []
    for path in sorted(SRC.rglob("*.py")):
        own = _package_of(path)
        assert own in LAYERS, f"{path}: package {own!r} has no layer; add it to LAYERS"
        for line, kind, target in _targets(path):
            if target != own and LAYERS[target] >= LAYERS[own]:
                rel = path.relative_to(SRC.parent)
                problems.append(f"{rel}:{line}: {own} ({kind}) reaches {target}")
    return problems


def test_every_package_has_a_layer():
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(LAYERS), sorted(packages - set(LAYERS))


def test_imports_go_one_way():
    problems = _violations()
    assert not problems, "imports that run against the layers:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from rewardkit.bench import x\n", [(1, "import", "bench")]),
        ("def f():\n    import rewardkit.train.ppo\n", [(2, "import", "train")]),
        ("X = ('rewardkit.envs.minigrid',)\n", [(1, "string", "envs")]),
        ("X = 'rewardkit.bench.grpo_lab:main'\n", [(1, "string", "bench")]),
        ('"""Doc.\n\n>>> from rewardkit.train import x\n"""\n', [(3, "doctest", "train")]),
        ('"""See :mod:`rewardkit.envs.minigrid` for views."""\n', []),
        ("from rewardkit import core\n", [(1, "import", "core")]),
    ],
)
def test_the_walker_sees_statements_strings_and_doctests(tmp_path, source, expected):
    path = tmp_path / "probe.py"
    path.write_text(source)
    assert _targets(path) == expected
