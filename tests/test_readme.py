"""The README is the front page: the two commands, a short quickstart, links that resolve.

Its code blocks run in tests/test_docs.py, with the docs' (and its TOML block is checked
there against the shipped example file).
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


def test_readme_has_both_quickstarts():
    assert len(PYTHON_BLOCKS) >= 2
    assert "make demo" in README and "make test" in README
    assert "\n## Two commands\n" in README


def test_readme_is_a_front_page():
    assert len(README.splitlines()) <= 300, "the README is a front page: move details to docs/"
    assert "make docs" in README and "](docs/index.md)" in README


def test_readme_links_resolve():
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README)
    local = [t for t in targets if "://" not in t]
    assert local, "the README links the docs pages"
    missing = [t for t in local if not (ROOT / t).exists()]
    assert not missing, f"README links to missing files: {missing}"


@pytest.mark.parametrize(
    ("spec", "batch"),
    [("math_reward.toml", "completions.jsonl"), ("pendulum_reward.yaml", "pendulum_steps.jsonl")],
)
def test_readme_cli_commands(spec, batch):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rewardkit",
            "check",
            f"examples/{spec}",
            "--batch",
            f"examples/{batch}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "term" in result.stdout and "total" in result.stdout
