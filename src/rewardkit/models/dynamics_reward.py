"""MOREC's dynamics reward: a learned score of how real a transition (s, a, s') looks, used to
filter and truncate model rollouts in offline model-based RL.

Luo, Xu, Cao & Yu (ICLR 2024), "Reward-Consistent Dynamics Models are Strongly Generalizable
for Offline Reinforcement Learning" (arXiv 2310.05422; code: github.com/polixir/morec), treat
the environment's dynamics as an agent that picks s' given (s, a) and maximizes a hidden
*dynamics reward* r_D(s, a, s'); the reward is recovered from offline transitions by
adversarial inverse RL. A *transition policy* T(s' | s, a) and a discriminator D play the GAIL
game (T's side in its non-saturating form, log D for −log(1 − D)),

    max_D  E_data[log D(s, a, s')] + E_{(s,a)~data, s'~T}[log(1 − D(s, a, s'))],
    max_T  E_{(s,a)~data, s'~T}[log D(s, a, s')] + α H(T(· | s, a)),

and the dynamics reward is the ensemble of the discriminators kept along the way (DARL's
historical discriminator ensemble, Luo et al. 2022), each one's logit clamped between its mean
on generated (ℓ_m) and on real (e_m) transitions and mapped to [−1, 1]:

    x̃_m = 2 (clip(x_m, ℓ_m, e_m) − ℓ_m) / (e_m − ℓ_m) − 1,   p_m = σ(x̃_m),
    r_D(s, a, s') = −log(1 − min(mean_m p_m, c)).                        (prob_mean_clip)

MOREC uses r_D inside model rollouts of any MBRL method (MOPO and MOBILE in the paper): the
dynamics ensemble proposes K candidate next states (Gaussian draws from every elite, 2 each in
the released configs), one is drawn with probability softmax(r_D / τ) over the K (τ = 0.1;
τ = 0 is the argmax), and a rollout ends where the chosen r_D falls below 0.6, which lets
rollouts run long (H = 100 in the released MOPO configs).

Faithful: the filter, the truncation and the reward ensemble (its normalization,
``prob_mean_clip``, τ = 0.1, threshold 0.6), as in the released code. *MOREC-style*: the
reward-learning code was never released, so the loop is ours: T is a Gaussian MLP improved
one step at a time on (s, a) from the data by the reparameterized gradient of the objective
above, DARL's mutual-information encoder is left out, and D reads s, a and Δ = s' − s,
standardized by the data's statistics (the released code's ``delta_input``).

Example:
    >>> rng = np.random.default_rng(0)
    >>> s, a = rng.uniform(-1, 1, (512, 1)), rng.uniform(-0.5, 0.5, (512, 1))
    >>> reward = DynamicsReward(1, 1, DynamicsRewardTraining(rounds=60, warmup_rounds=10))
    >>> metrics = reward.fit(s, a, s + a)
    >>> real, wrong = reward.score(s[:64], a[:64], s[:64] + a[:64]), reward.score(
    ...     s[:64], a[:64], s[:64] + a[:64] + 0.5)
    >>> bool(real.mean() > wrong.mean())
    True
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.errors import BatchError, ConfigurationError, ShapeError
from rewardkit.core.output import FloatArray
from rewardkit.core.term import RewardTerm
from rewardkit.models._common import ModelError

__all__ = [
    "DynamicsReward",
    "DynamicsRewardTraining",
    "ensemble_dynamics_reward",
    "filter_probabilities",
    "normalized_logits",
    "select_candidates",
    "truncation_mask",
]

_EPS = 1e-9  # the released code's guard in −log(1 − p + ε)


def _finite(array: np.ndarray, what: str) -> None:
    if array.size == 0:
        raise BatchError(f"{what} is empty: give at least one transition")
    if not np.isfinite(array).all():
        raise BatchError(f"{what} holds NaN or inf: drop or repair those transitions first")


def normalized_logits(logits: Any, learner_value: Any, expert_value: Any) -> FloatArray:
    """Each discriminator's logits clamped to [ℓ_m, e_m] and mapped linearly onto [−1, 1].

        x̃_m = 2 (clip(x_m, ℓ_m, e_m) − ℓ_m) / (e_m − ℓ_m) − 1

    ℓ_m and e_m are discriminator m's mean logits on generated and on real transitions when it
    was kept (MOREC's released ``DiscriminatorEnsemble`` with ``load_min_max=False``).

    Args:
        logits: shape (M, N), M discriminators' logits on N transitions.
        learner_value: shape (M,), each one's mean logit on generated transitions.
        expert_value: shape (M,), each one's mean logit on real ones (each > its ℓ_m).

    Returns:
        Shape (M, N), in [−1, 1].

    Example:
        >>> normalized_logits([[0.0, 1.0, 2.0, 5.0]], [0.0], [2.0])
        array([[-1.,  0.,  1.,  1.]])
    """
    x = np.asarray(logits, dtype=np.float64)
    low = np.asarray(learner_value, dtype=np.float64)
    high = np.asarray(expert_value, dtype=np.float64)
    if x.ndim != 2 or low.shape != (x.shape[0],) or high.shape != (x.shape[0],):
        raise ShapeError(
            f"need logits (M, N), values (M,); got {x.shape}, {low.shape}, {high.shape}"
        )
    _finite(x, "logits")
    if not np.all(high > low):
        raise ConfigurationError("every expert_value must exceed its learner_value")
    clipped = np.clip(x, low[:, None], high[:, None])
    result: FloatArray = 2.0 * (clipped - low[:, None]) / (high - low)[:, None] - 1.0
    return result


def ensemble_dynamics_reward(probabilities: Any, clip: float = 1.0) -> FloatArray:
    """MOREC's dynamics reward from an ensemble's probabilities that transitions are real.

        r_D = −log(1 − min(mean_m p_m, c) + ε),   ε = 1e-9

    Args:
        probabilities: shape (M, N), in [0, 1].
        clip: c in (0, 1], the released code's ``d_clip``.

    Returns:
        Shape (N,), each r_D ≥ 0.

    Example:
        >>> ensemble_dynamics_reward([[0.5, 0.2], [0.5, 0.4]]).round(4)
        array([0.6931, 0.3567])
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2:
        raise ShapeError(f"probabilities must be (M, N), got {p.shape}")
    _finite(p, "probabilities")
    if p.min() < 0.0 or p.max() > 1.0:
        raise ConfigurationError("probabilities must lie in [0, 1]")
    if not 0.0 < clip <= 1.0:
        raise ConfigurationError(f"clip must be in (0, 1], got {clip}")
    result: FloatArray = -np.log(1.0 - np.minimum(p.mean(axis=0), clip) + _EPS)
    return result


def filter_probabilities(rewards: Any, temperature: float = 0.1) -> FloatArray:
    """The chance of each of K candidate next states under MOREC's filter, per transition.

        P(k) = exp(r_k / τ) / Σ_j exp(r_j / τ)   (τ > 0);   τ = 0: all mass on argmax_k r_k

    Args:
        rewards: shape (K, N): the dynamics reward of K candidates for N transitions.
        temperature: τ ≥ 0 (the paper's 0.1); ties at τ = 0 go to the first.

    Returns:
        Shape (K, N), each column summing to 1.

    Example:
        >>> filter_probabilities([[0.0, 1.0], [np.log(3.0) * 0.1, 0.0]]).round(3)
        array([[0.25, 1.  ],
               [0.75, 0.  ]])
        >>> filter_probabilities([[1.0], [1.0]], temperature=0.0)
        array([[1.],
               [0.]])
    """
    r = np.asarray(rewards, dtype=np.float64)
    if r.ndim != 2 or r.shape[0] == 0:
        raise ShapeError(f"rewards must be (K >= 1, N), got {r.shape}")
    _finite(r, "rewards")
    if not temperature >= 0.0:
        raise ConfigurationError(f"temperature must be >= 0, got {temperature}")
    if temperature == 0.0:
        chosen = np.zeros_like(r)
        chosen[r.argmax(axis=0), np.arange(r.shape[1])] = 1.0
        return chosen
    z = (r - r.max(axis=0, keepdims=True)) / temperature
    weights = np.exp(z)
    result: FloatArray = weights / weights.sum(axis=0, keepdims=True)
    return result


def select_candidates(
    rewards: Any, temperature: float = 0.1, rng: np.random.Generator | None = None
) -> npt.NDArray[np.int64]:
    """Which of K candidates each of N transitions keeps: a draw from
    :func:`filter_probabilities` (τ > 0, seeded by ``rng``) or the argmax (τ = 0).

    Example:
        >>> select_candidates([[0.1, 0.9], [0.8, 0.2]], temperature=0.0)
        array([1, 0])
    """
    probabilities = filter_probabilities(rewards, temperature)
    if temperature == 0.0:
        best: npt.NDArray[np.int64] = probabilities.argmax(axis=0).astype(np.int64)
        return best
    generator = rng if rng is not None else np.random.default_rng()
    cumulative = probabilities.cumsum(axis=0)
    draws: FloatArray = generator.random((probabilities.shape[1],))
    picks: npt.NDArray[np.int64] = (cumulative < draws[None, :]).sum(axis=0)
    chosen: npt.NDArray[np.int64] = np.minimum(picks, probabilities.shape[0] - 1)
    return chosen


def truncation_mask(
    rewards: Any, threshold: float = 0.6, step: int | None = None, minimal_length: int = 0
) -> npt.NDArray[np.bool_]:
    """Where MOREC ends a model rollout: the chosen transition's r_D < threshold, except
    while ``step`` ≤ ``minimal_length`` (the released code's ``minimal_rollout_length``).

    Example:
        >>> truncation_mask([0.3, 0.9, 0.6])
        array([ True, False, False])
        >>> truncation_mask([0.3], step=2, minimal_length=2)
        array([False])
    """
    r = np.asarray(rewards, dtype=np.float64)
    if r.ndim != 1:
        raise ShapeError(f"rewards must be (N,), got {r.shape}")
    if r.size and not np.isfinite(r).all():
        raise BatchError("rewards hold NaN or inf")
    if minimal_length < 0:
        raise ConfigurationError(f"minimal_length must be >= 0, got {minimal_length}")
    if step is not None and step <= minimal_length:
        return np.zeros(r.shape, dtype=bool)
    return r < threshold


@dataclass(frozen=True)
class DynamicsRewardTraining:
    """Settings of the adversarial loop that learns the dynamics reward.

    Attributes:
        rounds: adversarial rounds (each: discriminator steps, then transition-policy steps).
        discriminator_steps: discriminator updates per round.
        transition_steps: transition-policy updates per round.
        batch_size: transitions per update.
        hidden: width of both networks' two hidden layers.
        discriminator_lr: Adam step size of the discriminator.
        transition_lr: Adam step size of the transition policy.
        entropy_coef: α, the weight of the transition policy's entropy.
        warmup_rounds: rounds before the first discriminator is kept.
        snapshot_every: keep the discriminator every this many rounds after the warm-up.
        max_snapshots: keep at most this many (the latest); the reward averages them.
        clip: c of ``prob_mean_clip`` (the released code's ``d_clip``), in (0, 1].
        seed: initialisation and sampling seed.
    """

    rounds: int = 1000
    discriminator_steps: int = 1
    transition_steps: int = 1
    batch_size: int = 256
    hidden: int = 64
    discriminator_lr: float = 3e-3
    transition_lr: float = 3e-3
    entropy_coef: float = 0.1
    warmup_rounds: int = 100
    snapshot_every: int = 22
    max_snapshots: int = 40
    clip: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("rounds", "discriminator_steps", "transition_steps", "batch_size", "hidden",
                     "snapshot_every", "max_snapshots"):  # fmt: skip
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise ConfigurationError(f"{name} must be a whole number >= 1, got {value}")
        if not 0 <= self.warmup_rounds < self.rounds:
            raise ConfigurationError(f"warmup_rounds must be in [0, rounds={self.rounds})")
        for name in ("discriminator_lr", "transition_lr"):
            if not getattr(self, name) > 0:
                raise ConfigurationError(f"DynamicsRewardTraining.{name} must be positive")
        if not self.entropy_coef >= 0:
            raise ConfigurationError("entropy_coef must be >= 0 (0 turns the entropy term off)")
        if not 0.0 < self.clip <= 1.0:
            raise ConfigurationError(f"clip must be in (0, 1], got {self.clip}")


def _mlp(inputs: int, hidden: int, outputs: int) -> Any:
    import torch

    nn = torch.nn
    return nn.Sequential(nn.Linear(inputs, hidden), nn.Tanh(), nn.Linear(hidden, hidden),
                         nn.Tanh(), nn.Linear(hidden, outputs))  # fmt: skip


class DynamicsReward(RewardTerm):
    """r_D(s, a, s'), learned by :meth:`fit` on offline transitions (see the module docs).

    As a term it reads the control columns ``obs``, ``action`` and ``next_obs``.

    Args:
        obs_dim: size of a state.
        action_dim: size of an action (one-hot a discrete one).
        training: the loop's settings.
        name: the term's name.
    """

    columns = ("obs", "action", "next_obs")
    abstains = False

    def __init__(self, obs_dim: int, action_dim: int,
                 training: DynamicsRewardTraining | None = None,
                 name: str = "dynamics_reward") -> None:  # fmt: skip
        super().__init__(name)
        if obs_dim < 1 or action_dim < 1:
            raise ConfigurationError("obs_dim and action_dim must be at least 1")
        self.obs_dim, self.action_dim = obs_dim, action_dim
        self.training = training or DynamicsRewardTraining()
        self.stats: dict[str, np.ndarray] = {}
        self.snapshots: list[tuple[list[np.ndarray], float, float]] = []
        self.metrics: dict[str, float] = {}
        self._stacked: list[Any] = []

    def _arrays(self, obs: Any, action: Any, next_obs: Any) -> tuple[np.ndarray, ...]:
        s = np.asarray(obs, dtype=np.float64)
        a = np.asarray(action, dtype=np.float64)
        s2 = np.asarray(next_obs, dtype=np.float64)
        if a.ndim == 1 and self.action_dim == 1:
            a = a[:, None]
        if s.ndim != 2 or s.shape[1] != self.obs_dim or s2.shape != s.shape:
            raise ShapeError(
                f"obs and next_obs must both be (N, {self.obs_dim}), got {s.shape} and {s2.shape}"
            )
        if a.shape != (len(s), self.action_dim):
            raise ShapeError(f"action must be ({len(s)}, {self.action_dim}), got {a.shape}")
        for array, what in ((s, "obs"), (a, "action"), (s2, "next_obs")):
            _finite(array, what)
        return s, a, s2

    def _inputs(self, s: np.ndarray, a: np.ndarray, s2: np.ndarray) -> Any:
        import torch

        st = self.stats
        parts = (
            (s - st["s_mean"]) / st["s_std"],
            (a - st["a_mean"]) / st["a_std"],
            (s2 - s - st["d_mean"]) / st["d_std"],
        )
        return torch.as_tensor(np.concatenate(parts, axis=-1), dtype=torch.float32)

    def fit(self, obs: Any, action: Any, next_obs: Any) -> dict[str, float]:
        """Learn the reward from real transitions (rows of ``obs``, ``action``, ``next_obs``);
        returns the loop's metrics (also kept in :attr:`metrics`)."""
        import torch

        s, a, s2 = self._arrays(obs, action, next_obs)
        delta = s2 - s
        self.stats = {
            "s_mean": s.mean(0), "s_std": s.std(0) + 1e-6, "a_mean": a.mean(0),
            "a_std": a.std(0) + 1e-6, "d_mean": delta.mean(0), "d_std": delta.std(0) + 1e-6,
        }  # fmt: skip
        cfg, rng = self.training, np.random.default_rng(self.training.seed)
        with torch.random.fork_rng(devices=[]):  # seeded, leaving the caller's RNG alone
            torch.manual_seed(cfg.seed)
            real = self._inputs(s, a, s2)
            d = self.obs_dim
            discriminator = _mlp(real.shape[1], cfg.hidden, 1)
            transition = _mlp(d + self.action_dim, cfg.hidden, 2 * d)
            d_opt = torch.optim.Adam(discriminator.parameters(), lr=cfg.discriminator_lr)
            t_opt = torch.optim.Adam(transition.parameters(), lr=cfg.transition_lr)
            kept: deque[tuple[list[np.ndarray], float, float]] = deque(maxlen=cfg.max_snapshots)
            start, losses = time.monotonic(), (float("nan"), float("nan"))
            for round_index in range(cfg.rounds):
                losses = self._round(discriminator, transition, (d_opt, t_opt), real, rng)
                after_warmup = round_index - cfg.warmup_rounds
                if after_warmup >= 0 and after_warmup % cfg.snapshot_every == 0:
                    snapshot = self._snapshot(discriminator, transition, real, rng)
                    if snapshot is not None:
                        kept.append(snapshot)
        if not kept:
            raise ModelError(
                "no discriminator separated real from generated transitions; train for more "
                "rounds or with a larger discriminator_lr"
            )
        self.snapshots = list(kept)
        self._stack()
        self.metrics = {
            "transitions": float(len(s)),
            "snapshots": float(len(self.snapshots)),
            "final_discriminator_loss": losses[0],
            "final_log_std": losses[1],
            "seconds": time.monotonic() - start,
        }
        return dict(self.metrics)

    def _round(
        self, discriminator: Any, transition: Any, optimizers: tuple[Any, Any], real: Any,
        rng: np.random.Generator,
    ) -> tuple[float, float]:  # fmt: skip
        """One round: D's BCE steps (real 1, generated 0), then T's steps up E[log D] + α H
        (GAIL's −log(1 − D) stops giving gradient once D is sure); D's last loss and T's mean
        log-std per dimension."""
        import torch

        cfg, (d_opt, t_opt) = self.training, optimizers
        bce = torch.nn.functional.binary_cross_entropy_with_logits
        d_loss: Any = None
        log_std: Any = None
        for _ in range(cfg.discriminator_steps):
            batch = real[rng.integers(0, len(real), cfg.batch_size)]
            fake = self._generate(transition, batch).detach()
            logits_real, logits_fake = discriminator(batch), discriminator(fake)
            d_loss = bce(logits_real, torch.ones_like(logits_real)) + bce(
                logits_fake, torch.zeros_like(logits_fake)
            )
            d_opt.zero_grad()
            d_loss.backward()
            d_opt.step()
        for _ in range(cfg.transition_steps):
            batch = real[rng.integers(0, len(real), cfg.batch_size)]
            fake, log_std = self._generate(transition, batch, with_log_std=True)
            reward = -torch.nn.functional.softplus(-discriminator(fake)).mean()  # log D
            t_loss: Any = -(reward + cfg.entropy_coef * log_std.sum(-1).mean())
            t_opt.zero_grad()
            t_loss.backward()
            t_opt.step()
        return float(d_loss.detach()), float(log_std.detach().mean())

    def _generate(self, transition: Any, batch: Any, with_log_std: bool = False) -> Any:
        """Generated transitions in the discriminator's input space: (s, a) from the batch and
        a standardized Δ drawn from T (reparameterized)."""
        import torch

        d = self.obs_dim
        state_action = batch[:, : d + self.action_dim]
        out = transition(state_action)
        mean, log_std = out[:, :d], out[:, d:].clamp(-5.0, 1.0)
        delta = mean + log_std.exp() * torch.randn_like(mean)
        fake = torch.cat([state_action, delta], dim=-1)
        return (fake, log_std) if with_log_std else fake

    def _snapshot(
        self, discriminator: Any, transition: Any, real: Any, rng: np.random.Generator
    ) -> tuple[list[np.ndarray], float, float] | None:
        """This discriminator's weights with its mean logits on real (e) and generated (ℓ)
        transitions, or None where it does not rank them (e ≤ ℓ)."""
        import torch

        with torch.no_grad():
            batch = real[rng.integers(0, len(real), 4 * self.training.batch_size)]
            expert = float(discriminator(batch).mean())
            learner = float(discriminator(self._generate(transition, batch)).mean())
        if not expert > learner:
            return None
        weights = [p.detach().numpy().copy() for p in discriminator.parameters()]
        return weights, learner, expert

    def _stack(self) -> None:
        import torch

        layers = [np.stack(group) for group in zip(*(w for w, _, _ in self.snapshots), strict=True)]
        self._stacked = [  # (M, in, out) weights and (M, 1, out) biases, for baddbmm
            (torch.as_tensor(w).transpose(1, 2).contiguous(), torch.as_tensor(b)[:, None, :])
            for w, b in zip(layers[::2], layers[1::2], strict=True)
        ]

    def logits(self, obs: Any, action: Any, next_obs: Any) -> FloatArray:
        """Every kept discriminator's logit on each transition, shape (M, N)."""
        import torch

        if not self.snapshots:
            raise ModelError("the dynamics reward is not trained: call fit first")
        x = self._inputs(*self._arrays(obs, action, next_obs))
        (w1, b1), (w2, b2), (w3, b3) = self._stacked
        with torch.no_grad():  # every snapshot at once: (M, N, width) batched products
            h = torch.tanh(torch.baddbmm(b1, x.expand(len(w1), -1, -1), w1))
            out = torch.baddbmm(b3, torch.tanh(torch.baddbmm(b2, h, w2)), w3)
        result: FloatArray = out[..., 0].double().numpy()
        return result

    def probabilities(self, obs: Any, action: Any, next_obs: Any) -> FloatArray:
        """p_m = σ(x̃_m), each kept discriminator's normalized belief that a transition is
        real, shape (M, N)."""
        learner = np.array([snapshot[1] for snapshot in self.snapshots])
        expert = np.array([snapshot[2] for snapshot in self.snapshots])
        x = normalized_logits(self.logits(obs, action, next_obs), learner, expert)
        result: FloatArray = 1.0 / (1.0 + np.exp(-x))
        return result

    def score(self, obs: Any, action: Any, next_obs: Any) -> FloatArray:
        """r_D(s, a, s') for each transition, shape (N,)."""
        probabilities = self.probabilities(obs, action, next_obs)
        return ensemble_dynamics_reward(probabilities, self.training.clip)

    def score_candidates(self, obs: Any, action: Any, candidates: Any) -> FloatArray:
        """r_D of K candidate next states (K, N, obs_dim) for N (s, a), shape (K, N)."""
        c = np.asarray(candidates, dtype=np.float64)
        s = np.asarray(obs, dtype=np.float64)
        if c.ndim != 3 or c.shape[1:] != s.shape:
            raise ShapeError(f"candidates must be (K, N, obs_dim) for obs {s.shape}, got {c.shape}")
        k, n = c.shape[:2]
        a = np.asarray(action, dtype=np.float64).reshape(n, -1)
        flat = self.score(np.tile(s, (k, 1)), np.tile(a, (k, 1)), c.reshape(k * n, -1))
        return flat.reshape(k, n)

    def _compute(self, batch: Batch) -> FloatArray:
        return self.score(
            get_column(batch, "obs"), get_column(batch, "action"), get_column(batch, "next_obs")
        )
