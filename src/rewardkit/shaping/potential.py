"""Potential-based shaping: F(s, a, s') = γ Φ(s') (1 − terminated) − Φ(s).

Ng, Harada & Russell 1999 ("Policy invariance under reward transformations")
prove that adding F to any reward leaves the optimal policies unchanged, for
any potential Φ; a bonus not of this form can change them. At a terminal
transition Φ(s') is taken as 0, so the shaping telescopes to −Φ(s₀) over an
episode. A truncated transition keeps Φ(s'): the episode was cut, not ended.

Potentials are functions of the observation the agent sees. Named ones can
be used in spec files: the generic ``linear``, ``negative_distance`` and
``coordinate``; any added with :func:`register_potential`; and any a package
announces in the ``rewardkit.potentials`` entry-point group (rewardkit's
MiniGrid view potential, ``minigrid_view_progress``, is one), loaded the
first time an unknown name is asked for. Any callable ``obs (N, d) -> (N,)``
works in Python.

Example:
    >>> shaping_reward(np.array([0.0, 1.0]), np.array([1.0, 2.0]),
    ...                np.array([False, True]), gamma=0.9)
    array([ 0.9, -1. ])
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from typing import Any

import numpy as np

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.errors import ConfigurationError, RewardKitWarning, ShapeError
from rewardkit.core.output import FloatArray
from rewardkit.core.registry import register
from rewardkit.core.term import RewardTerm

__all__ = [
    "POTENTIALS",
    "POTENTIAL_ENTRY_POINT_GROUP",
    "PotentialShaping",
    "PotentialValue",
    "make_potential",
    "register_potential",
    "shaping_reward",
]

Potential = Callable[[np.ndarray], np.ndarray]


def shaping_reward(phi_t: Any, phi_tp1: Any, terminated: Any, gamma: float) -> FloatArray:
    """F = γ Φ(s') (1 − terminated) − Φ(s), elementwise."""
    phi_t = np.asarray(phi_t, dtype=np.float64)
    phi_tp1 = np.asarray(phi_tp1, dtype=np.float64)
    term = np.asarray(terminated, dtype=bool)
    if not phi_t.shape == phi_tp1.shape == term.shape:
        raise ShapeError(
            f"phi_t {phi_t.shape}, phi_tp1 {phi_tp1.shape} and terminated {term.shape} differ"
        )
    if not 0.0 <= gamma <= 1.0:
        raise ShapeError(f"gamma must be in [0, 1], got {gamma}")
    result: FloatArray = gamma * phi_tp1 * (~term) - phi_t
    return result


def _observations(values: Any) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    return array.reshape(array.shape[0], -1)


def _linear(weights: Sequence[float], bias: float = 0.0) -> Potential:
    w = np.asarray(weights, dtype=np.float64)
    return lambda obs: _observations(obs) @ w + bias


def _negative_distance(goal: Sequence[float], scale: float = 1.0) -> Potential:
    g = np.asarray(goal, dtype=np.float64)
    return lambda obs: -scale * np.linalg.norm(_observations(obs) - g, axis=1)


def _coordinate(index: int, scale: float = 1.0) -> Potential:
    return lambda obs: scale * _observations(obs)[:, index]


#: spec-nameable potentials: name -> factory(**params) -> Φ
POTENTIALS: dict[str, Callable[..., Potential]] = {
    "linear": _linear,
    "negative_distance": _negative_distance,
    "coordinate": _coordinate,
}
#: the entry-point group of named potentials (``name = "module:factory"``)
POTENTIAL_ENTRY_POINT_GROUP = "rewardkit.potentials"


def register_potential(
    name: str, factory: Callable[..., Potential] | None = None
) -> Callable[..., Any]:
    """Name a potential factory ``factory(**params) -> Φ`` so specs can use it; a decorator too.

    Raises:
        ConfigurationError: if ``name`` is taken by another factory.

    Example:
        >>> @register_potential("doc_height")
        ... def height(scale: float = 1.0):
        ...     return lambda obs: scale * np.asarray(obs, dtype=float)[:, 1]
        >>> make_potential("doc_height", {"scale": 2.0})(np.array([[0.0, 3.0]]))
        array([6.])
    """

    def add(make: Callable[..., Potential]) -> Callable[..., Potential]:
        if not callable(make):
            raise ConfigurationError(
                f"cannot register {make!r} as potential {name!r}: not callable"
            )
        existing = POTENTIALS.get(name)
        if existing is not None and existing is not make:
            raise ConfigurationError(f"a potential named {name!r} is already registered")
        POTENTIALS[name] = make
        return make

    return add(factory) if factory is not None else add


def _importable(obj: Any) -> bool:
    """Whether pickle can find ``obj`` again by its module and qualified name."""
    module = sys.modules.get(getattr(obj, "__module__", "") or "")
    target: Any = module
    for part in str(getattr(obj, "__qualname__", "<lambda>")).split("."):
        target = getattr(target, part, None)
    return target is obj


def _load_potential_entry_points(name: str) -> None:
    for point in entry_points(group=POTENTIAL_ENTRY_POINT_GROUP, name=name):
        try:
            register_potential(name, point.load())
        except Exception as exc:  # a broken plugin must not break the other potentials
            warnings.warn(
                f"potential entry point {name!r} = {point.value!r} failed to load: {exc}",
                RewardKitWarning,
                stacklevel=3,
            )


def make_potential(potential: str | Potential, params: dict[str, Any] | None = None) -> Potential:
    """A potential from a registered name and parameters, or a callable as is."""
    if callable(potential):
        return potential
    if potential not in POTENTIALS:
        _load_potential_entry_points(potential)
    try:
        factory = POTENTIALS[potential]
    except KeyError:
        raise ConfigurationError(
            f"unknown potential {potential!r}; choose from {sorted(POTENTIALS)}, "
            "register one with register_potential, or pass a callable"
        ) from None
    try:
        return factory(**(params or {}))
    except TypeError as exc:
        raise ConfigurationError(f"potential {potential!r}: {exc}") from None


class _PotentialTerm(RewardTerm):
    def __init__(
        self, potential: str | Potential, potential_params: dict[str, Any] | None, name: str
    ):
        super().__init__(name)
        self.potential_spec = (potential, dict(potential_params or {}))
        self.potential = make_potential(potential, potential_params)
        # A named potential is pickled by name, with its factory where that is importable,
        # so a worker process rebuilds it even where the module that registered it was never
        # imported (named potentials from entry points are found by name anyway).
        self._factory = None if callable(potential) else POTENTIALS[potential]

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if not callable(self.potential_spec[0]):
            state.pop("potential")  # a closure: rebuilt on unpickling
            if not _importable(self._factory):
                state["_factory"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if "potential" in state:
            return
        name, params = self.potential_spec
        factory = state.get("_factory")
        if factory is not None and isinstance(name, str) and name not in POTENTIALS:
            register_potential(name, factory)
        self.potential = make_potential(name, params)

    def _phi(self, values: Any) -> FloatArray:
        phi = np.asarray(self.potential(np.asarray(values)), dtype=np.float64).reshape(-1)
        if phi.shape[0] != len(values):
            raise ShapeError(
                f"the potential returned {phi.shape[0]} values for {len(values)} states"
            )
        return phi


@register("potential_shaping")
class PotentialShaping(_PotentialTerm):
    """Potential-based shaping F = γ Φ(s') (1 − terminated) − Φ(s) (reads obs, next_obs,
    terminated)."""

    columns = ("obs", "next_obs", "terminated")

    def __init__(
        self,
        potential: str | Potential,
        potential_params: dict[str, Any] | None = None,
        gamma: float = 0.99,
        name: str = "potential_shaping",
    ) -> None:
        super().__init__(potential, potential_params, name)
        if not 0.0 <= float(gamma) <= 1.0:
            raise ConfigurationError(f"gamma must be in [0, 1], got {gamma}")
        self.gamma = float(gamma)

    def _compute(self, batch: Batch) -> FloatArray:
        obs, next_obs = get_column(batch, "obs"), get_column(batch, "next_obs")
        terminated = batch.get("terminated", np.zeros(len(obs), dtype=bool))
        return shaping_reward(self._phi(obs), self._phi(next_obs), terminated, self.gamma)


@register("next_state_value")
class PotentialValue(_PotentialTerm):
    """A state reward r(s, a, s') = Φ(s'), e.g. progress toward a goal (reads next_obs)."""

    columns = ("next_obs",)

    def __init__(
        self,
        potential: str | Potential,
        potential_params: dict[str, Any] | None = None,
        name: str = "next_state_value",
    ) -> None:
        super().__init__(potential, potential_params, name)

    def _compute(self, batch: Batch) -> FloatArray:
        return self._phi(get_column(batch, "next_obs"))
