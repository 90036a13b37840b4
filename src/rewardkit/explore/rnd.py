"""Prediction-error bonuses: RND and RDD (torch, CPU).

**RND** (Burda et al. 2018, "Exploration by Random Network Distillation"):
a predictor f_θ learns to match a fixed random network g on visited
observations; the bonus is the prediction error ‖f_θ(s') − g(s')‖²/d.
Observations are normalized by running mean and std (clipped to ±5), and
the bonus is divided by a running std of the discounted intrinsic return,
as in the paper.

**RDD** (Fang et al. 2025, "Exploration by Random Distribution
Distillation"): the target is a *distribution*, f_tar(s) ~ N(μ(s), σ²I)
with μ a fixed random network; the predictor is trained by MSE on a fresh
sample at every visit, and the bonus is measured against the mean,
b(s) = ‖f_θ(s) − μ(s)‖²/d. Its expectation is bounded by a pseudo-count term
plus a discrepancy term, b(s) ≤ σ²/n(s) + ‖f*_n(s) − f_θ(s)‖²/d
(:func:`rdd_bound`), f*_n being the least-squares fit to the n samples seen:
the bonus decays like a count even where the network generalizes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.output import FloatArray
from rewardkit.core.registry import register
from rewardkit.core.term import RewardTerm

__all__ = ["RDDBonus", "RNDBonus", "RunningMeanStd", "rdd_bound"]


class RunningMeanStd:
    """Running mean and variance over batches (Chan et al. parallel update).

    Example:
        >>> stats = RunningMeanStd(())
        >>> stats.update(np.array([1.0, 2.0, 3.0])); stats.update(np.array([4.0]))
        >>> round(float(stats.mean), 3), round(float(stats.var), 3)
        (2.5, 1.25)
    """

    def __init__(self, shape: tuple[int, ...], epsilon: float = 1e-4) -> None:
        self.mean = np.zeros(shape)
        self.var = np.ones(shape)
        self.count = epsilon

    def update(self, values: FloatArray) -> None:
        batch_mean, batch_var, n = values.mean(axis=0), values.var(axis=0), values.shape[0]
        delta = batch_mean - self.mean
        total = self.count + n
        self.mean = self.mean + delta * n / total
        m2 = self.var * self.count + batch_var * n + delta**2 * self.count * n / total
        self.var = m2 / total
        self.count = total


def rdd_bound(sigma2: Any, visits: Any, discrepancy: Any) -> FloatArray:
    """RDD's bound on the expected bonus: σ²/n (pseudo-count) + discrepancy.

    Example:
        >>> rdd_bound(1.0, np.array([1, 4]), 0.0)
        array([1.  , 0.25])
    """
    bound: FloatArray = np.asarray(sigma2, dtype=np.float64) / np.maximum(
        np.asarray(visits, dtype=np.float64), 1.0
    ) + np.asarray(discrepancy, dtype=np.float64)
    return bound


def _mlp(inputs: int, hidden: int, outputs: int) -> Any:
    import torch

    return torch.nn.Sequential(
        torch.nn.Linear(inputs, hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden, hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden, outputs),
    )


class _Distillation(RewardTerm):
    """Shared machinery: normalized observations, a frozen target, a trained predictor."""

    columns: tuple[str, ...] = ("next_obs",)

    def __init__(
        self, feature_dim: int, hidden: int, learning_rate: float, seed: int, name: str
    ) -> None:
        super().__init__(name)
        self.feature_dim, self.hidden = feature_dim, hidden
        self.learning_rate, self.seed = learning_rate, seed
        self.obs_stats: RunningMeanStd | None = None
        self.target: Any = None
        self.predictor: Any = None
        self.optimizer: Any = None

    def _build(self, obs_dim: int) -> None:
        import torch

        generator_state = torch.random.get_rng_state()
        torch.manual_seed(self.seed)
        self.target = _mlp(obs_dim, self.hidden, self.feature_dim)
        for parameter in self.target.parameters():
            parameter.requires_grad_(False)
        self.predictor = _mlp(obs_dim, self.hidden, self.feature_dim)
        torch.random.set_rng_state(generator_state)  # do not disturb the caller's RNG
        self.optimizer = torch.optim.Adam(self.predictor.parameters(), lr=self.learning_rate)
        self.obs_stats = RunningMeanStd((obs_dim,))

    def _inputs(self, observations: Any) -> Any:
        import torch

        flat = np.asarray(observations, dtype=np.float64).reshape(len(observations), -1)
        if self.target is None:
            self._build(flat.shape[1])
        assert self.obs_stats is not None
        normalized = (flat - self.obs_stats.mean) / np.sqrt(self.obs_stats.var + 1e-8)
        return torch.as_tensor(np.clip(normalized, -5, 5), dtype=torch.float32)

    def raw_bonus(self, observations: Any) -> FloatArray:
        """‖f_θ(s) − target(s)‖²/d, before any reward normalization."""
        import torch

        with torch.no_grad():
            x = self._inputs(observations)
            error = ((self.predictor(x) - self.target(x)) ** 2).mean(dim=1)
        values: FloatArray = error.numpy().astype(np.float64)
        return values

    def _regression_targets(self, x: Any) -> Any:
        return self.target(x)

    def _train(self, observations: Any, epochs: int = 1) -> float:
        import torch

        flat = np.asarray(observations, dtype=np.float64).reshape(len(observations), -1)
        x = self._inputs(flat)
        assert self.obs_stats is not None
        self.obs_stats.update(flat)
        loss = torch.zeros(())
        for _ in range(epochs):
            with torch.no_grad():
                targets = self._regression_targets(x)
            loss = ((self.predictor(x) - targets) ** 2).mean()
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        return float(loss.detach())


@register("rnd_bonus")
class RNDBonus(_Distillation):
    """Random Network Distillation bonus, normalized by the intrinsic return's running std.

    It does the paper's normalization itself (``normalizes_itself``), so trainers that
    scale bonuses (:class:`~rewardkit.explore.normalize.IntrinsicReturnScaler`) leave it be.
    """

    #: already divided by the running std of its discounted return: do not scale again
    normalizes_itself = True

    def __init__(
        self,
        beta: float = 1.0,
        feature_dim: int = 64,
        hidden: int = 128,
        learning_rate: float = 1e-4,
        gamma: float = 0.99,
        seed: int = 0,
        name: str = "rnd_bonus",
    ) -> None:
        super().__init__(feature_dim, hidden, learning_rate, seed, name)
        self.beta, self.gamma = float(beta), float(gamma)
        self.return_stats = RunningMeanStd(())
        self._running_return: dict[Any, float] = {}

    def _compute(self, batch: Batch) -> FloatArray:
        raw = self.raw_bonus(get_column(batch, "next_obs"))
        return self.beta * raw / np.sqrt(self.return_stats.var + 1e-8)

    def update(self, batch: Batch, epochs: int = 1) -> dict[str, float]:
        observations = get_column(batch, "next_obs")
        raw = self.raw_bonus(observations)
        envs = batch.get("env", [0] * len(raw))
        returns = np.empty_like(raw)
        for i, (env, value) in enumerate(zip(envs, raw, strict=True)):  # RND's forward filter
            self._running_return[env] = self._running_return.get(env, 0.0) * self.gamma + value
            returns[i] = self._running_return[env]
        self.return_stats.update(returns)
        loss = self._train(observations, epochs)
        return {"loss": loss, "raw_bonus": float(raw.mean())}


@register("rdd_bonus")
class RDDBonus(_Distillation):
    """Random Distribution Distillation bonus ‖f_θ(s) − μ(s)‖²/d, target ~ N(μ(s), σ²I)."""

    def __init__(
        self,
        beta: float = 1.0,
        target_std: float = 1.0,
        feature_dim: int = 64,
        hidden: int = 64,
        learning_rate: float = 3e-4,
        seed: int = 0,
        name: str = "rdd_bonus",
    ) -> None:
        super().__init__(feature_dim, hidden, learning_rate, seed, name)
        self.beta, self.target_std = float(beta), float(target_std)
        import torch

        self._noise = torch.Generator().manual_seed(seed + 1)

    def _regression_targets(self, x: Any) -> Any:
        import torch

        mean = self.target(x)
        noise = torch.randn(mean.shape, generator=self._noise)
        return mean + self.target_std * noise

    def _compute(self, batch: Batch) -> FloatArray:
        return self.beta * self.raw_bonus(get_column(batch, "next_obs"))

    def update(self, batch: Batch, epochs: int = 1) -> dict[str, float]:
        return {"loss": self._train(get_column(batch, "next_obs"), epochs)}
