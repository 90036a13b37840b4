"""Step-level credit from process rewards: a reference loop, NaN policy, and the trainer hook."""

from __future__ import annotations

import numpy as np
import pytest

from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.credit.group import grpo_advantages
from rewardkit.credit.process import ProcessEstimator, process_advantages
from rewardkit.credit.token import make_estimator


def _reference(rewards, group, lengths, step_rewards, step_ends, weight):  # type: ignore[no-untyped-def]
    """A plain loop over samples, steps and tokens (the module docs' equation)."""
    base = np.nan_to_num(grpo_advantages(np.asarray(rewards), np.asarray(group)))
    out = []
    for i, n in enumerate(lengths):
        if np.isnan(rewards[i]):
            out.append([0.0] * n)
            continue
        pooled = [
            sum(step_rewards[j][k:]) for j in range(len(lengths)) for k in range(len(step_ends[j]))
            if group[j] == group[i] and not np.isnan(rewards[j])
        ]  # fmt: skip
        baseline = sum(pooled) / len(pooled) if pooled else 0.0
        row = []
        for t in range(n):
            k = next((k for k, end in enumerate(step_ends[i]) if t < end), None)
            extra = 0.0 if k is None else weight * (sum(step_rewards[i][k:]) - baseline)
            row.append(base[i] + extra)
        out.append(row)
    return out


@pytest.mark.parametrize("weight", [0.5, 1.0, 2.0])
def test_process_advantages_match_a_reference_loop(weight: float) -> None:
    rng = np.random.default_rng(0)
    lengths = [5, 3, 6, 4, 2, 7]
    group = [0, 0, 0, 1, 1, 1]
    rewards = [1.0, 0.0, np.nan, 1.0, 1.0, 0.0]
    step_rewards, step_ends = [], []
    for n in lengths:
        k = int(rng.integers(0, 4))
        ends = sorted(rng.choice(np.arange(1, n + 1), size=min(k, n), replace=False).tolist())
        step_ends.append(ends)
        step_rewards.append(rng.uniform(0, 1, len(ends)).tolist())
    sequences = [[1] * n for n in lengths]
    got = process_advantages(
        np.array(rewards), np.array(group), sequences, step_rewards=step_rewards,
        step_ends=step_ends, weight=weight,
    )  # fmt: skip
    want = _reference(rewards, group, lengths, step_rewards, step_ends, weight)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w)


def test_estimator_refines_and_leaves_unscorable_solutions_out() -> None:
    estimator = make_estimator("process", refinement="clip", eta=0.5)
    assert isinstance(estimator, ProcessEstimator)
    out = estimator(
        np.array([1.0, 1.0, 1.0]), np.array([0, 0, 0]), [[1, 2], [3, 4], [5]], 0, 1,
        step_rewards=[[0.9, 0.2], [np.nan], [0.4]], step_ends=[[1, 2], [1], [1]],
    )  # fmt: skip
    # clipped: [0, -0.3] (returns -0.3, -0.3) and [-0.1]; baseline -0.7 / 3; the NaN
    # solution keeps its outcome advantage (0) and stays out of the baseline
    baseline = -0.7 / 3
    np.testing.assert_allclose(out.values[0], [-0.3 - baseline, -0.3 - baseline])
    np.testing.assert_allclose(out.values[1], [0.0, 0.0])
    np.testing.assert_allclose(out.values[2], [-0.1 - baseline])


def test_solution_credit_gives_every_token_the_centred_whole_return_by_hand() -> None:
    out = process_advantages(
        np.array([1.0, 1.0, np.nan, 1.0]), np.zeros(4), [[1, 2, 3], [4], [5], [6, 7]],
        step_rewards=[[0.5, 0.25], [0.75], [0.1], [np.nan]],
        step_ends=[[1, 2], [1], [1], [1]], credit="solution",
    )  # fmt: skip
    # returns from the first step 0.75 and 0.75 (the NaN-outcome and NaN-step solutions
    # are left out): baseline 0.75; all outcomes 1 → A_i = 0
    np.testing.assert_allclose(out[0], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(out[1], [0.0])
    np.testing.assert_allclose(out[2], [0.0])
    np.testing.assert_allclose(out[3], [0.0, 0.0])
    repeat = ProcessEstimator(refinement="none", credit="solution")(
        np.array([1.0, 1.0]), np.array([0, 0]), [[1, 1, 2], [1, 2]], 0, 1,
        step_rewards=[[0.9, 0.9, 0.95], [0.9, 0.95]], step_ends=[[1, 2, 3], [1, 2]],
    )  # fmt: skip
    # without a refinement the repeat's whole return is higher: 2.75 vs 1.85, mean 2.3
    np.testing.assert_allclose(repeat.values[0], [0.45] * 3)
    np.testing.assert_allclose(repeat.values[1], [-0.45] * 2)


def test_bad_step_layouts_are_refused() -> None:
    with pytest.raises(ShapeError, match="infinite"):
        process_advantages(np.ones(1), np.zeros(1), [[1, 2]], step_rewards=[[np.inf]],
                           step_ends=[[1]])  # fmt: skip
    with pytest.raises(ConfigurationError, match="credit"):
        ProcessEstimator(credit="step")
    with pytest.raises(ShapeError, match="ascend"):
        process_advantages(np.ones(1), np.zeros(1), [[1, 2]], step_rewards=[[0.1, 0.2]],
                           step_ends=[[2, 1]])  # fmt: skip
    with pytest.raises(ShapeError, match="step ends"):
        process_advantages(np.ones(1), np.zeros(1), [[1, 2]], step_rewards=[[0.1]],
                           step_ends=[[1, 2]])  # fmt: skip
    with pytest.raises(ConfigurationError):
        ProcessEstimator(refinement="square")  # type: ignore[arg-type]
