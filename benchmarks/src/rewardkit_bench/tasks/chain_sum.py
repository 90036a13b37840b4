"""reasoning-gym's ``chain_sum`` task in the lab's compact format, judged by reasoning-gym.

Problems come from ``reasoning_gym.create_dataset("chain_sum", ...)``
(offline, seeded): chains of additions and subtractions such as
``"98 + 93 - 77"``. The lab's character-level model reads them without
spaces, ``"98+93-77="``, and may show its work as the running results
(``"191,114>114"``), as on the lab's own tasks; ``partial_sums`` holds the
running results, so :class:`~rewardkit_bench.tasks.arithmetic.StepCheck` can judge
prefixes.

The gold verdict is reasoning-gym's own scorer for the task
(:class:`ReasoningGymAnswer`, ``get_score_answer_fn("chain_sum")``) on the
text after the last ``>``: outside code, not this project's labels.

Example:
    >>> problem = make_chain_sum_problems(1, seed=3)[0]
    >>> problem["prompt"], problem["answer"], problem["partial_sums"]
    ('5+9+7=', '21', ['14', '21'])
    >>> ReasoningGymAnswer()({"completion": ["14,21>21", "14,20>20", "14,21"],
    ...                       "entry": [problem["entry"]] * 3}).total.tolist()
    [1.0, 0.0, 0.0]
"""

from __future__ import annotations

import contextlib
import io
import warnings
from typing import Any

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.term import RewardTerm
from rewardkit.verify.text import completion_text

__all__ = ["ReasoningGymAnswer", "make_chain_sum_problems"]

#: three numbers of one or two digits: a tiny model partly solves it with its work shown
CHAIN_SUM_SETTINGS = {"min_terms": 3, "max_terms": 3, "min_digits": 1, "max_digits": 2}


def _running_results(expression: str) -> list[str]:
    """The running results of ``"a + b - c"``, after each operation: ``[a+b, a+b-c]``."""
    tokens = expression.split()
    if len(tokens) < 3 or len(tokens) % 2 == 0:
        raise ValueError(f"not a chain of sums: {expression!r}")
    value, results = int(tokens[0]), []
    for operator, operand in zip(tokens[1::2], tokens[2::2], strict=True):
        if operator not in "+-":
            raise ValueError(f"unknown operator {operator!r} in {expression!r}")
        value = value + int(operand) if operator == "+" else value - int(operand)
        results.append(str(value))
    return results


def make_chain_sum_problems(n: int, seed: int, **settings: int) -> list[dict[str, Any]]:
    """``n`` reasoning-gym ``chain_sum`` problems (``settings`` override
    :data:`CHAIN_SUM_SETTINGS`), each with its reasoning-gym ``entry``."""
    import reasoning_gym

    config = {**CHAIN_SUM_SETTINGS, **settings}
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        dataset = reasoning_gym.create_dataset("chain_sum", size=n, seed=seed, **config)
    problems = []
    for entry in dataset:
        expression = entry["metadata"]["expression"]
        steps = _running_results(expression)
        if steps[-1] != str(entry["answer"]):
            raise ValueError(f"reasoning-gym's answer {entry['answer']} != {steps[-1]}")
        problems.append(
            {
                "prompt": expression.replace(" ", "") + "=",
                "answer": str(entry["answer"]),
                "partial_sums": steps,
                "entry": dict(entry),
            }
        )
    return problems


class ReasoningGymAnswer(RewardTerm):
    """reasoning-gym's score of the text after the last ``>`` (no ``>``: the scorer sees None).

    Args:
        task: the reasoning-gym dataset whose ``score_answer`` judges (the
            batch's ``entry`` column holds each row's reasoning-gym entry).
    """

    columns = ("completion", "entry")

    def __init__(self, task: str = "chain_sum", name: str = "gold") -> None:
        super().__init__(name)
        import reasoning_gym

        self.task = task
        self._score = reasoning_gym.get_score_answer_fn(task)

    def _compute(self, batch: Batch) -> list[float | None]:
        out: list[float | None] = []
        texts, entries = get_column(batch, "completion"), get_column(batch, "entry")
        for text, entry in zip(texts, entries, strict=True):
            text = completion_text(text)
            answer = text.rsplit(">", 1)[1].strip() if ">" in text else None
            out.append(float(self._score(answer, entry)))
        return out

    def __getstate__(self) -> dict[str, Any]:  # the scorer is rebuilt, not pickled
        return {"task": self.task, "name": self.name}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["task"], state["name"])  # type: ignore[misc]
