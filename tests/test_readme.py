"""The README's examples run, and its TOML block is the shipped example file."""

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


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_python_block_runs(index, capsys):
    exec(compile(PYTHON_BLOCKS[index], f"README.md block {index}", "exec"), {})
    if index < 2:
        assert "total" in capsys.readouterr().out  # the quickstarts print their tables


def test_toml_block_matches_example_file():
    block = re.search(r"```toml\n# examples/math_reward.toml\n(.*?)```", README, re.S)
    assert block is not None
    shipped = (ROOT / "examples" / "math_reward.toml").read_text()
    body = "\n".join(line for line in shipped.splitlines() if not line.startswith("#")).strip()
    assert block.group(1).strip().replace("\n\n", "\n") == re.sub(
        r'description = ".*"\n', "", body
    ).replace("\n\n", "\n")


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


def test_readme_audit_log_command_runs_on_a_shipped_log(tmp_path):
    line = next(line for line in README.splitlines() if line.startswith("rewardkit audit log "))
    arguments = line.split()[1:]
    assert (ROOT / arguments[2]).is_file(), f"the README's log {arguments[2]} is not shipped"
    result = subprocess.run(
        [sys.executable, "-m", "rewardkit", *arguments], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "proxy_gold_divergence" in result.stdout
