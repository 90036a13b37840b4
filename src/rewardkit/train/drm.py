"""DrM-style dormant-ratio-guided perturbation for :class:`~rewardkit.train.ppo.PPOTrainer`.

DrM (Xu et al. 2024, "DrM: Mastering Visual Reinforcement Learning through Dormant
Ratio Minimization") watches the actor's τ-dormant ratio β_τ (the share of neurons
whose mean |activation| is at most τ of their layer's mean, τ = 0.025) and, every fixed
number of steps, shrinks and perturbs the networks toward a fresh initialization,

    θ ← α θ + (1 − α) φ,   α = clip(1 − k β_τ, α_min, α_max),

so a network that has gone dormant is reset harder (k = 2, α_min = 0.2 in the
authors' code). :class:`DormantPerturbation` is that schedule as a PPO callback: after
each update it measures β_τ of the actor on the update's own observations (logged as
``dormant_ratio``), and every ``every_frames`` frames it perturbs the actor and the
critic (and a CNN encoder) with the actor's ratio toward a fresh initialization drawn as
the agent's own (orthogonal weights, zero biases; DrM re-initializes with its own
orthogonal init) and clears Adam's moments, as DrM does (logged as ``perturb_alpha``).

Only DrM's perturbation is here: its awakened exploration schedule scales the action
noise of a continuous-action DDPG-style agent, and its exploitation term is an
expectile value for such an agent; PPO has neither (the pure schedules are in
:mod:`rewardkit.explore.dormant`). Hence "DrM-style".

Example:
    >>> from rewardkit.train.ppo import PPOConfig, PPOTrainer
    >>> config = PPOConfig(env_id="CartPole-v1", num_envs=2, num_steps=16, total_frames=96)
    >>> drm = DormantPerturbation(every_frames=64)
    >>> log = PPOTrainer(config, callbacks=[drm]).train()
    >>> "dormant_ratio" in log[0], [r["frames"] for r in log if "perturb_alpha" in r]
    (True, [64.0])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rewardkit.core.errors import ConfigurationError
from rewardkit.explore.dormant import network_dormant_ratio, perturb_

if TYPE_CHECKING:
    from rewardkit.train.ppo import PPOTrainer

__all__ = ["DormantPerturbation"]


class DormantPerturbation:
    """A PPO callback: log the actor's dormant ratio, perturb every ``every_frames``.

    Args:
        every_frames: frames between perturbations (DrM: 1e5 to 2e5 steps).
        tau: the dormancy threshold τ.
        rate: k in α = clip(1 − k β, α_min, α_max).
        min_factor: α_min.
        max_factor: α_max (DrM's code: 0.6 to 1.0 by task).
        sample: at most this many of the update's observations are used to measure β.
    """

    def __init__(
        self,
        every_frames: int = 100_000,
        tau: float = 0.025,
        rate: float = 2.0,
        min_factor: float = 0.2,
        max_factor: float = 0.9,
        sample: int = 1024,
    ) -> None:
        if every_frames < 1 or sample < 1:
            raise ConfigurationError(
                f"every_frames and sample must be >= 1, got {every_frames} and {sample}"
            )
        self.every_frames, self.tau, self.rate = int(every_frames), float(tau), float(rate)
        self.min_factor, self.max_factor, self.sample = min_factor, max_factor, int(sample)
        self._next = self.every_frames

    def __call__(self, trainer: PPOTrainer, record: dict[str, float]) -> None:
        import torch

        roll = trainer.last_rollout
        if roll is None:
            return
        agent = trainer.agent
        obs = roll.obs.reshape(-1, roll.obs.shape[-1])[: self.sample]
        features = agent.encoder(torch.as_tensor(obs, dtype=torch.float32)).detach()
        ratio = network_dormant_ratio(agent.actor, features, tau=self.tau)
        record["dormant_ratio"] = ratio
        if record["frames"] < self._next:
            return
        self._next += self.every_frames
        fresh_encoder, fresh_actor, fresh_critic = agent.fresh_networks()
        pairs: list[tuple[Any, Any]] = [(agent.actor, fresh_actor), (agent.critic, fresh_critic)]
        if any(True for _ in agent.encoder.parameters()):
            pairs.append((agent.encoder, fresh_encoder))
        alpha = 1.0
        for module, fresh in pairs:
            alpha = perturb_(
                module, ratio, rate=self.rate, min_factor=self.min_factor,
                max_factor=self.max_factor, fresh=fresh,
                layer_types=(torch.nn.Linear, torch.nn.Conv2d),
            )  # fmt: skip
        trainer.optimizer.state.clear()
        record["perturb_alpha"] = alpha
