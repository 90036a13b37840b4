"""Credit functions refuse non-finite input at entry, naming the argument and the index
(#13): one NaN in a backward recursion would poison every earlier step."""

import numpy as np
import pytest

from rewardkit.core.errors import ShapeError
from rewardkit.credit.channels import gdpo_advantages, multi_channel_advantages
from rewardkit.credit.group import group_advantages, grpo_advantages
from rewardkit.credit.returns import discounted_returns, generalized_advantage_estimation


def gae(r_t, v_t, v_tp1, terminated):
    return generalized_advantage_estimation(r_t, v_t, v_tp1, terminated, gamma=0.9, lambda_=0.95)


def test_a_nan_reward_is_refused_with_its_index():
    with pytest.raises(ShapeError, match=r"r_t\[1\] is nan"):
        gae([0.0, np.nan, 1.0], [0.0] * 3, [0.0] * 3, [False, False, True])
    with pytest.raises(ShapeError, match=r"r_t\[\(1, 0\)\] is inf"):
        discounted_returns(np.array([[0.0, 0.0], [np.inf, 0.0]]), np.zeros((2, 2)), gamma=0.9)
    with pytest.raises(ShapeError, match=r"v_t\[0\] is nan"):
        gae([0.0, 1.0], [np.nan, 0.0], [0.0, 0.0], [False, True])


def test_v_tp1_after_a_terminal_step_is_masked_not_multiplied():
    r_t, v_t, terminated = [0.0, 1.0, 0.5], [0.1, 0.2, 0.3], [False, True, False]
    masked = gae(r_t, v_t, [0.2, np.nan, 0.4], terminated)
    reference = gae(r_t, v_t, [0.2, 0.0, 0.4], terminated)
    np.testing.assert_allclose(masked, reference)
    assert np.isfinite(masked).all()
    # where the episode goes on, v_tp1 is used, so a NaN there is refused
    with pytest.raises(ShapeError, match=r"v_tp1\[0\] is nan"):
        gae(r_t, v_t, [np.nan, 0.0, 0.4], terminated)


def test_huge_finite_rewards_give_finite_advantages():
    rewards = np.array([1e308, -1e308, 5e307, 0.0])
    group = [0, 0, 0, 0]
    huge = grpo_advantages(rewards, group)
    assert np.isfinite(huge).all()
    np.testing.assert_allclose(huge, grpo_advantages(rewards / 1e300, group), rtol=1e-9)
    none = group_advantages(rewards, group, scale="none")
    np.testing.assert_allclose(none / 1e300, group_advantages(rewards / 1e300, group, scale="none"))


def test_stabilizers_and_weights_must_be_finite():
    with pytest.raises(ShapeError, match="epsilon"):
        grpo_advantages([1.0, 0.0], [0, 0], epsilon=float("nan"))
    with pytest.raises(ShapeError, match="epsilon"):
        grpo_advantages([1.0, 0.0], [0, 0], epsilon=-1.0)
    rewards = np.array([[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ShapeError, match=r"weights\[1\] is nan"):
        gdpo_advantages(rewards, [0, 0], weights=[1.0, np.nan])
    with pytest.raises(ShapeError, match="weights"):
        multi_channel_advantages(
            {"a": [1.0, 0.0], "b": [0.0, 1.0]}, [0, 0], weights={"b": float("inf")}
        )
