"""A blended reward: the primary reward plus weighted heuristic rewards, with weights to learn.

BARFI (Gupta, Chandak, Jordan, Thomas & da Silva 2023, "Behavior Alignment via
Reward Function Optimization", NeurIPS; arXiv 2310.19007) trains a policy on a
*behavior alignment reward* that blends the environment's primary reward r_p
with a designer's heuristic (auxiliary) rewards, and learns the blend so that
the policy it produces maximises the primary return. This module is the blend;
the bi-level loop that learns its weights is :mod:`rewardkit.train.barfi`.

With K heuristic rewards h_1 … h_K (columns of a batch, or terms) and weights φ:

    r_φ(s, a) = r_p(s, a) + Σ_{i=1}^{K} φ_i · h_i(s, a)

The weights here are scalars and the primary reward's weight is fixed at 1
(the paper lets both weights depend on (s, a); fixing the primary weight keeps
the scale of r_φ tied to the task's). A heuristic the designer got wrong (a
"loitering" bonus that pays for standing still) should end with a small or
negative φ_i; one that agrees with the task, with a large one.

:func:`blend_rewards` is the equation on arrays; :class:`RewardBlend` holds
the names and the current weights and scores a batch as a composed term, so
every part is logged.

Example:
    >>> blend_rewards([1.0, 0.0], [[0.5, 1.0], [0.0, 2.0]], [1.0, -0.5])
    array([ 1., -1.])
    >>> blend = RewardBlend("reward", ["progress", "fountain"], weights=[1.0, 0.25])
    >>> out = blend({"reward": [0.0, 1.0], "progress": [0.1, 0.1], "fountain": [1.0, 0.0]})
    >>> out.total
    array([0.35, 1.1 ])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rewardkit.core.batch import Batch
from rewardkit.core.builtin import column
from rewardkit.core.compose import Composite, weighted_sum
from rewardkit.core.errors import BatchError, CompositionError, ConfigurationError, ShapeError
from rewardkit.core.output import FloatArray, RewardOutput
from rewardkit.core.term import Term, as_term

__all__ = ["NAN_POLICIES", "RewardBlend", "blend_rewards", "blend_weights"]

#: what :func:`blend_rewards` does with a NaN (a reward that does not apply) in a row
NAN_POLICIES = ("propagate", "raise")


def blend_weights(weights: Any, size: int | None = None, what: str = "weights") -> FloatArray:
    """φ as a finite float64 vector (K,), checked; ``size``: the K it must have.

    Example:
        >>> blend_weights([1, 0.5])
        array([1. , 0.5])
    """
    try:
        phi = np.array(weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{what} must be numbers, got {weights!r}") from None
    if phi.ndim != 1:
        raise ShapeError(f"{what} must have shape (K,), one per heuristic, got {phi.shape}")
    if size is not None and phi.shape[0] != size:
        raise ShapeError(f"{what} must have one weight per heuristic ({size}), got {phi.shape[0]}")
    if not np.all(np.isfinite(phi)):
        raise ConfigurationError(
            f"{what} must be finite, got {phi.tolist()}: a NaN or infinite weight "
            "would make every blended reward NaN or infinite"
        )
    return phi


def blend_rewards(
    primary: Any, heuristics: Any, weights: Any, *, nan: str = "propagate"
) -> FloatArray:
    """r_φ = r_p + Σ_i φ_i · h_i (the blend of BARFI, Gupta et al. 2023).

    Args:
        primary: r_p, shape (N,): the environment's (primary) reward.
        heuristics: h, shape (N, K): K heuristic rewards per sample.
        weights: φ, shape (K,): one finite weight per heuristic.
        nan: ``"propagate"`` (default): a NaN anywhere in a row makes that row's
            blend NaN (not applicable, never a silent 0); ``"raise"``: a NaN raises
            :class:`~rewardkit.core.errors.BatchError` naming the row and column.

    Returns:
        r_φ, float64 array (N,).

    Example:
        >>> blend_rewards([1.0, 0.0, 0.0], [[0.0, 0.0], [1.0, 1.0], [np.nan, 1.0]], [0.5, -1.0])
        array([ 1. , -0.5,  nan])
        >>> blend_rewards([1.0], [[np.nan]], [0.5], nan="raise")
        Traceback (most recent call last):
        ...
        rewardkit.core.errors.BatchError: heuristic 0 is NaN (not applicable) in row 0; ...
    """
    if nan not in NAN_POLICIES:
        raise ConfigurationError(f"nan must be one of {NAN_POLICIES}, got {nan!r}")
    r_p = np.asarray(primary, dtype=np.float64)
    h = np.asarray(heuristics, dtype=np.float64)
    if r_p.ndim != 1:
        raise ShapeError(f"primary must have shape (N,), got {r_p.shape}")
    if h.ndim != 2 or h.shape[0] != r_p.shape[0]:
        raise ShapeError(
            f"heuristics must have shape (N, K) with N = {r_p.shape[0]} like primary, got {h.shape}"
        )
    phi = blend_weights(weights, h.shape[1])
    if nan == "raise":
        if np.isnan(r_p).any():
            row = int(np.flatnonzero(np.isnan(r_p))[0])
            raise BatchError(f"the primary reward is NaN (not applicable) in row {row}")
        if np.isnan(h).any():
            row, col = (int(i) for i in np.argwhere(np.isnan(h))[0])
            raise BatchError(
                f"heuristic {col} is NaN (not applicable) in row {row}; give it a value "
                "there (0.0 if it should not count) or blend with nan='propagate'"
            )
    # an explicit sum, not h @ φ: a NaN times a weight of 0 must stay NaN
    blended: FloatArray = r_p + (h * phi[None, :]).sum(axis=1)
    return blended


def _part(source: Any, what: str) -> Term:
    """A column name becomes a column term; a term or callable is used as is."""
    if isinstance(source, str):
        return column(source)
    if callable(source):
        return as_term(source)
    raise CompositionError(f"{what} must be a column name or a term, got {source!r}")


class RewardBlend:
    """The blend r_φ = r_p + Σ_i φ_i · h_i as a term whose weights φ can be changed.

    Each call composes a :func:`~rewardkit.core.compose.weighted_sum` with the
    current weights, so every part is logged under its name and a part that is
    not applicable makes the total NaN with that part's status.

    Args:
        primary: r_p: a column name (``"reward"``: the environment's) or a term.
        heuristics: h_1 … h_K: column names or terms, or a mapping of them to
            their initial weights.
        weights: φ, one per heuristic (default: the mapping's values, else all 1.0).
        name: the term's name (its logging key).

    Example:
        >>> blend = RewardBlend("reward", {"progress": 1.0, "fountain": 1.0})
        >>> blend.weights = [2.0, -1.0]
        >>> blend.named_weights()
        {'progress': 2.0, 'fountain': -1.0}
        >>> blend({"reward": [1.0], "progress": [0.5], "fountain": [1.0]}).total
        array([1.])
    """

    def __init__(
        self,
        primary: Any = "reward",
        heuristics: Sequence[Any] | Mapping[Any, float] = (),
        weights: Any = None,
        name: str = "blend",
    ) -> None:
        if isinstance(heuristics, str):
            heuristics = (heuristics,)
        initial: Any = weights
        if isinstance(heuristics, Mapping):
            if weights is None:
                initial = list(heuristics.values())
            heuristics = list(heuristics)
        self.primary = _part(primary, "primary")
        self.heuristics = [_part(h, "a heuristic") for h in heuristics]
        if not self.heuristics:
            raise CompositionError("a blend needs at least one heuristic reward to weigh")
        names = [self.primary.name, *(h.name for h in self.heuristics)]
        if len(set(names)) != len(names):
            raise CompositionError(f"the blend's parts need distinct names, got {names}")
        self.name = name
        self._weights = blend_weights(
            [1.0] * len(self.heuristics) if initial is None else initial, len(self.heuristics)
        )

    @property
    def weights(self) -> FloatArray:
        """φ, a copy (K,); assign a new vector to change it (it is checked)."""
        return self._weights.copy()

    @weights.setter
    def weights(self, value: Any) -> None:
        self._weights = blend_weights(value, len(self.heuristics))

    @property
    def heuristic_names(self) -> list[str]:
        """The heuristics' names, in the order of :attr:`weights`."""
        return [h.name for h in self.heuristics]

    def named_weights(self) -> dict[str, float]:
        """Heuristic name → φ_i (JSON-able, for logs)."""
        return {h.name: float(w) for h, w in zip(self.heuristics, self._weights, strict=True)}

    def term(self) -> Composite:
        """The blend with the current weights as a composed term."""
        return weighted_sum(
            [self.primary, *self.heuristics], [1.0, *self._weights.tolist()], name=self.name
        )

    def columns(self, batch: Batch) -> tuple[FloatArray, FloatArray]:
        """(r_p (N,), h (N, K)) of ``batch``: what :func:`blend_rewards` takes; NaN kept."""
        primary = self.primary(batch).total
        stacked = [h(batch).total for h in self.heuristics]
        return primary, np.stack(stacked, axis=1)

    def __call__(self, batch: Batch) -> RewardOutput:
        return self.term()(batch)

    def update(self, batch: Batch) -> dict[str, float]:
        """Stateless: nothing to learn from a batch (the weights are set from outside)."""
        return {}

    def __repr__(self) -> str:
        weights = ", ".join(f"{k}={v:g}" for k, v in self.named_weights().items())
        return f"RewardBlend({self.primary.name!r}, {weights}, name={self.name!r})"
