"""Clip and Delta: refinements of a process reward model's step rewards for RL.

Gao et al. 2024 ("On Designing Effective RL Reward at Training Time for LLM
Reasoning", arXiv:2410.15115) find that a learned process reward r_k for each
step k of a solution, used as a dense RL reward, is hacked: the return
Σ_k r_k grows with the number of steps, so the policy writes more of them
(repeating an easy, correct step). Two refinements bound the return:

    Clip:   r̃_k = min(r_k − η, 0)                  every step reward ≤ 0
    Delta:  r̃_k = r_k − r_{k+1}   for k < K − 1,    the return from step k
            r̃_{K−1} = r_{K−1},   r̃_K = 0            telescopes to r_k (k < K)

(steps numbered 1..K; the last step, whose score the outcome reward already
judges, gets no process reward, as the paper's figure of Delta shows). Under
Clip, a further step can only lower the return; under Delta, the return from
step k is the PRM's score of step k whatever follows, so repeating steps earns
nothing. The two compose (Clip first, then Delta). ``η`` is a threshold on
the PRM's score, a setting of the run.

The functions take one solution's step rewards (a 1-D array) or a ragged list
of them; NaN (a step the PRM could not score) is refused, since a silent 0 would
change the return.

Example:
    >>> clip_step_rewards([0.9, 0.6, 0.2], eta=0.5).round(2).tolist()
    [0.0, 0.0, -0.3]
    >>> delta_step_rewards([0.9, 0.6, 0.2]).round(2).tolist()
    [0.3, 0.6, 0.0]
    >>> refine_step_rewards([[0.9, 0.9, 0.9]], "clip_delta", eta=0.5)[0].tolist()
    [0.0, 0.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt

from rewardkit.core.errors import ConfigurationError, ShapeError

__all__ = [
    "REFINEMENTS",
    "Refinement",
    "clip_step_rewards",
    "delta_step_rewards",
    "refine_step_rewards",
]

FloatArray = npt.NDArray[np.float64]
Refinement = Literal["none", "clip", "delta", "clip_delta"]
#: every refinement :func:`refine_step_rewards` knows
REFINEMENTS: tuple[str, ...] = get_args(Refinement)


def _steps(rewards: Any) -> FloatArray:
    values = np.asarray(rewards, dtype=np.float64)
    if values.ndim != 1:
        raise ShapeError(f"one solution's step rewards must be 1-D, got shape {values.shape}")
    if np.isnan(values).any():
        raise ValueError("a step reward is NaN: score every step, or leave the solution out")
    return values


def clip_step_rewards(rewards: Any, eta: float) -> FloatArray:
    """Clip: r̃_k = min(r_k − η, 0), so no step adds to the return.

    Args:
        rewards: (K,) one solution's step rewards.
        eta: the threshold; a step scored η or above gets 0.

    Example:
        >>> clip_step_rewards([1.0, 0.2], eta=0.5).tolist()
        [0.0, -0.3]
    """
    if not np.isfinite(eta):
        raise ConfigurationError(f"eta must be finite, got {eta}")
    return np.minimum(_steps(rewards) - eta, 0.0)


def delta_step_rewards(rewards: Any) -> FloatArray:
    """Delta: r̃_k = r_k − r_{k+1} for k < K − 1, r̃_{K−1} = r_{K−1}, and the last step 0.

    The return from step k < K, Σ_{j ≥ k} r̃_j, is r_k: a step's score is
    counted once, however many steps follow; a one-step solution gets 0.

    Example:
        >>> delta_step_rewards([0.5, 0.5, 0.5, 0.5]).tolist()
        [0.0, 0.0, 0.5, 0.0]
    """
    values = _steps(rewards)
    out = np.zeros_like(values)
    if len(values) >= 2:
        out[:-1] = values[:-1]
        out[:-2] -= values[1:-1]
    return out


def refine_step_rewards(
    rewards: Sequence[Any], refinement: Refinement = "none", eta: float = 0.0
) -> list[FloatArray]:
    """Each solution's step rewards under ``refinement`` (``clip_delta``: Clip, then Delta).

    Args:
        rewards: per solution, its (K_i,) step rewards (K_i may be 0).
        refinement: ``none``, ``clip``, ``delta`` or ``clip_delta``.
        eta: Clip's threshold.

    Example:
        >>> [r.tolist() for r in refine_step_rewards([[0.2, 0.8, 0.7], []], "delta")]
        [[-0.6000000000000001, 0.8, 0.0], []]
    """
    if refinement not in REFINEMENTS:
        raise ConfigurationError(f"unknown refinement {refinement!r}; known: {REFINEMENTS}")
    out = []
    for solution in rewards:
        values = _steps(solution)
        if refinement in ("clip", "clip_delta"):
            values = clip_step_rewards(values, eta)
        if refinement in ("delta", "clip_delta") and len(values):
            values = delta_step_rewards(values)
        out.append(values)
    return out
