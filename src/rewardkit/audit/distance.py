"""Reward distances that ignore shaping and rescaling: EPIC and STARC.

Two rewards that differ by potential-based shaping or a positive rescaling
induce the same optimal policies, so they should be at distance 0; rewards
that order outcomes differently should not.

**EPIC** (Gleave et al. 2021, "Quantifying Differences in Reward Functions")
canonicalizes a reward with state distribution D_S and action distribution
D_A,

    C(R)(s,a,s') = R(s,a,s') + γ E[R(s',A,S')] − E[R(s,A,S')] − γ E[R(S,A,S')],

with S, S' ~ D_S and A ~ D_A independent, which removes any potential
shaping, and compares canonical rewards with the Pearson distance
D_ρ = √((1 − ρ)/2) over a coverage distribution of transitions, which removes
scale and offset.

**STARC** (Skalse et al. 2024, "STARC: A General Framework For Quantifying
Differences Between Reward Functions"), for a tabular MDP with known
transitions τ, uses the VAL canonicalization with the uniform policy π,

    c(R)(s,a) = E_{S'~τ(s,a)}[R(s,a,S') + γ V^π(S')] − V^π(s),

normalizes it to unit L2 norm, and takes the L2 norm of the difference. The
paper proves that regret under the optimal policy of one reward, measured by
the other, is bounded by a constant times this distance.

Example:
    >>> rng = np.random.default_rng(0)
    >>> reward = rng.normal(size=(4, 2, 4))
    >>> potential = rng.normal(size=4)
    >>> shaped = 3.0 * reward + 0.9 * potential[None, None, :] - potential[:, None, None]
    >>> round(epic_distance_tabular(reward, shaped, gamma=0.9), 6)
    0.0
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rewardkit.core.batch import Batch
from rewardkit.core.errors import ShapeError
from rewardkit.core.output import FloatArray

__all__ = [
    "EpicEstimate",
    "canonicalize_epic_tabular",
    "canonicalize_val",
    "epic_distance",
    "epic_distance_tabular",
    "pearson_distance",
    "starc_distance",
]


def _distribution(p: npt.ArrayLike | None, n: int, what: str) -> FloatArray:
    if p is None:
        return np.full(n, 1.0 / n)
    array = np.asarray(p, dtype=np.float64)
    if array.shape != (n,) or np.any(array < 0) or not np.isclose(array.sum(), 1.0):
        raise ShapeError(f"{what} must be a probability vector of length {n}")
    return array


def _tabular(reward: npt.ArrayLike) -> FloatArray:
    array = np.asarray(reward, dtype=np.float64)
    if array.ndim != 3 or array.shape[0] != array.shape[2]:
        raise ShapeError(f"a tabular reward has shape (S, A, S), got {array.shape}")
    return array


def pearson_distance(x: FloatArray, y: FloatArray, weights: FloatArray | None = None) -> float:
    """D_ρ(X, Y) = √((1 − ρ)/2), ρ the (weighted) Pearson correlation.

    A constant input has no correlation; its distance is defined as 0 to
    another constant and 1/√2 otherwise.

    Example:
        >>> pearson_distance(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.0]))
        0.0
        >>> pearson_distance(np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0]))
        1.0
    """
    x, y = np.ravel(x), np.ravel(y)
    w = np.full(x.shape, 1.0 / x.size) if weights is None else np.ravel(weights) / np.sum(weights)
    dx, dy = x - np.sum(w * x), y - np.sum(w * y)
    var_x, var_y = np.sum(w * dx * dx), np.sum(w * dy * dy)
    scale = max(np.sum(w * x * x), np.sum(w * y * y), 1e-300)
    flat_x, flat_y = var_x <= 1e-20 * scale, var_y <= 1e-20 * scale
    if flat_x or flat_y:
        return 0.0 if flat_x and flat_y else float(np.sqrt(0.5))
    rho = float(np.sum(w * dx * dy) / np.sqrt(var_x * var_y))
    return float(np.sqrt(max(0.0, (1.0 - min(rho, 1.0)) / 2.0)))


def canonicalize_epic_tabular(
    reward: npt.ArrayLike,
    gamma: float,
    state_dist: npt.ArrayLike | None = None,
    action_dist: npt.ArrayLike | None = None,
) -> FloatArray:
    """EPIC canonical reward of a tabular R[s, a, s'] (exact expectations)."""
    r = _tabular(reward)
    d_s = _distribution(state_dist, r.shape[0], "state_dist")
    d_a = _distribution(action_dist, r.shape[1], "action_dist")
    mean_from = np.einsum("sax,a,x->s", r, d_a, d_s)  # E[R(s, A, S')]
    mean_all = float(d_s @ mean_from)  # E[R(S, A, S')]
    canonical: FloatArray = (
        r + gamma * mean_from[None, None, :] - mean_from[:, None, None] - gamma * mean_all
    )
    return canonical


def epic_distance_tabular(
    reward_a: npt.ArrayLike,
    reward_b: npt.ArrayLike,
    gamma: float,
    state_dist: npt.ArrayLike | None = None,
    action_dist: npt.ArrayLike | None = None,
    coverage: npt.ArrayLike | None = None,
) -> float:
    """Exact EPIC distance between tabular rewards.

    Args:
        reward_a, reward_b: arrays (S, A, S).
        gamma: discount.
        state_dist, action_dist: D_S and D_A (default uniform).
        coverage: weights over (s, a, s') for the Pearson correlation
            (default D_S × D_A × D_S).
    """
    a = canonicalize_epic_tabular(reward_a, gamma, state_dist, action_dist)
    b = canonicalize_epic_tabular(reward_b, gamma, state_dist, action_dist)
    if coverage is None:
        d_s = _distribution(state_dist, a.shape[0], "state_dist")
        d_a = _distribution(action_dist, a.shape[1], "action_dist")
        weights = np.einsum("s,a,x->sax", d_s, d_a, d_s)
    else:
        weights = np.asarray(coverage, dtype=np.float64)
        if weights.shape != a.shape:
            raise ShapeError(f"coverage has shape {weights.shape}, expected {a.shape}")
    return pearson_distance(a, b, weights)


# ----------------------------------------------------------------- sample-based
StepReward = Callable[[Batch], Any]


def _evaluate(
    reward: StepReward, obs: FloatArray, actions: Any, next_obs: FloatArray
) -> FloatArray:
    n = len(obs)
    batch = {
        "obs": obs,
        "action": actions,
        "next_obs": next_obs,
        "terminated": np.zeros(n, dtype=bool),
        "truncated": np.zeros(n, dtype=bool),
    }
    out = reward(batch)
    values = np.asarray(getattr(out, "total", out), dtype=np.float64)
    if values.shape != (n,):
        raise ShapeError(f"the reward returned shape {values.shape} for {n} transitions")
    if np.any(~np.isfinite(values)):
        raise ShapeError("the reward is NaN or inf on some transitions; EPIC needs a total reward")
    return values


def _canonical_samples(
    reward: StepReward,
    obs: FloatArray,
    actions: Any,
    next_obs: FloatArray,
    state_pool: FloatArray,
    action_pool: Any,
    gamma: float,
    rng: np.random.Generator,
    mc_samples: int,
) -> FloatArray:
    len(obs)
    idx_s = rng.integers(0, len(state_pool), size=mc_samples)
    idx_a = rng.integers(0, len(action_pool), size=mc_samples)
    pool_next = state_pool[idx_s]
    pool_actions = np.asarray(action_pool)[idx_a]

    def mean_from(states: FloatArray) -> FloatArray:
        starts = np.repeat(states, mc_samples, axis=0)
        acts = np.tile(pool_actions, (len(states),) + (1,) * (pool_actions.ndim - 1))
        ends = np.tile(pool_next, (len(states), 1))
        values = _evaluate(reward, starts, acts, ends).reshape(len(states), mc_samples)
        means: FloatArray = values.mean(axis=1)
        return means

    direct = _evaluate(reward, obs, actions, next_obs)
    from_next = mean_from(next_obs)
    from_start = mean_from(obs)
    overall = mean_from(state_pool[rng.integers(0, len(state_pool), size=mc_samples)]).mean()
    canonical: FloatArray = direct + gamma * from_next - from_start - gamma * overall
    return canonical


@dataclass(frozen=True)
class EpicEstimate:
    """A sample-based EPIC distance with a bootstrap confidence interval."""

    distance: float
    low: float
    high: float
    samples: int

    def __str__(self) -> str:
        return f"{self.distance:.4f} [{self.low:.4f}, {self.high:.4f}]"


def epic_distance(
    reward_a: StepReward,
    reward_b: StepReward,
    transitions: Mapping[str, Any],
    *,
    gamma: float = 0.99,
    mc_samples: int = 64,
    bootstrap: int = 500,
    confidence: float = 0.95,
    seed: int = 0,
) -> EpicEstimate:
    """Sample-based EPIC distance between two step rewards.

    The coverage distribution is the given transitions (``obs``, ``action``,
    ``next_obs`` columns, e.g. from ``collect_steps``); D_S is the empirical
    distribution of their observations and D_A of their actions. Each
    expectation in the canonicalization is a Monte Carlo mean over
    ``mc_samples`` draws; the same draws serve both rewards. The confidence
    interval resamples transitions (``bootstrap`` times).

    The rewards see batches with ``obs, action, next_obs`` and all-False
    ``terminated``/``truncated``: EPIC compares rewards as functions of
    (s, a, s').

    Example:
        >>> from rewardkit.core import term
        >>> rng = np.random.default_rng(1)
        >>> data = {"obs": rng.normal(size=(300, 2)), "action": rng.normal(size=(300, 1)),
        ...         "next_obs": rng.normal(size=(300, 2))}
        >>> base = term(lambda next_obs: next_obs[:, 0], name="base")
        >>> shaped = term(lambda obs, next_obs: 2 * next_obs[:, 0] + 0.9 * next_obs[:, 1]
        ...               - obs[:, 1], name="shaped")
        >>> epic_distance(base, shaped, data, gamma=0.9).distance < 0.05
        True
    """
    obs = np.asarray(transitions["obs"])  # keep the dtype: discrete states index tables
    next_obs = np.asarray(transitions["next_obs"])
    actions = np.asarray(transitions["action"])
    if obs.shape != next_obs.shape or len(actions) != len(obs):
        raise ShapeError("obs, action and next_obs must have the same number of transitions")
    if len(obs) < 10:
        raise ShapeError("EPIC needs at least 10 transitions for a meaningful estimate")
    state_pool = np.concatenate([obs, next_obs], axis=0)
    rng = np.random.default_rng(seed)
    draw_state = rng.bit_generator.state
    canonical = []
    for reward in (reward_a, reward_b):
        rng.bit_generator.state = draw_state  # common random numbers for both rewards
        canonical.append(
            _canonical_samples(
                reward, obs, actions, next_obs, state_pool, actions, gamma, rng, mc_samples
            )
        )
    a, b = canonical
    distance = pearson_distance(a, b)
    boot_rng = np.random.default_rng(seed + 1)
    draws = [
        pearson_distance(a[idx], b[idx])
        for idx in (boot_rng.integers(0, len(a), len(a)) for _ in range(bootstrap))
    ]
    tail = (1.0 - confidence) / 2
    low, high = np.quantile(draws, [tail, 1.0 - tail]) if draws else (distance, distance)
    return EpicEstimate(distance, float(low), float(high), len(a))


# ----------------------------------------------------------------- STARC
def uniform_policy_values(
    reward: npt.ArrayLike, transition: npt.ArrayLike, gamma: float
) -> FloatArray:
    """V^π for the uniform policy, by solving (I − γ P_π) V = r_π."""
    r = _tabular(reward)
    p = np.asarray(transition, dtype=np.float64)
    if p.shape != r.shape:
        raise ShapeError(f"transition has shape {p.shape}, expected {r.shape} (S, A, S)")
    if not np.allclose(p.sum(axis=2), 1.0):
        raise ShapeError("transition[s, a] must sum to 1 over next states")
    if not 0.0 <= gamma < 1.0:
        raise ShapeError(f"STARC needs gamma in [0, 1), got {gamma}")
    n_states = r.shape[0]
    p_pi = p.mean(axis=1)
    r_pi = np.einsum("sax,sax->sa", p, r).mean(axis=1)
    values: FloatArray = np.linalg.solve(np.eye(n_states) - gamma * p_pi, r_pi)
    return values


def canonicalize_val(reward: npt.ArrayLike, transition: npt.ArrayLike, gamma: float) -> FloatArray:
    """STARC's VAL canonicalization c(R)(s, a) with the uniform policy, shape (S, A)."""
    r = _tabular(reward)
    p = np.asarray(transition, dtype=np.float64)
    values = uniform_policy_values(r, p, gamma)
    expected: FloatArray = np.einsum("sax,sax->sa", p, r + gamma * values[None, None, :])
    return expected - values[:, None]


def starc_distance(
    reward_a: npt.ArrayLike, reward_b: npt.ArrayLike, transition: npt.ArrayLike, gamma: float
) -> float:
    """‖c(R_a)/‖c(R_a)‖ − c(R_b)/‖c(R_b)‖‖₂ with VAL canonicalization (0 to 2).

    A reward whose canonical form is 0 (every policy equally good) normalizes
    to 0.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> transition = rng.dirichlet(np.ones(3), size=(3, 2))
        >>> reward = rng.normal(size=(3, 2, 3))
        >>> round(starc_distance(reward, 5 * reward, transition, 0.9), 9)
        0.0
        >>> round(starc_distance(reward, -reward, transition, 0.9), 6)
        2.0
    """

    def normalized(reward: npt.ArrayLike) -> FloatArray:
        c = canonicalize_val(reward, transition, gamma)
        norm = float(np.linalg.norm(c))
        return c / norm if norm > 1e-12 else np.zeros_like(c)

    return float(np.linalg.norm(normalized(reward_a) - normalized(reward_b)))
