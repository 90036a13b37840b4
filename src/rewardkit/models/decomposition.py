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

__all__ = ["LatentRewardDecoder", "PairwiseStepReward", "ProgressEstimator", "StepDecomposition"]


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


class PairwiseStepReward:
    """f_θ over per-step features, trained by Bradley–Terry on labelled pairs of episodes:

        P(a ≻ b) = σ(Σ_t f_θ(x^a_t) − Σ_t f_θ(x^b_t)),
        L(θ) = −mean_pairs log σ(y · (S_a − S_b)),  y ∈ {+1, −1},

    the preference-based reward model of RLHF for control (Christiano et al. 2017) over
    whole episodes; HERON (Bukharin et al., arXiv:2309.02632) trains one on its factor-tree
    labels. f_θ(x_t) is step t's reward.

    Args:
        feature_dim: the size of each step's features.
        hidden: 0 for a linear f_θ, else the width of one tanh hidden layer.
        learning_rate: Adam's step size.
        seed: initialisation and minibatch seed.

    Example:
        >>> model = PairwiseStepReward(feature_dim=1, seed=0)
        >>> good, bad = np.ones((3, 1)), -np.ones((3, 1))
        >>> _ = model.update([good, bad], [(0, 1)] * 8, [1] * 8, epochs=200)
        >>> bool(model.step_rewards(good).sum() > model.step_rewards(bad).sum())
        True
    """

    def __init__(
        self, feature_dim: int, hidden: int = 32, learning_rate: float = 1e-2, seed: int = 0
    ) -> None:
        self.regressor = StepDecomposition(feature_dim, hidden, learning_rate, seed)
        self.feature_dim = feature_dim

    def step_rewards(self, features: Any) -> np.ndarray:
        """f_θ(x_t) for every step of one episode, shape (T,)."""
        return self.regressor.step_rewards(features)

    def update(
        self,
        episodes: Sequence[Any],
        pairs: Sequence[tuple[int, int]],
        labels: Sequence[int],
        epochs: int = 1,
        batch_pairs: int | None = None,
    ) -> float:
        """``epochs`` Adam steps of the Bradley–Terry loss over ``pairs`` (a, b) of
        ``episodes`` (each (T, feature_dim)) with ``labels`` +1 (a preferred) or −1, each step
        on all pairs or ``batch_pairs`` drawn at random; the last step's loss."""
        import torch

        from rewardkit.models._common import episode_features, minibatch_indices

        index = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        sign = np.asarray(labels, dtype=np.float64)
        if len(index) == 0 or len(index) != len(sign) or epochs < 1:
            raise ConfigurationError(
                f"update needs ≥ 1 pair, one label per pair and ≥ 1 epoch "
                f"({len(index)} pairs, {len(sign)} labels, {epochs} epochs)"
            )
        if not set(np.unique(sign)) <= {-1.0, 1.0}:
            raise ConfigurationError("labels must be +1 (the first wins) or -1")
        if index.min() < 0 or index.max() >= len(episodes):
            raise ConfigurationError(f"pair indices must be in [0, {len(episodes)})")
        steps = [episode_features(e, self.feature_dim) for e in episodes]
        net, optimizer = self.regressor.net, self.regressor.optimizer
        loss: Any = torch.tensor(0.0)
        for _ in range(epochs):
            chosen = minibatch_indices(self.regressor.rng, len(index), batch_pairs)
            used = np.unique(index[chosen])
            slot = {int(e): i for i, e in enumerate(used)}
            stacked = torch.from_numpy(np.concatenate([steps[e] for e in used]))
            owner = torch.from_numpy(np.repeat(np.arange(len(used)), [len(steps[e]) for e in used]))
            sums = torch.zeros(len(used)).index_add(0, owner, net(stacked).squeeze(-1))
            a = torch.tensor([slot[int(i)] for i in index[chosen, 0]])
            b = torch.tensor([slot[int(i)] for i in index[chosen, 1]])
            y = torch.from_numpy(sign[chosen].astype(np.float32))
            loss = -torch.nn.functional.logsigmoid(y * (sums[a] - sums[b])).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return float(loss.detach())
