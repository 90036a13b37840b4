"""Gymnasium: collect steps into a columnar batch, or apply a term online with a wrapper.

``collect_steps`` is how a step reward (a term over ``obs, action, next_obs,
reward, terminated, truncated``) meets a real environment: check it, audit it,
or compare it with another before training. :class:`RewardkitWrapper` (a
``gymnasium.Wrapper``) and :class:`RewardkitVectorWrapper` (a
``gymnasium.vector.VectorWrapper``) apply a term online, so they compose with
``Monitor``, ``make_vec_env(wrapper_class=...)``, SB3 and both env checkers.

Example:
    >>> import gymnasium as gym
    >>> batch = collect_steps(gym.make("CartPole-v1"), steps=5, seed=0)
    >>> sorted(batch)
    ['action', 'next_obs', 'obs', 'reward', 'terminated', 'truncated']
    >>> batch["obs"].shape
    (5, 4)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from rewardkit.core.errors import BatchError, ConfigurationError
from rewardkit.core.rollout import OnlineScorer
from rewardkit.core.term import as_term

__all__ = [
    "DelayedReward",
    "RewardkitVectorWrapper",
    "RewardkitWrapper",
    "collect_steps",
    "select_observation",
]


def collect_steps(
    env: Any,
    steps: int,
    *,
    policy: Callable[[Any], Any] | None = None,
    seed: int | None = None,
) -> dict[str, np.ndarray]:
    """Run ``env`` for ``steps`` steps and return the transitions as a batch.

    Episodes reset on ``terminated`` or ``truncated``; ``next_obs`` is always
    the observation the step returned (the episode's last observation at a
    boundary, never the reset one).

    Args:
        env: a single (not vector) Gymnasium environment.
        steps: number of transitions.
        policy: ``policy(obs) -> action``; default: uniform random actions
            from ``env.action_space``, seeded with ``seed``.
        seed: seed for the first ``reset`` and the random policy.
    """
    if steps <= 0:
        raise BatchError(f"steps must be positive, got {steps}")
    if hasattr(env, "num_envs"):
        raise BatchError("collect_steps takes a single environment, not a vector env")
    if policy is None:
        env.action_space.seed(seed)
        policy = _random_policy(env)
    obs, _ = env.reset(seed=seed)
    rows: dict[str, list[Any]] = {
        k: [] for k in ("obs", "action", "next_obs", "reward", "terminated", "truncated")
    }
    for _ in range(steps):
        action = policy(obs)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        for key, value in zip(
            rows,
            (obs, action, next_obs, float(reward), bool(terminated), bool(truncated)),
            strict=True,
        ):
            rows[key].append(value)
        obs = env.reset()[0] if terminated or truncated else next_obs
    return {key: np.asarray(values) for key, values in rows.items()}


def _random_policy(env: Any) -> Callable[[Any], Any]:
    def sample(_: Any) -> Any:
        return env.action_space.sample()

    return sample


def select_observation(obs: Any, key: str | None) -> Any:
    """The part of an observation a term reads: ``obs[key]`` for Dict observations.

    Example:
        >>> select_observation({"image": 1, "direction": 2}, "image")
        1
        >>> select_observation([0.1, 0.2], None)
        [0.1, 0.2]
    """
    if isinstance(obs, dict):
        if key is None:
            raise ConfigurationError(
                f"the observation is a Dict with keys {sorted(obs)}; pass obs_key= to name "
                "the one the reward reads"
            )
        if key not in obs:
            raise ConfigurationError(
                f"obs_key {key!r} is not in the observation's keys {sorted(obs)}"
            )
        return obs[key]
    return obs


def _snapshot(obs: Any) -> Any:
    """A copy of an observation that the env may overwrite in place on its next step."""
    if isinstance(obs, dict):
        return {key: _snapshot(value) for key, value in obs.items()}
    return np.array(obs, copy=True) if isinstance(obs, np.ndarray) else obs


class RewardkitWrapper(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Apply a rewardkit term to a Gymnasium env online.

    Each step builds a one-transition batch (``obs, action, next_obs, reward,
    terminated, truncated``), replaces the reward with the term's total, and
    keeps the original in ``info["original_reward"]`` and the parts in
    ``info["rewardkit"]``. A sample without a reward (not applicable, timeout)
    gets ``not_applicable_reward``. Stateful terms (bonuses) are updated every
    ``update_every`` steps with the transitions since the last update.

    Args:
        env: a single Gymnasium env (for a vector env, use
            :class:`RewardkitVectorWrapper`).
        term: the reward term.
        update_every: steps between ``term.update`` calls.
        not_applicable_reward: the reward of a step without one.
        obs_key: for Dict observations, the key the term reads as ``obs``.

    Example:
        >>> from rewardkit.core import constant, env_reward, weighted_sum
        >>> env = RewardkitWrapper(gym.make("CartPole-v1"),
        ...                        weighted_sum([env_reward(), constant(-0.5, name="cost")]))
        >>> _ = env.reset(seed=0)
        >>> _, reward, _, _, info = env.step(0)
        >>> reward, info["original_reward"]
        (0.5, 1.0)
    """

    def __init__(
        self,
        env: gym.Env,
        term: Any,
        update_every: int = 1,
        not_applicable_reward: float = 0.0,
        obs_key: str | None = None,
    ) -> None:
        if isinstance(env, gym.vector.VectorEnv) or hasattr(env, "num_envs"):
            raise ConfigurationError(
                "RewardkitWrapper wraps a single env; use RewardkitVectorWrapper for a vector "
                "env, or make_vec_env(..., wrapper_class=RewardkitWrapper) to wrap each env"
            )
        gym.utils.RecordConstructorArgs.__init__(
            self,
            term=term,
            update_every=update_every,
            not_applicable_reward=not_applicable_reward,
            obs_key=obs_key,
        )  # so gymnasium can recreate the env from its spec (check_env does)
        gym.Wrapper.__init__(self, env)
        self.term = as_term(term)
        self.obs_key = obs_key
        self.scorer = OnlineScorer(self.term, update_every, not_applicable_reward)
        self._last_obs: Any = None

    def reset(self, **kwargs: Any) -> Any:
        obs, info = self.env.reset(**kwargs)
        self._last_obs = _snapshot(obs)
        return obs, info

    def step(self, action: Any) -> Any:
        if self._last_obs is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        obs, reward, terminated, truncated, info = self.env.step(action)
        batch = {
            "obs": np.asarray([select_observation(self._last_obs, self.obs_key)]),
            "action": np.asarray([action]),
            "next_obs": np.asarray([select_observation(obs, self.obs_key)]),
            "reward": np.asarray([float(reward)]),
            "terminated": np.asarray([bool(terminated)]),
            "truncated": np.asarray([bool(truncated)]),
        }
        scored = self.scorer.step(batch)
        assert scored is not None
        info = dict(info)
        info["original_reward"] = reward
        info["rewardkit"] = {k: float(v[0]) for k, v in scored.output.terms.items()}
        self._last_obs = _snapshot(obs)
        return obs, float(scored.rewards[0]), terminated, truncated, info


class DelayedReward(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Withhold every reward until the episode ends, then pay their sum: the standard test bed
    for return redistribution (RUDDER, LaRe, SPA).

    Each step returns 0 and adds the environment's reward to the episode's
    account; the step that terminates *or* truncates the episode returns the
    whole account, so the episode's return is unchanged and only its timing
    moves. ``info["withheld_reward"]`` carries the step's own reward, for
    logging and for measuring a redistribution, never for learning. A reset
    before the episode ends drops the account (that episode had no end).

    Example:
        >>> env = DelayedReward(gym.make("CartPole-v1", max_episode_steps=3))
        >>> _ = env.reset(seed=0)
        >>> [env.step(0)[1] for _ in range(3)]
        [0.0, 0.0, 3.0]
    """

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)
        self.account = 0.0

    def reset(self, **kwargs: Any) -> Any:
        self.account = 0.0
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> Any:
        obs, reward, terminated, truncated, info = self.env.step(action)
        reward = float(reward)
        if not np.isfinite(reward):
            raise BatchError(f"the environment returned a non-finite reward ({reward})")
        self.account += reward
        info = dict(info)
        info["withheld_reward"] = reward
        paid = 0.0
        if terminated or truncated:
            paid, self.account = self.account, 0.0
        return obs, paid, terminated, truncated, info


class RewardkitVectorWrapper(gym.vector.VectorWrapper):
    """Apply a rewardkit term to a Gymnasium vector env online.

    As :class:`RewardkitWrapper`, with an ``env`` column (the sub-env index)
    and per-env arrays in ``info["rewardkit"]``. In Gymnasium's default
    next-step autoreset mode, the step after an episode ends returns the next
    episode's first observation with a placeholder reward; that step is not a
    transition, so it gets reward 0 and is not shown to the term. In same-step
    mode the true final observation comes from ``info["final_obs"]``.

    Example:
        >>> from rewardkit.core import env_reward
        >>> vec = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
        >>> env = RewardkitVectorWrapper(vec, env_reward())
        >>> _ = env.reset(seed=0)
        >>> env.step(np.array([0, 1]))[1]
        array([1., 1.])
    """

    def __init__(
        self,
        env: gym.vector.VectorEnv,
        term: Any,
        update_every: int = 1,
        not_applicable_reward: float = 0.0,
        obs_key: str | None = None,
    ) -> None:
        super().__init__(env)
        self.term = as_term(term)
        self.obs_key = obs_key
        self.scorer = OnlineScorer(self.term, update_every, not_applicable_reward)
        mode = env.metadata.get("autoreset_mode", gym.vector.AutoresetMode.NEXT_STEP)
        mode = str(getattr(mode, "value", mode))
        self.same_step = mode == "SameStep"
        self.skips_after_end = mode == "NextStep"  # the step after an end is a reset
        self._last_obs: Any = None
        self._autoreset = np.zeros(env.num_envs, dtype=bool)

    def reset(self, **kwargs: Any) -> Any:
        obs, info = self.env.reset(**kwargs)
        self._last_obs = _snapshot(obs)
        self._autoreset = np.zeros(self.num_envs, dtype=bool)
        return obs, info

    def step(self, actions: Any) -> Any:
        if self._last_obs is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        obs, reward, terminated, truncated, info = self.env.step(actions)
        ended = np.asarray(terminated, dtype=bool) | np.asarray(truncated, dtype=bool)
        next_obs = np.array(select_observation(obs, self.obs_key), copy=True)
        if self.same_step and ended.any() and "final_obs" in info:
            for i in np.flatnonzero(ended):
                next_obs[i] = select_observation(info["final_obs"][i], self.obs_key)
        live = np.flatnonzero(~self._autoreset)
        batch = {
            "obs": np.asarray(select_observation(self._last_obs, self.obs_key))[live],
            "action": np.asarray(actions)[live],
            "next_obs": next_obs[live],
            "reward": np.asarray(reward, dtype=float)[live],
            "terminated": np.asarray(terminated, dtype=bool)[live],
            "truncated": np.asarray(truncated, dtype=bool)[live],
            "env": live,
        }
        new_reward = np.zeros(self.num_envs)
        scored = self.scorer.step(batch)
        info = dict(info)
        info["original_reward"] = reward
        if scored is not None:
            new_reward[live] = scored.rewards
            parts = {}
            for name, values in scored.output.terms.items():
                full = np.full(self.num_envs, np.nan)
                full[live] = values
                parts[name] = full
            info["rewardkit"] = parts
        self._last_obs = _snapshot(obs)
        self._autoreset = ended if self.skips_after_end else np.zeros(self.num_envs, dtype=bool)
        return obs, new_reward, terminated, truncated, info
