"""B-STaR's controller: pick the sampling temperature and the reward threshold each round.

"B-STaR: Monitoring and Balancing Exploration and Exploitation in Self-Taught
Reasoners" (Zeng et al., arXiv:2412.17256). For query i, of the responses
sampled at temperature t, those with reward r > τ are selected (n_i of them);
n'_i of the selected are correct and distinct. The balance score (Eq. 3)

    bs_i = min(n'_i / n*, 1) · (n'_i / n_i)

rewards both exploration (enough distinct correct responses, up to n*) and
exploitation (a selection that is mostly correct); BS(t, τ) is its mean over
the queries with a selection (as the paper's code does). Each round the
controller sets (t, τ) = argmax over its grid (the paper: t from 0.5 to 1.2
and τ from −1 to 1, steps of 0.1). When the policy's samples at the current
temperature collapse onto a few answers, n'_i falls and a hotter temperature
wins.

:class:`BStarCallback` runs it inside rewardkit's GRPO trainer every
``every`` steps; :func:`trl_bstar_callback` inside TRL's ``GRPOTrainer``; both
take a ``sample(temperature)`` function that returns a :class:`SampledGroups`.

Example:
    >>> groups = SampledGroups(rewards=[[1.0, 1.0, 0.0]], correct=[[1, 1, 0]],
    ...                        responses=[["a", "b", "c"]])
    >>> round(balance_score(groups, threshold=0.5, n_star=4), 3)  # min(2/4, 1) * 2/2
    0.5
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardkit.core.errors import ConfigurationError
from rewardkit.core.term import Term

__all__ = [
    "BStarCallback",
    "BStarController",
    "SampledGroups",
    "balance_score",
    "policy_sampler",
    "trl_bstar_callback",
]


@dataclass(frozen=True)
class SampledGroups:
    """K responses to each of Q queries: their rewards, correctness (1/0) and texts."""

    rewards: Sequence[Sequence[float]]
    correct: Sequence[Sequence[Any]]
    responses: Sequence[Sequence[str]]

    def __post_init__(self) -> None:
        shapes = {len(self.rewards), len(self.correct), len(self.responses)}
        if len(shapes) != 1:
            raise ConfigurationError("rewards, correct and responses need one row per query")


def balance_score(groups: SampledGroups, threshold: float, n_star: int = 8) -> float:
    """BS = mean over queries with a selection of min(n'/n*, 1)·(n'/n); NaN when none has one."""
    if n_star < 1:
        raise ConfigurationError(f"n_star must be >= 1, got {n_star}")
    scores = []
    rows = zip(groups.rewards, groups.correct, groups.responses, strict=True)
    for rewards, correct, texts in rows:
        r = np.asarray(rewards, dtype=np.float64)
        chosen = np.flatnonzero(np.nan_to_num(r, nan=-np.inf) > threshold)
        if chosen.size == 0:
            continue
        right = {texts[i] for i in chosen.tolist() if float(correct[i]) > 0.5}
        scores.append(min(len(right) / n_star, 1.0) * len(right) / chosen.size)
    return float(np.mean(scores)) if scores else float("nan")


@dataclass
class BStarController:
    """Chooses (temperature, threshold) by the balance score over a grid.

    Attributes:
        temperatures: the temperature grid.
        thresholds: the reward-threshold grid.
        n_star: n*, the distinct correct responses a query needs for full credit.
        temperature: the current choice (starts at the grid's first value).
        threshold: the current reward threshold (samples above it are kept).
        history: one record per round.
    """

    temperatures: Sequence[float] = tuple(np.round(np.arange(0.5, 1.21, 0.1), 2))
    thresholds: Sequence[float] = tuple(np.round(np.arange(-1.0, 1.01, 0.1), 2))
    n_star: int = 8
    temperature: float = field(default=float("nan"))
    threshold: float = field(default=float("nan"))
    history: list[dict[str, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.temperatures or not self.thresholds:
            raise ConfigurationError("the temperature and threshold grids need a value each")
        if any(t <= 0 for t in self.temperatures):
            raise ConfigurationError("temperatures must be > 0")
        if np.isnan(self.temperature):
            self.temperature = float(self.temperatures[0])
        if np.isnan(self.threshold):
            self.threshold = float(self.thresholds[0])

    def choose(self, samples: Mapping[float, SampledGroups]) -> dict[str, float]:
        """Set (temperature, threshold) to the best balance score over the grid; return the
        round's record (``bstar/temperature``, ``bstar/threshold``, ``bstar/balance_score``)."""
        best = (-np.inf, self.temperature, self.threshold)
        for temperature, groups in samples.items():
            for threshold in self.thresholds:
                score = balance_score(groups, float(threshold), self.n_star)
                if np.isfinite(score) and score > best[0]:
                    best = (score, float(temperature), float(threshold))
        if np.isfinite(best[0]):
            _, self.temperature, self.threshold = best
        record = {
            "bstar/temperature": self.temperature,
            "bstar/threshold": self.threshold,
            "bstar/balance_score": float(best[0]) if np.isfinite(best[0]) else float("nan"),
        }
        self.history.append(record)
        return record

    def round(self, sample: Callable[[float], SampledGroups]) -> dict[str, float]:
        """Sample at every grid temperature with ``sample(t)`` and :meth:`choose`."""
        return self.choose({float(t): sample(float(t)) for t in self.temperatures})


@dataclass
class BStarCallback:
    """A rewardkit GRPO trainer callback: every ``every`` steps, a B-STaR round sets the
    trainer's sampling temperature (``trainer.config.temperature``)."""

    controller: BStarController
    sample: Callable[[float], SampledGroups]
    every: int = 10

    def __call__(self, trainer: Any, record: dict[str, float]) -> None:
        step = int(record.get("step", 0))
        if self.every < 1 or step % self.every:
            return
        record.update(self.controller.round(self.sample))
        trainer.config.temperature = self.controller.temperature


def trl_bstar_callback(
    controller: BStarController, trainer: Any, sample: Callable[[float], SampledGroups], every: int
) -> Any:
    """A ``transformers.TrainerCallback`` running a B-STaR round every ``every`` steps of a TRL
    ``GRPOTrainer`` and setting its sampling temperature (``trainer.temperature``, its
    ``generation_config`` and ``generation_kwargs``). Add it with ``trainer.add_callback``."""
    from transformers import TrainerCallback

    class BStarTrlCallback(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if every < 1 or state.global_step % every:
                return
            controller.round(sample)
            t = controller.temperature
            trainer.temperature = t
            if getattr(trainer, "generation_config", None) is not None:
                trainer.generation_config.temperature = t
            if isinstance(getattr(trainer, "generation_kwargs", None), dict):
                trainer.generation_kwargs["temperature"] = t

    return BStarTrlCallback()


def policy_sampler(
    model: Any,
    tokenizer: Any,
    rows: Sequence[Mapping[str, Any]],
    reward: Term,
    correct: Term,
    k: int = 16,
    max_new_tokens: int = 32,
    seed: int = 0,
) -> Callable[[float], SampledGroups]:
    """``sample(t)``: ``k`` completions of each row's ``prompt`` from ``model`` at temperature t
    (:func:`~rewardkit.lm.sampling.sample_completions`), scored by ``reward`` and ``correct``
    over the rows' columns."""
    from rewardkit.lm.sampling import sample_completions

    if not rows or k < 1:
        raise ConfigurationError("policy_sampler needs rows and k >= 1")

    def sample(temperature: float) -> SampledGroups:
        import torch

        prompts = [str(r["prompt"]) for r in rows]
        with torch.random.fork_rng():  # the trainer's own random stream goes on untouched
            out = sample_completions(
                model, tokenizer, prompts, k, max_new_tokens, temperature=temperature, seed=seed
            )
        batch: dict[str, Any] = {
            key: [r.get(key) for r in rows for _ in range(k)] for key in rows[0]
        }
        batch["completion"] = list(out.texts)
        scores = np.asarray(reward(batch).total, dtype=np.float64).reshape(len(rows), k)
        right = np.nan_to_num(correct(batch).total, nan=0.0).reshape(len(rows), k)
        texts = [list(out.texts[i * k : (i + 1) * k]) for i in range(len(rows))]
        return SampledGroups(scores.tolist(), right.tolist(), texts)

    return sample
