"""Gymnasium: collect environment steps into a columnar batch.

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

__all__ = ["collect_steps"]


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
