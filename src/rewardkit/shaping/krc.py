"""Lucy-SKG's Kinesthetic Reward Combination (KRC) and its distance reward shapes.

Lucy-SKG (Moschopoulos, Kyriakidis, Lazaridis & Vlahavas 2023, "Lucy-SKG:
Learning to Play Rocket League Efficiently Using Deep Reinforcement Learning",
arXiv 2305.15801) replaces the weighted *sum* of utility sub-rewards (ball
alignment, player-to-ball velocity, distance, ...) by a combination that is high
only when every component is high, the KRC (paper eq. 2):

    R_c = sgn · (Π_{i=1..n} |R_i|)^{1/n},   sgn = +1 if R_i > 0 for every i, else −1

a signed geometric mean: one poor component cannot be covered by a good one (a
zero component gives 0), and the result is negative as soon as any component is
negative (a "logical AND" of the components, in the authors' code). Its distance
sub-rewards are parameterized by a dispersion w_dis and a density w_den (eq. 3):

    R_dist = (exp(−0.5 · d / (c_d · w_dis)))^{1/w_den}

with c_d a distance scale (Rocket League: the car's or the ball's top speed).
Dispersion stretches the curve over distance, density makes it steeper (< 1) or
flatter (> 1). The authors' library (``lucy-utils``) also has a *signed* variant,
2·(exp(−0.5 d / (c_d w_dis)) − 0.5), with the density applied sign-preservingly:
:func:`signed_distance_reward`.

:func:`krc` and the shape functions are pure array functions; :func:`krc_reward`
builds the KRC term from columns or terms (each component logged under its
name), and :class:`DistanceShape` turns a distance column into eq. 3's reward.
The Rocket League physics that produce the components (alignment, velocities)
are not here: pass them as columns.

Example:
    >>> krc([[1.0, 0.25], [-1.0, 0.25], [0.0, 1.0]])
    array([ 0.5, -0.5,  0. ])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from rewardkit.core.batch import Batch
from rewardkit.core.builtin import column
from rewardkit.core.compose import Composite, Elementwise, StatusArray
from rewardkit.core.errors import BatchError, CompositionError, ConfigurationError, ShapeError
from rewardkit.core.output import FloatArray, RewardOutput, worst_status
from rewardkit.core.term import Term, as_term

__all__ = [
    "KRC",
    "DistanceShape",
    "distance_reward",
    "krc",
    "krc_reward",
    "signed_distance_reward",
]


def _components(values: Any) -> FloatArray:
    """R_i as shape (N, n); inf is an error, NaN marks a sample not applicable."""
    r = np.asarray(values, dtype=np.float64)
    if r.ndim != 2 or r.shape[1] == 0:
        raise ShapeError(
            f"KRC components must have shape (N, n) with n >= 1 (one row per sample, one "
            f"column per sub-reward), got {r.shape}"
        )
    if np.isinf(r).any():
        raise BatchError(
            "KRC components must be finite, got inf: normalize each sub-reward "
            "(Lucy-SKG's lie in [-1, 1]) before combining them"
        )
    return r


def krc(components: Any) -> FloatArray:
    """R_c = sgn · (Π_i |R_i|)^{1/n}, sgn = +1 iff every R_i > 0, else −1 (Lucy-SKG eq. 2).

    Args:
        components: R_i, shape (N, n): n sub-rewards for each of N samples, each
            normalized (Lucy-SKG's lie in [-1, 1]).

    Returns:
        Shape (N,). A row with a zero component gives 0.0; a row with a NaN
        (not applicable) component gives NaN.

    Raises:
        ShapeError: if ``components`` is not 2-D with at least one column.
        BatchError: if a component is infinite.

    Example:
        >>> krc([[1.0, 0.25], [-1.0, 0.25], [-1.0, -0.25], [0.5, float("nan")]])
        array([ 0.5, -0.5, -0.5,  nan])
        >>> float(krc([[0.8, 0.5, 0.2]])[0])  # (0.08)^(1/3): all three must be high
        0.4308869380063768
    """
    r = _components(components)
    n = r.shape[1]
    with np.errstate(invalid="ignore"):
        magnitude = np.prod(np.abs(r), axis=1) ** (1.0 / n)
        positive = np.all(r > 0, axis=1)
    out: FloatArray = np.where(positive, magnitude, -magnitude)
    out[magnitude == 0] = 0.0  # no −0.0: a zero component means no reward either way
    out[np.isnan(r).any(axis=1)] = np.nan
    return out


def _shape_params(scale: float, dispersion: float, density: float) -> tuple[float, float, float]:
    params = []
    for value, what in ((scale, "scale"), (dispersion, "dispersion"), (density, "density")):
        number = float(value)
        if not (math.isfinite(number) and number > 0):
            raise ConfigurationError(
                f"{what} must be finite and > 0, got {value!r} (Lucy-SKG uses scale = the car's "
                "or ball's top speed, dispersion and density near 1)"
            )
        params.append(number)
    return params[0], params[1], params[2]


def _distances(values: Any) -> FloatArray:
    d = np.asarray(values, dtype=np.float64)
    if d.ndim != 1:
        raise ShapeError(f"distance must have shape (N,), got {d.shape}")
    seen = d[~np.isnan(d)]
    bad = seen[(seen < 0) | np.isinf(seen)]
    if bad.size:
        raise BatchError(
            f"distances must be finite and >= 0, got {bad[0]!r}: subtract the ball radius "
            "(or goal depth) and clip at 0 before shaping"
        )
    return d


def distance_reward(
    distance: Any, scale: float, dispersion: float = 1.0, density: float = 1.0
) -> FloatArray:
    """R_dist = (exp(−0.5 · d / (c_d · w_dis)))^{1/w_den} (Lucy-SKG eq. 3).

    Args:
        distance: d ≥ 0, shape (N,) (NaN: not applicable, kept).
        scale: c_d > 0, the distance scale.
        dispersion: w_dis > 0; larger spreads the reward over longer distances.
        density: w_den > 0; below 1 makes the curve steeper, above 1 flatter.

    Returns:
        Shape (N,), in (0, 1], 1 at distance 0.

    Example:
        >>> distance_reward([0.0, 2.0, 4.0], scale=2.0)
        array([1.        , 0.60653066, 0.36787944])
        >>> distance_reward([4.0], scale=2.0, dispersion=2.0, density=0.5)  # exp(-0.5)^2
        array([0.36787944])
    """
    c_d, w_dis, w_den = _shape_params(scale, dispersion, density)
    d = _distances(distance)
    shaped: FloatArray = np.exp(-0.5 * d / (c_d * w_dis)) ** (1.0 / w_den)
    return shaped


def signed_distance_reward(
    distance: Any, scale: float, dispersion: float = 1.0, density: float = 1.0
) -> FloatArray:
    """r = 2 · (exp(−0.5 · d / (c_d · w_dis)) − 0.5), then |r|^{1/w_den} · sign(r).

    The signed form of eq. 3 from the authors' ``lucy-utils``
    (``SignedLiuDistanceBallToGoalReward``): +1 at distance 0, 0 where
    exp(−0.5 d / (c_d w_dis)) = 1/2 (d = 2 ln 2 · c_d · w_dis), tending to −1 far away.

    Example:
        >>> signed_distance_reward([0.0, 2 * math.log(2), 100.0], scale=1.0).round(6)
        array([ 1.,  0., -1.])
    """
    c_d, w_dis, w_den = _shape_params(scale, dispersion, density)
    d = _distances(distance)
    r = 2.0 * (np.exp(-0.5 * d / (c_d * w_dis)) - 0.5)
    shaped: FloatArray = np.abs(r) ** (1.0 / w_den) * np.sign(r)
    return shaped


class KRC(Composite):
    """The KRC of its parts' values (Lucy-SKG eq. 2), each part logged under its name.

    A part that is not applicable (NaN) makes the sample NaN with that part's status;
    an infinite part raises :class:`~rewardkit.core.errors.BatchError`.

    Example:
        >>> from rewardkit.core import column
        >>> out = KRC([column("align"), column("speed")], "offensive")(
        ...     {"align": [1.0, -0.5], "speed": [0.25, 0.5]})
        >>> out.total
        array([ 0.5, -0.5])
        >>> sorted(out.terms)
        ['align', 'speed']
    """

    def _combine(
        self, outputs: list[RewardOutput], batch: Batch
    ) -> tuple[FloatArray, StatusArray, dict[str, FloatArray]]:
        stacked = np.stack([o.total for o in outputs], axis=1)
        return krc(stacked), worst_status(*(o.status for o in outputs)), {}


def _part(source: Any) -> Term:
    if isinstance(source, str):
        return column(source)
    if callable(source):
        return as_term(source)
    raise CompositionError(f"a KRC component must be a column name or a term, got {source!r}")


def krc_reward(components: Sequence[Any], *, name: str = "krc") -> KRC:
    """The KRC of several sub-rewards, given as column names or terms.

    Args:
        components: n ≥ 1 column names or terms, each giving a normalized sub-reward.
        name: the composed term's name (a logging key).

    Example:
        >>> reward = krc_reward(["align", "speed", "closeness"], name="offensive_potential")
        >>> reward({"align": [1.0], "speed": [0.5], "closeness": [0.25]}).total
        array([0.5])
    """
    if isinstance(components, str) or not isinstance(components, Sequence):
        raise CompositionError(
            f"components must be a list of column names or terms, got {components!r}"
        )
    return KRC([_part(c) for c in components], name)


class DistanceShape(Elementwise):
    """Lucy-SKG eq. 3 applied to a distance column or term (``signed=True``: the
    authors' signed variant).

    Example:
        >>> DistanceShape("dist", scale=2.0)({"dist": [0.0, 4.0]}).total
        array([1.        , 0.36787944])
    """

    def __init__(
        self,
        distance: Any,
        scale: float,
        dispersion: float = 1.0,
        density: float = 1.0,
        *,
        signed: bool = False,
        name: str | None = None,
    ) -> None:
        inner = _part(distance)
        super().__init__([inner], name or f"{inner.name}_shaped")
        self.scale, self.dispersion, self.density = _shape_params(scale, dispersion, density)
        self.signed = bool(signed)

    def transform(self, values: FloatArray) -> FloatArray:
        shape = signed_distance_reward if self.signed else distance_reward
        return shape(values, self.scale, self.dispersion, self.density)
