"""NORA-1.5-style action preference pairs: hand-computed rewards, the pairing rule, bad input."""

import numpy as np
import pytest

from rewardkit.core import BatchError, ConfigurationError, ShapeError
from rewardkit.models.action_preferences import (
    ActionPreferencePairs,
    action_deviation,
    action_preference_pairs,
    build_action_preferences,
    combined_action_reward,
    world_model_energy,
)


def test_world_model_energy_is_mean_l1_to_the_goal_latent():
    # one state, two candidates, latents of 2 tokens x 2 features
    predicted = [[[[0.0, 0.0], [0.0, 0.0]], [[1.0, 2.0], [3.0, 4.0]]]]
    goal = [[[1.0, 1.0], [1.0, 1.0]]]
    # |0-1| x 4 -> 1.0 ; |0|,|1|,|2|,|3| -> 1.5
    np.testing.assert_allclose(world_model_energy(predicted, goal), [[1.0, 1.5]])


def test_action_deviation_uses_the_first_t_ground_truth_steps():
    candidates = np.zeros((1, 2, 2, 1))
    candidates[0, 1] = [[1.0], [3.0]]
    ground_truth = [[[0.0], [1.0], [100.0]]]  # third step is past the chunk: ignored
    # cand 0: (|0-0| + |0-1|) / 2 = 0.5 ; cand 1: (|1-0| + |3-1|) / 2 = 1.5
    np.testing.assert_allclose(action_deviation(candidates, ground_truth), [[0.5, 1.5]])


def test_combined_reward_matches_the_authors_cost():
    energy = [[0.2, 0.5, 0.3]]
    deviation = [[1.0, 0.0, 2.0]]
    # -(E + 0.1 D) = [-0.3, -0.5, -0.5]
    np.testing.assert_allclose(combined_action_reward(energy, deviation), [[-0.3, -0.5, -0.5]])
    np.testing.assert_allclose(
        combined_action_reward(energy, deviation, world_model_weight=0.0, action_weight=1.0),
        [[-1.0, 0.0, -2.0]],
    )


def test_pairs_best_against_worst_with_ties_to_the_lowest_index():
    rewards = [[-0.3, -0.5, -0.5], [0.0, 1.0, 0.5], [2.0, 2.0, 2.0]]
    pairs = action_preference_pairs(rewards)
    np.testing.assert_array_equal(pairs.state, [0, 1])
    np.testing.assert_array_equal(pairs.chosen, [0, 1])
    np.testing.assert_array_equal(pairs.rejected, [1, 0])
    np.testing.assert_allclose(pairs.margin, [0.2, 1.0])
    np.testing.assert_array_equal(pairs.dropped, [2])  # all tied: no pair
    assert len(pairs) == 2


def test_min_margin_drops_weak_pairs():
    pairs = action_preference_pairs([[0.0, 0.05], [0.0, 1.0]], min_margin=0.1)
    np.testing.assert_array_equal(pairs.state, [1])
    np.testing.assert_array_equal(pairs.dropped, [0])


def test_build_end_to_end_and_take():
    rng = np.random.default_rng(0)
    s, k, t, d = 3, 5, 4, 2
    ground_truth = rng.normal(size=(s, t + 2, d))
    noise = np.array([0.0, 0.1, 0.2, 0.4, 0.8])[None, :, None, None]
    candidates = ground_truth[:, None, :t, :] + noise * np.ones((s, k, t, d))
    energy = np.tile([0.5, 0.4, 0.3, 0.2, 0.1], (s, 1))
    # rewards: -(E + 0.1 * noise) = -[0.5, 0.41, 0.32, 0.24, 0.18]
    pairs = build_action_preferences(candidates, ground_truth, energy)
    np.testing.assert_array_equal(pairs.chosen, [4, 4, 4])
    np.testing.assert_array_equal(pairs.rejected, [0, 0, 0])
    np.testing.assert_allclose(pairs.margin, [0.32, 0.32, 0.32])
    chosen, rejected = pairs.take(candidates)
    assert chosen.shape == rejected.shape == (3, t, d)
    np.testing.assert_allclose(chosen, candidates[:, 4])
    # ground-truth only: the chunk equal to the demonstration wins
    gt_only = build_action_preferences(
        candidates, ground_truth, energy, world_model_weight=0.0, action_weight=1.0
    )
    np.testing.assert_array_equal(gt_only.chosen, [0, 0, 0])
    np.testing.assert_array_equal(gt_only.rejected, [4, 4, 4])


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: world_model_energy(np.zeros((2, 3)), np.zeros((2,))), ShapeError),
        (lambda: world_model_energy(np.zeros((2, 3, 4)), np.zeros((2, 5))), ShapeError),
        (lambda: world_model_energy([[[np.nan]]], [[0.0]]), BatchError),
        (lambda: action_deviation(np.zeros((1, 2, 3)), np.zeros((1, 3, 1))), ShapeError),
        (lambda: action_deviation(np.zeros((1, 2, 3, 1)), np.zeros((1, 2, 1))), ShapeError),
        (lambda: action_deviation(np.zeros((1, 2, 3, 1)), np.zeros((2, 3, 1))), ShapeError),
        (lambda: action_deviation(np.full((1, 2, 1, 1), np.inf), np.zeros((1, 1, 1))), BatchError),
        (lambda: combined_action_reward([[1.0]], [[1.0, 2.0]]), ShapeError),
        (lambda: combined_action_reward([[-1.0]], [[1.0]]), BatchError),
        (lambda: combined_action_reward([[np.nan]], [[1.0]]), BatchError),
        (
            lambda: combined_action_reward([[1.0]], [[1.0]], world_model_weight=0, action_weight=0),
            ConfigurationError,
        ),
        (lambda: combined_action_reward([[1.0]], [[1.0]], action_weight=-1), ConfigurationError),
        (lambda: action_preference_pairs([[1.0]]), ShapeError),
        (lambda: action_preference_pairs([1.0, 2.0]), ShapeError),
        (lambda: action_preference_pairs([[1.0, np.nan]]), BatchError),
        (lambda: action_preference_pairs([[1.0, 2.0]], min_margin=-1), ConfigurationError),
        (
            lambda: build_action_preferences(np.zeros((1, 2, 1, 1)), np.zeros((1, 1, 1)), [[0.0]]),
            ShapeError,
        ),
    ],
)
def test_bad_input_raises(call, error):
    with pytest.raises(error):
        call()


def test_take_checks_shape():
    pairs = action_preference_pairs([[0.0, 1.0], [1.0, 0.0]])
    assert isinstance(pairs, ActionPreferencePairs)
    with pytest.raises(ShapeError):
        pairs.take(np.zeros((1, 2, 3)))
    with pytest.raises(ShapeError):
        pairs.take(np.zeros(4))
    with pytest.raises(ShapeError):
        pairs.take(np.zeros((2, 1)))
