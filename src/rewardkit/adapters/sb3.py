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

For Dict observations (``MultiInputPolicy``), ``obs_key`` names the entry
the term reads as ``obs``/``next_obs``.

:class:`RewardkitVecEnvWrapper` is the other way in: a ``VecEnvWrapper``
that replaces each step's reward before SB3 stores it, for a reward that is
the whole reward rather than a bonus on top.

Example:

.. code-block:: python

    from stable_baselines3 import PPO
    from rewardkit.adapters.sb3 import RewardkitCallback
    from rewardkit.explore import RNDBonus
    model = PPO("MlpPolicy", env)
    model.learn(100_000, callback=RewardkitCallback(RNDBonus(), coef=0.5))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from rewardkit.adapters.gymnasium import select_observation
from rewardkit.core.rollout import OnlineScorer, flat_rollout_batch, score_rollout
from rewardkit.core.term import as_term
from rewardkit.explore.normalize import IntrinsicReturnScaler, needs_scaling

if TYPE_CHECKING:
    from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

__all__ = ["RewardkitCallback", "RewardkitVecEnvWrapper"]


class RewardkitCallback(BaseCallback):
    """Adds ``coef`` × term reward to SB3's rollout buffer and recomputes GAE.

    Args:
        term: the reward term (a bonus, a shaping term, a composed reward).
        coef: its weight.
        update: call ``term.update`` with each rollout (for learned bonuses).
        obs_key: for Dict observations, the entry the term reads.
        normalize: divide the term's rewards by the running std of their discounted
            return (:class:`~rewardkit.explore.normalize.IntrinsicReturnScaler` at the
            model's γ), so an exploration bonus's β cancels, as in rewardkit's PPO. Not
            for shaping, whose size is part of its guarantee.
    """

    model: OnPolicyAlgorithm  # the rollout buffer and gamma of SB3's on-policy algorithms

    def __init__(
        self,
        term: Any,
        coef: float = 1.0,
        update: bool = True,
        verbose: int = 0,
        obs_key: str | None = None,
        normalize: bool = False,
    ):
        super().__init__(verbose)
        self.scaler: IntrinsicReturnScaler | None = None
        self.normalize = normalize
        self.term = as_term(term)
        self.coef = float(coef)
        self.update_term = update
        self.obs_key = obs_key
        self._next_obs: list[np.ndarray] = []
        self._dones: list[np.ndarray] = []
        self._truncated: list[np.ndarray] = []
        self.last_batch: dict[str, Any] | None = None

    def _on_rollout_start(self) -> None:
        self._next_obs, self._dones, self._truncated = [], [], []

    def _on_step(self) -> bool:
        dones = np.asarray(self.locals["dones"], dtype=bool)
        new_obs, truncated = _final_observations(
            self.locals["new_obs"], dones, self.locals["infos"], self.obs_key
        )
        self._next_obs.append(new_obs)
        self._dones.append(dones)
        self._truncated.append(truncated)
        return True

    def _on_rollout_end(self) -> None:
        buffer = self.model.rollout_buffer
        steps, n_envs = buffer.rewards.shape
        dones, truncated = np.stack(self._dones), np.stack(self._truncated)
        batch = flat_rollout_batch(
            obs=np.asarray(select_observation(buffer.observations, self.obs_key)),
            action=np.asarray(buffer.actions),
            next_obs=np.stack(self._next_obs),
            reward=np.asarray(buffer.rewards),
            terminated=dones & ~truncated,
            truncated=truncated,
        )
        scored = score_rollout(self.term, batch, prefix="rewardkit", update=self.update_term)
        extra = scored.rewards.reshape(steps, n_envs)
        if self.normalize and needs_scaling(self.term):
            if self.scaler is None:
                self.scaler = IntrinsicReturnScaler(gamma=float(self.model.gamma))
            extra = self.scaler(extra)
            self.logger.record("rewardkit/return_std", self.scaler.scale)
        buffer.rewards += self.coef * extra.astype(buffer.rewards.dtype)
        for key, value in scored.metrics.items():
            self.logger.record(key, value)
        buffer.compute_returns_and_advantage(
            last_values=self.locals["values"], dones=self.locals["dones"]
        )
        self.last_batch = batch


def _final_observations(
    new_obs: Any, dones: np.ndarray, infos: Any, obs_key: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """SB3's step output as transitions: ``next_obs`` is the true final observation
    (``info["terminal_observation"]``) where an episode ended, and the flags say
    which ends were time limits."""
    next_obs = np.array(select_observation(new_obs, obs_key), copy=True)
    truncated = np.zeros_like(dones)
    for i in np.flatnonzero(dones):
        final = infos[i].get("terminal_observation")
        if final is not None:
            next_obs[i] = select_observation(final, obs_key)
        truncated[i] = bool(infos[i].get("TimeLimit.truncated", False))
    return next_obs, truncated


class RewardkitVecEnvWrapper(VecEnvWrapper):
    """An SB3 ``VecEnvWrapper`` whose rewards are a rewardkit term's.

    Each step scores the transitions of all envs (with the true final
    observation at episode ends, and time limits as ``truncated``), replaces
    the rewards, and keeps the original in ``info["original_reward"]`` and the
    parts in ``info["rewardkit"]``.

    Args:
        venv: the SB3 vector env.
        term: the reward term.
        update_every: steps between ``term.update`` calls.
        not_applicable_reward: the reward of a step without one.
        obs_key: for Dict observations, the entry the term reads.

    Example:
        >>> from stable_baselines3.common.env_util import make_vec_env
        >>> from rewardkit.core import constant
        >>> venv = RewardkitVecEnvWrapper(make_vec_env("CartPole-v1", n_envs=2), constant(0.5))
        >>> _ = venv.reset()
        >>> venv.step(np.array([0, 1]))[1]
        array([0.5, 0.5], dtype=float32)
    """

    def __init__(
        self,
        venv: VecEnv,
        term: Any,
        update_every: int = 1,
        not_applicable_reward: float = 0.0,
        obs_key: str | None = None,
    ) -> None:
        super().__init__(venv)
        self.term = as_term(term)
        self.obs_key = obs_key
        self.scorer = OnlineScorer(self.term, update_every, not_applicable_reward)
        self._last_obs: Any = None
        self._actions: Any = None

    def reset(self) -> Any:
        obs = self.venv.reset()
        self._last_obs = np.array(select_observation(obs, self.obs_key), copy=True)
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions
        self.venv.step_async(actions)

    def step_wait(self) -> Any:
        obs, rewards, dones, infos = self.venv.step_wait()
        dones = np.asarray(dones, dtype=bool)
        next_obs, truncated = _final_observations(obs, dones, infos, self.obs_key)
        batch = {
            "obs": self._last_obs,
            "action": np.asarray(self._actions),
            "next_obs": next_obs,
            "reward": np.asarray(rewards, dtype=float),
            "terminated": dones & ~truncated,
            "truncated": truncated,
            "env": np.arange(self.num_envs),
        }
        scored = self.scorer.step(batch)
        assert scored is not None
        for i, info in enumerate(infos):
            info["original_reward"] = float(rewards[i])
            info["rewardkit"] = {k: float(v[i]) for k, v in scored.output.terms.items()}
        self._last_obs = np.array(select_observation(obs, self.obs_key), copy=True)
        return obs, scored.rewards.astype(np.float32), dones, infos
