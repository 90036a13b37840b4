"""BARFI-style blend learning: policy gradient inside, the primary return's hypergradient outside.

BARFI (Gupta, Chandak, Jordan, Thomas & da Silva 2023, "Behavior Alignment via Reward
Function Optimization", NeurIPS; arXiv 2310.19007) learns how to blend a designer's
heuristic rewards into the environment's primary reward r_p by a bi-level program:

    φ* ∈ argmax_φ J_p(θ(φ)),            θ(φ) ≈ argmax_θ J_φ(θ)
    J_p(θ) = E_{π_θ}[Σ_t γ_p^t r_p(S_t, A_t)]         the primary return (what we want)
    J_φ(θ) = E_{π_θ}[Σ_t γ_φ^t r_φ(S_t, A_t)]         what the agent learns from
    r_φ = r_p + Σ_i φ_i h_i             (:func:`~rewardkit.shaping.blend.blend_rewards`)

A heuristic that pays for the wrong behaviour (a "loitering" bonus) raises J_φ but, once
the policy follows it, lowers J_p; the outer step sees that and turns its weight down.
The inner learner is REINFORCE (:func:`pg_surrogate`) with plain SGD, θ ← θ + α ĝ(θ, φ);
the outer step is Adam up the hypergradient (:func:`barfi_hypergradient`)

    dJ_p/dφ ≈ (∂ĝ/∂φ)ᵀ · α Σ_{i=0}^{N−1} (I + α H)^i · ∇_θ J_p,         H = ∂ĝ/∂θ,

the implicit-function gradient at a fixed point of the inner update (dθ/dφ = −H⁻¹ ∂ĝ/∂φ)
with −H⁻¹ replaced by its Neumann series cut at N = ``neumann_terms`` terms; N = 1 is
one unrolled inner step's gradient to first order (∇J_p at θ, not at the updated θ').

**BARFI-style, not BARFI.** Simplified against the paper: each heuristic has one scalar
weight and the primary reward's weight is fixed at 1 (the paper's weights are learned
functions of state and action); H and ∂ĝ/∂φ are those of the REINFORCE surrogate on one
sampled batch (its Hessian omits the score-function terms of the true ∇²J_φ), estimated
on the same batch as ∇J_p; the inner learner is REINFORCE with SGD only; φ is clipped to
±``weight_bound``; the learned discount is γ_φ = sigmoid(η). Each outer step reuses the
batch of the inner step that follows it: learning the blend costs no extra episodes.

Example:
    >>> import gymnasium as gym
    >>> from rewardkit.core import term
    >>> moved = term(lambda obs, next_obs: (obs != next_obs) * 1.0, name="moved")
    >>> trainer = BARFITrainer(
    ...     BARFIConfig(updates=2, episodes=2, horizon=5),
    ...     lambda: gym.make("FrozenLake-v1", is_slippery=False), tabular_policy(16, 4), [moved])
    >>> sorted(trainer.train()[-1])  # doctest: +NORMALIZE_WHITESPACE
    ['episode_length', 'gamma_phi', 'hypergrad/moved', 'primary_return', 'seconds',
     'update', 'weight/moved']
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardkit.core.errors import BatchError, ConfigurationError, ShapeError
from rewardkit.core.settings import check_settings, setting
from rewardkit.shaping.blend import RewardBlend

__all__ = [
    "BARFIConfig",
    "BARFITrainer",
    "SoftmaxPolicy",
    "Trajectories",
    "barfi_hypergradient",
    "collect_episodes",
    "differentiable_returns",
    "mlp_policy",
    "pg_surrogate",
    "tabular_policy",
]

Tensor = Any  # torch.Tensor; torch is imported where it is used


def _torch() -> Any:
    import torch

    return torch


def _check_same(name: str, tensor: Tensor, shape: tuple[int, ...]) -> None:
    if tuple(tensor.shape) != tuple(shape):
        raise ShapeError(f"{name} must have shape {tuple(shape)}, got {tuple(tensor.shape)}")


# ---------------------------------------------------------------------------- pure math
def differentiable_returns(rewards: Tensor, mask: Tensor, gamma: float | Tensor) -> Tensor:
    """G_t = m_t r_t + γ G_{t+1}, G_T = 0: discounted returns-to-go, time along axis 1.

    Differentiable in ``rewards`` and ``gamma`` (γ_φ may be learned). No bootstrap: an
    episode cut at the horizon counts what it collected.

    Args:
        rewards: r, shape (E, T): E episodes padded to T steps.
        mask: m, shape (E, T): 1 on real steps, 0 on padding.
        gamma: γ, a float or a 0-d tensor.

    Example:
        >>> import torch
        >>> differentiable_returns(torch.tensor([[1.0, 1.0, 9.0]]), torch.tensor([[1, 1, 0]]), 0.5)
        tensor([[1.5000, 1.0000, 0.0000]])
    """
    torch = _torch()
    if rewards.ndim != 2:
        raise ShapeError(f"rewards must have shape (E, T), got {tuple(rewards.shape)}")
    _check_same("mask", mask, tuple(rewards.shape))
    m = mask.to(rewards.dtype)
    g = torch.zeros_like(rewards[:, 0])
    out = []
    for t in range(rewards.shape[1] - 1, -1, -1):
        g = rewards[:, t] * m[:, t] + gamma * g
        out.append(g)
    return torch.stack(out[::-1], dim=1) * m


def pg_surrogate(logp: Tensor, returns: Tensor, mask: Tensor) -> Tensor:
    """L = (1/E) Σ_e Σ_t m_{e,t} log π(a_{e,t} | s_{e,t}) (G_{e,t} − b_{e,t}) (REINFORCE).

    ∇_θ L is the policy-gradient estimate ĝ (Williams 1992, without the γ^t factor, as
    practice does); b is the leave-one-out mean of G_t over the other episodes alive at
    t (0 where none is), so the baseline does not bias ĝ.

    Args:
        logp: log π_θ(a_t | s_t), shape (E, T), differentiable in θ.
        returns: G, shape (E, T) (:func:`differentiable_returns`).
        mask: shape (E, T), 1 on real steps.

    Example:
        >>> import torch
        >>> logp = torch.log(torch.tensor([[0.25], [0.5]]))
        >>> pg_surrogate(logp, torch.tensor([[1.0], [0.0]]), torch.ones(2, 1))  # b = 0 and 1
        tensor(-0.3466)
    """
    if logp.ndim != 2:
        raise ShapeError(f"logp must have shape (E, T), got {tuple(logp.shape)}")
    _check_same("returns", returns, tuple(logp.shape))
    _check_same("mask", mask, tuple(logp.shape))
    m = mask.to(returns.dtype)
    others = (m.sum(0, keepdim=True) - m).clamp(min=1.0)  # episodes alive at t, but this one
    baseline = ((returns * m).sum(0, keepdim=True) - returns * m) / others
    return (m * logp * (returns - baseline)).sum() / logp.shape[0]


def barfi_hypergradient(
    inner_objective: Tensor,
    params: Sequence[Tensor],
    reward_params: Sequence[Tensor],
    primary_grad: Sequence[Tensor],
    step_size: float,
    neumann_terms: int = 1,
) -> list[Tensor]:
    """dJ_p/dφ ≈ (∂ĝ/∂φ)ᵀ · α Σ_{i<N} (I + αH)^i · ∇_θ J_p, with ĝ = ∇_θ L and H = ∂ĝ/∂θ.

    The implicit gradient of BARFI (Gupta et al. 2023) at a fixed point of the inner
    update θ ← θ + α ĝ(θ, φ), where dθ/dφ = −H⁻¹ ∂ĝ/∂φ and −H⁻¹ ≈ α Σ_{i<N} (I + αH)^i
    (a Neumann series; it converges where the step is stable, ‖I + αH‖ < 1).
    N = 1 is the gradient through one unrolled step. Only Hessian-vector and
    vector-Jacobian products are formed, never H itself.

    Args:
        inner_objective: L(θ, φ), a scalar (:func:`pg_surrogate` on the blended reward).
        params: θ, the policy's tensors.
        reward_params: φ (and γ_φ's logit), the tensors the hypergradient is for.
        primary_grad: ∇_θ J_p, one tensor per entry of ``params``, same shapes.
        step_size: α, the inner learner's step size. neumann_terms: N ≥ 1.

    Returns:
        dJ_p/dφ, one tensor per entry of ``reward_params`` (zeros where L ignores it).

    Example:
        >>> import torch
        >>> theta = torch.zeros(2, dtype=torch.float64, requires_grad=True)
        >>> phi = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
        >>> inner = (theta.log_softmax(0) * torch.stack([phi[0], 0 * phi[0]])).sum()
        >>> [g.item() for g in barfi_hypergradient(
        ...     inner, [theta], [phi], [torch.tensor([1.0, -1.0])], step_size=1.0)]
        [1.0]
    """
    torch = _torch()
    if int(neumann_terms) < 1 or not (math.isfinite(step_size) and step_size > 0):
        raise ConfigurationError(
            f"neumann_terms must be >= 1 (1: one unrolled step) and step_size a finite "
            f"alpha > 0, got {neumann_terms!r} and {step_size!r}"
        )
    params, reward_params = list(params), list(reward_params)
    if len(primary_grad) != len(params):
        raise ShapeError(f"primary_grad has {len(primary_grad)} tensors, params {len(params)}")
    for k, (g, p) in enumerate(zip(primary_grad, params, strict=True)):
        _check_same(f"primary_grad[{k}]", g, tuple(p.shape))
    grads = torch.autograd.grad(inner_objective, params, create_graph=True)
    if not any(g.requires_grad for g in grads):  # ĝ depends on neither θ nor φ
        return [torch.zeros_like(p) for p in reward_params]
    term = [g.detach().to(p.dtype) for g, p in zip(primary_grad, params, strict=True)]
    total = [t.clone() for t in term]
    for _ in range(int(neumann_terms) - 1):  # term ← (I + αH) term;  total += term
        hv = torch.autograd.grad(grads, params, term, retain_graph=True, allow_unused=True)
        term = [t + step_size * (h if h is not None else 0) for t, h in zip(term, hv, strict=True)]
        total = [a + t for a, t in zip(total, term, strict=True)]
    cross = torch.autograd.grad(grads, reward_params, grad_outputs=total, allow_unused=True)
    return [
        step_size * c.detach() if c is not None else torch.zeros_like(p)
        for c, p in zip(cross, reward_params, strict=True)
    ]


# ---------------------------------------------------------------------------- policies
def _tabular_logits(params: Sequence[Tensor], obs: Tensor) -> Tensor:
    return params[0][obs]


def _mlp_logits(params: Sequence[Tensor], obs: Tensor) -> Tensor:
    w1, b1, w2, b2 = params
    return (obs @ w1 + b1).tanh() @ w2 + b2


@dataclass
class SoftmaxPolicy:
    """π_θ(a | s) = softmax(logits(θ, s)): θ as explicit tensors, so updates can be differentiated.

    ``params``: θ, leaf tensors (float64); ``logits_fn``: (θ, obs (..., [D])) → logits
    (..., A), a module-level function; ``discrete_obs``: observations are state indices.
    """

    params: list[Tensor]
    logits_fn: Callable[[Sequence[Tensor], Tensor], Tensor]
    discrete_obs: bool

    def obs_tensor(self, obs: Any) -> Tensor:
        """Observations as the tensor ``logits_fn`` takes (long indices or float64)."""
        torch = _torch()
        dtype = torch.long if self.discrete_obs else torch.float64
        return torch.as_tensor(np.asarray(obs), dtype=dtype)

    def log_probs(self, obs: Tensor, actions: Tensor) -> Tensor:
        """log π_θ(a | s) for matching leading shapes of ``obs`` and ``actions``."""
        logp = self.logits_fn(self.params, obs).log_softmax(-1)
        return logp.gather(-1, actions.unsqueeze(-1)).squeeze(-1)

    def act(self, obs: Any, generator: Any) -> np.ndarray:
        """One sampled action per row of ``obs`` (no gradient)."""
        torch = _torch()
        with torch.no_grad():
            probs = self.logits_fn(self.params, self.obs_tensor(obs)).softmax(-1)
            drawn = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
        return np.asarray(drawn.numpy())


def tabular_policy(n_states: int, n_actions: int) -> SoftmaxPolicy:
    """A table of logits θ[s, a], all 0 (the uniform policy)."""
    torch = _torch()
    if int(n_states) < 1 or int(n_actions) < 2:
        raise ConfigurationError(
            f"a tabular policy needs ≥ 1 state and ≥ 2 actions, got {n_states}, {n_actions}"
        )
    table = torch.zeros(int(n_states), int(n_actions), dtype=torch.float64, requires_grad=True)
    return SoftmaxPolicy([table], _tabular_logits, discrete_obs=True)


def mlp_policy(obs_dim: int, n_actions: int, hidden: int = 32, seed: int = 0) -> SoftmaxPolicy:
    """A one-hidden-layer tanh MLP; the output layer starts at 0 (uniform policy).

    Example:
        >>> [tuple(p.shape) for p in mlp_policy(4, 2, hidden=8).params]
        [(4, 8), (8,), (8, 2), (2,)]
    """
    torch = _torch()
    if int(obs_dim) < 1 or int(n_actions) < 2 or int(hidden) < 1:
        raise ConfigurationError(
            f"an MLP policy needs obs_dim ≥ 1, n_actions ≥ 2, hidden ≥ 1; got "
            f"{obs_dim}, {n_actions}, {hidden}"
        )
    gen = torch.Generator().manual_seed(int(seed))
    w1 = torch.randn(obs_dim, hidden, generator=gen, dtype=torch.float64) / math.sqrt(obs_dim)
    rest = (torch.zeros(n, dtype=w1.dtype) for n in (hidden, (hidden, n_actions), n_actions))
    params = [p.requires_grad_() for p in (w1, *rest)]
    return SoftmaxPolicy(params, _mlp_logits, discrete_obs=False)


# ---------------------------------------------------------------------------- data
def collect_episodes(
    envs: Sequence[Any], policy: SoftmaxPolicy, horizon: int, generator: Any
) -> list[dict[str, np.ndarray]]:
    """One episode per env (Gymnasium API), run in lockstep, each cut at ``horizon`` steps.

    Returns one columnar batch per episode: ``obs, action, next_obs, reward, terminated,
    truncated`` (a step cut by the horizon is truncated). Seed the envs once beforehand.
    """
    columns = ("obs", "action", "next_obs", "reward", "terminated", "truncated")
    steps: list[dict[str, list[Any]]] = [{c: [] for c in columns} for _ in envs]
    obs = [env.reset()[0] for env in envs]
    alive = list(range(len(envs)))
    for t in range(int(horizon)):
        for i, action in zip(alive, policy.act([obs[i] for i in alive], generator), strict=True):
            next_obs, reward, terminated, truncated, _ = envs[i].step(int(action))
            cut = bool(truncated) or t == horizon - 1
            step = (obs[i], int(action), next_obs, float(reward), bool(terminated), cut)
            for name, value in zip(columns, step, strict=True):
                steps[i][name].append(value)
            obs[i] = next_obs
        alive = [i for i in alive if not (steps[i]["terminated"][-1] or steps[i]["truncated"][-1])]
        if not alive:
            break
    return [{c: np.asarray(e[c]) for c in columns} for e in steps]


@dataclass
class Trajectories:
    """E episodes padded to T steps, with the primary reward and K heuristic rewards.

    Attributes:
        obs: (E, T) state indices (long) or (E, T, D) features (float64).
        actions: (E, T) long. primary: r_p, (E, T). heuristics: h, (E, T, K) (float64).
        mask: (E, T) bool, True on real steps.
    """

    obs: Tensor
    actions: Tensor
    primary: Tensor
    heuristics: Tensor
    mask: Tensor

    def __post_init__(self) -> None:
        if self.mask.ndim != 2:
            raise ShapeError(f"mask must have shape (E, T), got {tuple(self.mask.shape)}")
        shape = tuple(self.mask.shape)
        if self.heuristics.ndim != 3:
            raise ShapeError(f"heuristics must be (E, T, K), got {tuple(self.heuristics.shape)}")
        columns = {"actions": self.actions, "primary": self.primary, "obs": self.obs}
        for name, x in {**columns, "heuristics": self.heuristics}.items():
            _check_same(f"{name} (E, T)", x[..., 0] if x.ndim == 3 else x, shape)
        real = self.mask.bool()
        for name, values in (("primary", self.primary[real]), ("heuristic", self.heuristics[real])):
            if not bool(values.isfinite().all()):
                msg = f"the {name} reward is NaN or infinite on a real step: give it a value"
                raise BatchError(msg + " (a policy gradient needs a number at every step)")

    @classmethod
    def from_episodes(
        cls, episodes: Sequence[Mapping[str, Any]], blend: RewardBlend, policy: SoftmaxPolicy
    ) -> Trajectories:
        """Score each episode's columns with the blend's primary and heuristic terms, pad."""
        torch = _torch()
        if not episodes:
            raise ShapeError("no episodes to learn from")
        lengths = [len(e["action"]) for e in episodes]
        flat = {k: np.concatenate([np.asarray(e[k]) for e in episodes]) for k in episodes[0]}
        primary, heuristics = blend.columns(flat)
        mask = np.arange(max(lengths))[None, :] < np.asarray(lengths)[:, None]

        def pad(values: np.ndarray) -> np.ndarray:  # (ΣT_e, ...) → (E, T, ...), zeros after
            padded = np.zeros((*mask.shape, *values.shape[1:]), dtype=values.dtype)
            padded[mask] = values
            return padded

        return cls(
            obs=policy.obs_tensor(pad(np.asarray(flat["obs"]))),
            actions=torch.as_tensor(pad(np.asarray(flat["action"], dtype=np.int64))),
            primary=torch.as_tensor(pad(primary)),
            heuristics=torch.as_tensor(pad(heuristics)),
            mask=torch.as_tensor(mask),
        )

    def summary(self) -> dict[str, float]:
        """Mean undiscounted primary return and episode length (for logs)."""
        m = self.mask.to(self.primary.dtype)
        returns, lengths = (self.primary * m).sum(1), m.sum(1)
        return {"primary_return": float(returns.mean()), "episode_length": float(lengths.mean())}


# ---------------------------------------------------------------------------- the loop
@dataclass
class BARFIConfig:
    """Settings of :class:`BARFITrainer`; a value out of range raises
    :class:`~rewardkit.core.errors.ConfigurationError` saying which and why (the module's
    example uses one)."""

    updates: int = setting(200, "inner policy updates in all", minimum=1)
    inner_steps: int = setting(1, "inner updates per outer update", minimum=1)
    episodes: int = setting(16, "episodes per batch, one per env (>= 2: LOO baseline)", minimum=2)
    horizon: int = setting(100, "steps after which an episode is cut", minimum=1)
    inner_lr: float = setting(0.5, "alpha, the SGD step of the policy", above=0)
    outer_lr: float = setting(0.05, "Adam step of the weights and gamma_phi's logit", above=0)
    gamma: float = setting(0.99, "gamma_p, the primary return's discount", minimum=0, maximum=1)
    inner_gamma: float = setting(0.99, "initial gamma_phi, in (0, 1)", above=0)
    learn_gamma: bool = setting(True, "learn the discount gamma_phi with the weights")
    learn_weights: bool = setting(True, "False: a fixed blend (the baseline)")
    neumann_terms: int = setting(1, "N of the Neumann series (1: one unrolled step)", minimum=1)
    weight_bound: float = setting(10.0, "the weights are clipped to +-bound", above=0)
    seed: int = setting(0, "seeds the action sampling and the envs")

    def __post_init__(self) -> None:
        check_settings(self)
        if not self.inner_gamma < 1.0:  # gamma_phi = sigmoid(eta) is learned through its logit
            raise ConfigurationError(
                f"BARFIConfig.inner_gamma must be < 1, got {self.inner_gamma!r} (0.999: nearly 1)"
            )


class BARFITrainer:
    """BARFI-style training: REINFORCE on r_φ inside, φ (and γ_φ) up the primary return outside.

    Args:
        config: the settings.
        env_fn: a thunk making a Gymnasium-API env (``reset() -> (obs, info)``,
            ``step(a) -> (obs, r, terminated, truncated, info)``); discrete actions.
        policy: a :class:`SoftmaxPolicy` (:func:`tabular_policy`, :func:`mlp_policy`).
        heuristics: h_1 … h_K: column names or terms over the transition batch
            (``obs, action, next_obs, reward, terminated, truncated``).
        primary: r_p, a column name or term (default ``"reward"``, the env's).
        weights: φ at the start (default all 1.0).
        progress: called with each log record (the module's example runs one).
    """

    def __init__(
        self,
        config: BARFIConfig,
        env_fn: Callable[[], Any],
        policy: SoftmaxPolicy,
        heuristics: Sequence[Any],
        *,
        primary: Any = "reward",
        weights: Any = None,
        progress: Callable[[dict[str, float]], None] | None = None,
    ) -> None:
        torch = _torch()
        self.config, self.policy, self.progress = config, policy, progress
        self.blend = RewardBlend(primary, list(heuristics), weights=weights, name="barfi_blend")
        self.phi = torch.tensor(self.blend.weights, dtype=torch.float64, requires_grad=True)
        logit = math.log(config.inner_gamma / (1 - config.inner_gamma))  # γ_φ = sigmoid(η)
        self.eta = torch.tensor(logit, dtype=torch.float64, requires_grad=True)
        self.outer = torch.optim.Adam([self.phi, self.eta], lr=config.outer_lr)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.envs = [env_fn() for _ in range(config.episodes)]
        for i, env in enumerate(self.envs):
            env.reset(seed=config.seed * 100_003 + i)
        self.log: list[dict[str, float]] = []

    @property
    def gamma_phi(self) -> float:
        """γ_φ, the discount the inner learner uses now."""
        return float(self.eta.detach().sigmoid())

    def sample(self) -> Trajectories:
        """A batch of ``config.episodes`` episodes from the current policy."""
        episodes = collect_episodes(self.envs, self.policy, self.config.horizon, self.generator)
        return Trajectories.from_episodes(episodes, self.blend, self.policy)

    def _surrogate(self, traj: Trajectories, rewards: Tensor, gamma: float | Tensor) -> Tensor:
        logp = self.policy.log_probs(traj.obs, traj.actions)
        return pg_surrogate(logp, differentiable_returns(rewards, traj.mask, gamma), traj.mask)

    def inner_objective(self, traj: Trajectories) -> Tensor:
        """L_φ(θ): the surrogate on r_φ = r_p + Σ_i φ_i h_i with γ_φ (graph to θ, φ, η)."""
        rewards = traj.primary + (traj.heuristics * self.phi).sum(-1)
        gamma = self.eta.sigmoid() if self.config.learn_gamma else self.gamma_phi
        return self._surrogate(traj, rewards, gamma)

    def inner_step(self, traj: Trajectories) -> None:
        """θ ← θ + α ∇_θ L_φ(θ) (plain SGD, the update the hypergradient assumes)."""
        torch = _torch()
        grads = torch.autograd.grad(self.inner_objective(traj), self.policy.params)
        with torch.no_grad():
            for p, g in zip(self.policy.params, grads, strict=True):
                p.add_(self.config.inner_lr * g)

    def outer_step(self, traj: Trajectories) -> dict[str, float]:
        """φ (and γ_φ) one Adam step up the hypergradient of J_p; returns it for the log."""
        torch = _torch()
        cfg = self.config
        primary = self._surrogate(traj, traj.primary, cfg.gamma)
        g_p = torch.autograd.grad(primary, self.policy.params)
        reward_params = [self.phi, self.eta] if cfg.learn_gamma else [self.phi]
        hyper = barfi_hypergradient(
            self.inner_objective(traj), self.policy.params, reward_params, g_p,
            cfg.inner_lr, cfg.neumann_terms,
        )  # fmt: skip
        self.outer.zero_grad()
        for p, h in zip(reward_params, hyper, strict=True):
            p.grad = -h  # Adam descends; we ascend J_p
        self.outer.step()
        with torch.no_grad():
            self.phi.clamp_(-cfg.weight_bound, cfg.weight_bound)
        self.blend.weights = self.phi.detach().numpy().copy()
        names = self.blend.heuristic_names
        return {f"hypergrad/{n}": float(v) for n, v in zip(names, hyper[0], strict=True)}

    def train(self) -> list[dict[str, float]]:
        """``config.updates`` inner updates, an outer update before every ``inner_steps``-th."""
        cfg = self.config
        start = time.monotonic()
        for update in range(cfg.updates):
            traj = self.sample()
            record: dict[str, float] = {"update": float(update + 1), **traj.summary()}
            if cfg.learn_weights and (update + 1) % cfg.inner_steps == 0:
                record.update(self.outer_step(traj))  # same batch, same θ as the inner step
            self.inner_step(traj)
            record.update({f"weight/{k}": v for k, v in self.blend.named_weights().items()})
            record.update(gamma_phi=self.gamma_phi, seconds=time.monotonic() - start)
            self.log.append(record)
            if self.progress is not None:
                self.progress(record)
        return self.log
