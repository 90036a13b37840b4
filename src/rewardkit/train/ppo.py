"""A readable CleanRL-style PPO over Gymnasium vector envs, with a reward hook.

The hook is the point of this trainer: after each rollout, the reward term
(``reward=``, e.g. env reward + shaping) and the exploration bonus
(``bonus=``, e.g. RND) are evaluated on the rollout's transitions **before**
returns and advantages are computed, so they are discounted and learned by
the value function like any reward. By default the bonus gets its own value
head and discount and is treated as non-episodic, as RND does
(``intrinsic_episodic`` ends its return where the task's episode ends), and it is
divided by the running std of its discounted return
(:class:`~rewardkit.explore.normalize.IntrinsicReturnScaler`), so a bonus's
β does not matter; advantages are then ``A_ext + w · A_int`` with
``w = intrinsic_coef`` (times ``1 − success`` of the last 100 episodes with
``intrinsic_decay``). ``intrinsic_head=False`` adds ``w · b̃`` to the task
reward instead.

``terminated`` and ``truncated`` stay separate: a truncated step bootstraps
from the value of its true final observation.

Example:
    >>> from rewardkit.explore import CountBonus
    >>> config = PPOConfig(env_id="CartPole-v1", num_envs=2, num_steps=16, total_frames=64)
    >>> log = PPOTrainer(config, bonus=CountBonus(beta=0.01)).train()
    >>> {"frames", "fps", "episode_success", "bonus/count_bonus"} <= set(log[-1])
    True
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardkit.core.errors import ConfigurationError
from rewardkit.core.progress import progress as show_progress
from rewardkit.core.rollout import flat_rollout_batch, score_rollout
from rewardkit.core.term import Term, as_term
from rewardkit.credit.returns import bootstrap_values, generalized_advantage_estimation
from rewardkit.explore.normalize import IntrinsicReturnScaler, needs_scaling
from rewardkit.train.ppo_agent import _Agent, grid_cnn
from rewardkit.train.ppo_config import PPOConfig

__all__ = ["EnvFactory", "PPOConfig", "PPOTrainer", "grid_cnn", "make_env"]

#: a thunk returning a fresh Gymnasium env with flat (1-D) observations
EnvFactory = Callable[[], Any]


def make_env(env_id: str) -> EnvFactory:
    """A thunk making the registered Gymnasium env ``env_id``, observations flattened.

    Environments that need their own observation encoding (MiniGrid's views,
    say) come with their own factory: :func:`rewardkit.envs.minigrid.minigrid_env`.
    """

    def thunk() -> Any:
        import gymnasium as gym

        try:
            env = gym.make(env_id)
        except gym.error.Error as exc:
            raise ConfigurationError(
                f"cannot make {env_id!r} ({exc}); for an environment that needs its own set-up "
                "or observation encoding, pass PPOTrainer(env_fn=...) (MiniGrid: "
                "minigrid_env from the envs package)"
            ) from None
        if len(env.observation_space.shape or ()) != 1:
            try:
                env = gym.wrappers.FlattenObservation(env)
            except NotImplementedError:
                raise ConfigurationError(
                    f"cannot flatten the observations of {env_id!r} "
                    f"({env.observation_space}); pass PPOTrainer(env_fn=...) with flat "
                    "observations (MiniGrid: minigrid_env from the envs package)"
                ) from None
        return env

    return thunk


def _adam(parameters: list[Any], learning_rate: float) -> Any:
    """Adam (eps 1e-5, as CleanRL), fused into one kernel where torch has it for the CPU
    (2.4 and later): a small MLP's step is a dozen tiny tensors, overhead-bound."""
    import torch

    try:
        return torch.optim.Adam(parameters, lr=learning_rate, eps=1e-5, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(parameters, lr=learning_rate, eps=1e-5, foreach=True)


@dataclass
class _Rollout:
    """One rollout, time-major: (T, N, ...) arrays and the values PPO bootstraps from."""

    obs: np.ndarray
    next_obs: np.ndarray
    actions: np.ndarray
    logp: np.ndarray
    values: np.ndarray  # (T, N, heads)
    final_values: np.ndarray  # value of the true final observation where an episode ended
    last_values: np.ndarray  # (N, heads), value of the observation after the rollout
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray

    def batch(self) -> dict[str, np.ndarray]:
        """The transitions as a flat columnar batch, for the reward and bonus terms."""
        steps, envs = self.rewards.shape
        return flat_rollout_batch(
            obs=self.obs.reshape(steps, envs, -1),
            action=self.actions,
            next_obs=self.next_obs.reshape(steps, envs, -1),
            reward=self.rewards,
            terminated=self.terminated,
            truncated=self.truncated,
        )


class _EpisodeStats:
    """Returns of finished episodes, for the log."""

    def __init__(self, envs: int) -> None:
        self.running = np.zeros(envs)
        self.finished: list[float] = []

    def add(self, reward: np.ndarray, done: np.ndarray) -> None:
        self.running += reward
        for i in np.flatnonzero(done):
            self.finished.append(float(self.running[i]))
            self.running[i] = 0.0

    def record(self) -> dict[str, float]:
        """The mean return and success of the last 100 episodes, and how many have finished
        (0 before the first: the return and success then read 0, not a measurement)."""
        recent = self.finished[-100:]
        if not recent:
            return {"episode_return": 0.0, "episode_success": 0.0, "episodes": 0.0}
        return {
            "episode_return": float(np.mean(recent)),
            "episode_success": float(np.mean([r > 0 for r in recent])),
            "episodes": float(len(self.finished)),
        }


class PPOTrainer:
    """PPO with a reward hook. See the module docs.

    Args:
        config: :class:`PPOConfig`.
        reward: optional term replacing the env reward (read as ``reward``).
        bonus: optional exploration bonus (a term with ``update``). Shaping goes in
            ``reward``: a bonus is rescaled and learned as a non-episodic stream, which
            would void a potential-based shaping's guarantee.
        intrinsic_head: give the bonus its own value head and discount (default);
            ``False`` adds the weighted bonus to the task reward.
        progress: called with each update's log record.
        env_fn: a thunk making one environment with flat observations;
            default :func:`make_env` of ``config.env_id``.
        callbacks: called as ``callback(trainer, record)`` after each update (their time
            counts as training); ``record`` holds ``update`` and ``frames``, and what they
            add to it goes into the log. They may read ``trainer.last_rollout`` (the
            update's transitions) and change the networks in place (e.g.
            :class:`~rewardkit.train.drm.DormantPerturbation`).
    """

    def __init__(
        self,
        config: PPOConfig,
        reward: Term | None = None,
        bonus: Term | None = None,
        intrinsic_head: bool = True,
        progress: Callable[[dict[str, float]], None] | None = None,
        env_fn: EnvFactory | None = None,
        callbacks: Sequence[Callable[[PPOTrainer, dict[str, float]], None]] = (),
    ) -> None:
        import gymnasium as gym
        import torch

        self.config = config
        self.env_fn = env_fn if env_fn is not None else make_env(config.env_id)
        self.reward = as_term(reward) if reward is not None else None
        self.bonus = as_term(bonus) if bonus is not None else None
        self.two_heads = bool(intrinsic_head and bonus is not None)
        self.progress = progress
        self.callbacks = list(callbacks)
        self.last_rollout: _Rollout | None = None
        self.intrinsic_scaler = (
            IntrinsicReturnScaler(config.intrinsic_gamma)
            if bonus is not None and config.normalize_intrinsic and needs_scaling(bonus)
            else None
        )
        torch.manual_seed(config.seed)
        np.random.seed(config.seed)
        self.envs = gym.vector.SyncVectorEnv(
            [self.env_fn for _ in range(config.num_envs)],
            autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
        )
        obs_shape = self.envs.single_observation_space.shape or ()
        if len(obs_shape) != 1:
            raise ConfigurationError(
                f"PPOTrainer needs flat observations, the env gives shape "
                f"{self.envs.single_observation_space.shape}; flatten them in env_fn"
            )
        obs_dim = int(np.prod(obs_shape))
        image_shape = None
        if config.network == "cnn":
            image_shape = config.image_shape
            if int(np.prod(image_shape)) != obs_dim:
                raise ConfigurationError(
                    f"image_shape {image_shape} has {int(np.prod(image_shape))} values, the "
                    f"observation {obs_dim}"
                )
        action_space = self.envs.single_action_space
        if not isinstance(action_space, gym.spaces.Discrete):
            raise ConfigurationError(
                f"PPOTrainer needs a discrete action space, the env gives {action_space}"
            )
        self.agent = _Agent(
            obs_dim, int(action_space.n), config.hidden, self.two_heads,
            image_shape,
        )  # fmt: skip
        self.optimizer = _adam(self.agent.parameters, config.learning_rate)
        self.log: list[dict[str, float]] = []

    # ----------------------------------------------------------------- hook
    def shaped_rewards(
        self, batch: dict[str, Any]
    ) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
        """(extrinsic, raw intrinsic, metrics) for a flat, time-major rollout batch."""
        extrinsic = np.asarray(batch["reward"], dtype=np.float64)
        metrics: dict[str, float] = {}
        if self.reward is not None:
            scored = score_rollout(self.reward, batch, prefix="reward")
            extrinsic = scored.rewards
            metrics.update(scored.metrics)
        intrinsic = np.zeros_like(extrinsic)
        if self.bonus is not None:
            scored = score_rollout(self.bonus, batch, prefix="bonus", update=True)
            intrinsic = scored.rewards
            metrics.update(scored.metrics)
        return extrinsic, intrinsic, metrics

    def intrinsic_weight(self, success: float) -> float:
        """w: ``intrinsic_coef``, times ``1 − success`` with ``intrinsic_decay``."""
        cfg = self.config
        return cfg.intrinsic_coef * ((1.0 - success) if cfg.intrinsic_decay else 1.0)

    def _streams(
        self, batch: dict[str, Any], success: float
    ) -> tuple[np.ndarray, np.ndarray, float, dict[str, float]]:
        """(extrinsic (T, N), scaled intrinsic (T, N), weight, metrics) of a rollout."""
        T, N = self.config.num_steps, self.config.num_envs
        extrinsic, intrinsic, metrics = self.shaped_rewards(batch)
        extrinsic, intrinsic = extrinsic.reshape(T, N), intrinsic.reshape(T, N)
        weight = self.intrinsic_weight(success)
        if self.intrinsic_scaler is not None:
            intrinsic = self.intrinsic_scaler(intrinsic)
            metrics["bonus/return_std"] = self.intrinsic_scaler.scale
        if self.bonus is not None:
            metrics["bonus/weight"] = weight
        if not self.two_heads:
            extrinsic = extrinsic + weight * intrinsic
        return extrinsic, intrinsic, weight, metrics

    # ----------------------------------------------------------------- loop
    def _collect(self, obs: np.ndarray, stats: _EpisodeStats) -> tuple[_Rollout, np.ndarray]:
        T, N = self.config.num_steps, self.config.num_envs
        heads = 2 if self.two_heads else 1
        roll = _Rollout(
            obs=np.zeros((T, N, *obs.shape[1:]), dtype=np.float32),
            next_obs=np.zeros((T, N, *obs.shape[1:]), dtype=np.float32),
            actions=np.zeros((T, N), dtype=np.int64),
            logp=np.zeros((T, N), dtype=np.float32),
            values=np.zeros((T, N, heads), dtype=np.float32),
            final_values=np.zeros((T, N, heads), dtype=np.float32),
            last_values=np.zeros((N, heads), dtype=np.float32),
            rewards=np.zeros((T, N)),
            terminated=np.zeros((T, N), dtype=bool),
            truncated=np.zeros((T, N), dtype=bool),
        )
        agent = self.agent
        for t in range(T):
            roll.obs[t] = obs
            action, logp, value = agent.step(obs)
            next_obs, reward, term, trunc, info = self.envs.step(action)
            roll.actions[t], roll.logp[t], roll.values[t] = action, logp, value
            roll.rewards[t], roll.terminated[t], roll.truncated[t] = reward, term, trunc
            done = term | trunc
            roll.next_obs[t] = next_obs
            if done.any():
                if "final_obs" in info:
                    for i in np.flatnonzero(done):
                        roll.next_obs[t, i] = info["final_obs"][i]
                    roll.final_values[t] = agent.step_values(roll.next_obs[t])
                stats.add(reward, done)
            else:
                stats.running += reward
            obs = next_obs
        roll.last_values[:] = agent.step_values(obs)
        return roll, obs

    def _advantages(
        self, roll: _Rollout, extrinsic: np.ndarray, intrinsic: np.ndarray, weight: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """(advantages (T, N), value targets (T, N, heads)) by GAE on each head."""
        cfg = self.config
        v_ext = roll.values[..., 0]
        next_ext = bootstrap_values(
            v_ext, roll.last_values[:, 0], roll.truncated, roll.final_values[..., 0]
        )
        advantages = generalized_advantage_estimation(
            extrinsic,
            v_ext,
            next_ext,
            roll.terminated,
            roll.truncated,
            gamma=cfg.gamma,
            lambda_=cfg.gae_lambda,
        )
        targets = [advantages + v_ext]
        if self.two_heads:  # intrinsic rewards continue across episodes (RND) by default
            v_int = roll.values[..., 1]
            if cfg.intrinsic_episodic:
                next_int = bootstrap_values(
                    v_int, roll.last_values[:, 1], roll.truncated, roll.final_values[..., 1]
                )
                ends: tuple[np.ndarray, np.ndarray | None] = (roll.terminated, roll.truncated)
            else:
                next_int = bootstrap_values(v_int, roll.last_values[:, 1])
                ends = (np.zeros_like(roll.terminated), None)
            adv_int = generalized_advantage_estimation(
                intrinsic,
                v_int,
                next_int,
                ends[0],
                ends[1],
                gamma=cfg.intrinsic_gamma,
                lambda_=cfg.gae_lambda,
            )
            targets.append(adv_int + v_int)
            advantages = advantages + weight * adv_int
        return advantages, np.stack(targets, -1)

    def train(self) -> list[dict[str, float]]:
        """Run ``config.total_frames`` frames of PPO; returns the per-update log."""
        cfg = self.config
        T, N = cfg.num_steps, cfg.num_envs
        obs, _ = self.envs.reset(seed=cfg.seed)
        updates = max(1, cfg.total_frames // (T * N))
        start, frames = time.monotonic(), 0
        outside = 0.0  # seconds spent in the progress callback (e.g. evaluations), not training
        hook = 0.0  # seconds spent scoring the rollout with the reward and bonus terms
        stats = _EpisodeStats(N)
        for update in show_progress(range(updates), "ppo"):
            if cfg.anneal_lr:
                self.optimizer.param_groups[0]["lr"] = cfg.learning_rate * (1 - update / updates)
            roll, obs = self._collect(obs, stats)
            frames += T * N
            hook_started = time.monotonic()
            success = stats.record()["episode_success"]
            extrinsic, intrinsic, weight, metrics = self._streams(roll.batch(), success)
            hook += time.monotonic() - hook_started
            advantages, targets = self._advantages(roll, extrinsic, intrinsic, weight)
            losses = self._update(roll.obs, roll.actions, roll.logp, advantages, targets)
            self.last_rollout = roll
            extra = {"update": float(update + 1), "frames": float(frames)}
            for callback in self.callbacks:  # part of training: their time counts
                callback(self, extra)
            elapsed = time.monotonic() - start - outside
            record = {
                "update": float(update + 1),
                "frames": float(frames),
                "fps": frames / elapsed,
                "hook_seconds": hook,
                "train_seconds": elapsed,
                **stats.record(),
                **losses,
                **metrics,
                **extra,
            }
            self.log.append(record)
            if self.progress is not None:
                called = time.monotonic()
                self.progress(record)
                outside += time.monotonic() - called
        return self.log

    def _update(
        self, obs: Any, actions: Any, logp: Any, advantages: Any, targets: Any
    ) -> dict[str, float]:
        torch = self.agent.torch
        cfg = self.config
        size = obs.shape[0] * obs.shape[1]
        b_obs = torch.as_tensor(obs.reshape(size, -1))
        b_actions = torch.as_tensor(actions.reshape(-1))
        b_logp = torch.as_tensor(logp.reshape(-1))
        b_adv = torch.as_tensor(advantages.reshape(-1), dtype=torch.float32)
        b_targets = torch.as_tensor(targets.reshape(size, -1), dtype=torch.float32)
        minibatch = size // cfg.minibatches
        order = np.arange(size)
        low, high = 1 - cfg.clip_coef, 1 + cfg.clip_coef
        parameters = self.agent.parameters
        for _ in range(cfg.update_epochs):
            np.random.shuffle(order)
            shuffled = torch.as_tensor(order)
            for begin in range(0, size, minibatch):
                idx = shuffled[begin : begin + minibatch]
                new_logp, entropy, values = self.agent.evaluate(b_obs[idx], b_actions[idx])
                ratio = (new_logp - b_logp[idx]).exp()
                adv = b_adv[idx]
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                policy_loss = torch.max(-adv * ratio, -adv * ratio.clamp(low, high)).mean()
                value_loss = 0.5 * ((values - b_targets[idx]) ** 2).mean()
                entropy_mean = entropy.mean()
                loss = policy_loss - cfg.ent_coef * entropy_mean + cfg.vf_coef * value_loss
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(parameters, cfg.max_grad_norm, foreach=True)
                self.optimizer.step()
        stats = {  # the last minibatch's, as before
            "policy_loss": float(policy_loss.detach()),
            "value_loss": float(value_loss.detach()),
            "entropy": float(entropy_mean.detach()),
        }
        return stats

    def evaluate(self, episodes: int = 10, seed: int = 10_000, greedy: bool = True) -> float:
        """Success rate (episodes with positive return) on fresh seeds.

        ``greedy=True`` takes the most likely action; ``greedy=False`` samples
        from the policy (the policy PPO trains; on partially observed tasks
        such as MiniGrid a deterministic policy can loop where the stochastic
        one does not). Sampling uses its own generator, seeded by ``seed``,
        so evaluation neither depends on nor disturbs the training RNG.
        """
        torch = self.agent.torch
        env = self.env_fn()
        generator = torch.Generator().manual_seed(seed)
        wins = 0
        for episode in range(episodes):
            obs, _ = env.reset(seed=seed + episode)
            total, done = 0.0, False
            while not done:
                with torch.no_grad():
                    logits = self.agent.logits(torch.as_tensor(obs[None]))
                if greedy:
                    action = int(logits.argmax())
                else:
                    action = int(torch.multinomial(logits.softmax(-1)[0], 1, generator=generator))
                obs, reward, term, trunc, _ = env.step(action)
                total += float(reward)
                done = bool(term or trunc)
            wins += total > 0
        env.close()
        return wins / episodes
