"""A procedural multi-step arithmetic task for the GRPO lab.

Prompts are sums of small numbers, ``"3+5+2="``. A completion may show its
work as running sums before the answer (``"8,10>10"``), answer directly
(``">10"``), or restate its work (``"8,10=10>10"``, longer and no more
accurate). The answer is the text after the last ``>``. Showing work helps a
small model, so a length penalty that strips it costs accuracy; one that
only strips the restatement does not.

The two answer terms are benchmark terms: they are not in the global
registry. :data:`TERMS` has them (``arith_answer``, ``arith_closeness``)
beside every global term, so a spec built with ``build_reward(spec,
registry=TERMS)`` can name them.

Example:
    >>> problems = make_problems(2, seed=0)
    >>> problems[0]["prompt"], problems[0]["answer"]
    ('6+6+0=', '12')
    >>> sft_completion(problems[0], "steps")
    '12,12>12'
    >>> ArithmeticAnswer()({"completion": ["12,12>12", "12", ">15"], "answer": ["12"] * 3}).total
    array([ 1., nan,  0.])
"""

from __future__ import annotations

import abc
import random
from collections.abc import Callable
from typing import Any

import numpy as np

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.registry import REGISTRY, Registry
from rewardkit.core.term import RewardTerm
from rewardkit.verify.text import completion_text

__all__ = [
    "ALPHABET",
    "TASKS",
    "TERMS",
    "ArithmeticAnswer",
    "NumericCloseness",
    "StepCheck",
    "StepConsistency",
    "implied_answer",
    "make_carry_problems",
    "make_problems",
    "sft_completion",
    "task_alphabet",
    "task_problems",
]

ALPHABET = "0123456789+=,>"
STYLES = ("direct", "steps", "restated")


def make_problems(n: int, seed: int, terms: int = 3, max_value: int = 9) -> list[dict[str, Any]]:
    """``n`` problems summing ``terms`` numbers in [0, max_value]."""
    rng = random.Random(seed)
    problems = []
    for _ in range(n):
        numbers = [rng.randint(0, max_value) for _ in range(terms)]
        partial = list(np.cumsum(numbers)[1:])
        problems.append(
            {
                "prompt": "+".join(map(str, numbers)) + "=",
                "answer": str(sum(numbers)),
                "partial_sums": [str(int(p)) for p in partial],
            }
        )
    return problems


def make_carry_problems(n: int, seed: int, digits: int = 3) -> list[dict[str, Any]]:
    """``n`` additions of two ``digits``-digit numbers, with column sums as the steps.

    The lab's task v2: a tiny model cannot add with carries in one go (the
    first answer digit depends on every carry), but it can write the column
    sums from the units up, each a sum of two digits and the previous carry
    (``"347+586="`` → ``"13,13,9>933"``), and read the answer off them, so
    its accuracy depends on showing work.

    Example:
        >>> problem = make_carry_problems(1, seed=0)[0]
        >>> problem["prompt"], sft_completion(problem, "steps")
        ('964+494=', '8,15,14>1458')
    """
    if digits < 1:
        raise ValueError(f"digits must be at least 1, got {digits}")
    rng = random.Random(seed)
    low, high = 10 ** (digits - 1), 10**digits - 1
    problems = []
    for _ in range(n):
        a, b = rng.randint(low, high), rng.randint(low, high)
        columns, carry = [], 0
        for x, y in zip(reversed(str(a)), reversed(str(b)), strict=True):
            total = int(x) + int(y) + carry
            columns.append(str(total))
            carry = total // 10
        problems.append({"prompt": f"{a}+{b}=", "answer": str(a + b), "partial_sums": columns})
    return problems


def _chain_sum_problems(n: int, seed: int) -> list[dict[str, Any]]:
    from rewardkit_bench.tasks.chain_sum import make_chain_sum_problems

    return make_chain_sum_problems(n, seed)


#: the lab's tasks: v1 ("sums", 3-term sums of digits, solved without steps), v2
#: ("carries", 3-digit additions, where showing the column sums is what makes it solvable)
#: and reasoning-gym's ``chain_sum`` (see :mod:`rewardkit_bench.tasks.chain_sum`)
TASKS: dict[str, Callable[..., list[dict[str, Any]]]] = {
    "sums": make_problems,
    "carries": make_carry_problems,
    "chain_sum": _chain_sum_problems,
}
#: characters beyond :data:`ALPHABET` that a task's problems use (a task's tokenizer is
#: ``build_char_tokenizer(task_alphabet(task))``; the first tasks keep their vocabulary)
_EXTRA_CHARACTERS = {"chain_sum": "-"}


def task_alphabet(task: str) -> str:
    """The characters of a lab task's prompts and completions.

    Example:
        >>> task_alphabet("carries") == ALPHABET, task_alphabet("chain_sum")[-1]
        (True, '-')
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose from {sorted(TASKS)}")
    return ALPHABET + _EXTRA_CHARACTERS.get(task, "")


def task_problems(task: str, n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` problems of a lab task by name (see :data:`TASKS`)."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose from {sorted(TASKS)}")
    return TASKS[task](n, seed=seed)


def sft_completion(problem: dict[str, Any], style: str) -> str:
    """The warm-start target of ``problem`` in ``style`` (direct, steps or restated)."""
    steps = ",".join(problem["partial_sums"])
    answer: str = problem["answer"]
    if style == "direct":
        return ">" + answer
    if style == "steps":
        return f"{steps}>{answer}"
    if style == "restated":
        return f"{steps}={answer}>{answer}"
    raise ValueError(f"unknown style {style!r}")


def _final_answer(text: str) -> str | None:
    if ">" not in text:
        return None
    answer = text.rsplit(">", 1)[1].strip()
    return answer if answer.removeprefix("-").isdigit() else None


class _AnswerTerm(RewardTerm):
    """Reads the answer after the last ``>``; subclasses score it against the gold."""

    columns = ("completion", "answer")

    def __init__(self, missing_score: float | None, name: str) -> None:
        super().__init__(name)
        self.missing_score = missing_score

    @abc.abstractmethod
    def _score(self, answer: str, gold: str) -> float:
        """The reward of a parsed answer."""

    def _compute(self, batch: Batch) -> list[float | None]:
        out: list[float | None] = []
        completions, golds = get_column(batch, "completion"), get_column(batch, "answer")
        for completion, gold in zip(completions, golds, strict=True):
            answer = _final_answer(completion_text(completion))
            if gold is None:
                out.append(None)
            elif answer is None:
                out.append(self.missing_score)
            else:
                out.append(self._score(answer, str(gold)))
        return out


class ArithmeticAnswer(_AnswerTerm):
    """1.0 if the answer after the last ``>`` equals ``answer``, 0.0 if not, n/a if absent.

    With ``missing_score`` set, a completion without an answer scores it
    instead of being not applicable.
    """

    def __init__(self, missing_score: float | None = None, name: str = "correct") -> None:
        super().__init__(missing_score, name)

    def _score(self, answer: str, gold: str) -> float:
        return float(answer == gold)


class NumericCloseness(_AnswerTerm):
    """Graded partial credit: max(0, 1 − |pred − gold| / scale); n/a without an answer."""

    def __init__(
        self, scale: float = 10.0, missing_score: float | None = None, name: str = "closeness"
    ) -> None:
        super().__init__(missing_score, name)
        self.scale = float(scale)

    def _score(self, answer: str, gold: str) -> float:
        return max(0.0, 1.0 - abs(int(answer) - int(gold)) / self.scale)


class StepCheck(RewardTerm):
    """The lab task's step check, for prefixes as well as complete texts (SMC potentials).

    A complete completion scores 1.0 if its answer is right, else 0.0 (no
    answer: 0.0). A prefix (``partial`` True) scores the share of the
    problem's steps (``partial_sums``) it has written correctly, in order, up
    to its first wrong step; once it writes the answer, 0.0 as soon as the
    answer digits so far stop being the start of the right answer. Steps still
    being written do not count yet.

    Example:
        >>> check = StepCheck()
        >>> batch = {"completion": ["13,1", "13,14,", "13,13,9=9", "13,13,9>933"],
        ...          "partial_sums": [["13", "13", "9"]] * 4, "answer": ["933"] * 4,
        ...          "partial": [True, True, True, False]}
        >>> check(batch).total.round(3).tolist()
        [0.333, 0.333, 1.0, 1.0]
    """

    scores_partial = True
    columns = ("completion", "partial_sums", "answer", "partial")

    def __init__(self, name: str = "steps") -> None:
        super().__init__(name)

    def _compute(self, batch: Batch) -> list[float | None]:
        texts = get_column(batch, "completion")
        steps_column = get_column(batch, "partial_sums")
        answers = get_column(batch, "answer")
        partial = batch.get("partial", [False] * len(texts))
        out: list[float | None] = []
        for text, steps, answer, is_prefix in zip(
            texts, steps_column, answers, partial, strict=True
        ):
            text = completion_text(text)
            if not is_prefix:
                out.append(float(_final_answer(text) == str(answer)))
                continue
            work, _, written = text.partition(">")
            if ">" in text and not str(answer).startswith(written.strip()):
                out.append(0.0)
                continue
            work = work.split("=")[0]  # a restated answer after the steps is not a step
            done = work.split(",") if ">" in text or "=" in text else work.split(",")[:-1]
            correct = 0
            for got, want in zip(done, steps, strict=False):
                if got != want:
                    break
                correct += 1
            out.append(correct / max(len(steps), 1))
        return out


def implied_answer(steps: list[str]) -> str | None:
    """The sum that column sums written units first imply: each column's last digit, then the
    last column's carry (``["13", "13", "9"]`` → ``"933"``); None if a step is not a number."""
    if not steps or not all(step.isdigit() for step in steps):
        return None
    digits = [str(int(step) % 10) for step in steps]
    carry = int(steps[-1]) // 10
    return (str(carry) if carry else "") + "".join(reversed(digits))


class StepConsistency(RewardTerm):
    """1.0 if a worked completion's answer is the one its own column sums imply, else 0.0.

    A verifier that does not know the gold: it checks the completion against
    itself (a self-consistency check), so a wrong but consistent completion
    passes. A completion without steps or without an answer is not applicable.

    Example:
        >>> batch = {"completion": ["13,13,9>933", "13,13,9=933>933", "13,13,9>934", ">933"]}
        >>> StepConsistency()(batch).total
        array([ 1.,  1.,  0., nan])
    """

    columns = ("completion",)

    def __init__(self, name: str = "consistent") -> None:
        super().__init__(name)

    def _compute(self, batch: Batch) -> list[float | None]:
        out: list[float | None] = []
        for text in get_column(batch, "completion"):
            text = completion_text(text)
            answer = _final_answer(text)
            work = text.rsplit(">", 1)[0].split("=")[0]  # without a restated answer
            implied = implied_answer(work.split(",")) if work else None
            out.append(None if answer is None or implied is None else float(answer == implied))
        return out


#: the global terms plus this task's answer terms, for the task's reward specs
TERMS = Registry(parent=REGISTRY)
TERMS.register("arith_answer", ArithmeticAnswer)
TERMS.register("arith_closeness", NumericCloseness)
TERMS.register("arith_steps", StepCheck)
TERMS.register("arith_consistent", StepConsistency)
