"""Discounted returns, λ-returns and GAE over time-major arrays.

Arrays are time-major, shape (T, ...) with any trailing batch shape (e.g.
(T, num_envs)). Names are time-indexed as in rlax: ``r_t`` is the reward of
the step from s_t, ``v_t`` = V(s_t), and ``v_tp1`` = V(s_{t+1}), the value of
the *true* next observation of that step (at a truncation, the final
observation, not the reset one). ``terminated`` and ``truncated`` stay
separate: termination stops bootstrapping; truncation cuts the episode but
bootstraps from ``v_tp1``. The last row bootstraps from ``v_tp1`` too, as a
rollout that ends mid-episode must.

Torch tensors are accepted and returned as tensors (no gradient flows).

Example:
    >>> r_t = np.array([0.0, 0.0, 1.0])
    >>> terminated = np.array([False, False, True])
    >>> discounted_returns(r_t, terminated, gamma=0.5)
    array([0.25, 0.5 , 1.  ])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rewardkit.core.errors import ShapeError
from rewardkit.credit._arrays import (
    FloatArray,
    as_bool_array,
    as_float_array,
    check_finite,
    check_same_shape,
    check_unit_interval,
    like,
)

__all__ = [
    "bootstrap_values",
    "discounted_returns",
    "generalized_advantage_estimation",
    "lambda_returns",
]


def _rates(gamma: float, lambda_: float) -> tuple[float, float]:
    """γ and λ as floats, each checked to lie in [0, 1]."""
    return check_unit_interval(gamma, "gamma"), check_unit_interval(lambda_, "lambda_")


def _inputs(
    r_t: Any, v_tp1: Any, terminated: Any, truncated: Any
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    rewards = as_float_array(r_t, "r_t")
    if rewards.ndim == 0:
        raise ShapeError("r_t must have a time axis: shape (T, ...)")
    next_values = np.zeros_like(rewards) if v_tp1 is None else as_float_array(v_tp1, "v_tp1")
    check_same_shape("r_t", rewards, v_tp1=next_values)
    term = as_bool_array(terminated, "terminated", rewards.shape)
    trunc = as_bool_array(truncated, "truncated", rewards.shape)
    check_finite(rewards, "r_t")
    # v_tp1 after a terminal step is unused: masked out (NaN there is fine), never multiplied
    check_finite(next_values, "v_tp1", where=~term)
    next_values = np.where(term, 0.0, next_values)
    not_terminated = 1.0 - term.astype(np.float64)
    # Continue the recursion into t+1 only within an episode and within the rollout.
    continues = (~term & ~trunc).astype(np.float64)
    continues[-1] = 0.0
    return rewards, next_values, not_terminated, continues


def discounted_returns(
    r_t: Any,
    terminated: Any,
    truncated: Any = None,
    v_tp1: Any = None,
    *,
    gamma: float,
) -> Any:
    """Discounted returns G_t.

    G_t = r_t + γ (1 − term_t) · (G_{t+1} if the episode continues, else v_tp1_t)

    "Continues" means neither terminated nor truncated and t < T − 1. Without
    ``v_tp1``, truncated episodes and the rollout's end bootstrap from 0. It is
    :func:`lambda_returns` at λ = 1.

    Args:
        r_t: rewards, shape (T, ...).
        terminated: episode ended in a terminal state after step t.
        truncated: episode was cut (time limit) after step t; default none.
        v_tp1: V(s_{t+1}) for bootstrapping, same shape; default zeros.
        gamma: discount γ ∈ [0, 1].

    Example:
        >>> # truncated after step 1: bootstrap with v_tp1[1] = 10
        >>> discounted_returns([1.0, 1.0, 1.0], [False, False, False],
        ...                    [False, True, False], v_tp1=[0.0, 10.0, 0.0], gamma=0.5)
        array([4., 6., 1.])
    """
    # λ = 1 is exactly this recursion: the tail is G_{t+1} within the episode, else v_tp1.
    return lambda_returns(r_t, v_tp1, terminated, truncated, gamma=gamma, lambda_=1.0)


def lambda_returns(
    r_t: Any,
    v_tp1: Any,
    terminated: Any,
    truncated: Any = None,
    *,
    gamma: float,
    lambda_: float,
) -> Any:
    """TD(λ) returns G^λ_t (Sutton & Barto 2018, eq. 12.18).

    G^λ_t = r_t + γ (1 − term_t) [(1 − λ) v_tp1_t + λ G^λ_{t+1}] while the
    episode continues, and r_t + γ (1 − term_t) v_tp1_t at its end. λ = 1
    gives Monte Carlo returns bootstrapped at the end; λ = 0 gives one-step
    TD targets. Equals GAE + V(s_t) when ``v_tp1`` is the shifted ``v_t``.

    Example:
        >>> lambda_returns([1.0, 1.0], v_tp1=[2.0, 2.0], terminated=[False, False],
        ...                gamma=1.0, lambda_=0.5)
        array([3.5, 3. ])
    """
    gamma, lambda_ = _rates(gamma, lambda_)
    rewards, next_values, not_terminated, continues = _inputs(r_t, v_tp1, terminated, truncated)
    returns = np.empty_like(rewards)
    following = np.zeros_like(rewards[0])
    for t in range(rewards.shape[0] - 1, -1, -1):
        mixed = (1.0 - lambda_) * next_values[t] + lambda_ * following
        tail = continues[t] * mixed + (1.0 - continues[t]) * next_values[t]
        following = rewards[t] + gamma * not_terminated[t] * tail
        returns[t] = following
    return like(returns, r_t)


def generalized_advantage_estimation(
    r_t: Any,
    v_t: Any,
    v_tp1: Any,
    terminated: Any,
    truncated: Any = None,
    *,
    gamma: float,
    lambda_: float,
) -> Any:
    """Generalized advantage estimates (Schulman et al. 2016, "High-Dimensional
    Continuous Control Using Generalized Advantage Estimation").

    δ_t = r_t + γ (1 − term_t) v_tp1_t − v_t
    A_t = δ_t + γ λ · 1[episode continues after t] · A_{t+1}

    A truncated step keeps its bootstrap (v_tp1 is the final observation's
    value) but stops the recursion, so the next episode's advantages do not
    leak into this one. Returns are A_t + v_t.

    Example:
        >>> generalized_advantage_estimation(
        ...     r_t=[0.0, 1.0], v_t=[0.5, 0.5], v_tp1=[0.5, 0.0],
        ...     terminated=[False, True], gamma=1.0, lambda_=1.0)
        array([0.5, 0.5])
    """
    gamma, lambda_ = _rates(gamma, lambda_)
    rewards, next_values, not_terminated, continues = _inputs(r_t, v_tp1, terminated, truncated)
    values = as_float_array(v_t, "v_t")
    check_same_shape("r_t", rewards, v_t=values)
    check_finite(values, "v_t")
    deltas = rewards + gamma * not_terminated * next_values - values
    advantages = np.empty_like(rewards)
    following = np.zeros_like(rewards[0])
    for t in range(rewards.shape[0] - 1, -1, -1):
        following = deltas[t] + gamma * lambda_ * continues[t] * following
        advantages[t] = following
    return like(advantages, r_t)


def bootstrap_values(v_t: Any, v_last: Any, truncated: Any = None, v_final: Any = None) -> Any:
    """Build ``v_tp1`` from per-step values, as a CleanRL-style rollout stores them.

    v_tp1_t = v_{t+1} for t < T − 1, v_last at t = T − 1, and, where
    ``truncated``, the value of the episode's final observation ``v_final_t``
    (vector envs reset on truncation, so v_{t+1} belongs to the next episode).
    At terminations the value is unused.

    Example:
        >>> bootstrap_values([1.0, 2.0, 3.0], v_last=4.0,
        ...                  truncated=[False, True, False], v_final=[0.0, 9.0, 0.0])
        array([2., 9., 4.])
    """
    values = as_float_array(v_t, "v_t")
    last = as_float_array(v_last, "v_last")
    if last.shape != values.shape[1:]:
        raise ShapeError(f"v_last has shape {last.shape}, expected {values.shape[1:]}")
    next_values = np.concatenate([values[1:], last[None]], axis=0)
    if truncated is not None:
        trunc = as_bool_array(truncated, "truncated", values.shape)
        if trunc.any():
            if v_final is None:
                raise ShapeError(
                    "truncated steps need v_final, the values of the final observations"
                )
            final = as_float_array(v_final, "v_final")
            check_same_shape("v_t", values, v_final=final)
            next_values = np.where(trunc, final, next_values)
    return like(next_values, v_t)
