"""Hugging Face TRL: any rewardkit term as a ``reward_funcs`` entry.

TRL's ``GRPOTrainer`` calls each reward function as
``f(prompts=..., completions=..., completion_ids=..., **dataset_columns)``
(plus ``trainer_state``, ``log_extra`` and ``log_metric`` in 1.x) and reads
its name for its logs (``rewards/<name>/mean``). A ``None`` marks a sample the
function does not score; TRL turns it into NaN and ``nansum``s the functions,
so a None adds nothing to the other functions' rewards (a sample that every
function leaves None is left out of the group statistics since TRL 1.6).

Two ways in:

- **one composite** (:class:`TRLReward`): TRL sees one function, logs one
  ``rewards/<name>/mean``; rewardkit logs each part through ``log_metric`` as
  ``<name>/<part>``. Use it for gates, products and anything that is not a
  plain weighted sum.
- **one function per part** (:func:`split_parts`): TRL's ``reward_weights``,
  its per-function ``rewards/<part>/mean`` and its
  ``multi_objective_aggregation`` (GDPO's ``normalize_then_sum``) then apply.
  Use it for a weighted sum whose parts should be weighted or normalised by
  TRL.

A missing part (a math answer that could not be parsed) counts 0 in the
composite, as TRL counts a None function across functions
(``missing_parts="zero"``, the default); ``"none"`` makes the whole sample
None as soon as one part is, which would also drop the parts that scored.

Groups: TRL lays the ``num_generations`` completions of a prompt out next to
each other; when the batch has no ``group`` column, one is built from runs of
the same prompt (cut every ``num_generations`` if given), so group terms
(``grpo_lambda``, group switches) work.

Example:
    >>> from rewardkit.verify import exact_match
    >>> reward_fn = TRLReward(exact_match(name="correct"), columns={"answer": "solution"})
    >>> reward_fn.__name__
    'correct'
    >>> reward_fn(prompts=["2+2?", "3+3?"], completions=["4", "7"], solution=["4", None])
    [1.0, None]
"""

from __future__ import annotations

import asyncio
import copy
import json
import math
import warnings
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, Literal

import numpy as np

from rewardkit.core.compose import WeightedSum
from rewardkit.core.errors import CompositionError, RewardKitWarning
from rewardkit.core.output import RewardOutput, Status
from rewardkit.core.term import Term, as_term

__all__ = ["AsyncTRLReward", "TRLReward", "async_trl_reward", "split_parts", "trl_groups"]

MissingParts = Literal["zero", "none"]
AsyncRewardFunc = Callable[..., Coroutine[Any, Any, list[float | None]]]


def _is_column(values: Any, n: int) -> bool:
    """TRL also passes non-column keywords (``trainer_state``, hooks); keep per-sample lists."""
    return isinstance(values, list | tuple | np.ndarray) and len(values) == n


def _prompt_key(prompt: Any) -> str:
    return prompt if isinstance(prompt, str) else json.dumps(prompt, sort_keys=True, default=str)


def trl_groups(prompts: Sequence[Any], num_generations: int | None = None) -> list[int]:
    """Group ids for TRL's layout: runs of the same prompt, cut every ``num_generations``.

    TRL's ``RepeatSampler`` yields each prompt ``num_generations`` times in a
    row, so a run of equal prompts is one group (or several, if the dataset
    repeats a prompt: ``num_generations`` cuts them apart).

    Example:
        >>> trl_groups(["a", "a", "b", "b", "b", "b"], num_generations=2)
        [0, 0, 1, 1, 2, 2]
    """
    if num_generations is not None and num_generations < 1:
        raise CompositionError(f"num_generations must be at least 1, got {num_generations}")
    groups: list[int] = []
    previous: str | None = None
    group, size = -1, 0
    for prompt in prompts:
        key = _prompt_key(prompt)
        if key != previous or (num_generations is not None and size == num_generations):
            group, size = group + 1, 0
        groups.append(group)
        size += 1
        previous = key
    return groups


class TRLReward:
    """Wrap a term as a picklable TRL reward function.

    Args:
        term: the reward term. It reads ``completion`` (TRL's ``completions``),
            ``prompt`` (``prompts``), ``completion_ids``, ``group`` and any
            dataset column.
        columns: rewardkit column → TRL dataset column, e.g.
            ``{"answer": "solution"}`` for TRL's math datasets.
        num_generations: TRL's ``num_generations``, used to cut groups when a
            prompt repeats (optional: runs of equal prompts are groups anyway).
        missing_parts: for a weighted sum, "zero" (default) lets a part without
            a reward count 0, as TRL counts a None function; "none" makes the
            sample None.
        name: the function's name in TRL's logs (default: the term's).
    """

    def __init__(
        self,
        term: Term,
        columns: Mapping[str, str] | None = None,
        num_generations: int | None = None,
        missing_parts: MissingParts = "zero",
        name: str | None = None,
    ) -> None:
        if missing_parts not in ("zero", "none"):
            raise CompositionError(f"missing_parts must be 'zero' or 'none', got {missing_parts!r}")
        self.columns = dict(columns or {})
        for ours, theirs in self.columns.items():
            if not isinstance(ours, str) or not isinstance(theirs, str):
                raise CompositionError(f"columns maps names to names, got {ours!r}: {theirs!r}")
        if num_generations is not None and num_generations < 1:
            raise CompositionError(f"num_generations must be at least 1, got {num_generations}")
        self.num_generations = num_generations
        self.missing_parts = missing_parts
        self.term = _with_missing_parts(as_term(term), missing_parts)
        self.__name__ = name or self.term.name

    def batch(self, prompts: list[Any], completions: list[Any], columns: Mapping[str, Any]) -> Any:
        """The columnar batch the term sees for one TRL call."""
        n = len(completions)
        batch: dict[str, Any] = {"prompt": prompts, "completion": completions}
        batch.update({k: v for k, v in columns.items() if _is_column(v, n)})
        for ours, theirs in self.columns.items():
            if theirs not in columns:
                present = sorted(k for k, v in columns.items() if _is_column(v, n))
                raise CompositionError(
                    f"{self.__name__}: TRL passed no column {theirs!r} (mapped to {ours!r}); "
                    f"its columns are {present}"
                )
            batch[ours] = columns[theirs]
        if "group" not in batch:
            batch["group"] = trl_groups(prompts, self.num_generations)
            _warn_partial_groups(self.__name__, batch["group"], self.num_generations)
        return batch

    def _evaluate(self, prompts: list[Any], completions: list[Any], columns: dict[str, Any]) -> Any:
        out = self.term(self.batch(prompts, completions, columns))
        log_metric = columns.get("log_metric")
        if callable(log_metric):
            _log_parts(self.__name__, out, log_metric)
        log_extra = columns.get("log_extra")
        if callable(log_extra):
            log_extra(f"{self.__name__}_status", _status_texts(out))
        return [None if math.isnan(v) else float(v) for v in out.total]

    def __call__(
        self, prompts: list[Any], completions: list[Any], **columns: Any
    ) -> list[float | None]:
        result: list[float | None] = self._evaluate(prompts, completions, columns)
        return result


def async_trl_reward(term: Term, **options: Any) -> AsyncRewardFunc:
    """The async variant: an ``async def`` function, which every TRL version awaits.

    TRL 0.27-0.29 test ``asyncio.iscoroutinefunction(f)`` and 1.0-1.9
    ``inspect.iscoroutinefunction(f)``; both are False for an object with an
    async ``__call__``, so the reward must be a real coroutine function. The
    term runs in a worker thread (``asyncio.to_thread``), which mostly waits
    while the CPU-heavy parts run in rewardkit's worker processes. Options are
    :class:`TRLReward`'s; the wrapped :class:`TRLReward` is ``f.reward``.

    Example:
        >>> import asyncio, inspect
        >>> from rewardkit.verify import exact_match
        >>> f = async_trl_reward(exact_match())
        >>> inspect.iscoroutinefunction(f), f.__name__
        (True, 'exact_match')
        >>> asyncio.run(f(prompts=["p"], completions=["4"], answer=["4"]))
        [1.0]
    """
    reward = TRLReward(term, **options)

    async def reward_func(
        prompts: list[Any], completions: list[Any], **columns: Any
    ) -> list[float | None]:
        result: list[float | None] = await asyncio.to_thread(
            reward._evaluate, prompts, completions, columns
        )
        return result

    reward_func.__name__ = reward_func.__qualname__ = reward.__name__
    reward_func.reward = reward  # type: ignore[attr-defined]
    return reward_func


#: the former class name; it now returns an ``async def`` function (see async_trl_reward)
AsyncTRLReward = async_trl_reward


def split_parts(
    reward: Term, *, asynchronous: bool = False, **options: Any
) -> tuple[list[Any], list[float]]:
    """One TRL reward function per part of a weighted sum, and the weights.

    Pass them as ``GRPOTrainer(reward_funcs=funcs, args=GRPOConfig(reward_weights=weights))``:
    TRL then weights and logs each part itself (``rewards/<part>/mean``) and can
    normalise them separately (``multi_objective_aggregation="normalize_then_sum"``).
    A part without a reward is None, which TRL's ``nansum`` counts as 0.

    Args:
        reward: a weighted sum (``weighted_sum([...], weights)``).
        asynchronous: make every part an ``async def`` function.
        options: :class:`TRLReward` options (``columns``, ``num_generations``).

    Example:
        >>> from rewardkit.core import weighted_sum
        >>> from rewardkit.verify import exact_match, ThinkAnswerFormat
        >>> reward = weighted_sum([exact_match(), ThinkAnswerFormat()], [1.0, 0.2])
        >>> funcs, weights = split_parts(reward)
        >>> [f.__name__ for f in funcs], weights
        (['exact_match', 'think_answer_format'], [1.0, 0.2])
    """
    term = as_term(reward)
    if not isinstance(term, WeightedSum):
        raise CompositionError(
            f"split_parts splits a weighted sum; {term.name!r} is a {type(term).__name__}. "
            "Pass it to TRL whole, as TRLReward(reward)"
        )
    make = async_trl_reward if asynchronous else TRLReward
    return [make(part, **options) for part in term.parts], list(term.weights)


_warned_partial: set[str] = set()


def _warn_partial_groups(name: str, groups: Sequence[int], num_generations: int | None) -> None:
    """Warn once when a group is smaller than num_generations: TRL gives each process a
    slice of the batch, and a slice that is not a multiple of num_generations cuts a
    group in two, so group terms see part of it."""
    if num_generations is None or name in _warned_partial:
        return
    sizes = np.bincount(np.asarray(groups, dtype=np.int64))
    if np.any(sizes != num_generations):
        _warned_partial.add(name)
        warnings.warn(
            f"{name}: groups of {sorted(set(sizes.tolist()))} completions, not "
            f"num_generations={num_generations}: a group is split across processes, and "
            "group terms see part of it; make per_device_train_batch_size a multiple of "
            "num_generations",
            RewardKitWarning,
            stacklevel=4,
        )


def _with_missing_parts(term: Term, missing_parts: MissingParts) -> Term:
    if missing_parts == "zero" and isinstance(term, WeightedSum) and not term.skip_missing:
        zeroed = copy.copy(term)
        zeroed.skip_missing = True
        return zeroed
    return term


def _status_texts(out: RewardOutput) -> list[str]:
    messages = out.messages or (None,) * len(out)
    return [
        Status(status).name.lower() + (f": {message}" if message else "")
        for status, message in zip(out.status, messages, strict=True)
    ]


def _log_parts(name: str, out: RewardOutput, log_metric: Callable[[str, float], Any]) -> None:
    for part, values in out.terms.items():
        if part == name:
            continue
        finite = values[~np.isnan(values)]
        if finite.size:
            log_metric(f"{name}/{part}", float(finite.mean()))
    for status in Status:
        log_metric(f"{name}/status/{status.name.lower()}", float(np.mean(out.status == status)))
