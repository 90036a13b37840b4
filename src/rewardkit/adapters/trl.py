"""Hugging Face TRL: any rewardkit term as a ``reward_funcs`` entry.

TRL's ``GRPOTrainer`` calls each reward function as
``f(prompts=..., completions=..., completion_ids=..., **dataset_columns)``
and reads ``f.__name__`` for its logs (``rewards/<name>/mean``). It accepts
``None`` for a sample the function does not apply to, which is how
rewardkit's not-applicable samples (timeouts, unparseable answers) reach it:
TRL then leaves them out of the group statistics instead of scoring them 0.

When TRL passes its ``log_metric`` hook, the parts of a composed reward are
logged too, as ``<name>/<part>``, with the share of samples that had no
reward as ``<name>/not_applicable``.

Example:
    >>> from rewardkit.verify import exact_match
    >>> reward_fn = TRLReward(exact_match(name="correct"))
    >>> reward_fn.__name__
    'correct'
    >>> reward_fn(prompts=["2+2?", "3+3?"], completions=["4", "7"], answer=["4", None])
    [1.0, None]
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from rewardkit.core.output import RewardOutput
from rewardkit.core.term import Term, as_term

__all__ = ["AsyncTRLReward", "TRLReward"]


def _is_column(values: Any, n: int) -> bool:
    """TRL also passes non-column keywords (``trainer_state``, hooks); keep per-sample lists."""
    return isinstance(values, list | tuple) and len(values) == n


class TRLReward:
    """Wrap a term as a picklable TRL reward function.

    Args:
        term: the reward term. It reads ``completion`` (TRL's ``completions``),
            ``prompt`` (``prompts``), ``completion_ids`` and any dataset column.
    """

    def __init__(self, term: Term) -> None:
        self.term = as_term(term)
        self.__name__ = self.term.name

    def _evaluate(self, prompts: list[Any], completions: list[Any], columns: dict[str, Any]) -> Any:
        n = len(completions)
        batch = {"prompt": prompts, "completion": completions}
        batch.update({k: v for k, v in columns.items() if _is_column(v, n)})
        out = self.term(batch)
        log_metric = columns.get("log_metric")
        if callable(log_metric):
            _log_parts(self.__name__, out, log_metric)
        return [None if math.isnan(v) else float(v) for v in out.total]

    def __call__(
        self, prompts: list[Any], completions: list[Any], **columns: Any
    ) -> list[float | None]:
        result: list[float | None] = self._evaluate(prompts, completions, columns)
        return result


class AsyncTRLReward(TRLReward):
    """The async variant: TRL awaits it concurrently with other async rewards.

    The term runs in a worker thread (``asyncio.to_thread``), which only
    waits while the CPU-heavy parts (sympy, sandboxed programs) run in
    rewardkit's worker processes.

    Example:
        >>> import asyncio
        >>> from rewardkit.verify import exact_match
        >>> asyncio.run(AsyncTRLReward(exact_match())(prompts=["p"], completions=["4"],
        ...                                           answer=["4"]))
        [1.0]
    """

    async def __call__(  # type: ignore[override]
        self, prompts: list[Any], completions: list[Any], **columns: Any
    ) -> list[float | None]:
        result: list[float | None] = await asyncio.to_thread(
            self._evaluate, prompts, completions, columns
        )
        return result


def _log_parts(name: str, out: RewardOutput, log_metric: Callable[[str, float], Any]) -> None:
    for part, values in out.terms.items():
        if part == name:
            continue
        finite = values[~np.isnan(values)]
        if finite.size:
            log_metric(f"{name}/{part}", float(finite.mean()))
    log_metric(f"{name}/not_applicable", float(np.mean(~out.ok)))
