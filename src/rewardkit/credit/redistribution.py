"""Redistributing a delayed episodic reward to the steps that earned it.

RUDDER's return decomposition (Arjona-Medina et al. 2019, "RUDDER: Return
Decomposition for Delayed Rewards"): a model predicts, after each prefix of
an episode, the episode's return, g_t ≈ E[G | s_0, a_0, …, s_t, a_t]. The
redistributed reward of step t is the change of that prediction,

    r̃_t = g_t − g_{t−1},   g_{−1} = 0,

and the last step of the episode also gets the prediction's remaining error,
r̃_T += G − g_T, so that Σ_t r̃_t = G: the episode's return, hence the
optimal policies, are unchanged. With a perfect predictor, r̃_t is
r_t − E[r_t | the history before it] plus the change in the expected future
reward; it is exactly the reward step t earned when the expected future
reward of every step is zero (steps with zero-mean independent rewards).

IGPO's turn rewards (information gain, Wang et al. 2025, "Information Gain-
based Policy Optimization"): in a multi-turn episode with a known answer, turn
t is rewarded by how much it raised the policy's probability of the answer,

    r_t = p_t − p_{t−1},   p_t = π(answer | history after turn t),   1 ≤ t < T,

here in probability (``log_space=False``, IGPO's choice) or in log-probability;
the last turn T gets the outcome reward instead, as in IGPO. p_t is the
caller's: IGPO uses the geometric mean of the answer's token probabilities.
Episodes in one call share their number of turns (no mask).

Arrays are time-major, shape (T, ...) with any trailing batch shape, like the
rest of ``credit/``; ``episode_end`` marks each episode's last step
(terminated or truncated). An episode still open at the last row gets no
final correction (its return is not known yet).

Example:
    >>> g = np.array([1.0, 1.0, 3.0, 0.5, 2.0])
    >>> rewards = np.array([0.0, 0.0, 4.0, 0.0, 2.0])  # delayed: paid at each end
    >>> ends = np.array([False, False, True, False, True])
    >>> rudder_redistribution(g, rewards, ends)
    array([1. , 0. , 3. , 0.5, 1.5])
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
    like,
)

__all__ = ["information_gain_rewards", "rudder_redistribution"]


def rudder_redistribution(predictions: Any, rewards: Any, episode_end: Any) -> Any:
    """RUDDER's redistributed rewards from return predictions (see the module docs).

    Args:
        predictions: g_t, the predicted episode return after step t, shape (T, ...).
        rewards: the environment's rewards (delayed or not), same shape; an episode's
            return is their sum over its steps.
        episode_end: True at each episode's last step (terminated or truncated).

    Returns:
        r̃, same shape and type as ``rewards``; over every episode that ends inside the
        arrays, Σ r̃ equals Σ rewards.
    """
    g = as_float_array(predictions, "predictions")
    r = as_float_array(rewards, "rewards")
    if g.ndim == 0:
        raise ShapeError("predictions must have a time axis: shape (T, ...)")
    check_same_shape("predictions", g, rewards=r)
    ends = as_bool_array(episode_end, "episode_end", g.shape)
    check_finite(g, "predictions")
    check_finite(r, "rewards")
    out = np.empty_like(g)
    previous = np.zeros(g.shape[1:])  # g_{t-1}, reset to 0 at each episode's start
    episode_return = np.zeros(g.shape[1:])
    for t in range(g.shape[0]):
        out[t] = g[t] - previous
        episode_return = episode_return + r[t]
        out[t] = np.where(ends[t], out[t] + episode_return - g[t], out[t])
        previous = np.where(ends[t], 0.0, g[t])
        episode_return = np.where(ends[t], 0.0, episode_return)
    return like(out, rewards)


def information_gain_rewards(
    answer_probabilities: Any, outcome: Any, log_space: bool = False
) -> FloatArray:
    """IGPO's turn rewards: the gain of π(answer | history) over each turn but the last, and
    the outcome reward for the last turn.

    Args:
        answer_probabilities: shape (T, ...): p_0, …, p_{T−1}, the policy's probability
            of the known answer before the first turn (row 0) and after each turn but the
            last; in (0, 1].
        outcome: the episode's outcome reward, shape (...).
        log_space: the gain in log-probability instead of probability.

    Returns:
        shape (T, ...): r_t = p_t − p_{t−1} for the first T − 1 turns, then the outcome.

    Example:
        >>> information_gain_rewards(np.array([0.1, 0.4]), 1.0).round(3).tolist()
        [0.3, 1.0]
    """
    p = as_float_array(answer_probabilities, "answer_probabilities")
    if p.ndim == 0 or p.shape[0] < 1:
        raise ShapeError("answer_probabilities needs T >= 1 rows: before each turn")
    check_finite(p, "answer_probabilities")
    if np.any((p <= 0) | (p > 1)):
        raise ShapeError("answer probabilities must be in (0, 1]")
    final = as_float_array(outcome, "outcome")
    if final.shape != p.shape[1:]:
        raise ShapeError(f"outcome has shape {final.shape}, expected {p.shape[1:]}")
    check_finite(final, "outcome")
    values = np.log(p) if log_space else p
    gains: FloatArray = np.concatenate([np.diff(values, axis=0), final[None]], axis=0)
    return gains
