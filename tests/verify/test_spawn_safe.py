"""Verification works from a script without a main guard, and start-up is not on a job's clock."""

import subprocess
import sys
import textwrap

from rewardkit.verify.mathparse import Outcome
from rewardkit.verify.symbolic import SymbolicPool

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
        (result,) = pool.run([("x^2+1", "1+x^2")])
        assert result.outcome is Outcome.CORRECT, result
        assert result.seconds < 0.3
        assert pool.kills == 0
    finally:
        pool.close()
