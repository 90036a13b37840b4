"""Learned rewards as terms: a preference reward model, and an ensemble of them.

:class:`RewardModelTerm` scores ``prompt`` + ``completion`` with a
:class:`~rewardkit.models.preference.PreferenceRewardModel`, batched under
``torch.no_grad``. A completion longer than the model's context is cut to
fit and marked: by default it is not applicable ("truncated: ..."), never
silently scored on its beginning. In a spec, name the model by its path::

    [[sum]]
    term = "reward_model"
    path = "runs/rm"

:class:`RewardEnsemble` combines members (any terms, typically reward models
trained on bootstrap samples or with other seeds) by mean, min (the worst
case) or mean − λ·std (uncertainty-weighted; Coste et al. 2024, Eisenstein et
al. 2023), and logs the std as a part.

Example:
    >>> import numpy as np
    >>> aggregate_ensemble(np.array([[1.0, 2.0], [3.0, 2.0]]), "mean_minus_std", lam=1.0)
    array([1., 2.])
"""

from __future__ import annotations

import abc
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

import numpy as np

from rewardkit.core.batch import Batch, batch_size, get_column
from rewardkit.core.errors import ConfigurationError
from rewardkit.core.messages import answer_text, last_message_text
from rewardkit.core.output import RewardOutput, Status, worst_status
from rewardkit.core.registry import register
from rewardkit.core.term import RewardTerm, Term, as_term, column_names
from rewardkit.models.base import saved_kind
from rewardkit.models.frozen_head import FrozenHeadRewardModel
from rewardkit.models.frozen_process import FrozenHeadProcessRewardModel
from rewardkit.models.generative import GenerativeRewardModel
from rewardkit.models.preference import (
    ModelError,
    PreferenceRewardModel,
    RewardModelTraining,
)
from rewardkit.models.process import ProcessRewardModel, StepAggregate, aggregate_steps

__all__ = [
    "ProcessRewardTerm",
    "RewardEnsemble",
    "RewardModelTerm",
    "aggregate_ensemble",
    "fit_ensemble",
    "load_reward_model",
]

Aggregation = Literal["mean", "min", "mean_minus_std"]
LearnedModel = PreferenceRewardModel | GenerativeRewardModel | FrozenHeadRewardModel
ProcessModel = ProcessRewardModel | FrozenHeadProcessRewardModel


def load_reward_model(path: str | os.PathLike[str]) -> LearnedModel:
    """Load a saved reward model of either kind (its manifest says which)."""

    found = saved_kind(path)
    if not issubclass(found, PreferenceRewardModel | GenerativeRewardModel | FrozenHeadRewardModel):
        raise ModelError(f"{path} is a {found.kind} reward model: use process_reward_model")
    return found.load(path)


def _texts(values: Sequence[Any]) -> list[str]:
    """Completions' answer texts, as every term reads them (:func:`answer_text`)."""
    return [answer_text(value) for value in values]


def _prompt_texts(values: Sequence[Any]) -> list[str]:
    """Prompts' texts: a string, or the last message's (:func:`last_message_text`)."""
    return [last_message_text(value) for value in values]


class _SavedModelTerm(RewardTerm):
    """A term over a saved model: built from its path (loaded on first use, pickled as
    the path) or from the model in memory; an untrained model is refused."""

    columns = ("completion",)
    kind = "reward model"

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        model: Any,
        on_truncation: str,
        allow_untrained: bool,
        name: str,
    ) -> None:
        super().__init__(name)
        if (path is None) == (model is None):
            raise ConfigurationError(f"give a {self.kind}'s path or the model, not both")
        if on_truncation not in ("skip", "score"):
            raise ConfigurationError(
                f"on_truncation must be 'skip' or 'score', got {on_truncation!r}"
            )
        self.path = None if path is None else os.path.abspath(path)  # workers may cd elsewhere
        self.on_truncation = on_truncation
        self.allow_untrained = allow_untrained
        self._model = model
        if model is not None:
            self._check(model)
        elif not os.path.isdir(self.path or ""):
            raise ModelError(f"no {self.kind} at {self.path}: train one and save() it there")

    @abc.abstractmethod
    def _load(self, path: str) -> Any:
        """Load the model saved at ``path``."""

    def _check(self, model: Any) -> None:
        if not model.trained and not self.allow_untrained:
            raise ModelError(
                f"{self.name}: the {self.kind} is untrained; fit() it first "
                "(or pass allow_untrained=True to test the plumbing)"
            )

    @property
    def model(self) -> Any:
        if self._model is None:
            assert self.path is not None
            self._model = self._load(self.path)
            self._check(self._model)
        return self._model

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if self.path is not None:
            state["_model"] = None  # reloaded from the path on first use
        return state

    def _truncation_status(
        self, truncated: np.ndarray, status: np.ndarray, messages: list[str | None]
    ) -> None:
        note = f"truncated: longer than the model's {self.model.max_length} tokens"
        for index in np.flatnonzero(truncated & (status == Status.OK)):
            messages[index] = note
            if self.on_truncation == "skip":
                status[index] = Status.NOT_APPLICABLE


@register("reward_model")
class RewardModelTerm(_SavedModelTerm):
    """A learned reward model's score of ``prompt`` + ``completion``.

    The model is a Bradley–Terry :class:`PreferenceRewardModel` (an unbounded
    score) or a :class:`GenerativeRewardModel` (P(yes), in [0, 1]).

    Args:
        path: a directory saved by the model's ``save`` (loaded on first use, so
            the term pickles as its path).
        model: an in-memory model instead of ``path``.
        on_truncation: "skip" (default) makes a completion longer than the
            context not applicable; "score" scores its first tokens, with a
            message.
        batch_size: completions per forward pass.
        allow_untrained: score with an untrained model (for tests of the plumbing).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        model: LearnedModel | None = None,
        on_truncation: Literal["skip", "score"] = "skip",
        batch_size: int = 64,
        allow_untrained: bool = False,
        name: str = "reward_model",
    ) -> None:
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be at least 1, got {batch_size}")
        self.batch_size = int(batch_size)
        super().__init__(path, model, on_truncation, allow_untrained, name)

    def _load(self, path: str) -> LearnedModel:
        return load_reward_model(path)

    def _compute(self, batch: Batch) -> RewardOutput:
        n = batch_size(batch)
        completions = _texts(get_column(batch, "completion"))
        prompts = _prompt_texts(batch["prompt"]) if "prompt" in batch else None
        scores, truncated = self.model.score(prompts, completions, self.batch_size)
        status = np.zeros(n, dtype=np.int8)
        messages: list[str | None] = [None] * n
        self._truncation_status(truncated, status, messages)
        values = np.where(status == Status.OK, scores, np.nan)
        return RewardOutput(values, status=status, messages=tuple(messages))


def aggregate_ensemble(scores: np.ndarray, how: Aggregation, lam: float = 1.0) -> np.ndarray:
    """Combine member scores of shape (k, N): mean, min, or mean − λ·std (population std).

    NaN members are left out; a sample with no member score is NaN.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[0] == 0:
        raise ConfigurationError(f"ensemble scores must be (k, N) with k >= 1, got {scores.shape}")
    present = ~np.isnan(scores)
    any_present = present.any(axis=0)
    safe = np.where(present, scores, 0.0)
    count = np.maximum(present.sum(axis=0), 1)
    mean = safe.sum(axis=0) / count
    if how == "mean":
        result = mean
    elif how == "min":
        result = np.where(present, scores, np.inf).min(axis=0)
    elif how == "mean_minus_std":
        variance = (np.where(present, scores - mean, 0.0) ** 2).sum(axis=0) / count
        result = mean - lam * np.sqrt(variance)
    else:
        raise ConfigurationError(f"aggregation must be mean, min or mean_minus_std, got {how!r}")
    return np.where(any_present, result, np.nan)


def fit_ensemble(
    make_model: Callable[[int], PreferenceRewardModel],
    pairs: Sequence[Mapping[str, Any]],
    k: int = 3,
    bootstrap: bool = True,
    training: RewardModelTraining | None = None,
    aggregation: Aggregation = "mean",
    lam: float = 1.0,
    name: str = "ensemble",
) -> RewardEnsemble:
    """Train ``k`` reward models (seeds 0..k-1, each on a bootstrap sample of the pairs
    when ``bootstrap``) and combine them.

    Args:
        make_model: builds an untrained model for a seed (e.g.
            ``lambda seed: PreferenceRewardModel.tiny(alphabet, seed=seed)``).
        pairs: the preference pairs.
        k: members.
        bootstrap: resample the pairs with replacement for each member.
        training: the settings of each run (its seed is replaced by the member's).
        aggregation, lam, name: as :class:`RewardEnsemble`.
    """
    if k < 1:
        raise ConfigurationError(f"an ensemble needs k >= 1 members, got {k}")
    rows = list(pairs)
    base = training or RewardModelTraining()
    members = []
    for seed in range(k):
        rng = np.random.default_rng(seed)
        sample = [rows[i] for i in rng.integers(0, len(rows), len(rows))] if bootstrap else rows
        model = make_model(seed)
        model.fit(sample, replace(base, seed=seed))
        members.append(RewardModelTerm(model=model, name=f"{name}_member_{seed}"))
    return RewardEnsemble(members, aggregation, lam, name)


class RewardEnsemble(RewardTerm):
    """An ensemble of reward terms: mean, min, or mean − λ·std, with the std as a part.

    A sample gets a reward only when every member scores it; otherwise it takes
    the worst member status (an error stays an error).

    Args:
        members: the member terms (reward models, or any terms).
        aggregation: "mean", "min" or "mean_minus_std".
        lam: λ of mean − λ·std.
        name: the term's name.
    """

    def __init__(
        self,
        members: Sequence[Term],
        aggregation: Aggregation = "mean",
        lam: float = 1.0,
        name: str = "ensemble",
    ) -> None:
        super().__init__(name)
        if len(members) < 1:
            raise ConfigurationError("an ensemble needs at least one member")
        if aggregation not in ("mean", "min", "mean_minus_std"):
            raise ConfigurationError(
                f"aggregation must be mean, min or mean_minus_std, got {aggregation!r}"
            )
        if not np.isfinite(lam) or lam < 0:
            raise ConfigurationError(f"lam must be a finite number >= 0, got {lam}")
        self.members = [as_term(m) for m in members]
        names = [m.name for m in self.members]
        if len(set(names)) != len(names):
            raise ConfigurationError(f"ensemble members need distinct names, got {names}")
        self.aggregation: Aggregation = aggregation
        self.lam = float(lam)
        self.columns = column_names(self.members)

    def _compute(self, batch: Batch) -> RewardOutput:
        outputs = [member(batch) for member in self.members]
        scores = np.stack([np.where(o.ok, o.total, np.nan) for o in outputs])
        # a sample some member could not score has no ensemble reward: the min or the std
        # of the others would understate the disagreement the ensemble is there to measure
        status = worst_status(*(o.status for o in outputs))
        scores[:, status != Status.OK] = np.nan
        total = aggregate_ensemble(scores, self.aggregation, self.lam)
        std = aggregate_ensemble(scores, "mean", 0.0) - aggregate_ensemble(
            scores, "mean_minus_std", 1.0
        )
        terms = {self.name: total, f"{self.name}/std": std}
        terms.update({m.name: o.total for m, o in zip(self.members, outputs, strict=True)})
        return RewardOutput(total, terms, status)


@register("process_reward_model")
class ProcessRewardTerm(_SavedModelTerm):
    """A process reward model's per-step scores, aggregated into one reward.

    Args:
        path: a directory saved by ``ProcessRewardModel.save`` or
            ``FrozenHeadProcessRewardModel.save`` (loaded on first use).
        model: an in-memory model instead of ``path``.
        aggregate: "min" (default: the weakest step), "product" or "last".
        on_truncation: "skip" (default) or "score", as in :class:`RewardModelTerm`.
        allow_untrained: score with an untrained model (for tests of the plumbing).

    A completion without any step is not applicable. The per-step scores, for
    step-level credit, come from :meth:`step_scores`.

    Prefixes (a ``partial`` column, as SMC steering passes it): a row marked
    partial is judged as the model judges prefixes (``judged_step_scores``):
    a :class:`ProcessRewardModel` on its completed steps only (up to its last
    separator), a :class:`FrozenHeadProcessRewardModel` on its token blocks
    so far, read without an EOS; either way aggregated the same way, so that
    a PRM is an FK potential whose last value is the complete text's reward.
    A prefix without a judged step is not applicable (a neutral weight).
    """

    kind = "process reward model"
    scores_partial = True

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        model: ProcessModel | None = None,
        aggregate: StepAggregate = "min",
        on_truncation: Literal["skip", "score"] = "skip",
        allow_untrained: bool = False,
        name: str = "process_reward",
    ) -> None:
        if aggregate not in ("min", "product", "last"):
            raise ConfigurationError(f"aggregate must be min, product or last, got {aggregate!r}")
        self.aggregate: StepAggregate = aggregate
        super().__init__(path, model, on_truncation, allow_untrained, name)

    def _load(self, path: str) -> ProcessModel:
        found = saved_kind(path)
        if not issubclass(found, ProcessRewardModel | FrozenHeadProcessRewardModel):
            raise ModelError(f"{path} is a {found.kind} reward model: use reward_model")
        return found.load(path)

    def step_scores(self, batch: Batch) -> tuple[list[np.ndarray], np.ndarray]:
        """Each completion's per-step scores in [0, 1] (empty: no steps), and the mask of
        completions too long for the model (their later steps were read cut)."""
        completions = _texts(get_column(batch, "completion"))
        prompts = _prompt_texts(batch["prompt"]) if "prompt" in batch else None
        per_step, truncated = self.model.step_scores(prompts, completions)
        return per_step, truncated

    def _compute(self, batch: Batch) -> RewardOutput:
        n = batch_size(batch)
        completions = _texts(get_column(batch, "completion"))
        partial = np.asarray(batch.get("partial", np.zeros(n, dtype=bool)), dtype=bool)
        prompts = _prompt_texts(batch["prompt"]) if "prompt" in batch else None
        per_step, truncated = self.model.judged_step_scores(prompts, completions, partial)
        values = np.array([aggregate_steps(scores, self.aggregate) for scores in per_step])
        status = np.zeros(n, dtype=np.int8)
        messages: list[str | None] = [None] * n
        for index, scores in enumerate(per_step):
            if len(scores) == 0:
                status[index], messages[index] = Status.NOT_APPLICABLE, "no steps"
        self._truncation_status(truncated, status, messages)
        values = np.where(status == Status.OK, values, np.nan)
        steps = np.array([float(len(s)) for s in per_step])
        terms = {self.name: values, f"{self.name}/steps": steps}
        return RewardOutput(values, terms, status, tuple(messages))
