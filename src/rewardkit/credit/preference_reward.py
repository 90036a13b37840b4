"""A reward learned online from preferences between finished episodes: HERON's factor tree
or any episode-level score as the labeller, a Bradley–Terry step reward as the model.

:class:`OnlinePreferenceReward` reads each rollout as the trainers pass it (a flat,
time-major batch with ``obs``, ``action``, ``reward``, ``terminated``, ``truncated`` and
``env``, as :func:`rewardkit.core.rollout.flat_rollout_batch` builds it), keeps every env's
open episode, and pays each step f_θ(s_t, a_t), the step reward of a
:class:`~rewardkit.models.decomposition.PairwiseStepReward`. The environment's own reward
is never paid: it reaches the agent only through the labels.

Every ``update_every`` finished episodes, ``pairs_per_update`` random pairs of the latest
``memory`` episodes are labelled by HERON's decision tree
(:func:`~rewardkit.models.preference_data.heron_preferences`) over each episode's factors
z = ``episode_factors(observations, actions, rewards)``, ranked most important first,
with margins δ_l = ``margin_scale`` · std(z_l) over the memory
(:func:`~rewardkit.models.preference_data.heron_margins`); undecided pairs are dropped and
the model takes ``epochs`` Bradley–Terry steps on the rest.

With one factor, the episode's return, and ``margin_scale=0`` the labeller is "the higher
return wins": preference learning from the summed reward, the baseline HERON is compared
with.

HERON (Bukharin et al., "Deep Reinforcement Learning from Hierarchical Preference
Design", arXiv:2309.02632): the factor tree and its margins are the paper's; the reward
model here is a per-step MLP over observation and one-hot action trained online on pairs
of whole finished episodes, and the paper's reward rescaling and its per-task model
details are not reproduced, so the benchmarks call this design "HERON-style".

Example:
    >>> import numpy as np
    >>> from rewardkit.core.rollout import flat_rollout_batch
    >>> def factors(observations, actions, rewards):  # one factor: the return
    ...     return [float(np.sum(rewards))]
    >>> term = OnlinePreferenceReward(factors, obs_dim=1, actions=2, update_every=2, seed=0)
    >>> rollout = flat_rollout_batch(
    ...     obs=np.zeros((2, 2, 1)), action=np.array([[0, 1], [0, 1]]),
    ...     reward=np.array([[0.0, 0.0], [1.0, -1.0]]),
    ...     terminated=np.array([[False, False], [True, True]]),
    ...     truncated=np.zeros((2, 2), dtype=bool))
    >>> term(rollout).total.shape, term.updates
    ((4,), 1)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

import numpy as np

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.errors import ConfigurationError
from rewardkit.core.output import RewardOutput
from rewardkit.core.term import RewardTerm
from rewardkit.models.decomposition import PairwiseStepReward
from rewardkit.models.preference_data import heron_margins, heron_preferences

__all__ = ["EpisodeFactors", "OnlinePreferenceReward"]

#: ``episode_factors(observations (T, ...), actions (T,), rewards (T,)) -> z`` (F floats)
EpisodeFactors = Callable[[np.ndarray, np.ndarray, np.ndarray], Sequence[float]]


class OnlinePreferenceReward(RewardTerm):
    """A step reward learned online from labelled pairs of finished episodes (see the
    module docs).

    Args:
        episode_factors: the factors z of a finished episode, most important first.
        obs_dim: the flattened observation size.
        actions: the number of discrete actions.
        signs: +1 where a larger factor is better, −1 where smaller is (default all +1).
        margin_scale: c in δ_l = c · std(z_l) (HERON's code uses 1).
        update_every: finished episodes between model updates.
        memory: the latest finished episodes pairs are drawn from.
        pairs_per_update: pairs drawn (and labelled) per update.
        epochs: Bradley–Terry steps per update.
        batch_pairs: pairs per step.
        hidden: the step model's hidden width (0: linear).
        seed: the model's and the pair draws' seed.
    """

    columns = ("obs", "action", "reward", "terminated", "truncated", "env")

    def __init__(
        self,
        episode_factors: EpisodeFactors,
        obs_dim: int,
        actions: int,
        signs: Sequence[int] | None = None,
        margin_scale: float = 1.0,
        update_every: int = 16,
        memory: int = 512,
        pairs_per_update: int = 256,
        epochs: int = 8,
        batch_pairs: int = 64,
        hidden: int = 32,
        seed: int = 0,
        name: str = "preference_reward",
    ) -> None:
        super().__init__(name)
        if not callable(episode_factors):
            raise ConfigurationError("episode_factors must be a function of one episode")
        sizes = (obs_dim, actions, update_every, memory, pairs_per_update, epochs, batch_pairs)
        if min(sizes) < 1:
            raise ConfigurationError(
                "obs_dim, actions, update_every, memory, pairs_per_update, epochs and "
                "batch_pairs must be >= 1"
            )
        if not (np.isfinite(margin_scale) and margin_scale >= 0):
            raise ConfigurationError(f"margin_scale must be finite and >= 0, got {margin_scale}")
        if signs is not None and (not signs or any(v not in (1, -1) for v in signs)):
            raise ConfigurationError(
                f"signs must be a non-empty sequence of +1 and -1, got {signs}"
            )
        #: the number of factors: len(signs), or the first finished episode's
        self.width: int | None = None if signs is None else len(signs)
        self.episode_factors, self.signs, self.margin_scale = episode_factors, signs, margin_scale
        self.obs_dim, self.actions = int(obs_dim), int(actions)
        self.update_every, self.pairs_per_update = update_every, pairs_per_update
        self.epochs, self.batch_pairs = epochs, batch_pairs
        self.model = PairwiseStepReward(self.obs_dim + self.actions, hidden=hidden, seed=seed)
        self.rng = np.random.default_rng(seed)
        self.open: dict[int, list[tuple[np.ndarray, np.ndarray, int, float]]] = {}
        self.finished: deque[tuple[np.ndarray, np.ndarray]] = deque(maxlen=memory)
        self.since_update = 0
        self.updates = 0
        self.losses: list[float] = []
        self.decided: list[float] = []  # the share of drawn pairs the labeller decided

    def reset(self) -> None:
        """Forget the open episodes (the model and the finished episodes stay)."""
        self.open.clear()

    def _features(self, obs: np.ndarray, actions: np.ndarray) -> np.ndarray:
        flat = np.asarray(obs, dtype=np.float32).reshape(len(actions), -1)
        if flat.shape[1] != self.obs_dim:
            raise ConfigurationError(
                f"observations of {flat.shape[1]} values, expected {self.obs_dim}"
            )
        one_hot = np.zeros((len(actions), self.actions), dtype=np.float32)
        one_hot[np.arange(len(actions)), actions] = 1.0
        return np.concatenate([flat, one_hot], axis=1)

    def _factors(
        self, steps: list[tuple[np.ndarray, np.ndarray, int, float]], width: int | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """A finished episode's step features and its checked factors z."""
        features = np.stack([s[0] for s in steps])
        observations = np.stack([s[1] for s in steps])
        actions = np.array([s[2] for s in steps])
        rewards = np.array([s[3] for s in steps])
        z = np.asarray(self.episode_factors(observations, actions, rewards), dtype=np.float64)
        if z.ndim != 1 or z.size == 0 or not np.isfinite(z).all():
            raise ConfigurationError(f"episode_factors must return finite floats, got {z!r}")
        if width is not None and z.size != width:
            raise ConfigurationError(
                f"episode_factors returned {z.size} factors where {width} were expected "
                "(the signs', or the first episode's)"
            )
        return features, z

    def _update(self) -> None:
        memory = list(self.finished)
        if len(memory) < 2:
            return
        factors = np.stack([z for _, z in memory])
        first = self.rng.integers(0, len(memory), self.pairs_per_update)
        second = (first + self.rng.integers(1, len(memory), self.pairs_per_update)) % len(memory)
        pairs = list(zip(first.tolist(), second.tolist(), strict=True))
        margins = heron_margins(factors, self.margin_scale)
        labels = heron_preferences(factors, pairs, margins.tolist(), self.signs)
        kept = np.flatnonzero(labels != 0)
        self.decided.append(len(kept) / len(pairs))
        self.since_update = 0
        if len(kept) == 0:
            return
        loss = self.model.update([f for f, _ in memory], [pairs[i] for i in kept],
                                 labels[kept].tolist(), epochs=self.epochs,
                                 batch_pairs=self.batch_pairs)  # fmt: skip
        self.losses.append(loss)
        self.updates += 1

    def _compute(self, batch: Batch) -> RewardOutput:
        obs = np.asarray(get_column(batch, "obs"), dtype=np.float64)
        rewards = np.asarray(get_column(batch, "reward"), dtype=np.float64)
        whole = np.asarray(get_column(batch, "action"), dtype=np.float64)
        ends = np.asarray(get_column(batch, "terminated"), dtype=bool) | np.asarray(
            get_column(batch, "truncated"), dtype=bool
        )
        envs = np.asarray(get_column(batch, "env"), dtype=int)
        # the whole batch is checked before any episode changes: bad input loses nothing
        if not (np.isfinite(rewards).all() and np.isfinite(obs).all()):
            raise ConfigurationError("the rollout's rewards and observations must be finite")
        if not (np.all(whole == np.round(whole)) and np.all((whole >= 0) & (whole < self.actions))):
            raise ConfigurationError(f"actions must be integers in [0, {self.actions})")
        actions = whole.astype(np.int64)
        features = self._features(obs, actions)
        out = self.model.step_rewards(features) if len(features) else np.zeros(0)
        # episodes are built on copies and committed only when every factor is read
        open_ = {env: list(steps) for env, steps in self.open.items()}
        finished: list[tuple[np.ndarray, np.ndarray]] = []
        width = self.width
        for row in range(len(rewards)):  # rows are time-major: each env's steps in order
            env = int(envs[row])
            step = (features[row], obs[row], int(actions[row]), float(rewards[row]))
            open_.setdefault(env, []).append(step)
            if ends[row]:
                finished.append(self._factors(open_.pop(env), width))
                width = finished[-1][1].size
        self.open, self.width = open_, width
        self.finished.extend(finished)
        self.since_update += len(finished)
        if self.since_update >= self.update_every:
            self._update()
        return RewardOutput(out, {self.name: out.copy()})
