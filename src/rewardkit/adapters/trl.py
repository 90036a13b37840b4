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
import inspect
import math
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np

from rewardkit.core.compose import WeightedSum
from rewardkit.core.errors import ConfigurationError, RewardKitWarning
from rewardkit.core.keys import content_key, unkeyable_type
from rewardkit.core.output import RewardOutput, Status
from rewardkit.core.term import Term, as_term

__all__ = ["AsyncTRLReward", "TRLReward", "async_trl_reward", "split_parts", "trl_groups"]

MissingParts = Literal["zero", "none"]


def _is_column(values: Any, n: int) -> bool:
    """TRL also passes non-column keywords (``trainer_state``, hooks); keep per-sample lists."""
    return isinstance(values, list | tuple | np.ndarray) and len(values) == n


def _process_offset(n: int) -> int:
    """This process's first global position in TRL's generation batch: TRL gives process k
    the positions ``[k*n, (k+1)*n)`` (``process_slice``). 0 outside a distributed run."""
    accelerate_state = sys.modules.get("accelerate.state")
    shared = getattr(getattr(accelerate_state, "PartialState", None), "_shared_state", None)
    if not shared:  # accelerate not imported, or no state built: a single process
        return 0
    return int(shared.get("process_index", 0) or 0) * n


def trl_groups(
    prompts: Sequence[Any], num_generations: int | None = None, offset: int = 0
) -> list[int]:
    """Group ids for TRL's layout.

    With ``num_generations``, by position: TRL's ``RepeatSampler`` yields each
    prompt ``num_generations`` times in a row and process k scores the global
    positions from ``offset = k * len(prompts)``, so sample i is in group
    ``(offset + i) // num_generations``. That holds whatever the prompts hold
    (images decoded afresh per row, an environment's observation).

    Without it, runs of prompts with equal content (:func:`content_key`: images
    and arrays by their bytes, never by ``str()``).

    Example:
        >>> trl_groups(["a", "a", "b", "b", "b", "b"], num_generations=2)
        [0, 0, 1, 1, 2, 2]
        >>> trl_groups(["a", "a", "b", "b"])
        [0, 0, 1, 1]
    """
    if num_generations is not None:
        if num_generations < 1:
            raise ConfigurationError(f"num_generations must be at least 1, got {num_generations}")
        first = offset // num_generations
        return [(offset + i) // num_generations - first for i in range(len(prompts))]
    groups: list[int] = []
    previous: str | None = None
    group = -1
    for prompt in prompts:
        key = content_key(prompt)
        if key is None or key != previous:
            group += 1
        groups.append(group)
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
        scale: multiplies every reward TRL sees (``split_parts`` sets it to a
            part's weight for trainers that sum their functions unweighted).
    """

    def __init__(
        self,
        term: Term,
        columns: Mapping[str, str] | None = None,
        num_generations: int | None = None,
        missing_parts: MissingParts = "zero",
        name: str | None = None,
        scale: float = 1.0,
    ) -> None:
        if not math.isfinite(scale):
            raise ConfigurationError(f"scale must be a finite number, got {scale!r}")
        self.scale = float(scale)
        if missing_parts not in ("zero", "none"):
            raise ConfigurationError(
                f"missing_parts must be 'zero' or 'none', got {missing_parts!r}"
            )
        self.columns = dict(columns or {})
        for ours, theirs in self.columns.items():
            if not isinstance(ours, str) or not isinstance(theirs, str):
                raise ConfigurationError(f"columns maps names to names, got {ours!r}: {theirs!r}")
        if num_generations is not None and num_generations < 1:
            raise ConfigurationError(f"num_generations must be at least 1, got {num_generations}")
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
                raise ConfigurationError(
                    f"{self.__name__}: TRL passed no column {theirs!r} (mapped to {ours!r}); "
                    f"its columns are {present}"
                )
            batch[ours] = columns[theirs]
        if "group" not in batch:
            offset = _process_offset(n)
            batch["group"] = trl_groups(prompts, self.num_generations, offset)
            _warn_groups(self.__name__, prompts, offset, self.num_generations)
        return batch

    def _evaluate(self, prompts: list[Any], completions: list[Any], columns: dict[str, Any]) -> Any:
        out = self.term(self.batch(prompts, completions, columns))
        log_metric = columns.get("log_metric")
        if callable(log_metric):
            _log_parts(self.__name__, out, log_metric)
        log_extra = columns.get("log_extra")
        if callable(log_extra):
            log_extra(f"{self.__name__}_status", _status_texts(out))
        return [None if math.isnan(v) else float(v) * self.scale for v in out.total]

    def __call__(
        self, prompts: list[Any], completions: list[Any], **columns: Any
    ) -> list[float | None]:
        result: list[float | None] = self._evaluate(prompts, completions, columns)
        return result


async def _async_reward_signature(
    prompts: list[Any], completions: list[Any], **columns: Any
) -> list[float | None]:
    """The signature an :class:`AsyncTRLReward` shows to ``inspect`` (never called)."""
    raise NotImplementedError  # pragma: no cover


class AsyncTRLReward(TRLReward):
    """:class:`TRLReward` with an ``async def __call__``: picklable, awaited by every TRL.

    TRL's own reward factories are callable classes, so that AsyncGRPO can pickle
    them into its spawned rollout process (closures fail there with ``TypeError:
    ... must be picklable``). TRL 1.16 finds an async reward with
    ``inspect.iscoroutinefunction(f.__call__)``; 0.27-1.9 asked
    ``asyncio``/``inspect.iscoroutinefunction(f)`` of the object itself, which
    this class answers True by looking like an async function (``__code__``). The
    term runs in a worker thread (``asyncio.to_thread``), which mostly waits
    while the CPU-heavy parts run in rewardkit's worker processes.

    Example:
        >>> import asyncio, inspect, pickle
        >>> from rewardkit.verify import exact_match
        >>> f = AsyncTRLReward(exact_match())
        >>> inspect.iscoroutinefunction(f), f.__name__, type(pickle.loads(pickle.dumps(f)))
        (True, 'exact_match', <class 'rewardkit.adapters.trl.AsyncTRLReward'>)
        >>> asyncio.run(f(prompts=["p"], completions=["4"], answer=["4"]))
        [1.0]
    """

    # what inspect.iscoroutinefunction reads on Python 3.11 (a function-like object) ...
    __code__ = _async_reward_signature.__code__
    __defaults__ = None
    __kwdefaults__ = None
    # ... and on 3.12+ (inspect.markcoroutinefunction's marker)
    _is_coroutine_marker = getattr(inspect, "_is_coroutine_mark", None)

    async def __call__(  # type: ignore[override]
        self, prompts: list[Any], completions: list[Any], **columns: Any
    ) -> list[float | None]:
        result: list[float | None] = await asyncio.to_thread(
            self._evaluate, prompts, completions, columns
        )
        return result

    @property
    def reward(self) -> TRLReward:
        """The synchronous reward (kept for code written against the former closure)."""
        return TRLReward(
            self.term,
            columns=self.columns,
            num_generations=self.num_generations,
            missing_parts=self.missing_parts,
            name=self.__name__,
            scale=self.scale,
        )


def async_trl_reward(term: Term, **options: Any) -> AsyncTRLReward:
    """The async variant of :class:`TRLReward`: an :class:`AsyncTRLReward`.

    Example:
        >>> import asyncio, inspect
        >>> from rewardkit.verify import exact_match
        >>> f = async_trl_reward(exact_match())
        >>> inspect.iscoroutinefunction(f), f.__name__
        (True, 'exact_match')
    """
    return AsyncTRLReward(term, **options)


def split_parts(
    reward: Term,
    *,
    asynchronous: bool = False,
    scale_by_weight: bool = False,
    **options: Any,
) -> tuple[list[Any], list[float]]:
    """One TRL reward function per part of a weighted sum, and the weights.

    Pass them as ``GRPOTrainer(reward_funcs=funcs, args=GRPOConfig(reward_weights=weights))``:
    TRL then weights and logs each part itself (``rewards/<part>/mean``) and can
    normalise them separately (``multi_objective_aggregation="normalize_then_sum"``).
    A part without a reward is None, which TRL's ``nansum`` counts as 0.

    ``trl.experimental``'s AsyncGRPO sums its reward functions unweighted and
    has no ``reward_weights``: with ``scale_by_weight=True`` each function
    returns its part times its weight, so the plain sum is the weighted sum,
    AsyncGRPO still logs each part (``rewards/<part>``), and the weights
    returned are all 1.0.

    Args:
        reward: a weighted sum (``weighted_sum([...], weights)``).
        asynchronous: make every part an :class:`AsyncTRLReward`.
        scale_by_weight: put the weights inside the functions (AsyncGRPO).
        options: :class:`TRLReward` options (``columns``, ``num_generations``).

    Example:
        >>> from rewardkit.core import weighted_sum
        >>> from rewardkit.verify import exact_match, ThinkAnswerFormat
        >>> reward = weighted_sum([exact_match(), ThinkAnswerFormat()], [1.0, 0.2])
        >>> funcs, weights = split_parts(reward)
        >>> [f.__name__ for f in funcs], weights
        (['exact_match', 'think_answer_format'], [1.0, 0.2])
        >>> funcs, weights = split_parts(reward, scale_by_weight=True)
        >>> funcs[1](prompts=["q"], completions=["<think>a</think><answer>4</answer>"],
        ...          answer=["4"]), weights
        ([0.2], [1.0, 1.0])
    """
    term = as_term(reward)
    if not isinstance(term, WeightedSum):
        raise ConfigurationError(
            f"split_parts splits a weighted sum; {term.name!r} is a {type(term).__name__}. "
            "Pass it to TRL whole, as TRLReward(reward)"
        )
    make = AsyncTRLReward if asynchronous else TRLReward
    if "scale" in options:
        raise ConfigurationError("split_parts sets each part's scale; use scale_by_weight=True")
    if scale_by_weight:
        funcs = [make(p, scale=w, **options) for p, w in zip(term.parts, term.weights, strict=True)]
        return funcs, [1.0] * len(funcs)
    return [make(part, **options) for part in term.parts], list(term.weights)


_warned: set[tuple[str, str]] = set()


def _warn_once(name: str, kind: str, message: str) -> None:
    if (name, kind) not in _warned:
        _warned.add((name, kind))
        warnings.warn(f"{name}: {message}", RewardKitWarning, stacklevel=5)


def _warn_groups(
    name: str, prompts: Sequence[Any], offset: int, num_generations: int | None
) -> None:
    """Say, once per function and cause, why group terms may see part of a group."""
    n = len(prompts)
    if num_generations is None:
        odd = next((t for t in map(unkeyable_type, prompts) if t is not None), None)
        if odd is not None:
            _warn_once(
                name,
                "unkeyable",
                f"the prompts hold {odd} objects whose content rewardkit cannot compare, so "
                "each such prompt is its own group; pass num_generations= so groups "
                "follow TRL's layout by position",
            )
        return
    if offset % num_generations or (offset + n) % num_generations:
        _warn_once(
            name,
            "split",
            f"this process scores positions {offset}..{offset + n - 1}, which cut a group of "
            f"num_generations={num_generations}: the group is split across processes, and "
            "group terms see part of it; make per_device_train_batch_size a multiple of "
            "num_generations",
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
