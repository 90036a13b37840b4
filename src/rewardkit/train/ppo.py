"""A readable CleanRL-style PPO over Gymnasium vector envs, with a reward hook.

The hook is the point of this trainer: after each rollout, the reward term
(``reward=``, e.g. env reward + shaping) and the exploration bonus
(``bonus=``, e.g. RND) are evaluated on the rollout's transitions **before**
returns and advantages are computed, so they are discounted and learned by
the value function like any reward. With ``intrinsic_head=True`` the bonus
gets its own value head and discount and is treated as non-episodic, as RND
does; advantages are then ``A_ext + intrinsic_coef · A_int``.

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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardkit.core.errors import CompositionError
from rewardkit.core.term import Term, as_term
from rewardkit.credit.returns import bootstrap_values, generalized_advantage_estimation

__all__ = ["PPOConfig", "PPOTrainer", "make_env"]


#: how MiniGrid's 7x7 view is fed to the policy (see :func:`make_env`)
MINIGRID_VIEWS = ("scaled", "onehot")


def _check_minigrid_view(view: str) -> None:
    if view not in MINIGRID_VIEWS:
        raise CompositionError(f"minigrid_view must be one of {MINIGRID_VIEWS}, got {view!r}")


@dataclass
class PPOConfig:
    """PPO settings (CleanRL defaults for discrete control, scaled to CPU)."""

    env_id: str = "MiniGrid-DoorKey-5x5-v0"
    num_envs: int = 8
    num_steps: int = 128
    total_frames: int = 100_000
    learning_rate: float = 2.5e-4
    anneal_lr: bool = True
    gamma: float = 0.99
    gae_lambda: float = 0.95
    intrinsic_gamma: float = 0.99
    intrinsic_coef: float = 1.0
    update_epochs: int = 4
    minibatches: int = 4
    clip_coef: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    hidden: int = 64
    minigrid_view: str = "scaled"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.num_envs < 1 or self.num_steps < 1 or self.total_frames < 1:
            raise CompositionError("num_envs, num_steps and total_frames must be positive")
        if (self.num_envs * self.num_steps) % self.minibatches:
            raise CompositionError("num_envs * num_steps must be divisible by minibatches")
        _check_minigrid_view(self.minigrid_view)


def make_env(env_id: str, minigrid_view: str = "scaled") -> Callable[[], Any]:
    """A thunk making ``env_id`` with flat observations.

    MiniGrid: the agent's 7x7 view, one-hot per cell (``"onehot"``, 980 values,
    :func:`rewardkit.envs.minigrid.encode_view`) or its codes divided by 10
    (``"scaled"``, 147 values). Other environments are flattened.
    """
    _check_minigrid_view(minigrid_view)

    def thunk() -> Any:
        import gymnasium as gym

        if env_id.startswith("MiniGrid"):
            import minigrid  # noqa: F401  (registers the environments)
            from minigrid.wrappers import ImgObsWrapper

            from rewardkit.envs.minigrid import ONEHOT_SIZE, encode_view

            env = ImgObsWrapper(gym.make(env_id))
            if minigrid_view == "onehot":
                space = gym.spaces.Box(0.0, 1.0, (ONEHOT_SIZE,), np.float32)
                return gym.wrappers.TransformObservation(env, encode_view, space)
            size = int(np.prod(env.observation_space.shape))
            space = gym.spaces.Box(0.0, 1.0, (size,), np.float32)
            return gym.wrappers.TransformObservation(
                env, lambda o: o.astype(np.float32).reshape(-1) / 10.0, space
            )
        env = gym.make(env_id)
        if len(env.observation_space.shape or ()) != 1:
            env = gym.wrappers.FlattenObservation(env)
        return env

    return thunk


class _Agent:
    def __init__(self, obs_dim: int, actions: int, hidden: int, two_heads: bool) -> None:
        import torch
        from torch import nn

        def layer(i: int, o: int, std: float = float(np.sqrt(2))) -> Any:
            linear = nn.Linear(i, o)
            nn.init.orthogonal_(linear.weight, std)
            nn.init.constant_(linear.bias, 0.0)
            return linear

        def mlp(out: int, std: float) -> Any:
            return nn.Sequential(
                layer(obs_dim, hidden),
                nn.Tanh(),
                layer(hidden, hidden),
                nn.Tanh(),
                layer(hidden, out, std),
            )

        self.actor = mlp(actions, 0.01)
        self.critic = mlp(2 if two_heads else 1, 1.0)
        self.parameters = list(self.actor.parameters()) + list(self.critic.parameters())
        self.torch = torch

    def values(self, obs: Any) -> Any:
        return self.critic(obs)

    def act(self, obs: Any, action: Any = None) -> tuple[Any, Any, Any, Any]:
        logits = self.actor(obs)
        dist = self.torch.distributions.Categorical(logits=logits)
        if action is None:
            action = dist.sample()
        return action, dist.log_prob(action), dist.entropy(), self.critic(obs)


class PPOTrainer:
    """PPO with a reward hook. See the module docs.

    Args:
        config: :class:`PPOConfig`.
        reward: optional term replacing the env reward (read as ``reward``).
        bonus: optional exploration bonus (a term with ``update``).
        intrinsic_head: give the bonus its own value head and discount.
        progress: called with each update's log record.
    """

    def __init__(
        self,
        config: PPOConfig,
        reward: Term | None = None,
        bonus: Term | None = None,
        intrinsic_head: bool = False,
        progress: Callable[[dict[str, float]], None] | None = None,
    ) -> None:
        import gymnasium as gym
        import torch

        self.config = config
        self.reward = as_term(reward) if reward is not None else None
        self.bonus = as_term(bonus) if bonus is not None else None
        self.two_heads = bool(intrinsic_head and bonus is not None)
        self.progress = progress
        torch.manual_seed(config.seed)
        np.random.seed(config.seed)
        self.envs = gym.vector.SyncVectorEnv(
            [make_env(config.env_id, config.minigrid_view) for _ in range(config.num_envs)],
            autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
        )
        obs_dim = int(np.prod(self.envs.single_observation_space.shape))
        self.agent = _Agent(
            obs_dim, int(self.envs.single_action_space.n), config.hidden, self.two_heads
        )
        self.optimizer = torch.optim.Adam(self.agent.parameters, lr=config.learning_rate, eps=1e-5)
        self.log: list[dict[str, float]] = []

    # ----------------------------------------------------------------- hook
    def shaped_rewards(
        self, batch: dict[str, Any]
    ) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
        """(extrinsic, intrinsic, per-term means) for a flat, time-major rollout batch."""
        extrinsic = np.asarray(batch["reward"], dtype=np.float64)
        means: dict[str, float] = {}
        if self.reward is not None:
            out = self.reward(batch)
            extrinsic = np.where(out.ok, out.total, 0.0)
            means.update({f"reward/{k}": float(np.nanmean(v)) for k, v in out.terms.items()})
        intrinsic = np.zeros_like(extrinsic)
        if self.bonus is not None:
            out = self.bonus(batch)
            intrinsic = np.where(out.ok, out.total, 0.0)
            means.update({f"bonus/{k}": float(np.nanmean(v)) for k, v in out.terms.items()})
            for key, value in (self.bonus.update(batch) or {}).items():
                means[f"bonus/{self.bonus.name}/{key}"] = float(value)
        if not self.two_heads:
            extrinsic = extrinsic + intrinsic
        return extrinsic, intrinsic, means

    # ----------------------------------------------------------------- loop
    def train(self) -> list[dict[str, float]]:
        torch = self.agent.torch
        cfg = self.config
        T, N = cfg.num_steps, cfg.num_envs
        obs_shape = self.envs.single_observation_space.shape
        obs, _ = self.envs.reset(seed=cfg.seed)
        updates = max(1, cfg.total_frames // (T * N))
        start, frames = time.monotonic(), 0
        outside = 0.0  # seconds spent in the progress callback (e.g. evaluations), not training
        hook = 0.0  # seconds spent scoring the rollout with the reward and bonus terms
        episode_returns = np.zeros(N)
        finished_returns: list[float] = []
        for update in range(updates):
            if cfg.anneal_lr:
                self.optimizer.param_groups[0]["lr"] = cfg.learning_rate * (1 - update / updates)
            buf_obs = np.zeros((T, N, *obs_shape), dtype=np.float32)
            buf_next = np.zeros_like(buf_obs)
            buf_actions = np.zeros((T, N), dtype=np.int64)
            buf_logp = np.zeros((T, N), dtype=np.float32)
            buf_values = np.zeros((T, N, 2 if self.two_heads else 1), dtype=np.float32)
            buf_final_values = np.zeros_like(buf_values)
            rewards = np.zeros((T, N))
            terminated = np.zeros((T, N), dtype=bool)
            truncated = np.zeros((T, N), dtype=bool)
            for t in range(T):
                buf_obs[t] = obs
                with torch.no_grad():
                    action, logp, _, value = self.agent.act(torch.as_tensor(obs))
                next_obs, reward, term, trunc, info = self.envs.step(action.numpy())
                buf_actions[t], buf_logp[t], buf_values[t] = (
                    action.numpy(),
                    logp.numpy(),
                    value.numpy(),
                )
                rewards[t], terminated[t], truncated[t] = reward, term, trunc
                true_next = np.array(next_obs, copy=True)
                done = term | trunc
                if done.any() and "final_obs" in info:
                    for i in np.flatnonzero(done):
                        true_next[i] = info["final_obs"][i]
                    with torch.no_grad():
                        buf_final_values[t] = self.agent.values(torch.as_tensor(true_next)).numpy()
                buf_next[t] = true_next
                episode_returns += reward
                for i in np.flatnonzero(done):
                    finished_returns.append(float(episode_returns[i]))
                    episode_returns[i] = 0.0
                obs = next_obs
                frames += N
            with torch.no_grad():
                last_values = self.agent.values(torch.as_tensor(obs)).numpy()
            batch = {
                "obs": buf_obs.reshape(T * N, -1),
                "action": buf_actions.reshape(-1),
                "next_obs": buf_next.reshape(T * N, -1),
                "reward": rewards.reshape(-1),
                "terminated": terminated.reshape(-1),
                "truncated": truncated.reshape(-1),
                "env": np.tile(np.arange(N), T),
            }
            hook_started = time.monotonic()
            extrinsic, intrinsic, means = self.shaped_rewards(batch)
            hook += time.monotonic() - hook_started
            extrinsic, intrinsic = extrinsic.reshape(T, N), intrinsic.reshape(T, N)
            v_ext = buf_values[..., 0]
            next_ext = bootstrap_values(
                v_ext, last_values[:, 0], truncated, buf_final_values[..., 0]
            )
            advantages = generalized_advantage_estimation(
                extrinsic,
                v_ext,
                next_ext,
                terminated,
                truncated,
                gamma=cfg.gamma,
                lambda_=cfg.gae_lambda,
            )
            targets = [advantages + v_ext]
            if self.two_heads:  # intrinsic rewards continue across episodes (RND)
                v_int = buf_values[..., 1]
                next_int = np.concatenate([v_int[1:], last_values[None, :, 1]], axis=0)
                adv_int = generalized_advantage_estimation(
                    intrinsic,
                    v_int,
                    next_int,
                    np.zeros_like(terminated),
                    gamma=cfg.intrinsic_gamma,
                    lambda_=cfg.gae_lambda,
                )
                targets.append(adv_int + v_int)
                advantages = advantages + cfg.intrinsic_coef * adv_int
            losses = self._update(buf_obs, buf_actions, buf_logp, advantages, np.stack(targets, -1))
            elapsed = time.monotonic() - start - outside
            record = {
                "update": float(update + 1),
                "frames": float(frames),
                "fps": frames / elapsed,
                "hook_seconds": hook,
                "train_seconds": elapsed,
                "episode_return": float(np.mean(finished_returns[-100:]))
                if finished_returns
                else 0.0,
                "episode_success": float(np.mean([r > 0 for r in finished_returns[-100:]]))
                if finished_returns
                else 0.0,
                **losses,
                **means,
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
        stats: dict[str, float] = {}
        for _ in range(cfg.update_epochs):
            np.random.shuffle(order)
            for begin in range(0, size, minibatch):
                idx = torch.as_tensor(order[begin : begin + minibatch])
                _, new_logp, entropy, values = self.agent.act(b_obs[idx], b_actions[idx])
                ratio = (new_logp - b_logp[idx]).exp()
                adv = b_adv[idx]
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                policy_loss = torch.max(
                    -adv * ratio, -adv * ratio.clamp(1 - cfg.clip_coef, 1 + cfg.clip_coef)
                ).mean()
                value_loss = 0.5 * ((values - b_targets[idx]) ** 2).mean()
                loss = policy_loss - cfg.ent_coef * entropy.mean() + cfg.vf_coef * value_loss
                self.optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.agent.parameters, cfg.max_grad_norm)
                self.optimizer.step()
                stats = {
                    "policy_loss": float(policy_loss.detach()),
                    "value_loss": float(value_loss.detach()),
                    "entropy": float(entropy.mean().detach()),
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
        env = make_env(self.config.env_id, self.config.minigrid_view)()
        generator = torch.Generator().manual_seed(seed)
        wins = 0
        for episode in range(episodes):
            obs, _ = env.reset(seed=seed + episode)
            total, done = 0.0, False
            while not done:
                with torch.no_grad():
                    logits = self.agent.actor(torch.as_tensor(obs[None]))
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
