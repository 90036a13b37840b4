"""The intrinsic-return scaler against a reference loop over every step seen."""

import numpy as np
import pytest

from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.explore.normalize import IntrinsicReturnScaler, forward_discounted_sums
from tests.reference_stats import variance_with_prior


def reference_scaled(rollouts, gamma):
    """Step by step: running sums per env, the std of every sum so far (with RunningMeanStd's
    prior), rewards over that std."""
    envs = rollouts[0].shape[1]
    running = np.zeros(envs)
    sums = []
    out = []
    for rewards in rollouts:
        for row in rewards:
            running = gamma * running + row
            sums.extend(running.tolist())
        out.append(rewards / np.sqrt(variance_with_prior(sums) + 1e-8))
    return out


def test_forward_sums_match_a_loop_and_carry_over():
    rewards = np.array([[1.0, 0.0], [2.0, 1.0], [0.5, 0.0]])
    sums, last = forward_discounted_sums(rewards, np.array([10.0, 0.0]), gamma=0.9)
    expected = [[10 * 0.9 + 1, 0.0], [(9 + 1) * 0.9 + 2, 1.0], [11 * 0.9 + 0.5, 0.9]]
    np.testing.assert_allclose(sums, expected)
    np.testing.assert_allclose(last, sums[-1])


def test_scaler_matches_the_reference_over_several_rollouts():
    rng = np.random.default_rng(0)
    rollouts = [rng.exponential(0.3, size=(16, 4)) for _ in range(5)]
    scaler = IntrinsicReturnScaler(gamma=0.99)
    for got, expected in zip(
        [scaler(r) for r in rollouts], reference_scaled(rollouts, 0.99), strict=True
    ):
        np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_any_positive_scale_of_the_bonus_cancels():
    rng = np.random.default_rng(1)
    rollouts = [rng.exponential(1.0, size=(32, 2)) for _ in range(3)]
    small, large = IntrinsicReturnScaler(), IntrinsicReturnScaler()
    for rewards in rollouts:
        a, b = small(rewards), large(1000 * rewards)
    np.testing.assert_allclose(a, b, rtol=1e-3)  # the prior's weight is all that differs


def test_bad_input_is_refused():
    scaler = IntrinsicReturnScaler()
    with pytest.raises(ShapeError, match="finite"):
        scaler(np.array([[np.nan, 1.0]]))
    with pytest.raises(ShapeError, match="time-major"):
        scaler(np.ones(3))
    scaler(np.ones((2, 3)))
    with pytest.raises(ShapeError):
        scaler(np.ones((2, 4)))  # a different number of envs
    with pytest.raises(ConfigurationError):
        IntrinsicReturnScaler(gamma=1.5)


def test_an_empty_rollout_changes_nothing():
    scaler = IntrinsicReturnScaler()
    assert scaler(np.zeros((0, 2))).shape == (0, 2)
    assert np.isfinite(scaler.scale) and scaler.scale == pytest.approx(1.0)
