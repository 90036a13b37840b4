"""Verification works from a script without a main guard, and start-up is not on a job's clock."""

import subprocess
import sys
import textwrap
import time

import pytest

from rewardkit.verify.mathparse import Outcome
from rewardkit.verify.symbolic import SymbolicPool

pytest.importorskip("math_verify")  # the workers run math-verify (the llm extra)

#: a job sympy cannot finish within seconds: the gold is a million-term sum
SLOW = (r"\sum_{k=1}^{10^{6}} k^{-2}", r"\boxed{1.6449}")

SCRIPT = textwrap.dedent(
    r"""
    from rewardkit.verify import MathVerifier

    verifier = MathVerifier()
    batch = {"completion": [r"\boxed{(x+1)^2-2x}", "no answer here"], "answer": ["x^2+1"] * 2}
    print(verifier(batch).total.tolist())
    """
)


def test_a_script_without_a_main_guard_verifies(tmp_path):
    script = tmp_path / "train.py"  # module-level code, as most TRL scripts are written
    script.write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[1.0, 0.0]"


def test_code_fed_on_stdin_verifies_too():  # no __main__ file at all, as in a notebook
    done = subprocess.run(
        [sys.executable, "-"], input=SCRIPT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[1.0, 0.0]"


def test_a_cold_pool_does_not_charge_start_up_to_the_first_job():
    # starting a worker (importing sympy) takes longer than this timeout
    pool = SymbolicPool(workers=1, timeout=0.3)
    try:
        (result,) = pool.run([("x^2+1", r"\boxed{1+x^2}")])
        assert result.outcome is Outcome.CORRECT, result
        assert result.seconds < 0.3
        assert pool.kills == 0
    finally:
        pool.close()


def test_a_warm_pool_gives_every_job_its_whole_timeout():
    """Workers that started before the run are not "cold": the spare that takes over after
    a kill gets the whole timeout, not the timeout less the time the batch has run."""
    pool = SymbolicPool(workers=1, spares=1, timeout=1.0)
    try:
        time.sleep(5.0)  # both workers start and say ready before the run
        slow, quick = SLOW, ("x^2+1", r"\boxed{1+x^2}")
        results = pool.run([slow, quick])
        assert [r.outcome for r in results] == [Outcome.TIMEOUT, Outcome.CORRECT]
        assert "less its start-up" not in (results[0].message or "")
        assert min(w.budget for w in pool._workers if not w.fresh) == 1.0
    finally:
        pool.close()


def test_a_worker_failing_to_start_is_replaced():
    pool = SymbolicPool(workers=2, spares=0, timeout=5.0)
    try:
        pool._workers[0].process.kill()  # the first worker dies before it says ready
        results = pool.run([("x", r"\boxed{x}"), ("2x", r"\boxed{x+x}")])
        assert [r.outcome for r in results] == [Outcome.CORRECT, Outcome.CORRECT]
    finally:
        pool.close()


def test_workers_that_never_start_make_errors_not_a_hang(monkeypatch):
    monkeypatch.setattr(sys, "executable", "/bin/false")  # every start fails at once
    pool = SymbolicPool(workers=2, timeout=5.0)
    try:
        start = time.perf_counter()
        results = pool.run([("x", r"\boxed{x}"), ("2x", r"\boxed{x+x}")])
        assert time.perf_counter() - start < 10.0
        assert [r.outcome for r in results] == [Outcome.ERROR, Outcome.ERROR]
        assert "failed to start" in (results[0].message or "")
        assert pool.start_failures == 3
    finally:
        pool.close()


def test_the_first_item_on_a_cold_pool_stays_within_timeout_plus_half_a_second():
    pool = SymbolicPool(workers=1, timeout=2.0)  # cold: the worker is starting now
    try:
        start = time.perf_counter()
        (result,) = pool.run([SLOW])  # runs over any budget
        assert result.outcome is Outcome.TIMEOUT
        assert time.perf_counter() - start < 2.0 + 0.5
    finally:
        pool.close()
