"""Verification works from a script without a main guard, and start-up is not on a job's clock."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

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


def test_math_verify_backend_outcomes_and_rewardkit_fixes():
    from rewardkit.core import Status
    from rewardkit.verify import MathVerifier

    verifier = MathVerifier(backend="math_verify", timeout=5.0)
    batch = {
        "completion": [
            r"so \boxed{(x+1)^2-2x}",  # symbolic, equal
            r"\boxed{x^2+2}",  # symbolic, wrong: 0.0, not unparseable
            "no answer here",
            "1000.0",  # bare numbers: the fast path, no worker
            "Answer $ \n 9 \n $",  # inline math broken over lines is not an answer
            "Answer $ 9 $",
            "anything",
        ],
        "answer": ["x^2+1", "x^2+1", "x^2+1", "1000", "9", "9", None],
    }
    out = verifier(batch)
    np.testing.assert_array_equal(out.total[:6], [1.0, 0.0, 0.0, 1.0, 0.0, 1.0])
    assert out.messages[2] == "no answer" and out.messages[4] == "no answer"
    assert out.status[6] == Status.ERROR and "no gold answer" in out.messages[6]
    with pytest.raises(ValueError, match="backend"):
        MathVerifier(backend="sympy")
