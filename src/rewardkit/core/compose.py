"""Composition: small terms, named and combined into one reward.

Every operator returns a term, so compositions nest. A composed term's
output lists each part under its name (nested parts as ``"parent/child"``),
which become logging keys, like optax's ``named_chain``.

Missing rewards stay missing: by default a sample whose part is not
applicable (NaN) has a NaN total with the part's status, so a verifier
timeout never turns into a score. Operators that only *sometimes* use a part
(``gate``, ``conditional``, ``group_switch``, in :mod:`rewardkit.core.gating`)
ignore that part's status where they do not use it.

Example:
    >>> from rewardkit.core.term import term
    >>> @term
    ... def correct(completion, answer):
    ...     return [float(c == a) for c, a in zip(completion, answer)]
    >>> @term
    ... def brevity(completion):
    ...     return [-len(c) / 10 for c in completion]
    >>> reward = weighted_sum([correct, brevity], weights=[1.0, 0.5], name="reward")
    >>> out = reward({"completion": ["42", "41 or 42"], "answer": ["42", "42"]})
    >>> out.total
    array([ 0.9, -0.4])
    >>> sorted(out.terms)
    ['brevity', 'correct']
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from rewardkit.core.batch import Batch, batch_size
from rewardkit.core.errors import CompositionError
from rewardkit.core.output import FloatArray, RewardOutput, Status, worst_status
from rewardkit.core.term import RewardTerm, Term, as_term, column_names

__all__ = ["Composite", "Elementwise", "affine", "clip", "product", "weighted_sum"]

StatusArray = npt.NDArray[np.int8]


def _finite(value: Any, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise CompositionError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise CompositionError(f"{what} must be finite, got {value!r}")
    return number


class Composite(RewardTerm):
    """Base class of composed terms: evaluates its parts, then ``_combine``.

    Subclasses implement ``_combine(outputs, batch) -> (total, status)`` where
    ``outputs`` are the parts' outputs in order. ``update()`` forwards to every
    part and prefixes their metrics with the part's name.
    """

    #: names of extra diagnostic arrays a subclass adds to ``terms``
    diagnostics: tuple[str, ...] = ()

    def __init__(self, parts: Sequence[Any], name: str) -> None:
        super().__init__(name)
        if not parts:
            raise CompositionError(f"{type(self).__name__} {name!r} needs at least one term")
        self.parts: list[Term] = [as_term(p) for p in parts]
        names = [p.name for p in self.parts]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise CompositionError(
                f"{name!r} combines several terms named {duplicates}; give each a distinct "
                "name (e.g. the name= argument of its factory) so its logs stay separate"
            )
        clash = set(names) & set(self.diagnostics)
        if clash:
            raise CompositionError(f"term names {sorted(clash)} are reserved inside {name!r}")
        self.columns = column_names(self.parts)

    def __call__(self, batch: Batch) -> RewardOutput:
        n = batch_size(batch)
        outputs = [part(batch) for part in self.parts]
        total, status, extra = self._combine(outputs, batch)
        terms: dict[str, FloatArray] = {}
        for part, out in zip(self.parts, outputs, strict=True):
            terms[part.name] = out.total
            for key, values in out.terms.items():
                if key != part.name:
                    terms[f"{part.name}/{key}"] = values
        terms.update(extra)
        result = RewardOutput(total, terms, status)
        if len(result) != n:  # pragma: no cover - parts are checked individually
            raise CompositionError(f"{self.name!r} produced {len(result)} values for {n} samples")
        return result  # each part applied its own needs_answer rule

    def _compute(self, batch: Batch) -> Any:  # pragma: no cover - __call__ is overridden
        return self(batch)

    @abc.abstractmethod
    def _combine(
        self, outputs: list[RewardOutput], batch: Batch
    ) -> tuple[FloatArray, StatusArray, dict[str, FloatArray]]:
        """Return (total, status, extra diagnostic terms) from the parts' outputs."""

    def update(self, batch: Batch) -> dict[str, float]:
        metrics: dict[str, float] = {}
        for part in self.parts:
            update = getattr(part, "update", None)
            if update is not None:
                for key, value in (update(batch) or {}).items():
                    metrics[f"{part.name}/{key}"] = value
        return metrics

    def __repr__(self) -> str:
        inner = ", ".join(repr(p) for p in self.parts)
        return f"{type(self).__name__}({inner}, name={self.name!r})"


def _joint_status(outputs: Sequence[RewardOutput]) -> StatusArray:
    return worst_status(*(o.status for o in outputs))


class WeightedSum(Composite):
    def __init__(
        self, parts: Sequence[Any], weights: Sequence[float], name: str, skip_missing: bool
    ) -> None:
        super().__init__(parts, name)
        if len(weights) != len(self.parts):
            raise CompositionError(
                f"{name!r} has {len(self.parts)} terms but {len(weights)} weights"
            )
        self.weights = [
            _finite(w, f"weight of {p.name!r}") for w, p in zip(weights, self.parts, strict=True)
        ]
        self.skip_missing = skip_missing

    def _combine(
        self, outputs: list[RewardOutput], batch: Batch
    ) -> tuple[FloatArray, StatusArray, dict[str, FloatArray]]:
        stacked = np.stack([w * o.total for w, o in zip(self.weights, outputs, strict=True)])
        if not self.skip_missing:
            return stacked.sum(axis=0), _joint_status(outputs), {}
        any_ok = np.any(~np.isnan(stacked), axis=0)
        total = np.where(any_ok, np.nansum(stacked, axis=0), np.nan)
        status = np.where(any_ok, Status.OK, _joint_status(outputs)).astype(np.int8)
        return total, status, {}


def weighted_sum(
    terms: Sequence[Any],
    weights: Sequence[float] | Mapping[str, float] | None = None,
    *,
    name: str = "reward",
    skip_missing: bool = False,
) -> Composite:
    """Σ_k w_k · r_k.

    Args:
        terms: the parts (terms or plain functions).
        weights: one weight per term, or a mapping term name → weight
            (unlisted terms get 1.0). Default: all 1.0.
        name: the composed term's name.
        skip_missing: if True a NaN part contributes nothing (the total is NaN
            only if every part is); if False (default) any NaN part makes the
            total NaN, with that part's status.

    Example:
        >>> from rewardkit.core.term import term
        >>> a = term(lambda reward: reward, name="env")
        >>> b = term(lambda reward: [None, 1.0], name="bonus")
        >>> weighted_sum([a, b], {"bonus": 0.1})({"reward": [1.0, 2.0]}).total
        array([nan, 2.1])
        >>> weighted_sum([a, b], {"bonus": 0.1}, skip_missing=True)({"reward": [1.0, 2.0]}).total
        array([1. , 2.1])
    """
    parts = [as_term(t) for t in terms]
    if weights is None:
        weight_list = [1.0] * len(parts)
    elif isinstance(weights, Mapping):
        unknown = set(weights) - {p.name for p in parts}
        if unknown:
            raise CompositionError(
                f"weights name unknown terms {sorted(unknown)}; terms are {[p.name for p in parts]}"
            )
        weight_list = [weights.get(p.name, 1.0) for p in parts]
    else:
        weight_list = list(weights)
    return WeightedSum(parts, weight_list, name, skip_missing)


class Product(Composite):
    def _combine(
        self, outputs: list[RewardOutput], batch: Batch
    ) -> tuple[FloatArray, StatusArray, dict[str, FloatArray]]:
        total = np.prod(np.stack([o.total for o in outputs]), axis=0)
        return total, _joint_status(outputs), {}


def product(terms: Sequence[Any], *, name: str = "product") -> Composite:
    """Π_k r_k, for multiplicative penalties (e.g. correctness × format factor).

    Example:
        >>> from rewardkit.core.term import term
        >>> correct = term(lambda c: [1.0, 1.0, 0.0], name="correct")
        >>> factor = term(lambda c: [1.0, 0.5, 0.5], name="format_factor")
        >>> product([correct, factor])({"c": [0, 0, 0]}).total
        array([1. , 0.5, 0. ])
    """
    return Product(terms, name)


class Elementwise(Composite):
    """A single part transformed sample by sample (clip, affine, tiered)."""

    @abc.abstractmethod
    def transform(self, values: FloatArray) -> FloatArray:
        """Map the part's values to this term's values (NaN stays NaN)."""

    def _combine(
        self, outputs: list[RewardOutput], batch: Batch
    ) -> tuple[FloatArray, StatusArray, dict[str, FloatArray]]:
        (out,) = outputs
        with np.errstate(invalid="ignore"):
            return self.transform(out.total), out.status, {}


class Clip(Elementwise):
    def __init__(self, part: Any, low: float | None, high: float | None, name: str) -> None:
        super().__init__([part], name)
        self.low = None if low is None else _finite(low, "clip low")
        self.high = None if high is None else _finite(high, "clip high")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise CompositionError(f"clip low {self.low} is above high {self.high}")

    def transform(self, values: FloatArray) -> FloatArray:
        return np.clip(values, self.low, self.high)


def clip(
    term: Any, low: float | None = None, high: float | None = None, *, name: str | None = None
) -> Composite:
    """min(max(r, low), high); either bound may be None.

    Example:
        >>> from rewardkit.core.term import term as make_term
        >>> r = make_term(lambda reward: reward, name="env")
        >>> clip(r, -1.0, 1.0)({"reward": [-5.0, 0.5, 3.0]}).total
        array([-1. ,  0.5,  1. ])
    """
    part = as_term(term)
    return Clip(part, low, high, name or f"{part.name}_clipped")


class Affine(Elementwise):
    def __init__(self, part: Any, scale: float, shift: float, name: str) -> None:
        super().__init__([part], name)
        self.scale = _finite(scale, "affine scale")
        self.shift = _finite(shift, "affine shift")

    def transform(self, values: FloatArray) -> FloatArray:
        return self.scale * values + self.shift


def affine(
    term: Any, scale: float = 1.0, shift: float = 0.0, *, name: str | None = None
) -> Composite:
    """scale · r + shift.

    Example:
        >>> from rewardkit.core.term import term as make_term
        >>> r = make_term(lambda reward: reward, name="env")
        >>> affine(r, scale=2.0, shift=-1.0)({"reward": [0.0, 1.0]}).total
        array([-1.,  1.])
    """
    part = as_term(term)
    return Affine(part, scale, shift, name or f"{part.name}_affine")
