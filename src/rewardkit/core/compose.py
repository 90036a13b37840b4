"""Composition: small terms, named and combined into one reward.

Every operator returns a term, so compositions nest. A composed term's
output lists each part under its name (nested parts as ``"parent/child"``),
which become logging keys, like optax's ``named_chain``.

Missing rewards stay missing: by default a sample whose part is not
applicable (NaN) has a NaN total with the part's status, so a verifier
timeout never turns into a score. Operators that only *sometimes* use a part
(``gate``, ``conditional``, ``group_switch``) ignore that part's status where
they do not use it.

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

from rewardkit.core.batch import Batch, batch_size, get_column
from rewardkit.core.errors import CompositionError
from rewardkit.core.output import FloatArray, RewardOutput, Status, worst_status
from rewardkit.core.term import RewardTerm, Term, as_term, column_names

__all__ = [
    "Composite",
    "affine",
    "clip",
    "conditional",
    "gate",
    "group_switch",
    "product",
    "tiered",
    "weighted_sum",
]

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
        return result

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


class Gate(Composite):
    diagnostics = ("gate_open",)

    def __init__(
        self, gate_term: Any, term: Any, threshold: float, include_gate: bool, name: str
    ) -> None:
        super().__init__([gate_term, term], name)
        self.threshold = _finite(threshold, "gate threshold")
        self.include_gate = include_gate

    def _combine(
        self, outputs: list[RewardOutput], batch: Batch
    ) -> tuple[FloatArray, StatusArray, dict[str, FloatArray]]:
        gate_out, inner = outputs
        is_open = gate_out.ok & (np.nan_to_num(gate_out.total, nan=-np.inf) >= self.threshold)
        base = gate_out.total if self.include_gate else np.zeros(len(gate_out))
        total = base + np.where(is_open, inner.total, 0.0)
        status = np.where(is_open, worst_status(gate_out.status, inner.status), gate_out.status)
        return total, status.astype(np.int8), {"gate_open": is_open.astype(np.float64)}


def gate(
    gate_term: Any,
    term: Any,
    threshold: float,
    *,
    include_gate: bool = True,
    name: str = "gated",
) -> Composite:
    """Gated reward accumulation: ``term`` counts only where ``gate_term ≥ threshold``.

    r = r_A + 1[r_A ≥ τ] · r_B  (or without r_A when ``include_gate=False``).

    G-RA (Sun et al. 2025, "Gated Reward Accumulation"): immediate rewards
    accumulate only when the long-term (outcome) reward meets a threshold, so
    a policy cannot farm the dense reward while failing the task. Where the
    gate is closed, ``term``'s status is ignored (a timeout there changes
    nothing). The output's ``terms["gate_open"]`` logs the gate.

    Example:
        >>> from rewardkit.core.term import term as make_term
        >>> outcome = make_term(lambda tests_passed: tests_passed, name="outcome")
        >>> steps = make_term(lambda step_bonus: step_bonus, name="steps")
        >>> batch = {"tests_passed": [1.0, 0.0, 1.0], "step_bonus": [0.3, 0.3, None]}
        >>> gate(outcome, steps, threshold=1.0)(batch).total
        array([1.3, 0. , nan])
    """
    return Gate(gate_term, term, threshold, include_gate, name)


class Conditional(Composite):
    def __init__(
        self, condition: Any, term: Any, threshold: float, otherwise: float, name: str
    ) -> None:
        super().__init__([condition, term], name)
        self.threshold = _finite(threshold, "conditional threshold")
        self.otherwise = float(otherwise)

    def _combine(
        self, outputs: list[RewardOutput], batch: Batch
    ) -> tuple[FloatArray, StatusArray, dict[str, FloatArray]]:
        condition, inner = outputs
        holds = condition.ok & (np.nan_to_num(condition.total, nan=-np.inf) >= self.threshold)
        total = np.where(holds, inner.total, self.otherwise)
        otherwise_status = Status.NOT_APPLICABLE if math.isnan(self.otherwise) else Status.OK
        status = np.where(
            holds,
            inner.status,
            np.where(condition.ok, otherwise_status, condition.status),
        )
        return total, status.astype(np.int8), {}


def conditional(
    condition: Any,
    term: Any,
    *,
    threshold: float = 0.5,
    otherwise: float = float("nan"),
    name: str = "conditional",
) -> Composite:
    """``term`` applied only to samples where ``condition ≥ threshold``.

    Elsewhere the value is ``otherwise``: NaN by default, i.e. *not
    applicable*, so group statistics (and so advantages) for ``term`` are
    computed among the samples where the condition holds. This is HDPO's
    conditional channel: an efficiency reward (fewer tool calls) counts only
    among correct answers, so being cheap and wrong earns nothing.

    Example:
        >>> from rewardkit.core.term import term as make_term
        >>> correct = make_term(lambda correct: correct, name="correct")
        >>> cheap = make_term(lambda tool_calls: [-t for t in tool_calls], name="cheap")
        >>> out = conditional(correct, cheap)({"correct": [1.0, 0.0], "tool_calls": [3, 0]})
        >>> out.total
        array([-3., nan])
    """
    return Conditional(condition, term, threshold, otherwise, name)


def _group_success_ratio(
    success: npt.NDArray[np.bool_], applicable: npt.NDArray[np.bool_], group: Any
) -> tuple[FloatArray, npt.NDArray[np.intp]]:
    """Per-sample success ratio of its group, over applicable samples only."""
    _, inverse = np.unique(np.asarray(group), return_inverse=True)
    inverse = inverse.reshape(-1)
    wins = np.bincount(inverse, weights=(success & applicable).astype(np.float64))
    counts = np.bincount(inverse, weights=applicable.astype(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(counts > 0, wins / np.maximum(counts, 1), np.nan)
    return ratio, inverse


class GroupSwitch(Composite):
    diagnostics = ("switch_on", "group_success_ratio")

    def __init__(
        self,
        base: Any,
        penalty: Any,
        success: Any | None,
        threshold: float | None,
        top_fraction: float | None,
        success_threshold: float,
        group_column: str,
        name: str,
    ) -> None:
        parts = [base, penalty] + ([success] if success is not None else [])
        super().__init__(parts, name)
        if (threshold is None) == (top_fraction is None):
            raise CompositionError("group_switch needs exactly one of threshold= or top_fraction=")
        if threshold is not None and not 0.0 <= _finite(threshold, "threshold") <= 1.0:
            raise CompositionError(f"threshold is a success ratio in [0, 1], got {threshold}")
        if top_fraction is not None and not 0.0 < _finite(top_fraction, "top_fraction") <= 1.0:
            raise CompositionError(f"top_fraction must be in (0, 1], got {top_fraction}")
        self.threshold = threshold
        self.top_fraction = top_fraction
        self.success_threshold = _finite(success_threshold, "success_threshold")
        self.group_column = group_column
        self.columns = (*self.columns, group_column)

    def _combine(
        self, outputs: list[RewardOutput], batch: Batch
    ) -> tuple[FloatArray, StatusArray, dict[str, FloatArray]]:
        base, penalty = outputs[0], outputs[1]
        success_out = outputs[2] if len(outputs) > 2 else base
        success = np.nan_to_num(success_out.total, nan=-np.inf) >= self.success_threshold
        ratio, inverse = _group_success_ratio(
            success, success_out.ok, get_column(batch, self.group_column)
        )
        if self.threshold is not None:
            group_on = np.nan_to_num(ratio, nan=-1.0) >= self.threshold
        else:
            assert self.top_fraction is not None
            valid = np.flatnonzero(~np.isnan(ratio))
            keep = math.ceil(self.top_fraction * valid.size)
            order = valid[np.argsort(-ratio[valid], kind="stable")][:keep]
            group_on = np.zeros(ratio.shape, dtype=bool)
            group_on[order] = True
        on = group_on[inverse]
        total = base.total + np.where(on, penalty.total, 0.0)
        status = np.where(on, worst_status(base.status, penalty.status), base.status)
        extra = {"switch_on": on.astype(np.float64), "group_success_ratio": ratio[inverse]}
        return total, status.astype(np.int8), extra


def group_switch(
    base: Any,
    penalty: Any,
    *,
    threshold: float | None = None,
    top_fraction: float | None = None,
    success: Any | None = None,
    success_threshold: float = 0.5,
    group_column: str = "group",
    name: str = "group_switched",
) -> Composite:
    """Apply ``penalty`` only in groups whose success ratio is high (GRPO-λ).

    r_i = r_base,i + 1[ratio(g(i)) ≥ λ] · r_penalty,i, where ratio(g) is the
    fraction of applicable samples of group g whose ``success`` value (default:
    ``base``) is ≥ ``success_threshold``.

    Dai, Liu & Si 2025, "Stable Reinforcement Learning for Efficient
    Reasoning": a length penalty applied everywhere collapses accuracy early;
    applying it only to groups that are mostly correct keeps the 0/1 signal
    where the model still struggles. The paper selects the top-λ fraction of
    groups per batch by correctness ratio: pass ``top_fraction=λ`` for that,
    or ``threshold=λ`` for a fixed ratio cut.

    Example:
        >>> from rewardkit.core.term import term as make_term
        >>> correct = make_term(lambda correct: correct, name="correct")
        >>> short = make_term(lambda length: [-n / 100 for n in length], name="length")
        >>> batch = {"correct": [1.0, 1.0, 1.0, 0.0], "length": [10, 30, 20, 40],
        ...          "group": [0, 0, 1, 1]}
        >>> group_switch(correct, short, threshold=0.75)(batch).total
        array([0.9, 0.7, 1. , 0. ])
    """
    return GroupSwitch(
        base, penalty, success, threshold, top_fraction, success_threshold, group_column, name
    )


class Tiered(Elementwise):
    def __init__(
        self, part: Any, thresholds: Sequence[float], rewards: Sequence[float], name: str
    ) -> None:
        super().__init__([part], name)
        self.thresholds = np.array([_finite(t, "tier threshold") for t in thresholds])
        self.rewards = np.array([_finite(r, "tier reward") for r in rewards])
        if len(self.rewards) != len(self.thresholds) + 1:
            raise CompositionError(
                f"tiered needs one more reward than thresholds (K thresholds make K+1 tiers); "
                f"got {len(self.thresholds)} thresholds and {len(self.rewards)} rewards"
            )
        if np.any(np.diff(self.thresholds) <= 0):
            raise CompositionError(f"tier thresholds must increase, got {list(self.thresholds)}")
        if np.any(np.diff(self.rewards) < 0):
            raise CompositionError(
                f"tier rewards must not decrease (better tiers earn more), got {list(self.rewards)}"
            )

    def transform(self, values: FloatArray) -> FloatArray:
        tier = np.searchsorted(self.thresholds, np.nan_to_num(values, nan=-np.inf), side="right")
        return np.where(np.isnan(values), np.nan, self.rewards[tier])


def tiered(
    term: Any,
    thresholds: Sequence[float],
    rewards: Sequence[float],
    *,
    name: str | None = None,
) -> Composite:
    """Map a graded score to progressively amplified tiers (Sweet Spot Learning).

    r = rewards[k] where k = #{thresholds ≤ score}. SSL (Wu et al. 2026,
    "Sweet Spot Learning for Differentiated Guidance in Agentic
    Optimization") discretizes a continuous proximity score into zones whose
    rewards grow toward the sweet spot; it reports K = 4 zones working best.
    Discretizing keeps the ranking of solutions and drops tiny noisy
    differences.

    Example:
        >>> from rewardkit.core.term import term as make_term
        >>> iou = make_term(lambda iou: iou, name="iou")
        >>> zones = tiered(iou, thresholds=[0.25, 0.5, 0.75], rewards=[0.0, 0.1, 0.4, 1.0])
        >>> zones({"iou": [0.1, 0.3, 0.6, 0.9]}).total
        array([0. , 0.1, 0.4, 1. ])
    """
    part = as_term(term)
    return Tiered(part, thresholds, rewards, name or f"{part.name}_tiered")
