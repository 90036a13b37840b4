"""Return redistribution (RUDDER) and information-gain turn rewards (IGPO): sums, a perfect
predictor on a toy MDP, a reference loop, hand-checked values, shapes and NaN."""

import math

import numpy as np
import pytest
import torch

from rewardkit.core.errors import ShapeError
from rewardkit.credit.redistribution import information_gain_rewards, rudder_redistribution


def _reference(g, r, ends):
    """One episode at a time, as the paper writes it."""
    out, start = np.zeros_like(g), 0
    for t in range(len(g)):
        out[t] = g[t] - (g[t - 1] if t > start else 0.0)
        if ends[t]:
            out[t] += r[start : t + 1].sum() - g[t]
            start = t + 1
    return out


def test_redistribution_sums_to_each_episodes_return_and_matches_a_reference_loop():
    rng = np.random.default_rng(0)
    g = rng.normal(size=(50, 4))
    ends = rng.random((50, 4)) < 0.15
    ends[-1] = True
    r = np.where(ends, rng.normal(size=(50, 4)), 0.0)  # delayed: paid at each end
    out = rudder_redistribution(g, r, ends)
    for column in range(4):
        expected = _reference(g[:, column], r[:, column], ends[:, column])
        np.testing.assert_allclose(out[:, column], expected)
        bounds = np.flatnonzero(ends[:, column])
        starts = np.r_[0, bounds[:-1] + 1]
        for start, end in zip(starts, bounds, strict=True):
            assert out[start : end + 1, column].sum() == pytest.approx(
                r[start : end + 1, column].sum()
            )


def test_a_perfect_predictor_gives_back_the_per_step_rewards_of_a_toy_mdp():
    # each step pays +1 or -1 with equal odds, so E[G | prefix] is the sum so far; the
    # delayed version pays the whole return at the end
    rng = np.random.default_rng(1)
    immediate = rng.choice([-1.0, 1.0], size=(12, 3))
    delayed = np.zeros_like(immediate)
    delayed[-1] = immediate.sum(axis=0)
    ends = np.zeros_like(immediate, dtype=bool)
    ends[-1] = True
    perfect = np.cumsum(immediate, axis=0)
    np.testing.assert_allclose(rudder_redistribution(perfect, delayed, ends), immediate)


def test_an_open_episode_gets_no_correction_and_torch_stays_torch():
    out = rudder_redistribution(np.array([0.5, 2.0]), np.array([0.0, 0.0]), np.array([0, 0]))
    np.testing.assert_allclose(out, [0.5, 1.5])
    tensor = rudder_redistribution(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 5.0]),
                                   torch.tensor([False, True]))  # fmt: skip
    assert isinstance(tensor, torch.Tensor) and tensor.tolist() == [1.0, 4.0]


def test_bad_input_is_refused():
    with pytest.raises(ShapeError, match="finite"):
        rudder_redistribution(np.array([np.nan]), np.array([0.0]), np.array([True]))
    with pytest.raises(ShapeError, match="shape"):
        rudder_redistribution(np.zeros(3), np.zeros(2), np.zeros(3, dtype=bool))
    with pytest.raises(ShapeError, match=r"\(0, 1\]"):
        information_gain_rewards(np.array([0.0, 0.5]), 1.0)
    with pytest.raises(ShapeError, match="T >= 1"):
        information_gain_rewards(np.zeros((0, 2)), np.zeros(2))
    with pytest.raises(ShapeError, match="outcome has shape"):
        information_gain_rewards(np.array([0.5, 0.5]), np.zeros(2))


def test_information_gain_by_hand_on_two_turns():
    # the answer's probability: 0.2 before turn 1, 0.5 after it; turn 2 ends the episode
    p = np.array([[0.2, 0.2], [0.5, 0.1]])  # two episodes side by side
    gains = information_gain_rewards(p, np.array([1.0, 0.0]))
    np.testing.assert_allclose(gains, [[0.3, -0.1], [1.0, 0.0]])  # the last turn: the outcome
    logs = information_gain_rewards(p, np.array([1.0, 0.0]), log_space=True)
    np.testing.assert_allclose(logs[:, 0], [math.log(0.5 / 0.2), 1.0])
