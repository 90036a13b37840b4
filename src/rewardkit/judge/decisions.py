"""Yes/no probabilities from ``transformers serve``'s ``/v1/systemone`` decisions.

``transformers serve`` ignores ``logprobs`` on chat completions, but its
``/v1/systemone`` endpoint answers a typed yes/no ("noul") question about a
``state`` with the probability of "yes", read from the served model's
next-token distribution without generating text. :class:`YesNoJudge` with
``probability="systemone"`` sends the rendered judge prompt as the state and
its ``decision`` as the question, one request per row, through the same
client (concurrency, deadline, retries, usage). Other servers do not have the
endpoint: there every row comes back ``error`` with the server's 404.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from rewardkit.core.batch import Batch
from rewardkit.core.output import RewardOutput, Status
from rewardkit.judge.base import no_answer_is_wrong
from rewardkit.judge.client import JudgeFailure

if TYPE_CHECKING:
    from rewardkit.judge.pointwise import YesNoJudge

__all__ = ["read_yes_probability", "systemone_body", "systemone_yes_probabilities"]

QUESTION = "verdict"


def systemone_body(model: str, state: str, decision: str) -> dict[str, Any]:
    """A ``/v1/systemone`` request for one yes/no question about ``state``.

    Example:
        >>> systemone_body("m", "2+2 = 4", "Is it right?")["questions"]
        {'verdict': {'type': 'noul', 'instructions': 'Is it right?'}}
    """
    return {
        "model": model,
        "state": state,
        "questions": {QUESTION: {"type": "noul", "instructions": decision}},
    }


def read_yes_probability(answer: Any) -> float:
    """P(yes) from a ``/v1/systemone`` answer; ValueError if it holds none.

    Example:
        >>> read_yes_probability({"answers": {"verdict": {"type": "noul", "noul": 0.25}}})
        0.25
    """
    try:
        value = float(answer["answers"][QUESTION]["noul"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"no yes/no probability in the answer {str(answer)[:200]!r}") from exc
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"the probability {value!r} is not in [0, 1]")
    return value


def systemone_yes_probabilities(judge: YesNoJudge, batch: Batch) -> RewardOutput:
    """P(yes) for every row of ``batch`` from ``/v1/systemone`` (statuses for failures)."""
    rows = judge.rows(batch)
    answered = judge.answers_only(rows)
    skipped = judge.skipped(batch, rows)
    asked = [i for i, has in enumerate(answered) if has and i not in skipped]
    bodies = []
    for i in asked:
        (call,) = judge.calls(rows[i])
        state = "\n\n".join(str(m["content"]) for m in call.request.messages)
        bodies.append(systemone_body(judge.client.settings.model, state, judge.decision))
    answers = judge.client.post_all("/systemone", bodies)
    values = np.full(len(rows), np.nan)
    status = np.zeros(len(rows), dtype=np.int8)
    messages: list[str | None] = [None] * len(rows)
    for i, failure in skipped.items():
        status[i], messages[i] = failure.status, failure.reason
    for i, answer in zip(asked, answers, strict=True):
        if isinstance(answer, JudgeFailure):
            status[i], messages[i] = answer.status, answer.reason
            continue
        try:
            values[i] = read_yes_probability(answer)
        except ValueError as exc:
            status[i], messages[i] = Status.ERROR, f"unparseable: {exc}"
    out = RewardOutput(values, {judge.name: values}, status, tuple(messages))
    return out if all(answered) else no_answer_is_wrong(out, answered)
