"""Teacher-driven rewards: shaping with the teacher's V*, and rewards chosen for the learner.

In the teacher-driven setting of Devidze's thesis ("Reward Design for
Reinforcement Learning Agents", 2025) and its papers (EXPRD, "Explicable Reward
Design for Reinforcement Learning Agents", 2021; ExpAdaRD, "Informativeness of
Reward Functions in Reinforcement Learning", 2024), a teacher who knows the task's
optimal policy π* and value function V* designs the reward the learner receives,
so that the learner converges faster to π*.

The basic teacher-driven reward, the baseline those papers compare against, is
potential-based shaping with the teacher's optimal values as the potential
(Ng, Harada & Russell 1999):

    R̂(s, a, s') = R(s, a, s') + γ · V*(s') · (1 − terminated) − V*(s)

It leaves every optimal policy optimal, and for deterministic transitions its
one-step value is already the optimal advantage: R̂ = Q*(s, a) − V*(s) = A*(s, a),
so a learner that looks one step ahead already acts optimally.
:func:`teacher_shaping_reward` is the equation on arrays, :class:`TeacherShaping`
the term over tabular states, and :func:`shaped_reward_table` its expectation
under a tabular model, R̂(s, a) = R(s, a) + γ Σ_s' P(s'|s, a) V*(s')(1 − term(s')) − V*(s).

**Adapting to the learner (ExpAdaRD-style).** ExpAdaRD's teacher redesigns the
reward as the learner's policy π_L changes, maximizing an informativeness
criterion: how much π_L would improve if it were trained on that reward. Here
informativeness is measured directly, as the one-step lookahead improvement of a
tabular softmax learner that evaluates π_L over a horizon of h steps under the
candidate reward R̂ and takes one natural-policy-gradient step:

    A_h(s, a) = Q^{π_L}_{R̂,h}(s, a) − V^{π_L}_{R̂,h}(s),   π'(a|s) ∝ π_L(a|s) · exp(η A_h(s, a))
    I_h(R̂ | π_L) = J_R(π') − J_R(π_L),   J_R(π) = Σ_s μ₀(s) V^π_R(s)

and :func:`most_informative_reward` picks, among the teacher's candidate rewards,
the one with the largest I_h for the learner's current policy. Simplified against
the paper: a finite candidate set instead of an optimization over a constrained
(sparse, interpretable) reward space, and this lookahead measure instead of the
paper's closed-form criterion. With h = ∞ and exact evaluation, potential shaping
does not change A (the potential cancels), so the criterion is informative about
shaping only for a myopic (finite-h) learner, as in EXPRD's h-horizon criterion.

Example:
    >>> P = np.zeros((3, 2, 3)); P[0, 0, 0] = P[0, 1, 1] = P[1, 0, 0] = P[1, 1, 2] = 1
    >>> P[2, :, 2] = 1  # state 2 is the goal
    >>> R = np.array([[0.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    >>> terminal = np.array([False, False, True])
    >>> v_star, q_star = value_iteration(P, R, 0.5, terminal)
    >>> v_star
    array([0.5, 1. , 0. ])
    >>> shaped_reward_table(P, R, v_star, 0.5, terminal)  # A*(s, a): 0 on optimal actions
    array([[-0.25,  0.  ],
           [-0.75,  0.  ],
           [ 0.  ,  0.  ]])
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from rewardkit.core.errors import BatchError, ConfigurationError, ShapeError
from rewardkit.core.output import FloatArray
from rewardkit.shaping.potential import PotentialShaping, shaping_reward

__all__ = [
    "TeacherShaping",
    "ValueTable",
    "lookahead_informativeness",
    "most_informative_reward",
    "policy_evaluation",
    "shaped_reward_table",
    "teacher_shaping_reward",
    "value_iteration",
]


def _gamma(gamma: float, *, allow_one: bool = False) -> float:
    g = float(gamma)
    if not (0.0 <= g < 1.0 or (allow_one and g == 1.0)):
        raise ConfigurationError(
            f"gamma must be in [0, 1){' or 1' if allow_one else ''}, got {gamma!r}"
        )
    return g


def _model(
    transitions: Any, rewards: Any, terminal: Any
) -> tuple[FloatArray, FloatArray, np.ndarray]:
    """Check P (S, A, S), R (S, A) and terminal (S,); every row of P a distribution."""
    P = np.asarray(transitions, dtype=np.float64)
    R = np.asarray(rewards, dtype=np.float64)
    if P.ndim != 3 or P.shape[0] != P.shape[2]:
        raise ShapeError(f"transitions must have shape (S, A, S), got {P.shape}")
    if R.shape != P.shape[:2]:
        raise ShapeError(f"rewards must have shape (S, A) = {P.shape[:2]}, got {R.shape}")
    if not (np.isfinite(P).all() and np.isfinite(R).all()):
        raise BatchError("transitions and rewards must be finite (no NaN or inf)")
    if (P < 0).any() or not np.allclose(P.sum(axis=2), 1.0, atol=1e-8):
        raise BatchError("each transitions[s, a] must be a distribution over next states")
    done = np.zeros(P.shape[0], dtype=bool) if terminal is None else np.asarray(terminal)
    if done.shape != (P.shape[0],) or done.dtype != bool:
        raise ShapeError(f"terminal must be a boolean array of shape ({P.shape[0]},)")
    return P, R, done


def _policy(policy: Any, shape: tuple[int, ...]) -> FloatArray:
    pi = np.asarray(policy, dtype=np.float64)
    if pi.shape != shape:
        raise ShapeError(f"policy must have shape (S, A) = {shape}, got {pi.shape}")
    if not np.isfinite(pi).all() or (pi < 0).any() or not np.allclose(pi.sum(axis=1), 1.0):
        raise BatchError("each policy[s] must be a distribution over actions (finite, >= 0)")
    return pi


def value_iteration(
    transitions: Any, rewards: Any, gamma: float, terminal: Any = None, tol: float = 1e-10
) -> tuple[FloatArray, FloatArray]:
    """V*(s) = max_a [R(s, a) + γ Σ_s' P(s'|s, a) V*(s')], with V* = 0 at terminal states.

    Args:
        transitions: P, shape (S, A, S).
        rewards: R(s, a), shape (S, A), the expected reward of taking a in s.
        gamma: γ in [0, 1).
        terminal: boolean (S,): absorbing states worth 0; None: none.
        tol: stop when no value moves by more than ``tol``.

    Returns:
        (V*, Q*), shapes (S,) and (S, A); Q* is 0 at terminal states.
    """
    P, R, done = _model(transitions, rewards, terminal)
    g = _gamma(gamma)
    v = np.zeros(P.shape[0])
    for _ in range(100_000):
        q = np.where(done[:, None], 0.0, R + g * P @ v)
        new = q.max(axis=1)
        if np.max(np.abs(new - v)) <= tol:
            return new, q
        v = new
    raise ConfigurationError("value iteration did not converge; lower gamma or check the model")


def policy_evaluation(
    transitions: Any,
    rewards: Any,
    policy: Any,
    gamma: float,
    terminal: Any = None,
    horizon: int | None = None,
) -> tuple[FloatArray, FloatArray]:
    """V^π and Q^π, exactly (``horizon=None``) or over the next h steps (Q_0 = 0).

    Q^π_h(s, a) = R(s, a) + γ Σ_s' P(s'|s, a) Σ_a' π(a'|s') Q^π_{h−1}(s', a'),
    and Q^π = lim_{h→∞} Q^π_h, found by solving (I − γ P_π) V = R_π.

    Example:
        >>> P = np.zeros((3, 2, 3)); P[0, 0, 0] = P[0, 1, 1] = P[1, 0, 0] = P[1, 1, 2] = 1
        >>> P[2, :, 2] = 1
        >>> R = np.array([[0.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
        >>> done = np.array([False, False, True])
        >>> v, _ = policy_evaluation(P, R, np.full((3, 2), 0.5), 0.5, done)
        >>> v * 11  # V(0) = 2/11, V(1) = 6/11
        array([2., 6., 0.])
    """
    P, R, done = _model(transitions, rewards, terminal)
    pi = _policy(policy, R.shape)
    live = ~done[:, None]
    if horizon is None:
        g = _gamma(gamma)
        r_pi = np.where(done, 0.0, (pi * R).sum(axis=1))
        p_pi = np.einsum("sa,sat->st", pi * live, P)
        v = np.linalg.solve(np.eye(P.shape[0]) - g * p_pi, r_pi)
        return v, np.where(live, R + g * P @ v, 0.0)
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise ConfigurationError(f"horizon must be an int >= 1 or None, got {horizon!r}")
    g = _gamma(gamma, allow_one=True)
    q = np.zeros_like(R)
    for _ in range(horizon):
        q = np.where(live, R + g * P @ (pi * q).sum(axis=1), 0.0)
    return (pi * q).sum(axis=1), q


def teacher_shaping_reward(
    reward: Any, v_star_t: Any, v_star_tp1: Any, terminated: Any, gamma: float
) -> FloatArray:
    """R̂ = r + γ V*(s') (1 − terminated) − V*(s): the teacher's V* as the potential.

    Example:
        >>> teacher_shaping_reward([0.0, 1.0], [0.5, 1.0], [1.0, 0.0], [False, True], 0.5)
        array([0., 0.])
    """
    r = np.asarray(reward, dtype=np.float64)
    if r.shape != np.shape(v_star_t):
        raise ShapeError(f"reward {r.shape} and v_star_t {np.shape(v_star_t)} differ")
    values = [r, np.asarray(v_star_t, dtype=float), np.asarray(v_star_tp1, dtype=float)]
    if any(np.isnan(v).any() for v in values):
        raise BatchError("reward and V* must not be NaN: the teacher's values are defined for all")
    shaped: FloatArray = r + shaping_reward(v_star_t, v_star_tp1, terminated, gamma)
    return shaped


def shaped_reward_table(
    transitions: Any, rewards: Any, potential: Any, gamma: float, terminal: Any = None
) -> FloatArray:
    """R̂(s, a) = R(s, a) + γ Σ_s' P(s'|s, a) Φ(s') (1 − term(s')) − Φ(s); 0 at terminal s.

    With Φ = V*, the optimal policies of R̂ are those of R (Ng et al. 1999).
    """
    P, R, done = _model(transitions, rewards, terminal)
    phi = np.asarray(potential, dtype=np.float64)
    if phi.shape != (P.shape[0],) or not np.isfinite(phi).all():
        raise ShapeError(f"potential must be finite with shape ({P.shape[0]},), got {phi.shape}")
    g = _gamma(gamma, allow_one=True)
    shaped: FloatArray = np.where(done[:, None], 0.0, R + g * P @ (phi * ~done) - phi[:, None])
    return shaped


class ValueTable:
    """Φ(s) = values[s] for integer state ids: the teacher's V* as a picklable potential.

    Example:
        >>> ValueTable([0.5, 1.0, 0.0])(np.array([2, 0]))
        array([0. , 0.5])
    """

    def __init__(self, values: Any) -> None:
        table = np.asarray(values, dtype=np.float64)
        if table.ndim != 1 or not table.size or not np.isfinite(table).all():
            raise ConfigurationError("values must be a non-empty finite array of shape (S,)")
        self.values = table

    def __call__(self, obs: Any) -> FloatArray:
        states = np.asarray(obs, dtype=np.float64).reshape(len(obs), -1)
        if states.shape[1] != 1:
            raise ShapeError(f"observations must be one state id each, got shape {states.shape}")
        ids = states[:, 0]
        if not np.isfinite(ids).all() or (ids != np.round(ids)).any():
            raise BatchError("observations must be integer state ids (no NaN, no fractions)")
        if ((ids < 0) | (ids >= self.values.size)).any():
            raise BatchError(f"state ids must be in [0, {self.values.size}), got {ids}")
        looked_up: FloatArray = self.values[ids.astype(np.int64)]
        return looked_up


class TeacherShaping(PotentialShaping):
    """F = γ V*(s') (1 − terminated) − V*(s) over tabular state ids (reads obs, next_obs,
    terminated); add it to the environment's reward.

    Example:
        >>> shaping = TeacherShaping([0.5, 1.0, 0.0], gamma=0.5)
        >>> shaping({"obs": [0, 1], "next_obs": [1, 2], "terminated": [False, True]}).total
        array([ 0., -1.])
    """

    def __init__(self, values: Any, gamma: float = 0.99, name: str = "teacher_shaping") -> None:
        super().__init__(ValueTable(values), gamma=gamma, name=name)


def lookahead_informativeness(
    transitions: Any,
    reward: Any,
    task_reward: Any,
    policy: Any,
    gamma: float,
    *,
    start: Any,
    terminal: Any = None,
    horizon: int | None = 1,
    step_size: float = 1.0,
) -> float:
    """I_h(R̂ | π) = J_R(π') − J_R(π), π' ∝ π · exp(η A^π_{R̂,h}) (ExpAdaRD-style).

    Args:
        transitions: P, shape (S, A, S).
        reward: R̂(s, a), the candidate reward the learner would be trained on.
        task_reward: R(s, a), the task's reward, by which improvement is judged.
        policy: π, the learner's current policy, shape (S, A).
        gamma: γ in [0, 1).
        start: μ₀, the start-state distribution, shape (S,).
        terminal: boolean (S,), or None.
        horizon: h, how many steps of R̂ the learner's advantage looks ahead (None: all).
        step_size: η > 0, the natural-gradient step.

    Returns:
        The improvement of the task return after one step on R̂ (negative: R̂ misleads).
    """
    P, R_task, done = _model(transitions, task_reward, terminal)
    pi = _policy(policy, R_task.shape)
    mu = np.asarray(start, dtype=np.float64)
    if mu.shape != (P.shape[0],) or (mu < 0).any() or not math.isclose(mu.sum(), 1.0):
        raise ShapeError(f"start must be a distribution of shape ({P.shape[0]},)")
    eta = float(step_size)
    if not (math.isfinite(eta) and eta > 0):
        raise ConfigurationError(f"step_size must be finite and > 0, got {step_size!r}")
    v_hat, q_hat = policy_evaluation(P, reward, pi, gamma, done, horizon)
    logits = np.log(np.clip(pi, 1e-300, None)) + eta * (q_hat - v_hat[:, None])
    new_pi = np.exp(logits - logits.max(axis=1, keepdims=True)) * (pi > 0)
    new_pi /= new_pi.sum(axis=1, keepdims=True)
    before, _ = policy_evaluation(P, R_task, pi, gamma, done)
    after, _ = policy_evaluation(P, R_task, new_pi, gamma, done)
    return float(mu @ (after - before))


def most_informative_reward(
    candidates: Mapping[str, Any],
    transitions: Any,
    task_reward: Any,
    policy: Any,
    gamma: float,
    **kwargs: Any,
) -> tuple[str, dict[str, float]]:
    """The teacher's pick for the learner's current policy: argmax_R̂ I_h(R̂ | π).

    Args:
        candidates: name → R̂(s, a), the rewards the teacher may give.
        transitions, task_reward, policy, gamma: see :func:`lookahead_informativeness`.
        **kwargs: ``start`` (required), ``terminal``, ``horizon``, ``step_size``.

    Returns:
        (the best candidate's name, every candidate's informativeness); ties go to the
        first listed.
    """
    if not isinstance(candidates, Mapping) or not candidates:
        raise ConfigurationError("candidates must be a non-empty mapping name -> R(s, a)")
    scores = {
        name: lookahead_informativeness(transitions, reward, task_reward, policy, gamma, **kwargs)
        for name, reward in candidates.items()
    }
    best = max(scores, key=lambda name: scores[name])
    return best, scores
