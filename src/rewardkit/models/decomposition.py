"""Step rewards whose episode sums match the episode's outcome: LaRe's decoder and SPA's
progress estimator.

Both learn a per-step function f_θ of step features whose sum over an episode
regresses onto the episode's return (or final outcome) G,

    L(θ) = mean_episodes (Σ_t f_θ(x_t) − G)²,

and use f_θ(x_t) as step t's dense reward:

- **LaRe** (Qu et al. 2025, "Latent Reward: LLM-Empowered Credit Assignment
  in Episodic Reinforcement Learning"): x_t = φ(s_t, a_t) from an encoder of
  task-relevant latent factors, which the paper has an LLM write as code; here
  it is any Python function the user supplies (:class:`LatentRewardDecoder`).
- **SPA** (Wang et al. 2025, "Stepwise Progress Attribution"): a progress
  estimator whose per-step increments sum to the final outcome; the increment
  is the step's reward (:class:`ProgressEstimator`, over features the caller
  gives per step). SPA also adds a grounding reward and estimates progress
  from the history; neither is here, so the benchmarks call it ``progress``.
  LaRe's LLM that writes and checks the encoder is not here either.

The decoder is linear by default (``hidden=0``), or an MLP with one hidden
layer.

Example:
    >>> decoder = StepDecomposition(feature_dim=1, seed=0)
    >>> episodes = [(np.array([[1.0], [2.0]]), 6.0), (np.array([[1.0]]), 2.0)] * 20
    >>> _ = decoder.update(episodes, epochs=2000)
    >>> decoder.step_rewards(np.array([[1.0], [2.0]])).round(1).tolist()
    [2.0, 4.0]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rewardkit.core.errors import ConfigurationError
from rewardkit.models._common import EpisodeRegressor

__all__ = ["LatentRewardDecoder", "ProgressEstimator", "StepDecomposition"]


class StepDecomposition(EpisodeRegressor):
    """f_θ over per-step features, trained so each episode's sum matches its target.

    Args:
        feature_dim: the size of each step's features.
        hidden: 0 for a linear f_θ, else the width of one tanh hidden layer.
        learning_rate: Adam's step size.
        seed: initialisation seed.
    """

    def __init__(
        self, feature_dim: int, hidden: int = 0, learning_rate: float = 5e-2, seed: int = 0
    ) -> None:
        import torch

        if feature_dim < 1 or hidden < 0:
            raise ConfigurationError("feature_dim must be at least 1 and hidden at least 0")
        super().__init__(feature_dim, seed)
        layers: list[Any] = (
            [torch.nn.Linear(feature_dim, 1)]
            if hidden == 0
            else [torch.nn.Linear(feature_dim, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 1)]
        )
        self.net = torch.nn.Sequential(*layers)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=learning_rate)

    def step_rewards(self, features: Any) -> np.ndarray:
        """f_θ(x_t) for every step of one episode, shape (T,)."""
        import torch

        episode = self._check(features)
        with torch.no_grad():
            out: np.ndarray = self.net(torch.from_numpy(episode)).squeeze(-1).double().numpy()
        return out

    def _loss(self, episodes: list[np.ndarray], targets: np.ndarray) -> Any:
        """(Σ_t f_θ(x_t) − G)², averaged over the episodes."""
        import torch

        stacked = torch.from_numpy(np.concatenate(episodes))
        lengths = [len(e) for e in episodes]
        owner = torch.from_numpy(np.repeat(np.arange(len(episodes)), lengths))
        target = torch.from_numpy(targets.astype(np.float32))
        per_step = self.net(stacked).squeeze(-1)
        sums = torch.zeros(len(episodes)).index_add(0, owner, per_step)
        return ((sums - target) ** 2).mean()


class LatentRewardDecoder(StepDecomposition):
    """LaRe: a decoder over latent factors φ(s_t, a_t) from a user-supplied ``encoder``.

    Args:
        encoder: ``encoder(observation, action) -> sequence of floats``: the
            task-relevant factors of one step (LaRe has an LLM write it; any
            function works). Its output size is read from ``feature_dim``.
        feature_dim, hidden, learning_rate, seed: as :class:`StepDecomposition`.
    """

    def __init__(
        self,
        encoder: Callable[[Any, Any], Sequence[float]],
        feature_dim: int,
        hidden: int = 0,
        learning_rate: float = 5e-2,
        seed: int = 0,
    ) -> None:
        super().__init__(feature_dim, hidden, learning_rate, seed)
        if not callable(encoder):
            raise ConfigurationError("LaRe needs an encoder(observation, action) function")
        self.encoder = encoder

    def encode(self, observations: Sequence[Any], actions: Sequence[Any]) -> np.ndarray:
        """φ of every step of an episode, shape (T, feature_dim)."""
        if len(observations) != len(actions):
            raise ConfigurationError(f"{len(observations)} observations for {len(actions)} actions")
        return np.array([list(self.encoder(o, a)) for o, a in zip(observations, actions,
                                                                      strict=True)],
                        dtype=np.float32)  # fmt: skip


class ProgressEstimator(StepDecomposition):
    """SPA's progress estimator: per-step increments, over the caller's step features, that
    sum to the episode's final outcome; :meth:`step_rewards` are the increments. Not all of
    SPA: its grounding (executability) reward and its history-aware estimator trained before
    RL are not here."""
