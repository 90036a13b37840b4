"""The labs are out of the library: benchmarks and lab tasks are the `rewardkit-bench`
distribution in benchmarks/, which imports the library and never the reverse."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAB_TASKS = ("arithmetic", "guessing", "chain_sum", "deceptive_maze")


def test_the_librarys_wheel_holds_no_benchmark_suite_or_lab_task():
    setuptools = pytest.importorskip("setuptools")
    packages = setuptools.find_packages(str(ROOT / "src"))
    assert packages and all(p == "rewardkit" or p.startswith("rewardkit.") for p in packages)
    assert "rewardkit.bench" not in packages
    envs = {path.stem for path in (ROOT / "src" / "rewardkit" / "envs").glob("*.py")}
    assert not envs & set(LAB_TASKS)


def test_the_library_never_names_the_benchmarks():
    pattern = re.compile(r"\brewardkit_bench\b")
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "src" / "rewardkit").rglob("*.py")
        if pattern.search(path.read_text())
    ]
    assert offenders == []


def test_rewardkit_bench_lists_the_suites_or_says_how_to_install_them():
    done = subprocess.run(
        [sys.executable, "-m", "rewardkit", "bench"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    if "suites:" in done.stdout:  # the benchmarks distribution is installed (make install)
        assert "verify-math" in done.stdout and "code" in done.stdout
    else:  # a core-only install: the command says how to get them
        assert "pip install -e benchmarks" in done.stderr, done.stderr
