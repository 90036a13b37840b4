"""Group advantages on hand-computed groups, a reference loop, and properties."""

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardkit.core import EmptyGroupWarning, ShapeError
from rewardkit.credit import (
    dr_grpo_advantages,
    gdpo_advantages,
    group_advantages,
    group_statistics,
    grpo_advantages,
    rloo_advantages,
)

SQRT3_2 = math.sqrt(3) / 2  # (1 - 0.5) / std([1,0,0,1], ddof=1) = 0.5 / sqrt(1/3)


def test_grpo_by_hand():
    out = grpo_advantages([1.0, 0.0, 0.0, 1.0], [7, 7, 7, 7])
    np.testing.assert_allclose(out, [SQRT3_2, -SQRT3_2, -SQRT3_2, SQRT3_2], rtol=1e-5)


def test_dr_grpo_and_rloo_by_hand():
    rewards, group = [3.0, 1.0, 2.0, 5.0, 5.0], ["a", "a", "a", "b", "b"]
    np.testing.assert_allclose(dr_grpo_advantages(rewards, group), [1.0, -1.0, 0.0, 0.0, 0.0])
    # leave-one-out means: (1+2)/2, (3+2)/2, (3+1)/2
    np.testing.assert_allclose(rloo_advantages(rewards, group), [1.5, -1.5, 0.0, 0.0, 0.0])


def test_batch_scaling_by_hand():
    # centered [.5, -.5, 0, 0]; std([1,0,1,1], ddof=1) = 0.5
    out = group_advantages([1.0, 0.0, 1.0, 1.0], [0, 0, 1, 1], scale="batch", epsilon=0.0)
    np.testing.assert_allclose(out, [1.0, -1.0, 0.0, 0.0])


def test_nan_is_left_out_of_group_statistics():
    # valid [1, 0]: mean .5, std sqrt(.5); the NaN sample gets 0 and shifts nothing
    out = grpo_advantages([1.0, np.nan, 0.0], [0, 0, 0], epsilon=0.0)
    np.testing.assert_allclose(out, [1 / math.sqrt(2), 0.0, -1 / math.sqrt(2)])
    np.testing.assert_allclose(rloo_advantages([1.0, np.nan, 0.0], [0, 0, 0]), [1.0, 0.0, -1.0])


@pytest.mark.parametrize("estimator", [grpo_advantages, dr_grpo_advantages, rloo_advantages])
def test_single_sample_group_gets_zero(estimator):
    np.testing.assert_array_equal(estimator([5.0, 1.0, 0.0], [0, 1, 1])[:1], [0.0])
    np.testing.assert_array_equal(estimator([5.0, np.nan], [0, 0]), [0.0, 0.0])


@pytest.mark.parametrize("estimator", [grpo_advantages, dr_grpo_advantages, rloo_advantages])
def test_all_nan_group_gets_zero_and_is_reported(estimator):
    with pytest.warns(EmptyGroupWarning, match="1 group"):
        out = estimator([np.nan, np.nan, 1.0, 0.0], ["q1", "q1", "q2", "q2"])
    np.testing.assert_array_equal(out[:2], [0.0, 0.0])
    assert out[2] > 0 > out[3]


def test_no_warning_without_empty_groups():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        grpo_advantages([1.0, 0.0], [0, 0])


def test_group_statistics_counts():
    stats = group_statistics([1, 1, 0, 1, np.nan, np.nan, 3.0, np.nan], [0, 0, 1, 1, 2, 2, 3, 3])
    assert (stats.n_groups, stats.n_empty, stats.n_singleton, stats.n_zero_variance) == (4, 1, 1, 1)
    assert stats.frac_zero_variance == 0.75 and stats.frac_not_applicable == 3 / 8


def test_gdpo_keeps_reward_combinations_apart():
    # Two binary rewards in one group. Summed then normalized (GRPO), (1,0) and (0,1)
    # tie; GDPO normalizes each reward first. Per reward: ±sqrt(3)/2; sums ±sqrt(3), 0, 0;
    # batch std of [sqrt3, 0, 0, -sqrt3] (ddof=1) = sqrt(2) -> ±sqrt(3/2).
    r = np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    expected = [math.sqrt(1.5), 0.0, 0.0, -math.sqrt(1.5)]
    np.testing.assert_allclose(gdpo_advantages(r, [0, 0, 0, 0], epsilon=0.0), expected)
    weighted = gdpo_advantages(r, [0, 0, 0, 0], weights=[1.0, 0.0], epsilon=0.0)
    assert weighted[1] > 0 > weighted[2]  # now the first reward decides
    with pytest.raises(ShapeError, match=r"\(N, K\)"):
        gdpo_advantages(np.ones(4), [0, 0, 0, 0])


def reference_group_advantages(rewards, group, scale, eps):
    rewards, out = list(rewards), [0.0] * len(rewards)
    valid_all = [r for r in rewards if not math.isnan(r)]
    batch_std = float(np.std(valid_all, ddof=1)) if len(valid_all) > 1 else 0.0
    for g in set(group):
        idx = [i for i, x in enumerate(group) if x == g and not math.isnan(rewards[i])]
        if len(idx) < 2:
            continue
        values = [rewards[i] for i in idx]
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
        for i in idx:
            sigma = {"group": std, "batch": batch_std, "none": 0.0}[scale]
            out[i] = (rewards[i] - mean) / (sigma + eps) if scale != "none" else rewards[i] - mean
    return out


@settings(max_examples=60, deadline=None)
@given(
    rewards=st.lists(st.one_of(st.floats(-5, 5), st.just(float("nan"))), min_size=1, max_size=24),
    n_groups=st.integers(1, 5),
    scale=st.sampled_from(["group", "batch", "none"]),
)
def test_vectorized_matches_reference_loop(rewards, n_groups, scale):
    group = [i % n_groups for i in range(len(rewards))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmptyGroupWarning)
        got = group_advantages(rewards, group, scale=scale, epsilon=1e-6)
    np.testing.assert_allclose(
        got, reference_group_advantages(rewards, group, scale, 1e-6), atol=1e-6
    )
    # within each group the centered advantages sum to zero
    for g in range(n_groups):
        assert abs(sum(got[i] for i in range(len(rewards)) if group[i] == g)) < 1e-6


def test_torch_and_validation():
    out = grpo_advantages(torch.tensor([1.0, 0.0]), torch.tensor([0, 0]))
    assert isinstance(out, torch.Tensor)
    with pytest.raises(ShapeError, match="inf"):
        grpo_advantages([np.inf, 0.0], [0, 0])
    with pytest.raises(ShapeError, match=r"group has shape \(1,\)"):
        grpo_advantages([1.0, 0.0], [0])
    with pytest.raises(ValueError, match="scale must be"):
        group_advantages([1.0, 0.0], [0, 0], scale="median")
