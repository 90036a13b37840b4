"""Unsupervised perceptual rewards: hand-computed parts, the paper's search, a planted toy.

Equations as in Sermanet, Xu & Levine (ICLR 2017 text): Algorithm 1 (segmentation),
Eq. (1) (feature score, on features normalized over all training frames) and Eq. (2)
(per-step distance, divided by σ⁺ as printed).
"""

import itertools
import pickle

import numpy as np
import pytest

from rewardkit.core import BatchError, ConfigurationError, MissingColumnError, ShapeError
from rewardkit.models.perceptual import (
    PerceptualReward,
    PerceptualRewardTerm,
    segment_costs,
    segment_demonstration,
    segment_labels,
    step_distance,
    step_feature_scores,
)


def _avg_std(x):
    return float(np.std(x, axis=0).mean())


def _algorithm1(video, start, end, n, min_size, prev_std=()):
    """The paper's Algorithm 1 ("Recursive similarity maximization"), transcribed."""
    if n == 1:
        return [_avg_std(video[start:end])], []
    min_std, min_split = None, None
    for i in range(start + min_size, end - (n - 1) * min_size + 1):
        std1, _ = _algorithm1(video, start, i, 1, min_size)
        std2, splits2 = _algorithm1(video, i, end, n - 1, min_size, (*prev_std, *std1))
        avg_std = float(np.mean([*prev_std, *std1, *std2]))
        if min_std is None or avg_std < min_std:
            min_std, min_split = avg_std, (std1 + std2, [i, *splits2])
    return min_split


def _exhaustive_frame_weighted(x, n, min_size):
    """Every split into n segments of >= min_size frames, segment stds weighted by length."""
    t = len(x)
    best, best_cuts = np.inf, None
    for cuts in itertools.combinations(range(1, t), n - 1):
        edges = (0, *cuts, t)
        if any(b - a < min_size for a, b in itertools.pairwise(edges)):
            continue
        value = sum((b - a) * _avg_std(x[a:b]) for a, b in itertools.pairwise(edges)) / t
        if value < best - 1e-12:
            best, best_cuts = value, cuts
    return list(best_cuts)


def test_segment_costs_hand_computed():
    x = np.array([[0.0, 0.0], [2.0, 4.0], [2.0, 4.0]])
    costs = segment_costs(x)
    # frames 0..1: stds (1, 2) -> 1.5 ; frames 1..2: 0 ; frames 0..2: std of (0,2,2) = sqrt(8/9)
    assert costs[0, 2] == pytest.approx(1.5)
    assert costs[1, 3] == pytest.approx(0.0)
    assert costs[0, 3] == pytest.approx(np.sqrt(8 / 9) * 1.5)
    assert np.isinf(costs[2, 1]) and np.isinf(costs[1, 1])


def test_segments_a_clean_step_signal():
    x = np.repeat([[0.0], [3.0], [7.0]], [4, 3, 5], axis=0)
    np.testing.assert_array_equal(segment_demonstration(x, 3), [4, 7])
    np.testing.assert_array_equal(segment_demonstration(x, 3, weighting="frame"), [4, 7])
    np.testing.assert_array_equal(segment_labels(12, [4, 7]), [0] * 4 + [1] * 3 + [2] * 5)
    assert segment_demonstration(x, 1).size == 0


@pytest.mark.parametrize(
    ("seed", "n", "min_size"), [(s, n, m) for s in range(3) for n in (2, 3, 4) for m in (1, 2)]
)
def test_dynamic_programme_matches_algorithm_1(seed, n, min_size):
    x = np.random.default_rng(seed).normal(size=(9, 3))
    found = segment_demonstration(x, n, min_size)
    assert found.tolist() == _algorithm1(x, 0, len(x), n, min_size)[1]


@pytest.mark.parametrize(
    ("seed", "n", "min_size"), [(s, n, m) for s in range(3) for n in (2, 3) for m in (1, 2)]
)
def test_frame_weighting_matches_exhaustive_search(seed, n, min_size):
    x = np.random.default_rng(seed).normal(size=(9, 3))
    found = segment_demonstration(x, n, min_size, weighting="frame")
    assert found.tolist() == _exhaustive_frame_weighted(x, n, min_size)


def test_ties_go_to_the_earliest_first_split_as_in_algorithm_1():
    # [0 | 3 | 1 3 1] and [0 | 3 1 3 | 1] both average (0 + 0 + sqrt(8/9)) / 3:
    # Algorithm 1 keeps the first minimum it meets, i.e. the earliest first split,
    # then the earliest second split.
    x = np.array([[0.0], [3.0], [1.0], [3.0], [1.0]])
    np.testing.assert_array_equal(segment_demonstration(x, 3), [1, 2])


def test_feature_scores_hand_computed():
    x = np.array([[0.0, 1.0], [0.0, 3.0], [1.0, 1.0], [1.0, 3.0]])
    # Eq. (1), feature 0: 5 |0 - 1| - (0 + 0) = 5 ; feature 1: 5 * 0 - (1 + 1) = -2
    labels = [0, 0, 1, 1]
    np.testing.assert_allclose(step_feature_scores(x, labels, 1, alpha=5.0, min_std=0.0), [5, -2])
    np.testing.assert_allclose(step_feature_scores(x, labels, 1, alpha=1.0, min_std=0.0), [1, -2])


def test_fit_scores_features_normalized_over_all_frames():
    # Feature 0 separates the steps exactly, at a small scale; feature 1 separates them
    # less cleanly, at a large scale. Raw Eq. (1): z = (4.998, 490) picks feature 1;
    # after the paper's normalization (mean 55, std s = sqrt(2525) for feature 1),
    # z = (5 * 2 - 0.002, 490 / s = 9.751) picks feature 0.
    demo = np.array([[0.0, 0.0], [0.0, 10.0], [1.0, 100.0], [1.0, 110.0]])
    labels = [0, 0, 1, 1]
    np.testing.assert_allclose(step_feature_scores(demo, labels, 1, min_std=1e-3), [4.998, 490])
    model = PerceptualReward.fit([demo], 2, n_features=1)
    np.testing.assert_array_equal(model.boundaries[0], [2])
    np.testing.assert_allclose(model.feature_mean, [0.5, 55.0])
    np.testing.assert_allclose(model.feature_std, [0.5, np.sqrt(2525.0)])
    normed = (demo - model.feature_mean) / model.feature_std
    np.testing.assert_allclose(
        step_feature_scores(normed, labels, 1, min_std=1e-3), [9.998, 490 / np.sqrt(2525.0)]
    )
    np.testing.assert_array_equal(model.selected, [[0], [0]])
    np.testing.assert_allclose(model.means, [[-1.0], [1.0]])  # in normalized units


def test_step_distance_and_reward_hand_computed():
    # Eq. (2) divides by sigma, not sigma^2:
    # ((1-1)^2/2 + (5-1)^2/1) / 2 = 8 and ((3-1)^2/2 + (1-1)^2/1) / 2 = 1
    np.testing.assert_allclose(
        step_distance([[1.0, 5.0], [3.0, 1.0]], mean=[1.0, 1.0], std=[2.0, 1.0], selected=[0, 1]),
        [8.0, 1.0],
    )
    model = PerceptualReward(
        boundaries=[],
        selected=[[0], [0], [0]],
        means=[[0.0], [1.0], [2.0]],
        stds=[[2.0], [2.0], [2.0]],
    )
    x = np.array([[2.0]])
    # R_g = (4/2, 1/2, 0): p = (e^-1, e^-0.25, 1); R = 0 * p_1 + 2 e^-0.25 + 4 * 1
    np.testing.assert_allclose(model.step_distances(x), [[2.0, 0.5, 0.0]])
    np.testing.assert_allclose(model(x), [2 * np.exp(-0.25) + 4.0])
    assert model.n_steps == 3


def _toy_demo(rng, t, bounds, features=24, steps=3, per_step=4, shift=2.0, sd=0.3):
    """Noise features N(0, 1); feature block g rises by `shift` during planted step g."""
    x = rng.normal(size=(t, features))
    labels = segment_labels(t, bounds)
    for g in range(steps):
        block = slice(g * per_step, (g + 1) * per_step)
        x[:, block] = rng.normal(0, sd, size=(t, per_step)) + shift * (labels == g)[:, None]
    return x


def _toy(seed):
    rng = np.random.default_rng(seed)
    demos, planted = [], []
    for _ in range(4):
        t = int(rng.integers(36, 48))
        bounds = [int(rng.integers(t // 4, t // 2 - 2)), int(rng.integers(t // 2 + 2, 3 * t // 4))]
        demos.append(_toy_demo(rng, t, bounds))
        planted.append(bounds)
    return demos, planted


@pytest.mark.parametrize("seed", range(5))
def test_toy_recovers_planted_steps_and_rewards_progress(seed):
    demos, planted = _toy(seed)
    model = PerceptualReward.fit(demos[:3], 3, n_features=4, min_size=2, weighting="frame")
    for found, truth in zip(model.boundaries, planted[:3], strict=True):
        assert np.abs(found - truth).max() <= 1
    # each step picked its own planted block of features
    for g in range(3):
        assert sorted(model.selected[g].tolist()) == list(range(4 * g, 4 * g + 4))
    held_out, (b1, b2) = demos[3], planted[3]
    reward = model(held_out)
    means = [reward[:b1].mean(), reward[b1:b2].mean(), reward[b2:].mean()]
    assert means[0] < means[1] < means[2]
    assert np.corrcoef(np.arange(len(reward)), reward)[0, 1] > 0.7


def test_toy_paper_weighting_needs_a_sizeable_min_size():
    demos, planted = _toy(0)
    model = PerceptualReward.fit(demos[:3], 3, n_features=4, min_size=8)  # the paper's average
    for found, truth in zip(model.boundaries, planted[:3], strict=True):
        assert np.abs(found - truth).max() <= 1
    # with a small minimum, the unweighted average prefers a short, low-variance segment
    short = segment_demonstration(demos[0], 3, min_size=3)
    assert np.abs(short - planted[0]).max() > 1


def test_term_reads_a_features_column_and_pickles():
    demo = np.array([[0.0], [0.0], [0.0], [4.0], [6.0]])
    model = PerceptualReward.fit([demo], n_steps=2, n_features=1)
    term = PerceptualRewardTerm(model, column="features")
    batch = {"features": [[0.0], [5.0], [6.0]]}
    # normalized by mean 2, std s = sqrt(6.4): step 2 has mu+ = 3/s, sigma+ = 1/s, so
    # R_2(x) = ((x - 5)/s)^2 / (1/s) = (x - 5)^2 / s and R = 2 exp(-R_2 / 2)
    s = np.sqrt(6.4)
    np.testing.assert_allclose(term(batch).total, 2 * np.exp(-np.array([25.0, 0.0, 1.0]) / (2 * s)))
    np.testing.assert_allclose(pickle.loads(pickle.dumps(term))(batch).total, term(batch).total)
    with pytest.raises(MissingColumnError):
        term({"next_obs": [[0.0]]})
    with pytest.raises(BatchError, match="finite"):
        term({"features": [[np.nan]]})
    with pytest.raises(ShapeError):
        term({"features": [[0.0, 1.0]]})
    with pytest.raises(ConfigurationError):
        PerceptualRewardTerm("not a model")


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: segment_demonstration(np.zeros(5), 2), ShapeError),
        (lambda: segment_demonstration([[np.nan], [0.0]], 2), BatchError),
        (lambda: segment_demonstration(np.zeros((5, 1)), 3, min_size=2), ConfigurationError),
        (lambda: segment_demonstration(np.zeros((5, 1)), 0), ConfigurationError),
        (lambda: segment_demonstration(np.zeros((5, 1)), 2, weighting="time"), ConfigurationError),
        (lambda: segment_labels(5, [3, 2]), ShapeError),
        (lambda: segment_labels(5, [5]), ShapeError),
        (lambda: step_feature_scores(np.zeros((4, 2)), [0, 0, 0], 0), ShapeError),
        (lambda: step_feature_scores(np.zeros((4, 2)), [0, 0, 0, 0], 0), BatchError),
        (
            lambda: step_feature_scores(np.zeros((4, 2)), [0, 0, 1, 1], 0, alpha=0),
            ConfigurationError,
        ),
        (lambda: step_distance(np.zeros((2, 2)), [0.0], [1.0], [2]), ShapeError),
        (lambda: step_distance(np.zeros((2, 2)), [0.0, 0.0], [1.0], [0]), ShapeError),
        (lambda: PerceptualReward.fit([], 2), ConfigurationError),
        (lambda: PerceptualReward.fit([np.zeros((6, 2))], 1), ConfigurationError),
        (lambda: PerceptualReward.fit([np.zeros((6, 2))], 2, n_features=3), ConfigurationError),
        (lambda: PerceptualReward.fit([np.zeros((6, 2)), np.zeros((6, 3))], 2), ShapeError),
        (
            lambda: PerceptualReward.fit([np.zeros((6, 2))], 2, n_features=1, min_std=0),
            ConfigurationError,
        ),
    ],
)
def test_bad_input_raises(call, error):
    with pytest.raises(error):
        call()
