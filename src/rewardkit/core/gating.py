"""Compositions that use a part only where a condition holds: gate, conditional, group
switch and tiers.

Each returns a term, like the operators of :mod:`rewardkit.core.compose`. A
part they do not use for a sample does not pass its status on to it: a
brevity bonus that counts only for correct answers does not make a wrong
answer's reward "not applicable".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.compose import Composite, Elementwise, StatusArray, _finite
from rewardkit.core.errors import CompositionError
from rewardkit.core.output import FloatArray, RewardOutput, Status, worst_status
from rewardkit.core.term import as_term

__all__ = [
    "Conditional",
    "Gate",
    "GroupSwitch",
    "Tiered",
    "conditional",
    "gate",
    "group_switch",
    "tiered",
]


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
    computed among the samples where the condition holds: an efficiency
    reward (fewer tool calls) counts only among correct answers, so being
    cheap and wrong earns nothing. This is the reward side of HDPO's
    efficiency channel; HDPO itself also gives that channel its own
    advantage, which one summed reward cannot do (see
    ``rewardkit.credit.channels.hdpo_advantages``).

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
