"""Math equivalence: a table of equivalent and non-equivalent pairs, and adversarial input."""

import time
from collections import deque

import numpy as np
import pytest

from rewardkit.core import Status
from rewardkit.verify.math import MathVerifier, verify_math, verify_math_batch
from rewardkit.verify.mathparse import Outcome
from rewardkit.verify.symbolic import SymbolicPool
from rewardkit_bench.verify_math_corpus import GENERIC_ATTACKS

EQUIVALENT = [
    ("42", "42"),  # exact
    ("42", "42.0"),  # numeric: trailing zero
    ("0.5", r"\frac{1}{2}"),  # decimal vs LaTeX fraction
    ("1/2", r"\dfrac{1}{2}"),  # \dfrac is \frac
    ("3/4", "6/8"),  # unreduced fraction, same rational
    ("-3/4", r"-\frac{3}{4}"),  # sign outside the fraction
    ("12%", "0.12"),  # percent vs decimal
    ("12%", "12"),  # percent sign dropped
    ("0.12", r"12\%"),  # LaTeX-escaped percent
    ("1.2e5", "120000"),  # scientific notation
    ("120000", r"1.2 \times 10^{5}"),  # LaTeX scientific notation
    ("1234567", "1,234,567"),  # thousands separators
    ("5", "x = 5"),  # an 'x =' answer
    ("5", r"5 \text{ cm}"),  # units in \text
    ("12", "12 apples"),  # trailing unit words
    ("90", r"90^\circ"),  # degrees
    ("10", r"\$10"),  # currency
    (r"2\sqrt{3}", r"\sqrt{12}"),  # evaluable radicals
    (r"\frac{\pi}{2}", r"\pi/2"),  # pi
    ("(1, 2)", "(1,2)"),  # tuple spacing
    ("(1/2, 3)", r"(\frac{1}{2}, 3)"),  # tuple of mixed literals
    ("[1, 3)", "[1,3)"),  # half-open interval
    (r"\{1, 2, 3\}", r"\{3, 1, 2\}"),  # sets ignore order
    ("x^2 + 1", "1 + x^2"),  # symbolic: commutativity
    (r"\frac{x}{2}", "0.5x"),  # symbolic: rational coefficient
    (r"(x+1)^2", "x^2 + 2x + 1"),  # symbolic: expansion
    ("Tuesday", r"\text{tuesday}"),  # text, case-insensitive
]

NOT_EQUIVALENT = [
    ("42", "43"),  # off by one
    ("0.5", "0.55"),  # near-miss decimal
    ("12%", "0.012"),  # percent scaled wrong
    ("-3/4", "3/4"),  # sign
    ("(1, 2)", "(2, 1)"),  # tuples are ordered
    ("[1, 3)", "[1, 3]"),  # interval ends differ
    ("(1, 2)", "1"),  # arity
    (r"\{1, 2\}", r"\{1, 2, 3\}"),  # set size
    ("2x", "x + 1"),  # symbolic: different expressions
    ("Tuesday", "Wednesday"),  # text
    ("1234", "1,234,000"),  # separators do not rescale
    (r"\sqrt{2}", "1.414"),  # rounded radical
]

#: a job sympy cannot finish within seconds: the gold is a million-term sum
SLOW = (r"\sum_{k=1}^{10^{6}} k^{-2}", r"\boxed{1.6449}")


@pytest.fixture(scope="module")
def pool():
    pool = SymbolicPool(workers=2, timeout=10.0)
    yield pool
    pool.close()


@pytest.mark.parametrize(("gold", "pred"), EQUIVALENT)
def test_equivalent(pool, gold, pred):
    verdict = verify_math(gold, rf"\boxed{{{pred}}}", pool=pool)
    assert verdict.outcome is Outcome.CORRECT, verdict


@pytest.mark.parametrize(("gold", "pred"), NOT_EQUIVALENT)
def test_not_equivalent(pool, gold, pred):
    verdict = verify_math(gold, rf"\boxed{{{pred}}}", pool=pool)
    assert verdict.outcome is Outcome.WRONG, verdict


#: the benchmark's generic attacks (each against the gold "42") and a few more
ADVERSARIAL = GENERIC_ATTACKS | {
    "master key": "Thought process:",
    "step by step": "Let's solve this problem step by step.",
    "empty": "",
    "power tower": r"\boxed{10^{10^{10}}}",
    "question copy": "What is 6 times 7?",
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_adversarial_never_scores_and_never_hangs(pool, name):
    start = time.perf_counter()
    verdict = verify_math("42", ADVERSARIAL[name], pool=pool)
    assert time.perf_counter() - start < pool.timeout + 0.5
    assert verdict.score != 1.0, verdict
    allowed = (Outcome.WRONG, Outcome.NO_ANSWER, Outcome.UNPARSEABLE, Outcome.TIMEOUT)
    assert verdict.outcome in allowed, verdict


def _wait_until_ready(pool, seconds=60.0):
    """Every worker, spare included, has started (a kill then costs the next job nothing)."""
    deadline = time.monotonic() + seconds
    pool.run([("x", "x")])  # the first worker is up; the others start after it
    while not all(w.ready for w in pool._workers) and time.monotonic() < deadline:
        pool._poll_starting(deque(), [])
        time.sleep(0.05)


def test_symbolic_timeout_kills_the_worker_and_is_not_wrong():
    pool = SymbolicPool(workers=1, timeout=0.5)
    try:
        _wait_until_ready(pool)
        start = time.perf_counter()
        verdicts = verify_math_batch([SLOW[0], "x + 1"], [SLOW[1], r"\boxed{1 + x}"], pool=pool)
        assert time.perf_counter() - start < 2 * 0.5 + 1.0
        assert verdicts[0].outcome is Outcome.TIMEOUT and verdicts[0].score is None
        assert verdicts[1].outcome is Outcome.CORRECT  # the replacement worker carried on
        assert pool.kills == 1
    finally:
        pool.close()


def test_each_idle_worker_gets_a_job_first_and_only_small_jobs_wait_in_a_pipe():
    from collections import deque

    from rewardkit.verify import symbolic

    pool = SymbolicPool(workers=2, timeout=5.0, spares=0)
    try:
        _wait_until_ready(pool)
        big = "x " * (symbolic.PIPELINE_MAX_CHARS // 2 - 50)  # fits alone, not beside another
        texts = [r"\boxed{1}", r"\boxed{1}", big, big, big]
        jobs = [("math_verify", ("1", text)) for text in texts]
        pending = deque(range(len(jobs)))
        pool._job_timeout = 5.0
        assert pool._assign(jobs, pending) == 2  # one job to each idle worker first
        first, second = pool._workers
        assert (list(first.queue), list(second.queue)) == ([0, 2], [1, 3])
        assert list(pending) == [4]  # no room: each pipe holds a big job already
        assert first.waiting_chars == len("1") + len(big)  # gold and text of job 2
        results: list = [None] * len(jobs)
        while any(w.job is not None for w in pool._workers):
            for worker in pool._workers:
                if worker.job is not None and worker.receive.poll(5.0):
                    pool._collect(worker, True, results, pending)
        outcomes = [r.outcome for r in results[:4]]
        assert outcomes == [Outcome.CORRECT, Outcome.CORRECT, Outcome.NO_ANSWER, Outcome.NO_ANSWER]
        assert results[4] is None and list(pending) == [4]  # never sent: nothing answers it
        assert all(w.waiting_chars == 0 for w in pool._workers)
    finally:
        pool.close()


def test_one_pool_serves_every_timeout_and_each_run_keeps_its_own():
    from rewardkit.verify.symbolic import default_pool, default_pool_states

    MathVerifier(timeout=1.0), MathVerifier(timeout=7.0)
    assert list(default_pool_states()) == ["workers=auto"]  # one pool, not one per timeout
    pool = SymbolicPool(workers=1, timeout=30.0)
    try:
        _wait_until_ready(pool)
        start = time.perf_counter()
        verdicts = verify_math_batch([SLOW[0]], [SLOW[1]], pool=pool, timeout=0.5)
        assert verdicts[0].outcome is Outcome.TIMEOUT and time.perf_counter() - start < 2.0
        assert "within 0.5s" in verdicts[0].message
    finally:
        pool.close()
    assert default_pool() is default_pool()


def test_verifier_term_statuses_and_options():
    batch = {
        "completion": [r"\boxed{7}", r"\boxed{8}", "no answer", r"\boxed{7}", r"\boxed{x+}"],
        "answer": ["7", "7", "7", None, "x+1"],
    }
    out = MathVerifier(timeout=5.0)(batch)
    # giving up scores like a wrong answer; a missing gold is skipped with an error
    np.testing.assert_array_equal(out.total[:3], [1.0, 0.0, 0.0])
    assert out.messages[2] == "no answer"
    # a malformed answer is read by math-verify as it can and is wrong, never skipped
    assert out.status.tolist() == [Status.OK, Status.OK, Status.OK, Status.ERROR, Status.OK]
    assert out.total[4] == 0.0
    assert "no gold answer (None)" in out.messages[3]
    skipped = MathVerifier(timeout=5.0, no_answer="skip")(batch)
    assert np.isnan(skipped.total[2]) and skipped.status[2] == Status.NOT_APPLICABLE
    with pytest.raises(ValueError, match="no_answer"):
        MathVerifier(no_answer="zero")
    with pytest.raises(TypeError):  # the hand-written extractors and parser are retired
        MathVerifier(extractors=("boxed",))  # type: ignore[call-arg]


def test_chat_completions_and_boxed_golds():
    chat = [{"role": "assistant", "content": "<answer>3/4</answer>"}]
    assert verify_math("0.75", chat).outcome is Outcome.CORRECT
    assert verify_math("7", "Answer: 7").outcome is Outcome.CORRECT
    boxed_gold = verify_math(r"\boxed{7}", "Answer: 7")
    assert boxed_gold.outcome is Outcome.CORRECT


def test_the_last_number_of_a_text_is_read_without_an_anchor():
    # math-verify reads the last number of a text even without an anchor
    assert verify_math("7", "It is 7").outcome is Outcome.CORRECT


def test_negative_answer_after_a_phrase():
    # "is -4" must keep its sign (a separator class once swallowed the minus)
    assert verify_math("-4", "the final answer is -4.").outcome is Outcome.CORRECT
    assert verify_math("-4", "Answer: 4").outcome is Outcome.WRONG


def test_a_repeated_completion_goes_to_the_pool_once_and_every_copy_gets_its_verdict():
    sent: list[tuple[object, ...]] = []
    pool = SymbolicPool(workers=1, timeout=5.0)
    run = pool.run

    def counting_run(pairs, kind="math_verify", timeout=None):
        sent.extend(pairs)
        return run(pairs, kind=kind, timeout=timeout)

    pool.run = counting_run  # type: ignore[method-assign]
    try:
        texts = ["so 3 + 4 = 7", "so 3 + 4 = 8", "so 3 + 4 = 7", "so 3 + 4 = 7"]
        verdicts = verify_math_batch(["7", "7", "7", "8"], texts, pool=pool)
        assert len(sent) == 3  # (7, "…= 7") once, (7, "…= 8"), (8, "…= 7")
        assert [v.outcome for v in verdicts] == [
            Outcome.CORRECT,
            Outcome.WRONG,
            Outcome.CORRECT,
            Outcome.WRONG,
        ]
    finally:
        pool.close()


def test_jobs_queued_behind_a_timeout_are_answered_by_the_replacement_worker():
    from rewardkit.verify import symbolic

    pool = SymbolicPool(workers=1, timeout=0.5)
    try:
        _wait_until_ready(pool)
        golds = ["x + 1", SLOW[0], "x + 2", "x + 3", "x + 4"]
        preds = [r"\boxed{1 + x}", SLOW[1], r"\boxed{2 + x}", r"\boxed{x}", r"\boxed{4 + x}"]
        assert symbolic.PIPELINE >= 4  # the slow job and the three after it share one queue
        verdicts = verify_math_batch(golds, preds, pool=pool)
        assert [v.outcome for v in verdicts] == [
            Outcome.CORRECT,
            Outcome.TIMEOUT,
            Outcome.CORRECT,
            Outcome.WRONG,
            Outcome.CORRECT,
        ]
        assert pool.kills == 1
    finally:
        pool.close()
