"""Stable-Baselines3: add rewardkit rewards and bonuses to the rollout, then recompute GAE.

SB3's on-policy algorithms compute returns and advantages at the end of a
rollout, then call ``on_rollout_end``. This callback adds the term's reward
to the buffer's rewards there and **recomputes** returns and advantages from
the new rewards, so the bonus propagates through the value targets like any
reward. Adding a bonus to the advantages instead would be wrong: it would
skip the discounting and never reach the value function.

The term sees each transition (``obs, action, next_obs, reward,
terminated, truncated, env``), with ``next_obs`` the true final observation
at episode ends (SB3 keeps it in ``info["terminal_observation"]``). Stateful
terms are updated once per rollout, after scoring it.

Example:

.. code-block:: python

    from stable_baselines3 import PPO
    from rewardkit.adapters.sb3 import RewardkitCallback
    from rewardkit.explore import RNDBonus
    model = PPO("MlpPolicy", env)
    model.learn(100_000, callback=RewardkitCallback(RNDBonus(), coef=0.5))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rewardkit.core.rollout import flat_rollout_batch, score_rollout
from rewardkit.core.term import as_term

__all__ = ["RewardkitCallback"]


def _callback_base() -> Any:
    from stable_baselines3.common.callbacks import BaseCallback

    return BaseCallback


class RewardkitCallback(_callback_base()):  # type: ignore[misc]
    """Adds ``coef`` × term reward to SB3's rollout buffer and recomputes GAE.

    Args:
        term: the reward term (a bonus, a shaping term, a composed reward).
        coef: its weight.
        update: call ``term.update`` with each rollout (for learned bonuses).
    """

    def __init__(self, term: Any, coef: float = 1.0, update: bool = True, verbose: int = 0):
        super().__init__(verbose)
        self.term = as_term(term)
        self.coef = float(coef)
        self.update_term = update
        self._next_obs: list[np.ndarray] = []
        self._dones: list[np.ndarray] = []
        self._truncated: list[np.ndarray] = []
        self.last_batch: dict[str, Any] | None = None

    def _on_rollout_start(self) -> None:
        self._next_obs, self._dones, self._truncated = [], [], []

    def _on_step(self) -> bool:
        new_obs = np.array(self.locals["new_obs"], copy=True)
        dones = np.asarray(self.locals["dones"], dtype=bool)
        infos = self.locals["infos"]
        truncated = np.zeros_like(dones)
        for i, done in enumerate(dones):
            if done and infos[i].get("terminal_observation") is not None:
                new_obs[i] = infos[i]["terminal_observation"]
                truncated[i] = bool(infos[i].get("TimeLimit.truncated", False))
        self._next_obs.append(new_obs)
        self._dones.append(dones)
        self._truncated.append(truncated)
        return True

    def _on_rollout_end(self) -> None:
        buffer = self.model.rollout_buffer
        steps, n_envs = buffer.rewards.shape
        dones, truncated = np.stack(self._dones), np.stack(self._truncated)
        batch = flat_rollout_batch(
            obs=np.asarray(buffer.observations),
            action=np.asarray(buffer.actions),
            next_obs=np.stack(self._next_obs),
            reward=np.asarray(buffer.rewards),
            terminated=dones & ~truncated,
            truncated=truncated,
        )
        scored = score_rollout(self.term, batch, prefix="rewardkit", update=self.update_term)
        extra = scored.rewards.reshape(steps, n_envs)
        buffer.rewards += self.coef * extra.astype(buffer.rewards.dtype)
        for key, value in scored.metrics.items():
            self.logger.record(key, value)
        buffer.compute_returns_and_advantage(
            last_values=self.locals["values"], dones=self.locals["dones"]
        )
        self.last_batch = batch
