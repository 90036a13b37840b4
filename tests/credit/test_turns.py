"""IGPO's turn advantages: hand-computed values, spans, NaN and bad input."""

import numpy as np
import pytest

from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.credit.token import TurnEstimator, make_estimator
from rewardkit.credit.turns import turn_advantages, turn_token_advantages


def reference(turn_rewards, group, gamma):
    """A plain loop over groups, turns and episodes."""
    out = np.zeros_like(turn_rewards)
    for label in set(group.tolist()):
        rows = [i for i, g in enumerate(group) if g == label]
        values = [turn_rewards[i, t] for i in rows for t in range(turn_rewards.shape[1])]
        mean = sum(values) / len(values)
        std = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
        for i in rows:
            total = 0.0
            for t in reversed(range(turn_rewards.shape[1])):
                total = (turn_rewards[i, t] - mean) / (std + 1e-6) + gamma * total
                out[i, t] = total
    return out


def test_two_turns_by_hand():
    # one group: rewards 0.3, 1.0 / -0.1, 0.0; mean 0.3, sample std sqrt(0.74 / 3)
    std = np.sqrt(0.74 / 3)
    out = turn_advantages(np.array([[0.3, 1.0], [-0.1, 0.0]]), np.array([0, 0]), gamma=0.5)
    z = (np.array([[0.3, 1.0], [-0.1, 0.0]]) - 0.3) / (std + 1e-6)
    np.testing.assert_allclose(out[:, 1], z[:, 1])
    np.testing.assert_allclose(out[:, 0], z[:, 0] + 0.5 * z[:, 1])


def test_matches_a_reference_loop_over_groups():
    rng = np.random.default_rng(0)
    rewards, group = rng.normal(size=(12, 4)), np.repeat([3, 1, 2], 4)
    for gamma in (0.0, 0.9, 1.0):
        np.testing.assert_allclose(
            turn_advantages(rewards, group, gamma), reference(rewards, group, gamma)
        )


def test_nan_episodes_get_zero_and_leave_the_statistics():
    rewards = np.array([[0.0, 1.0], [0.0, 0.0], [np.nan, 5.0]])
    out = turn_advantages(rewards, np.zeros(3))
    np.testing.assert_array_equal(out[2], [0.0, 0.0])
    np.testing.assert_allclose(out[:2], turn_advantages(rewards[:2], np.zeros(2)))
    lone = turn_advantages(np.array([[1.0, 2.0]]), np.array([0]))
    np.testing.assert_array_equal(lone, [[0.0, 0.0]])  # nothing to compare with


def test_bad_input_is_refused():
    with pytest.raises(ShapeError, match=r"\(N, T\)"):
        turn_advantages(np.zeros(3), np.zeros(3))
    with pytest.raises(ShapeError, match="group"):
        turn_advantages(np.zeros((3, 2)), np.zeros(2))
    with pytest.raises(ShapeError, match="inf"):
        turn_advantages(np.array([[np.inf, 0.0]]), np.zeros(1))
    with pytest.raises(ConfigurationError, match="gamma"):
        turn_advantages(np.zeros((2, 2)), np.zeros(2), gamma=1.5)
    with pytest.raises(ShapeError, match="outside"):
        turn_token_advantages(np.zeros((1, 1)), [[(0, 5)]], [3])
    with pytest.raises(ShapeError, match="turn spans"):
        turn_token_advantages(np.zeros((1, 2)), [[(0, 1)]], [3])


def test_the_estimator_puts_each_turns_advantage_on_its_tokens_only():
    estimator = make_estimator("turn", gamma=1.0)
    assert isinstance(estimator, TurnEstimator)
    assert estimator.requires == {"turn_rewards", "turn_spans"}
    rewards = np.array([[0.5, 1.0], [0.0, 0.0], [0.2, 1.0]])
    spans = [[(0, 2), (3, 4)], [(0, 1), (2, 3)], [(0, 1), (2, 4)]]
    sequences = [[7] * 4, [7] * 3, [7] * 4]
    out = estimator(np.array([1.0, 0.0, np.nan]), np.zeros(3), sequences, 0, 1,
                    turn_rewards=rewards, turn_spans=spans)  # fmt: skip
    expected = turn_advantages(np.array([[0.5, 1.0], [0.0, 0.0]]), np.zeros(2))
    np.testing.assert_allclose(out.values[0], [expected[0, 0]] * 2 + [0.0, expected[0, 1]])
    np.testing.assert_allclose(out.values[1], [expected[1, 0], 0.0, expected[1, 1]])
    np.testing.assert_array_equal(out.values[2], np.zeros(4))  # a NaN outcome: not trained
