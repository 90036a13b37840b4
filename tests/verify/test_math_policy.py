"""Every row of the MathPolicy table: its default (math-verify's rule) and its switch.

Each case is (gold, completion, policy fields, expected score). The default
cases are checked against math-verify itself too, so "the default matches
math-verify" is a tested claim, not a comment.
"""

import logging

import numpy as np
import pytest

from rewardkit.verify import MathPolicy, MathVerifier
from rewardkit.verify._math_worker import math_verify_job

# (row, gold, completion, policy fields, expected)
ROWS = [
    # numeric tolerance: rounding to float_rounding decimals, or a relative tolerance
    ("numeric tolerance", "0.5", r"\boxed{0.5000001}", {}, 1.0),
    ("numeric tolerance", "0.5", r"\boxed{0.50001}", {}, 0.0),
    ("numeric tolerance", "1/3", r"\boxed{0.333333}", {}, 1.0),
    ("numeric tolerance", "1/3", r"\boxed{0.3333}", {}, 0.0),
    ("numeric tolerance", "0.5", r"\boxed{0.50001}", {"float_rounding": 4}, 1.0),
    ("numeric tolerance", "0.5", r"\boxed{0.5001}", {"rel_tol": 0.001}, 1.0),
    ("numeric tolerance", "0.5", r"\boxed{0.51}", {"rel_tol": 0.001}, 0.0),
    ("numeric tolerance", "0.5", r"\boxed{0.5000001}", {"rel_tol": 0.0}, 0.0),
    ("numeric tolerance", "1/3", r"\boxed{0.333333}", {"rel_tol": 0.0}, 0.0),
    ("numeric tolerance", "100", "99.5", {"rel_tol": 0.01}, 1.0),  # the in-process path
    ("numeric tolerance", "100", "98", {"rel_tol": 0.01}, 0.0),
    # percent
    ("percent", "50", r"\boxed{50\%}", {}, 1.0),
    ("percent", "0.5", r"\boxed{50\%}", {}, 1.0),
    ("percent", r"50\%", r"\boxed{50}", {}, 1.0),
    ("percent", r"50\%", r"\boxed{0.5}", {"percent": "strict"}, 1.0),
    ("percent", r"50\%", r"\boxed{50}", {"percent": "strict"}, 0.0),
    ("percent", "50", r"\boxed{50\%}", {"percent": "strict"}, 0.0),
    ("percent", r"50\%", r"\boxed{50}", {"percent": "strict", "rel_tol": 0.01}, 0.0),
    # units and currency
    ("units", "5", r"\boxed{5 \text{ cm}}", {}, 1.0),
    ("units", "5", r"\boxed{\$5}", {}, 1.0),
    ("units", "5", r"\boxed{5 \text{ cm}}", {"units": False}, 0.0),
    ("units", "5", r"\boxed{\$5}", {"units": False}, 1.0),
    # thousands separators
    ("thousands separators", "7425000", r"\boxed{7,425,000}", {}, 1.0),
    ("thousands separators", "1000.99", r"\boxed{1,000.99}", {}, 1.0),
    ("thousands separators", "7425000", r"\boxed{7,425,000}", {"thousands_separator": False}, 0.0),
    # decimal comma
    ("decimal comma", "3.5", r"\boxed{3,5}", {}, 0.0),
    ("decimal comma", "3.5", r"\boxed{3,5}", {"decimal_comma": True}, 1.0),
    ("decimal comma", "3.5", r"\boxed{3,6}", {"decimal_comma": True}, 0.0),
    # answer lists
    ("answer lists", "1,2,3", r"\boxed{3,2,1}", {}, 1.0),
    ("answer lists", "1,2,3", r"\boxed{1,2}", {}, 0.0),
    ("answer lists", "1,2,3", r"\boxed{3,2,1}", {"ordered_lists": True}, 0.0),
    ("answer lists", "1,2,3", r"\boxed{1, 2, 3}", {"ordered_lists": True}, 1.0),
    # sets, tuples, intervals
    ("sets, tuples, intervals", r"\{1,2,3\}", r"\boxed{\{3,2,1\}}", {}, 1.0),
    ("sets, tuples, intervals", "(1,2,3)", r"\boxed{(3,2,1)}", {}, 0.0),
    ("sets, tuples, intervals", "(1,2,3)", r"\boxed{(1,2,3)}", {}, 1.0),
    ("sets, tuples, intervals", "[1,2)", r"\boxed{[1,2]}", {}, 0.0),
    ("sets, tuples, intervals", "[1,2)", r"\boxed{[1, 2)}", {}, 1.0),
    ("sets, tuples, intervals", r"(-\infty, 3]", r"\boxed{(-\infty, 3]}", {}, 1.0),
    ("sets, tuples, intervals", r"\{1,2,3\}", r"\boxed{(2,1,3)}", {}, 1.0),
    # variables
    ("variables", "x+y", r"\boxed{y+x}", {}, 1.0),
    ("variables", "x+y", r"\boxed{a+b}", {}, 0.0),
    ("variables", "x+y", r"\boxed{a+b}", {"strict": False}, 1.0),
    # relations: direction always matters
    ("relations", "x<2", r"\boxed{x>2}", {}, 0.0),
    ("relations", "x<2", r"\boxed{2>x}", {}, 1.0),
    ("relations", r"x\le 2", r"\boxed{x<2}", {}, 0.0),
    ("relations", "x<2", r"\boxed{x>2}", {"set_relation": True}, 0.0),
    ("relations", "(1,2)", r"\boxed{1<x<2}", {}, 0.0),
    ("relations", "(1,2)", r"\boxed{1<x<2}", {"set_relation": True}, 1.0),
    # assignment
    ("assignment", "3", r"\boxed{x=3}", {}, 1.0),
    ("assignment", "x=3", r"\boxed{3}", {}, 1.0),
    ("assignment", "3", r"\boxed{x=3}", {"assignment": False}, 0.0),
    ("assignment", "x=3", r"\boxed{x=3}", {"assignment": False}, 1.0),
    # matrices
    (
        "matrices",
        r"\begin{pmatrix}1&2\\3&4\end{pmatrix}",
        r"\boxed{\begin{pmatrix}1&2\\3&4\end{pmatrix}}",
        {},
        1.0,
    ),
    (
        "matrices",
        r"\begin{pmatrix}1&2\\3&4\end{pmatrix}",
        r"\boxed{\begin{pmatrix}1&2\\4&3\end{pmatrix}}",
        {},
        0.0,
    ),
    # unevaluated expressions
    ("unevaluated", "5", r"\boxed{2+3}", {}, 1.0),
    ("unevaluated", "24", r"\boxed{4!}", {}, 1.0),
    ("unevaluated", "4", r"\boxed{\sqrt{16}}", {}, 1.0),
    ("unevaluated", "5", r"\boxed{2+3}", {"evaluate": False}, 0.0),
    ("unevaluated", "8", r"\boxed{2^3}", {"evaluate": False}, 0.0),
    ("unevaluated", "5", r"\boxed{5}", {"evaluate": False}, 1.0),
    ("unevaluated", "0.5", r"\boxed{\frac{1}{2}}", {"evaluate": False}, 1.0),
    # degrees and radians
    ("degrees", r"30^\circ", r"\boxed{30}", {}, 1.0),
    ("degrees", r"90^\circ", r"\boxed{\frac{\pi}{2}}", {}, 0.0),
    ("degrees", r"90^\circ", r"\boxed{\frac{\pi}{2}}", {"degrees_as_radians": True}, 1.0),
    ("degrees", r"\frac{\pi}{2}", r"\boxed{90^\circ}", {"degrees_as_radians": True}, 1.0),
    ("degrees", r"\frac{\pi}{2}", r"\boxed{91^\circ}", {"degrees_as_radians": True}, 0.0),
]

ROW_NAMES = {
    "numeric tolerance",
    "percent",
    "units",
    "thousands separators",
    "decimal comma",
    "answer lists",
    "sets, tuples, intervals",
    "variables",
    "relations",
    "assignment",
    "matrices",
    "unevaluated",
    "degrees",
}
# the question's own expression needs a prompt: test_the_question_s_own_expression_...


def test_every_row_of_the_table_has_cases_for_its_default_and_its_switch():
    assert {row for row, *_ in ROWS} == ROW_NAMES
    switched = {row for row, _, _, fields, _ in ROWS if fields}
    # matrices, sets, tuples and intervals have no switch of their own
    assert switched == ROW_NAMES - {"matrices", "sets, tuples, intervals"}


@pytest.mark.parametrize(
    ("row", "gold", "completion", "fields", "expected"),
    ROWS,
    ids=[f"{r[0]}:{r[1]}|{r[2]}|{r[3]}" for r in ROWS],
)
def test_policy_row(row, gold, completion, fields, expected):
    """The worker's verdict (in process), and the whole path through MathVerifier."""
    policy = MathPolicy(**fields)
    outcome, *_ = math_verify_job(gold, completion, None, policy.as_dict())
    assert outcome == ("correct" if expected == 1.0 else "wrong")


def test_policy_rows_through_the_verifier():
    """All rows in one batch per policy, through the pool and the in-process paths."""
    by_policy: dict[tuple, list] = {}
    for _, gold, completion, fields, expected in ROWS:
        by_policy.setdefault(tuple(sorted(fields.items())), []).append((gold, completion, expected))
    for fields, cases in by_policy.items():
        verifier = MathVerifier(timeout=10.0, policy=dict(fields))
        out = verifier({"answer": [c[0] for c in cases], "completion": [c[1] for c in cases]})
        np.testing.assert_array_equal(out.total, [c[2] for c in cases], err_msg=str(fields))


def test_defaults_are_math_verify_s_verdicts():
    """On every default case, bare math-verify says the same (``verify`` of ``parse``)."""
    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    for row, gold, completion, fields, expected in ROWS:
        if fields:
            continue
        verdict = verify(parse(f"${gold}$"), parse(completion))
        assert float(verdict) == expected, (row, gold, completion)


def test_the_question_s_own_expression_is_not_an_answer():
    batch = {
        "prompt": ["Solve 1663 * 5242.", "Solve 1663 * 5242.", "What is 1 * 5?", "Expand (x+1)^2."],
        "completion": [
            r"\boxed{1663 * 5242}",
            r"\boxed{8717446}",
            r"\boxed{5}",
            r"\boxed{(x+1)^2}",
        ],
        "answer": ["8717446", "8717446", "5", "x^2+2x+1"],
    }
    out = MathVerifier(timeout=10.0)(batch)
    np.testing.assert_array_equal(out.total, [0.0, 1.0, 1.0, 0.0])
    assert "the question's own expression" in out.messages[0]
    allowed = MathVerifier(timeout=10.0, policy={"question_expressions": True})(batch)
    np.testing.assert_array_equal(allowed.total, [1.0, 1.0, 1.0, 1.0])
    unprompted = MathVerifier(timeout=10.0)({k: v for k, v in batch.items() if k != "prompt"})
    np.testing.assert_array_equal(unprompted.total, [1.0, 1.0, 1.0, 1.0])  # math-verify's


def test_a_completion_over_max_chars_is_not_read():
    filler = "Let me think about this carefully. " * 10_000
    batch = {"completion": [filler + "42" + filler, "42"], "answer": ["42", "42"]}
    out = MathVerifier(timeout=10.0, max_chars=100_000)(batch)
    np.testing.assert_array_equal(out.total, [0.0, 1.0])
    assert "over 100,000" in out.messages[0]
    with pytest.raises(ValueError, match="max_chars"):
        MathVerifier(max_chars=0)


def test_python_powers_are_powers_and_bold_is_not():
    gold = "2240*x**4 + 3584*x**3 - 896*x"
    batch = {
        "completion": [
            r"\boxed{2240x^4 + 3584x^3 - 896x}",
            r"\boxed{2241*x**4 + 3584*x**3 - 896*x}",
            "**Answer:** $2240x^4 + 3584x^3 - 896x$",
        ],
        "answer": [gold] * 3,
    }
    np.testing.assert_array_equal(MathVerifier(timeout=10.0)(batch).total, [1.0, 0.0, 1.0])


def test_policy_validation_and_config():
    assert MathPolicy.coerce(None) == MathPolicy()
    assert MathPolicy.coerce({"percent": "strict"}).percent == "strict"
    assert MathPolicy().is_default and not MathPolicy(units=False).is_default
    for bad in (
        {"percent": "maybe"},
        {"rel_tol": -0.1},
        {"rel_tol": float("nan")},
        {"float_rounding": 2.5},
        {"units": "yes"},
    ):
        with pytest.raises(ValueError):
            MathPolicy(**bad)
    with pytest.raises(ValueError, match="unknown policy fields"):
        MathPolicy.coerce({"tolerance": 0.1})
