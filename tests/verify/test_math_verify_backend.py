"""math-verify inside rewardkit's killable pool, with fixes on top."""

import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from rewardkit.core import Status
from rewardkit.verify import MathVerifier, verify_math_batch
from rewardkit.verify.symbolic import SymbolicPool

pytest.importorskip("math_verify")  # the llm extra


@pytest.fixture(scope="module")
def verifier():
    return MathVerifier(timeout=5.0)


def test_outcomes(verifier):
    batch = {
        "completion": [
            r"so \boxed{(x+1)^2-2x}",  # symbolic, equal
            r"\boxed{x^2+2}",  # symbolic and wrong: 0.0, never "unparseable"
            "no answer here",
            "1000.0",  # bare numbers: the fast path, no worker
            "Answer $ 9 $",
            r"\boxed{" + "9" * 400 + "}",  # a huge wrong answer is wrong, not an error
            "anything",
        ],
        "answer": ["x^2+1", "x^2+1", "x^2+1", "1000", "9", "5", None],
    }
    out = verifier(batch)
    np.testing.assert_array_equal(out.total[:6], [1.0, 0.0, 0.0, 1.0, 1.0, 0.0])
    assert out.status[:6].tolist() == [Status.OK] * 6
    assert out.messages[2] == "no answer"
    assert out.status[6] == Status.ERROR and "no gold answer" in out.messages[6]


@pytest.mark.parametrize(
    ("gold", "completion", "expected"),
    [
        # exact numbers are compared exactly: math-verify alone says these are equal
        (r"\frac{1}{2004!}", r"\boxed{\frac{1}{2006!}}", 0.0),
        (r"\frac{1}{2004!}", r"\boxed{\frac{1}{2004!}}", 1.0),
        # scientific notation is a number (math-verify reads 1e3 as 1·e·3)
        ("1000", r"\boxed{1e3}", 1.0),
        ("0.00025", "2.5E-4", 1.0),
        # i is the imaginary unit when the answers are otherwise unequal
        ("-1", r"\boxed{i^2}", 1.0),
        ("2", r"\boxed{i^2}", 0.0),
        ("x_i", r"\boxed{x_i}", 1.0),
        # inline math broken over lines is not an answer (math-verify's own regression label)
        ("9", "Answer $ \n 9 \n $", 0.0),
        ("9", "Answer \\( \n 9 \n \\)", 0.0),
        ("9", "$$\n9\n$$", 1.0),  # display math is
        # a relation's direction matters
        ("x>2", r"\boxed{x<2}", 0.0),
        ("x>2", r"\boxed{x>2}", 1.0),
        # a huge or odd answer is wrong at once, not a timeout (NaN) after the budget
        ("42", r"\boxed{10^{10^{10}}}", 0.0),
        ("42", r"\boxed{9^{9^{9^{9}}}}", 0.0),
        ("42", r"\boxed{" + "{" * 3000 + "42" + "}" * 3000 + "}", 0.0),
        ("10^{100}", r"\boxed{10^{100}}", 1.0),
        ("1024", r"\boxed{2^{10}}", 1.0),
    ],
)
def test_fixes_on_top_of_math_verify(verifier, gold, completion, expected):
    out = verifier({"completion": [completion], "answer": [gold]})
    assert out.total.tolist() == [expected], out.messages


@pytest.mark.parametrize("megabytes", [1, 5])
def test_a_huge_nested_input_is_bounded_by_the_timeout(megabytes):
    pool = SymbolicPool(workers=1, timeout=1.0)
    try:
        pool.run([("x", "x")])  # warm: this test is about the input's size
        nested = r"\boxed{" * 60 + "1" * (megabytes * 1_000_000) + "}" * 60
        start = time.perf_counter()
        (verdict,) = verify_math_batch(["1"], [nested], pool=pool)
        assert time.perf_counter() - start < 1.0 + 0.5  # the timeout, plus half a second
        assert verdict.score != 1.0, verdict
    finally:
        pool.close()


def test_two_processes_verifying_at_once_get_no_timeouts(tmp_path):
    script = tmp_path / "verify.py"
    script.write_text(
        textwrap.dedent(
            r"""
            from rewardkit.verify import MathVerifier, verify_math_batch

            golds = ["x^2+1", r"\frac{1}{2}", "(x+1)^2"] * 10
            completions = [r"\boxed{(x+1)^2-2x}", r"\boxed{0.5}", r"\boxed{x^2+2x+1}"] * 10
            out = MathVerifier(timeout=2.0)(
                {"completion": completions, "answer": golds}
            )
            print(out.total.tolist().count(1.0), sorted(set(out.status.tolist())))
            """
        )
    )
    runs = [
        subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120)[0].strip() for run in runs]
    assert outputs == ["30 [0]", "30 [0]"], outputs


def test_a_verbatim_copy_of_the_prompt_is_not_an_answer(verifier):
    batch = {
        "prompt": ["Simplify 6/8.", "Simplify 6/8.", "2+2="],
        "completion": ["Simplify 6/8.", r"Simplify 6/8. So \boxed{3/4}", "2+2=4"],
        "answer": ["3/4", "3/4", "4"],
    }
    # a short prompt (under MIN_COPIED_PROMPT characters) is left alone
    assert verifier(batch).total.tolist() == [0.0, 1.0, 1.0]
    del batch["prompt"]
    assert verifier(batch).total.tolist()[0] == 1.0  # without the prompt, math-verify reads 6/8


def test_chat_prompts_are_read_and_odd_prompts_only_turn_the_prompt_rules_off(verifier):
    chat = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Simplify 6/8."},
    ]
    batch = {
        "prompt": [chat, {"not": "a prompt"}, None],
        "completion": ["Simplify 6/8.", r"\boxed{3/4}", r"\boxed{3/4}"],
        "answer": ["3/4", "3/4", "3/4"],
    }
    out = verifier(batch)
    assert out.total.tolist() == [0.0, 1.0, 1.0], out.messages


@pytest.mark.parametrize("gold", [r"\frac{", "x^{", "(1,", "@@@"])
def test_a_gold_answer_that_cannot_be_parsed_is_skipped_with_its_name(verifier, gold):
    out = verifier({"completion": [r"\boxed{4}"], "answer": [gold]})
    assert np.isnan(out.total[0]) and out.status[0] == Status.ERROR
    assert repr(gold) in out.messages[0] and "cannot be parsed" in out.messages[0]


def test_the_in_process_path_agrees_with_the_worker():
    """Every completion the caller decides itself gets the worker's verdict too."""
    from rewardkit.verify.math import _fast_numbers, _in_process_answer
    from rewardkit.verify.math_policy import MathPolicy
    from rewardkit_bench.verify_math_corpus import build_corpus

    shapes = [
        "6",
        " 6.0 ",
        "+6",
        "$$6",
        "$\n6\n$",
        "$\n\\boxed{6}\n$",
        r"\boxed{6}. The final answer to the problem is 7.",
        r"$\boxed{6}$\%",
        "{" * 101 + "}" * 101 + r"\boxed{6}",
        r"\boxed{5} <answer>6</answer>",
        r"The final answer is 5. \boxed{6}",
        "<answer>5</answer><answer>6</answer>",
        r"so \boxed{6}.",
        r"\boxed{6} and then {x}",
        "<answer> 6 </answer>",
        "<answer>$6$</answer>",
        "<answer>6",
        r"\boxed{6.0}",
        r"\boxed{-6}",
        r"\fbox{5} \boxed{6}",
    ]
    pairs = [(gold, text) for gold in ("6", "6.00", "7") for text in shapes] + [
        (item.gold, item.completion) for item in build_corpus(per_task=3, seed=2)
    ]
    pool = SymbolicPool(workers=2, timeout=10.0)
    try:
        for policy in (MathPolicy(), MathPolicy(rel_tol=0.1, percent="strict")):
            decided = [
                (gold, text, outcome)
                for gold, text in pairs
                if (answer := _in_process_answer(text)) is not None
                and (outcome := _fast_numbers(gold, answer, policy)) is not None
            ]
            assert len(decided) >= len(pairs) // 4  # the path is used, not just defined
            results = pool.run(
                [(gold, text, None, policy.as_dict()) for gold, text, _ in decided],
                kind="math_verify",
            )
            mismatches = [
                (gold, text, outcome.value, result.outcome.value)
                for (gold, text, outcome), result in zip(decided, results, strict=True)
                if outcome is not result.outcome
            ]
            assert not mismatches, (policy, mismatches)
    finally:
        pool.close()


def test_a_prompt_column_of_the_wrong_length_is_a_clear_error():
    with pytest.raises(ValueError, match="1 prompts for 2 completions"):
        verify_math_batch(["1", "2"], ["1", "2"], prompts=["only one"])
