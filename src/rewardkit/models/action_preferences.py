"""NORA-1.5-style preference pairs over action chunks, from a world model and the ground truth.

NORA-1.5 (Hung et al. 2025, "NORA-1.5: A Vision-Language-Action Model Trained
using World Model- and Action-based Preference Rewards", arXiv 2511.14659)
post-trains a VLA policy with DPO on pairs of its own sampled action chunks. For
each state s (an image and an instruction) the policy samples K candidate chunks
a_1..a_K (five in the authors' code), and each is scored by two rewards:

* a **world-model goal reward**: an action-conditioned world model (V-JEPA 2-AC)
  rolls the chunk forward from the current frame's latent; the *energy* is the
  mean L1 distance between the predicted last-frame latent ẑ_k and the latent z_g
  of the goal (or sub-goal) image:  E_k = mean |ẑ_k − z_g|;
* a **ground-truth action reward**: the mean L1 deviation of the chunk from the
  demonstrated actions a* over the chunk's T steps:  D_k = mean_{t,d} |a_{k,t,d} − a*_{t,d}|.

In the authors' released code (``train_dpo_nora.py``) the two are combined as a
cost, C_k = E_k + 0.1 · D_k, i.e. the reward

    R_k = −(w_wm · E_k + w_act · D_k),   w_wm = 1, w_act = 0.1,

and the pair for state s is (chosen, rejected) = (argmax_k R_k, argmin_k R_k): the
chunk with the least energy and deviation against the one with the most. Setting
``action_weight=0`` gives the world-model-only reward, ``world_model_weight=0`` the
ground-truth-only one.

What is ours: the authors' code keeps a pair even when every candidate scores the
same (then chosen and rejected are the same chunk, a pair DPO cannot learn from);
:func:`action_preference_pairs` drops states whose best-to-worst margin is not above
``min_margin`` (0.0 by default: only exact ties) and reports them. The world model
itself is not here: pass its predicted latents, or the energies directly.

Example:
    >>> rewards = combined_action_reward([[0.2, 0.5, 0.3]], [[1.0, 0.0, 2.0]])
    >>> rewards.round(3)
    array([[-0.3, -0.5, -0.5]])
    >>> action_preference_pairs(rewards).chosen, action_preference_pairs(rewards).rejected
    (array([0]), array([1]))
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rewardkit.core.errors import BatchError, ConfigurationError, ShapeError
from rewardkit.core.output import FloatArray

__all__ = [
    "ActionPreferencePairs",
    "action_deviation",
    "action_preference_pairs",
    "build_action_preferences",
    "combined_action_reward",
    "world_model_energy",
]

IntArray = npt.NDArray[np.int64]


def _finite(values: Any, what: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if not np.isfinite(array).all():
        raise BatchError(
            f"{what} must be finite, got NaN or inf: a candidate that cannot be scored cannot "
            "be ranked; drop that state (or that candidate) before building pairs"
        )
    return array


def world_model_energy(predicted: Any, goal: Any) -> FloatArray:
    """E_{s,k} = mean |ẑ_{s,k} − z_{g,s}|: the world model's distance from the goal.

    Args:
        predicted: ẑ, shape (S, K, ...): the world model's predicted latent after each
            of the K candidate chunks, for each of S states (the authors: the last
            predicted frame's tokens × features).
        goal: z_g, shape (S, ...): the goal (or sub-goal) image's latent, the trailing
            shape of ``predicted``.

    Returns:
        Shape (S, K); lower is closer to the goal.

    Example:
        >>> world_model_energy([[[0.0, 0.0], [1.0, 4.0]]], [[1.0, 1.0]])
        array([[1. , 1.5]])
    """
    z_hat = _finite(predicted, "predicted latents")
    z_goal = _finite(goal, "goal latents")
    if z_hat.ndim < 3 or z_goal.shape != (z_hat.shape[0], *z_hat.shape[2:]):
        raise ShapeError(
            f"predicted must have shape (S, K, ...) and goal (S, ...) with the same trailing "
            f"shape; got predicted {z_hat.shape} and goal {z_goal.shape}"
        )
    diff = np.abs(z_hat - z_goal[:, None])
    energy: FloatArray = diff.reshape(*diff.shape[:2], -1).mean(axis=2)
    return energy


def action_deviation(candidates: Any, ground_truth: Any) -> FloatArray:
    """D_{s,k} = mean_{t,d} |a_{s,k,t,d} − a*_{s,t,d}| over the chunk's T steps.

    Args:
        candidates: a, shape (S, K, T, D): K sampled chunks of T actions of dimension D.
        ground_truth: a*, shape (S, T*, D) with T* ≥ T: the demonstrated actions from
            each state on; the first T are compared (as the authors' code does).

    Returns:
        Shape (S, K); 0 for a chunk equal to the demonstration.

    Example:
        >>> action_deviation([[[[0.0, 1.0]], [[1.0, 1.0]]]], [[[0.0, 0.0], [9.0, 9.0]]])
        array([[0.5, 1. ]])
    """
    a = _finite(candidates, "candidate actions")
    a_star = _finite(ground_truth, "ground-truth actions")
    if a.ndim != 4 or a_star.ndim != 3:
        raise ShapeError(
            f"candidates must have shape (S, K, T, D) and ground_truth (S, T*, D); "
            f"got {a.shape} and {a_star.shape}"
        )
    s, _, t, d = a.shape
    if a_star.shape[0] != s or a_star.shape[2] != d or a_star.shape[1] < t:
        raise ShapeError(
            f"ground_truth must have shape ({s}, T* >= {t}, {d}) for candidates of shape "
            f"{a.shape}, got {a_star.shape}"
        )
    deviation: FloatArray = np.abs(a - a_star[:, None, :t, :]).mean(axis=(2, 3))
    return deviation


def _weight(value: float, what: str) -> float:
    number = float(value)
    if not (math.isfinite(number) and number >= 0):
        raise ConfigurationError(f"{what} must be finite and >= 0, got {value!r}")
    return number


def combined_action_reward(
    energy: Any, deviation: Any, *, world_model_weight: float = 1.0, action_weight: float = 0.1
) -> FloatArray:
    """R_{s,k} = −(w_wm · E_{s,k} + w_act · D_{s,k}) (NORA-1.5; w_act = 0.1 in the authors' code).

    Args:
        energy: E, shape (S, K), from :func:`world_model_energy`.
        deviation: D, shape (S, K), from :func:`action_deviation`.
        world_model_weight: w_wm ≥ 0 (0: ground-truth reward only).
        action_weight: w_act ≥ 0 (0: world-model reward only).

    Example:
        >>> combined_action_reward([[1.0, 2.0]], [[10.0, 0.0]])
        array([[-2., -2.]])
        >>> combined_action_reward([[1.0, 2.0]], [[10.0, 0.0]], action_weight=0.0)
        array([[-1., -2.]])
    """
    e = _finite(energy, "energies")
    dev = _finite(deviation, "action deviations")
    if e.ndim != 2 or dev.shape != e.shape:
        raise ShapeError(
            f"energy and deviation must both have shape (S, K), got {e.shape} and {dev.shape}"
        )
    if (e < 0).any() or (dev < 0).any():
        raise BatchError("energies and deviations are distances and must be >= 0")
    w_wm = _weight(world_model_weight, "world_model_weight")
    w_act = _weight(action_weight, "action_weight")
    if w_wm == 0 and w_act == 0:
        raise ConfigurationError("world_model_weight and action_weight cannot both be 0")
    reward: FloatArray = -(w_wm * e + w_act * dev)
    return reward


@dataclass(frozen=True)
class ActionPreferencePairs:
    """One (chosen, rejected) pair per kept state.

    Attributes:
        state: index of the state each pair comes from, shape (P,).
        chosen: index of the chosen candidate (argmax reward), shape (P,).
        rejected: index of the rejected candidate (argmin reward), shape (P,).
        margin: R_chosen − R_rejected > min_margin, shape (P,).
        dropped: states without a pair (every candidate within ``min_margin``).
    """

    state: IntArray
    chosen: IntArray
    rejected: IntArray
    margin: FloatArray
    dropped: IntArray

    def __len__(self) -> int:
        return int(self.state.shape[0])

    def take(self, candidates: Any) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
        """The chosen and rejected items of ``candidates`` (shape (S, K, ...)), for DPO."""
        array = np.asarray(candidates)
        too_small = (
            array.ndim < 2
            or (len(self) > 0 and array.shape[0] <= int(self.state.max()))
            or (
                len(self) > 0 and array.shape[1] <= int(max(self.chosen.max(), self.rejected.max()))
            )
        )
        if too_small:
            raise ShapeError(f"candidates must have shape (S, K, ...), got {array.shape}")
        return array[self.state, self.chosen], array[self.state, self.rejected]


def action_preference_pairs(rewards: Any, *, min_margin: float = 0.0) -> ActionPreferencePairs:
    """(chosen, rejected) = (argmax_k R_{s,k}, argmin_k R_{s,k}) for each state s.

    Args:
        rewards: R, shape (S, K) with K ≥ 2, higher is better.
        min_margin: keep a state only if max_k R − min_k R > ``min_margin`` (≥ 0); the
            default keeps every state whose candidates are not all tied.

    Ties go to the lowest candidate index (``argmax``/``argmin``).

    Example:
        >>> pairs = action_preference_pairs([[0.1, 0.9, 0.5], [0.3, 0.3, 0.3]])
        >>> pairs.state, pairs.chosen, pairs.rejected, pairs.dropped
        (array([0]), array([1]), array([0]), array([1]))
    """
    r = _finite(rewards, "rewards")
    if r.ndim != 2 or r.shape[1] < 2:
        raise ShapeError(f"rewards must have shape (S, K) with K >= 2 candidates, got {r.shape}")
    margin_floor = _weight(min_margin, "min_margin")
    best = np.argmax(r, axis=1)
    worst = np.argmin(r, axis=1)
    rows = np.arange(r.shape[0])
    margin = r[rows, best] - r[rows, worst]
    keep = margin > margin_floor
    return ActionPreferencePairs(
        state=rows[keep].astype(np.int64),
        chosen=best[keep].astype(np.int64),
        rejected=worst[keep].astype(np.int64),
        margin=margin[keep],
        dropped=rows[~keep].astype(np.int64),
    )


def build_action_preferences(
    candidates: Any,
    ground_truth: Any,
    energy: Any,
    *,
    world_model_weight: float = 1.0,
    action_weight: float = 0.1,
    min_margin: float = 0.0,
) -> ActionPreferencePairs:
    """NORA-1.5's pairs: score K chunks per state by −(E + 0.1·D), pair the best with the worst.

    Args:
        candidates: shape (S, K, T, D), the sampled action chunks.
        ground_truth: shape (S, T*, D), T* ≥ T, the demonstrated actions.
        energy: shape (S, K), the world model's goal energies (see
            :func:`world_model_energy`).
        world_model_weight, action_weight: see :func:`combined_action_reward`.
        min_margin: see :func:`action_preference_pairs`.

    Example:
        >>> cands = [[[[0.0]], [[1.0]]]]  # one state, two one-step chunks
        >>> pairs = build_action_preferences(cands, [[[0.0]]], [[0.5, 0.5]])
        >>> chosen, rejected = pairs.take(cands)
        >>> chosen.tolist(), rejected.tolist()  # equal energy: the chunk nearer a* wins
        ([[[0.0]]], [[[1.0]]])
    """
    deviation = action_deviation(candidates, ground_truth)
    e = _finite(energy, "energies")
    if e.shape != deviation.shape:
        raise ShapeError(
            f"energy must have shape (S, K) = {deviation.shape} like the candidates, got {e.shape}"
        )
    rewards = combined_action_reward(
        e, deviation, world_model_weight=world_model_weight, action_weight=action_weight
    )
    return action_preference_pairs(rewards, min_margin=min_margin)
