"""verifiers 0.4 (v1 tasks): a rewardkit term as a task's reward and metrics.

verifiers 0.4 dropped ``Rubric``: a ``vf.Task`` scores a rollout with its
``@vf.reward`` and ``@vf.metric`` methods. ``Task.score(trace)``
(``verifiers/v1/task.py``) finds them by their ``reward``/``metric``
attribute, calls each with the names it declares out of ``task`` (the task's
``TaskData``), ``trace`` and ``runtime``, awaits them all (they must be
async), records a number as the function's ``__name__`` and a dict key by
key, and sums ``score x weight`` into ``trace.reward``. A NaN is recorded as
is and makes the reward NaN; an exception fails the rollout's whole scoring.

:func:`v1_reward` gives the pair to put in a task class:

- the **reward**, an async callable (weight ``weight``): the term's total, or
  ``not_applicable_score`` for a sample without one, never NaN, never raising;
- the **metrics**: each part, and the sample's status as
  ``<name>_applicable``, ``<name>_timeout``, ``<name>_error`` (0/1), so a
  missing value is never read as a 0 score.

The term runs once per rollout (the two share a small cache). Its batch has
one row: ``prompt`` (the task's prompt, messages as dicts), ``completion``
(the trace's messages after the prompt, as dicts: the answer is the last
assistant message, a tool's output never), ``answer`` (the TaskData field
named by ``answer_field``) and every other field declared on the TaskData
subclass. verifiers 0.4 scores one rollout at a time and has no group reward
functions, so group terms cannot run here.

Example:
    >>> import verifiers.v1 as vf  # doctest: +SKIP
    >>> correct, correct_parts = v1_reward(my_reward)  # doctest: +SKIP
    >>> class MathTask(vf.Task[MathData]):  # doctest: +SKIP
    ...     correct = correct
    ...     correct_parts = correct_parts
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rewardkit.core.messages import message_field
from rewardkit.core.output import RewardOutput, Status
from rewardkit.core.term import Term, as_term

__all__ = ["V1Metrics", "V1Reward", "trace_row", "v1_reward"]

#: TaskData fields of verifiers 0.4 itself (not dataset columns)
BASE_FIELDS = frozenset(
    {
        "idx", "id", "name", "description", "prompt", "system_prompt", "image", "workdir",
        "agent_user", "skills", "network_allow", "network_block", "artifacts",
        "artifact_max_bytes", "timeout", "resources",
    }
)  # fmt: skip


def _as_dict(message: Any) -> Any:
    """A verifiers message (a pydantic model, not subscriptable) as a plain dict."""
    if isinstance(message, Mapping):
        return dict(message)
    dump = getattr(message, "model_dump", None)
    if callable(dump):
        return dump(exclude_none=True)
    return {"role": message_field(message, "role"), "content": message_field(message, "content")}


def _task_fields(task: Any) -> dict[str, Any]:
    dump = getattr(task, "model_dump", None)
    fields = dict(dump()) if callable(dump) else dict(getattr(task, "__dict__", {}))
    fields.update(getattr(task, "model_extra", None) or {})
    return {k: v for k, v in fields.items() if k not in BASE_FIELDS}


def trace_row(task: Any, trace: Any, answer_field: str = "answer") -> dict[str, list[Any]]:
    """The one-row batch of a v1 rollout: prompt, completion, answer and the task's fields.

    The completion is the trace's messages after the leading system and user
    messages (the prompt).
    """
    messages = [_as_dict(m) for m in getattr(trace, "messages", [])]
    start = 0
    while start < len(messages) and messages[start].get("role") in ("system", "user"):
        start += 1
    prompt = getattr(task, "prompt", None)
    if isinstance(prompt, Sequence) and not isinstance(prompt, str):
        prompt = [_as_dict(m) for m in prompt]
    fields = _task_fields(task)
    batch: dict[str, list[Any]] = {
        "prompt": [prompt],
        "completion": [messages[start:]],
        "answer": [fields.pop(answer_field, None)],
    }
    for key, value in fields.items():
        batch.setdefault(key, [value])
    return batch


class _Scorer:
    """Runs the term once per rollout; the reward and the metrics read its output."""

    def __init__(self, term: Term, answer_field: str, keep: int = 1024) -> None:
        self.term = term
        self.answer_field = answer_field
        self.keep = keep
        self._recent: dict[tuple[int, int], tuple[Any, asyncio.Future[RewardOutput]]] = {}

    async def output(self, task: Any, trace: Any) -> RewardOutput:
        key = (id(trace), len(getattr(trace, "messages", ())))
        held = self._recent.get(key)
        if held is not None and held[0] is trace:
            return await asyncio.shield(held[1])
        future: asyncio.Future[RewardOutput] = asyncio.get_running_loop().create_future()
        self._recent[key] = (trace, future)
        while len(self._recent) > self.keep:
            self._recent.pop(next(iter(self._recent)))
        try:
            batch = trace_row(task, trace, self.answer_field)
            out = await asyncio.to_thread(self.term, batch)
        except Exception as exc:  # one bad rollout is an error, not a failed scoring
            out = RewardOutput(
                np.array([np.nan]),
                status=np.array([Status.ERROR], np.int8),
                messages=(f"{type(exc).__name__}: {exc}",),
            )
        except BaseException:  # cancelled: the paired hook must not wait forever
            self._recent.pop(key, None)
            future.cancel()
            raise
        future.set_result(out)
        return out

    def __getstate__(self) -> dict[str, Any]:
        return {"term": self.term, "answer_field": self.answer_field, "keep": self.keep}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["term"], state["answer_field"], state["keep"])  # type: ignore[misc]


class V1Reward:
    """A term's total as a verifiers 0.4 reward (``@vf.reward(weight=...)`` equivalent)."""

    reward = True  # what Task.score looks for
    reward_priority = 0

    def __init__(
        self, scorer: _Scorer, name: str, weight: float, not_applicable_score: float
    ) -> None:
        if not (math.isfinite(weight) and math.isfinite(not_applicable_score)):
            raise ValueError("weight and not_applicable_score must be finite: verifiers sums them")
        self.scorer = scorer
        self.__name__ = name
        self._vf_weight = float(weight)
        self.not_applicable_score = float(not_applicable_score)

    async def __call__(self, task: Any, trace: Any) -> float:
        out = await self.scorer.output(task, trace)
        ok = out.status[0] == Status.OK
        return float(out.total[0]) if ok else self.not_applicable_score


class V1Metrics:
    """A term's parts and status flags as verifiers 0.4 metrics (a dict, recorded key by key)."""

    metric = True
    metric_priority = 0

    def __init__(self, scorer: _Scorer, name: str, not_applicable_score: float) -> None:
        self.scorer = scorer
        self.__name__ = f"{name}_parts"
        self.name = name
        self.not_applicable_score = float(not_applicable_score)

    async def __call__(self, task: Any, trace: Any) -> dict[str, float]:
        out = await self.scorer.output(task, trace)
        status = int(out.status[0])
        metrics = {
            f"{self.name}_applicable": float(status == Status.OK),
            f"{self.name}_timeout": float(status == Status.TIMEOUT),
            f"{self.name}_error": float(status == Status.ERROR),
        }
        for part, values in out.terms.items():
            if part == self.name:
                continue
            value = float(values[0])
            metrics[part] = value if math.isfinite(value) else self.not_applicable_score
            metrics[f"{part}_applicable"] = float(math.isfinite(value))
        return metrics


def v1_reward(
    term: Term,
    weight: float = 1.0,
    not_applicable_score: float = 0.0,
    answer_field: str = "answer",
) -> tuple[V1Reward, V1Metrics]:
    """The term as a verifiers 0.4 task's reward and metrics (see the module's docs).

    Args:
        term: the reward term.
        weight: the reward's weight in ``trace.reward``.
        not_applicable_score: what verifiers records for a rollout without a
            reward (verifiers sums floats, so a NaN would poison the reward).
        answer_field: the TaskData field holding the gold answer.

    Example:
        >>> import asyncio
        >>> from types import SimpleNamespace
        >>> from rewardkit.verify import exact_match
        >>> reward, metrics = v1_reward(exact_match(name="correct"))
        >>> task = SimpleNamespace(prompt="2+2?", answer="4")
        >>> trace = SimpleNamespace(messages=[{"role": "user", "content": "2+2?"},
        ...                                   {"role": "assistant", "content": "4"}])
        >>> asyncio.run(reward(task, trace)), reward.__name__, reward._vf_weight
        (1.0, 'correct', 1.0)
        >>> asyncio.run(metrics(task, trace))["correct_applicable"]
        1.0
    """
    term = as_term(term)
    scorer = _Scorer(term, answer_field)
    return (
        V1Reward(scorer, term.name, weight, not_applicable_score),
        V1Metrics(scorer, term.name, not_applicable_score),
    )
