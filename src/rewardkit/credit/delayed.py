"""Online redistribution of a delayed reward inside a training loop: a stateful term.

:class:`OnlineRedistribution` reads each rollout as the trainers pass it (a
flat, time-major batch with ``obs``, ``action``, ``reward``, ``terminated``,
``truncated`` and ``env``, as :func:`rewardkit.core.rollout.flat_rollout_batch`
builds it), keeps every env's episode so far across rollouts, and returns a
dense reward per step:

- ``rudder``: RUDDER's g_t − g_{t−1} from a :class:`ReturnPredictor`, with the
  prediction's remaining error paid at the episode's end, so each episode's
  rewards sum to its return whatever the predictor;
- ``lare`` / ``progress``: the step reward f_θ(x_t) of a sum decomposition
  (:class:`LatentRewardDecoder` over the user's encoder: LaRe without the LLM
  that writes the encoder; or :class:`ProgressEstimator` over observation and
  action: SPA's progress increments without SPA's grounding reward and its
  history-aware estimator, so not called SPA).

Finished episodes train the model every ``update_every`` episodes (from a
window of the latest ``memory`` episodes). Step features are the observation
(flattened) and the one-hot action, or the LaRe encoder's factors. After a
RUDDER update mid-episode, the next step's reward also carries the change of
the prediction (the episode's sum still equals its return). Each call re-reads
an open episode's whole prefix: cheap for PPO's rollouts, quadratic for
one-step batches. :meth:`reset` forgets the open episodes (a new run).

Example:
    >>> import numpy as np
    >>> from rewardkit.core.rollout import flat_rollout_batch
    >>> term = OnlineRedistribution("rudder", obs_dim=1, actions=2, seed=0)
    >>> rollout = flat_rollout_batch(
    ...     obs=np.zeros((3, 1, 1)), action=np.zeros((3, 1), dtype=int),
    ...     reward=np.array([[0.0], [0.0], [3.0]]),
    ...     terminated=np.array([[False], [False], [True]]),
    ...     truncated=np.zeros((3, 1), dtype=bool))
    >>> round(float(term(rollout).total.sum()), 6)  # the episode's return, redistributed
    3.0
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.errors import ConfigurationError
from rewardkit.core.output import RewardOutput
from rewardkit.core.term import RewardTerm
from rewardkit.models.decomposition import LatentRewardDecoder, ProgressEstimator
from rewardkit.models.return_predictor import ReturnPredictor

__all__ = ["OnlineRedistribution"]

Method = Literal["rudder", "lare", "progress"]


class OnlineRedistribution(RewardTerm):
    """A delayed reward, redistributed online by RUDDER, LaRe or SPA (see the module docs).

    Args:
        method: ``rudder``, ``lare`` or ``progress``.
        obs_dim: the flattened observation size.
        actions: the number of discrete actions.
        encoder: LaRe's ``encoder(observation, action) -> factors`` (``lare`` only).
        encoder_dim: the encoder's output size.
        update_every: finished episodes between model updates.
        memory: the latest finished episodes the model trains on.
        epochs: optimizer steps per update.
        batch_episodes: episodes drawn from memory for each optimizer step.
        seed: the model's seed.
    """

    columns = ("obs", "action", "reward", "terminated", "truncated", "env")

    def __init__(
        self,
        method: Method,
        obs_dim: int,
        actions: int,
        encoder: Callable[[Any, Any], Sequence[float]] | None = None,
        encoder_dim: int | None = None,
        update_every: int = 16,
        memory: int = 512,
        epochs: int = 8,
        batch_episodes: int = 64,
        seed: int = 0,
        name: str | None = None,
    ) -> None:
        super().__init__(name or f"{method}_reward")
        if method not in ("rudder", "lare", "progress"):
            raise ConfigurationError(f"method must be rudder, lare or progress, got {method!r}")
        if min(obs_dim, actions, update_every, memory, epochs, batch_episodes) < 1:
            raise ConfigurationError(
                "obs_dim, actions, update_every, memory, epochs and batch_episodes must be >= 1"
            )
        self.method, self.obs_dim, self.actions = method, int(obs_dim), int(actions)
        self.update_every, self.epochs, self.batch_episodes = update_every, epochs, batch_episodes
        features = self.obs_dim + self.actions
        self.model: Any
        if method == "rudder":
            self.model = ReturnPredictor(features, seed=seed)
        elif method == "lare":
            if encoder is None or encoder_dim is None:
                raise ConfigurationError("lare needs an encoder and its encoder_dim")
            self.model = LatentRewardDecoder(encoder, encoder_dim, hidden=32, seed=seed)
        else:
            self.model = ProgressEstimator(features, hidden=32, seed=seed)
        self.episodes: dict[int, list[np.ndarray]] = {}  # env -> step features so far
        self.returns: dict[int, float] = {}  # env -> reward so far
        self.last_prediction: dict[int, float] = {}  # env -> g_{t-1} (rudder)
        self.finished: deque[tuple[np.ndarray, float]] = deque(maxlen=memory)
        self.since_update = 0
        self.losses: list[float] = []

    def reset(self) -> None:
        """Forget the open episodes (the model and the finished episodes stay)."""
        self.episodes.clear()
        self.returns.clear()
        self.last_prediction.clear()

    def _features(self, obs: Any, action: Any) -> np.ndarray:
        if self.method == "lare":
            return np.asarray(self.model.encoder(obs, action), dtype=np.float32)
        one_hot = np.zeros(self.actions, dtype=np.float32)
        one_hot[int(action)] = 1.0
        features = np.concatenate([np.asarray(obs, dtype=np.float32).reshape(-1), one_hot])
        if features.shape != (self.obs_dim + self.actions,):
            raise ConfigurationError(
                f"an observation of {features.size - self.actions} values, expected {self.obs_dim}"
            )
        return features

    def _segment_rewards(self, env: int, new: int, ended: bool) -> np.ndarray:
        """The rewards of the last ``new`` steps of ``env``'s episode (one model call)."""
        steps = np.stack(self.episodes[env])
        if self.method != "rudder":
            rewards: np.ndarray = self.model.step_rewards(steps[-new:])
            return rewards
        predictions = self.model.predict(steps)[-new:]
        previous = np.r_[self.last_prediction.get(env, 0.0), predictions[:-1]]
        rewards = predictions - previous
        self.last_prediction[env] = float(predictions[-1])
        if ended:  # the prediction's remaining error: the episode sums to its return
            rewards[-1] += self.returns[env] - predictions[-1]
        return rewards

    def _compute(self, batch: Batch) -> RewardOutput:
        obs = np.asarray(get_column(batch, "obs"))
        actions = np.asarray(get_column(batch, "action"))
        rewards = np.asarray(get_column(batch, "reward"), dtype=np.float64)
        ends = np.asarray(get_column(batch, "terminated"), dtype=bool) | np.asarray(
            get_column(batch, "truncated"), dtype=bool
        )
        envs = np.asarray(get_column(batch, "env"), dtype=int)
        # the whole batch is checked before any episode changes: bad input loses nothing
        if not np.isfinite(rewards).all():
            raise ConfigurationError("the rollout's rewards must be finite")
        if not np.isfinite(np.asarray(obs, dtype=np.float64)).all():
            raise ConfigurationError("the rollout's observations must be finite")
        whole = np.asarray(actions, dtype=np.float64)
        if self.method != "lare" and not (
            np.all(whole == np.round(whole)) and np.all((whole >= 0) & (whole < self.actions))
        ):
            raise ConfigurationError(f"actions must be integers in [0, {self.actions})")
        features = [self._features(obs[row], actions[row]) for row in range(len(rewards))]
        if not all(np.isfinite(f).all() for f in features):
            raise ConfigurationError("the step features (the LaRe encoder's output) must be finite")
        out = np.zeros(len(rewards))
        for env in np.unique(envs):  # rows are time-major: each env's steps in order
            rows = np.flatnonzero(envs == env)
            segment: list[int] = []
            for row in rows:
                self.episodes.setdefault(int(env), []).append(features[row])
                self.returns[int(env)] = self.returns.get(int(env), 0.0) + float(rewards[row])
                segment.append(int(row))
                if ends[row] or row == rows[-1]:
                    out[segment] = self._segment_rewards(int(env), len(segment), bool(ends[row]))
                    segment = []
                if ends[row]:
                    episode = np.stack(self.episodes.pop(int(env)))
                    self.finished.append((episode, self.returns.pop(int(env))))
                    self.last_prediction.pop(int(env), None)
                    self.since_update += 1
        if self.since_update >= self.update_every:
            memory = list(self.finished)
            loss = self.model.update(memory, epochs=self.epochs, batch_size=self.batch_episodes)
            self.losses.append(loss)
            self.since_update = 0
        return RewardOutput(out, {self.name: out.copy()})
