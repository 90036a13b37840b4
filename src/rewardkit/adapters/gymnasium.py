"""Gymnasium: collect steps into a columnar batch, or apply a term online with a wrapper.

``collect_steps`` is how a step reward (a term over ``obs, action, next_obs,
reward, terminated, truncated``) meets a real environment: check it, audit it,
or compare it with another before training.

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

import numpy as np

from rewardkit.core.errors import BatchError
from rewardkit.core.rollout import merge_batches, score_rollout

__all__ = ["RewardkitWrapper", "collect_steps"]


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


class RewardkitWrapper:
    """Apply a rewardkit term to a Gymnasium env online, single or vector.

    Each step builds a one-transition batch per environment (``obs, action,
    next_obs, reward, terminated, truncated``, plus ``env`` for vector
    envs), replaces the reward with the term's total, and keeps the original
    in ``info["original_reward"]`` and the parts in ``info["rewardkit"]``.
    A sample without a reward (not applicable, timeout) gets
    ``not_applicable_reward``. Stateful terms (bonuses) are updated every
    ``update_every`` steps with the transitions since the last update.

    Vector envs in Gymnasium's default next-step autoreset mode return, on
    the step after an episode ends, the first observation of the next
    episode with a placeholder reward; that step is not a transition, so it
    is passed through with reward 0 and not shown to the term.

    Nothing is stepped in the constructor.

    Example:
        >>> import gymnasium as gym
        >>> from rewardkit.core import constant, env_reward, weighted_sum
        >>> env = RewardkitWrapper(gym.make("CartPole-v1"),
        ...                        weighted_sum([env_reward(), constant(-0.5, name="cost")]))
        >>> _ = env.reset(seed=0)
        >>> _, reward, _, _, info = env.step(0)
        >>> reward, info["original_reward"]
        (0.5, 1.0)
    """

    def __init__(
        self, env: Any, term: Any, update_every: int = 1, not_applicable_reward: float = 0.0
    ) -> None:
        from rewardkit.core.term import as_term

        self.env = env
        self.term = as_term(term)
        self.update_every = max(1, int(update_every))
        self.not_applicable_reward = float(not_applicable_reward)
        self.vector = hasattr(env, "num_envs")
        self._last_obs: Any = None
        self._pending: list[dict[str, Any]] = []
        self._steps = 0
        self._autoreset: np.ndarray | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)

    def reset(self, **kwargs: Any) -> Any:
        obs, info = self.env.reset(**kwargs)
        self._last_obs = obs
        self._autoreset = np.zeros(self.env.num_envs, dtype=bool) if self.vector else None
        return obs, info

    def _transitions(
        self, action: Any, obs: Any, reward: Any, terminated: Any, truncated: Any
    ) -> dict[str, Any]:
        if not self.vector:
            return {
                "obs": np.asarray([self._last_obs]),
                "action": np.asarray([action]),
                "next_obs": np.asarray([obs]),
                "reward": np.asarray([float(reward)]),
                "terminated": np.asarray([bool(terminated)]),
                "truncated": np.asarray([bool(truncated)]),
            }
        assert self._autoreset is not None
        live = np.flatnonzero(~self._autoreset)
        return {
            "obs": np.asarray(self._last_obs)[live],
            "action": np.asarray(action)[live],
            "next_obs": np.asarray(obs)[live],
            "reward": np.asarray(reward, dtype=float)[live],
            "terminated": np.asarray(terminated, dtype=bool)[live],
            "truncated": np.asarray(truncated, dtype=bool)[live],
            "env": live,
        }

    def step(self, action: Any) -> Any:
        obs, reward, terminated, truncated, info = self.env.step(action)
        batch = self._transitions(action, obs, reward, terminated, truncated)
        new_reward = np.zeros(self.env.num_envs) if self.vector else 0.0
        if len(batch["next_obs"]):
            scored = score_rollout(self.term, batch, fill=self.not_applicable_reward)
            if self.vector:
                new_reward[batch["env"]] = scored.rewards
            else:
                new_reward = float(scored.rewards[0])
            info = dict(info)
            info["original_reward"] = reward
            info["rewardkit"] = {
                k: (v if self.vector else float(v[0])) for k, v in scored.output.terms.items()
            }
            self._pending.append(batch)
        self._steps += 1
        if self._steps % self.update_every == 0 and self._pending:
            self.term.update(merge_batches(self._pending))
            self._pending = []
        self._last_obs = obs
        if self.vector:
            self._autoreset = np.asarray(terminated, dtype=bool) | np.asarray(truncated, dtype=bool)
        return obs, new_reward, terminated, truncated, info

    def close(self) -> None:
        self.env.close()
