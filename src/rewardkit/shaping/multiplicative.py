"""Multiplicative penalties: CaRL's route-completion reward, as a preset over ``product``.

CaRL (Jaeger et al. 2025, "CaRL: Learning Scalable Planning Policies with Simple
Rewards") drops the usual driving reward, a weighted *sum* of progress, lane,
speed and comfort terms, which PPO fails to optimize once the minibatch grows,
for one intuitive term, route completion, that infractions only ever shrink:

    r_t = RC_t · Π_k p_k^{c_{t,k}}  −  T · d_t

* RC_t is the route completion gained this step (the progress term);
* c_{t,k} counts infraction k in this step and p_k ∈ (0, 1] is its factor, so
  two lane infractions at 0.9 multiply the step's progress by 0.81; a soft
  infraction never makes the reward negative and never pays more than progress;
* d_t marks a *terminating* infraction (in CaRL: collisions and red lights),
  charged a terminal penalty T (1 in the authors' code); the episode itself is
  ended by the environment (its ``terminated`` flag), not by the reward.

The authors' CARLA code (``simple_reward.py``) also multiplies by factors it
computes itself: a speeding factor max(0, 1 − excess speed / 2.23 m/s), a
comfort factor 1 − 0.5 · (share of six comfort limits broken), 0 while the car
is outside its route lanes. Pass such ready-made factors (values in [0, 1]) as
``factors``; they are checked and multiplied in as they are.

:func:`carl_reward` builds the reward from columns or terms on top of
:func:`~rewardkit.core.compose.product`, so every part is logged: the progress,
each infraction's factor and its count (``"collision_factor/collision"``), and the
terminal part. A part that is not applicable (NaN) makes the total NaN with that
part's status, as in any product. :func:`multiplicative_reward` is the same
equation on arrays.

Example:
    >>> reward = carl_reward("progress", {"collision": 0.5, "lane": 0.9})
    >>> out = reward({"progress": [0.5, 0.5, None], "collision": [1, 0, 0], "lane": [2, 0, 0]})
    >>> out.total
    array([0.2025, 0.5   ,    nan])
    >>> sorted(out.terms)  # doctest: +NORMALIZE_WHITESPACE
    ['collision_factor', 'collision_factor/collision', 'lane_factor', 'lane_factor/lane',
     'progress']
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rewardkit.core.builtin import column
from rewardkit.core.compose import Composite, Elementwise, product, weighted_sum
from rewardkit.core.errors import BatchError, CompositionError, ConfigurationError, ShapeError
from rewardkit.core.output import FloatArray
from rewardkit.core.registry import register
from rewardkit.core.term import Term, as_term

__all__ = [
    "CheckedFactor",
    "PenaltyFactor",
    "carl_reward",
    "multiplicative_reward",
]


def _penalty_factor(value: Any, what: str) -> float:
    """A factor in (0, 1]: a penalty may shrink the reward, never zero it out or grow it."""
    try:
        factor = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{what} must be a number in (0, 1], got {value!r}") from None
    if not (math.isfinite(factor) and 0.0 < factor <= 1.0):
        raise ConfigurationError(
            f"{what} must be in (0, 1], got {value!r}: each infraction multiplies the reward "
            "by it (0.5 halves it); to end the episode instead, let the environment terminate "
            "it and charge a terminal penalty (terminal=...)"
        )
    return factor


def _check_counts(values: FloatArray, what: str) -> None:
    seen = values[~np.isnan(values)]
    bad = seen[(seen < 0) | np.isinf(seen)]
    if bad.size:
        raise BatchError(
            f"infraction counts in {what!r} must be finite and ≥ 0, got {bad[0]!r}: "
            "a negative count would turn the penalty into a bonus"
        )


def _check_unit_interval(values: FloatArray, what: str) -> None:
    seen = values[~np.isnan(values)]
    bad = seen[(seen < 0) | (seen > 1)]
    if bad.size:
        raise BatchError(
            f"factor {what!r} must lie in [0, 1], got {bad[0]!r}: "
            "a multiplicative penalty may shrink the reward, never grow it"
        )


def multiplicative_reward(
    progress: Any,
    counts: Any,
    factors: Any,
    terminal: Any = None,
    terminal_penalty: float = 1.0,
) -> FloatArray:
    """r_t = RC_t · Π_k p_k^{c_{t,k}} − T · d_t (CaRL, Jaeger et al. 2025).

    Args:
        progress: RC_t, shape (N,): the progress (route completion) gained per step.
        counts: c_{t,k}, shape (N, K): infractions of each kind per step (≥ 0).
        factors: p_k, shape (K,): each kind's factor, in (0, 1].
        terminal: d_t, shape (N,), or None: marks a terminating infraction.
        terminal_penalty: T ≥ 0, charged where ``terminal`` is 1.

    NaN anywhere in a row gives NaN for that row.

    Example:
        >>> multiplicative_reward([0.5, 0.5], [[1, 2], [0, 0]], [0.5, 0.9])
        array([0.2025, 0.5   ])
        >>> multiplicative_reward([0.5, 0.0], [[0, 0], [1, 0]], [0.5, 0.9], terminal=[0, 1])
        array([ 0.5, -1. ])
    """
    rc = np.asarray(progress, dtype=np.float64)
    c = np.asarray(counts, dtype=np.float64)
    p = np.asarray(factors, dtype=np.float64)
    if rc.ndim != 1:
        raise ShapeError(f"progress must have shape (N,), got {rc.shape}")
    if c.shape != (rc.shape[0], p.shape[0]) or p.ndim != 1:
        raise ShapeError(
            f"counts must have shape (N, K) = ({rc.shape[0]}, {p.shape[0]}) for "
            f"{rc.shape[0]} steps and factors of shape {p.shape}, got {c.shape}"
        )
    for k, factor in enumerate(p):
        _penalty_factor(factor, f"factors[{k}]")
    _check_counts(c.ravel(), "counts")
    reward: FloatArray = rc * np.prod(np.power(p[None, :], c), axis=1)
    if terminal is None:
        return reward
    d = np.asarray(terminal, dtype=np.float64)
    if d.shape != rc.shape:
        raise ShapeError(f"terminal must have shape {rc.shape}, like progress, got {d.shape}")
    penalty = float(terminal_penalty)
    if not (math.isfinite(penalty) and penalty >= 0):
        raise ConfigurationError(
            f"terminal_penalty must be finite and ≥ 0, got {terminal_penalty!r}"
        )
    return reward - penalty * d


class PenaltyFactor(Elementwise):
    """p^c: the factor one kind of infraction applies, from its per-step count c.

    Its part (the count) is logged under ``"<name>/<count name>"``.

    Example:
        >>> from rewardkit.core import column
        >>> PenaltyFactor(column("collision"), 0.5, "collision_factor")(
        ...     {"collision": [0, 1, 2]}).total
        array([1.  , 0.5 , 0.25])
    """

    def __init__(self, count: Any, factor: float, name: str) -> None:
        super().__init__([count], name)
        self.factor = _penalty_factor(factor, f"the factor of {name!r}")

    def transform(self, values: FloatArray) -> FloatArray:
        _check_counts(values, self.parts[0].name)
        powered: FloatArray = np.power(self.factor, values)
        return powered


class CheckedFactor(Elementwise):
    """A factor computed elsewhere (in [0, 1], e.g. CaRL's speeding factor), checked
    and passed through; a value outside [0, 1] raises :class:`BatchError`.

    Example:
        >>> from rewardkit.core import column
        >>> CheckedFactor(column("speeding"))({"speeding": [1.0, 0.25]}).total
        array([1.  , 0.25])
    """

    def __init__(self, part: Any, name: str | None = None) -> None:
        inner = as_term(part)
        super().__init__([inner], name or inner.name)

    def transform(self, values: FloatArray) -> FloatArray:
        _check_unit_interval(values, self.parts[0].name)
        return values


def _part(source: Any, what: str) -> Term:
    """A column name becomes a column term; a term or callable is used as is."""
    if isinstance(source, str):
        return column(source)
    if callable(source):
        return as_term(source)
    raise CompositionError(f"{what} must be a column name or a term, got {source!r}")


def carl_reward(
    progress: Any,
    penalties: Mapping[Any, float],
    *,
    factors: Sequence[Any] = (),
    terminal: Any = None,
    terminal_penalty: float = 1.0,
    name: str = "carl_reward",
) -> Composite:
    """CaRL's reward: progress shrunk by multiplicative penalties, minus a terminal penalty.

    r_t = RC_t · Π_k p_k^{c_{t,k}} · Π_j f_{t,j} − T · d_t (Jaeger et al. 2025).

    Args:
        progress: RC_t, a column name or a term (the route completion gained this step).
        penalties: count → factor p_k ∈ (0, 1]; each key is a column name or a term
            giving the number c_{t,k} ≥ 0 of such infractions in the step.
        factors: ready-made factors f_{t,j} ∈ [0, 1] (column names or terms), such as
            CaRL's speeding and comfort factors, multiplied in as they are.
        terminal: d_t, a column name or a term marking a terminating infraction that
            is charged ``terminal_penalty`` (CaRL: collisions, red lights); None: none.
        terminal_penalty: T ≥ 0 (1.0 in the authors' code).
        name: the composed term's name.

    A missing column raises :class:`~rewardkit.core.errors.MissingColumnError` when
    the reward is called; a count below 0 or a factor outside [0, 1] in a batch
    raises :class:`~rewardkit.core.errors.BatchError`.

    Example:
        >>> reward = carl_reward("progress", {"collision": 0.5}, terminal="crash")
        >>> out = reward({"progress": [0.5, 0.2], "collision": [1, 0], "crash": [0, 1]})
        >>> out.total
        array([ 0.25, -0.8 ])
        >>> out.terms["penalized_progress"]
        array([0.25, 0.2 ])
    """
    if not isinstance(penalties, Mapping):
        raise CompositionError(
            f"penalties must map each infraction count (a column name or a term) to its "
            f"factor, e.g. {{'collision': 0.5}}; got {penalties!r}"
        )
    if isinstance(factors, str):
        factors = (factors,)
    parts: list[Term] = [_part(progress, "progress")]
    for source, factor in penalties.items():
        count = _part(source, "a penalty's count")
        parts.append(PenaltyFactor(count, factor, f"{count.name}_factor"))
    parts.extend(CheckedFactor(_part(f, "a factor")) for f in factors)
    if terminal is None:
        return product(parts, name=name)
    penalty = float(terminal_penalty)
    if not (math.isfinite(penalty) and penalty >= 0):
        raise ConfigurationError(
            f"terminal_penalty must be finite and ≥ 0, got {terminal_penalty!r} "
            "(a negative one would pay the agent for crashing)"
        )
    shrunk = product(parts, name="penalized_progress")
    return weighted_sum([shrunk, _part(terminal, "terminal")], [1.0, -penalty], name=name)


register("carl_reward", carl_reward)
