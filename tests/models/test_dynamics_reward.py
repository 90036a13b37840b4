"""MOREC's dynamics reward: hand-computed filter and truncation math, and a toy system with a
known answer (s' = s + a) on which the learned reward must tell real transitions from
corrupted ones and the filter must find the true next state."""

import pickle

import numpy as np
import pytest
import torch

from rewardkit.core.errors import BatchError, ConfigurationError, ShapeError
from rewardkit.models._common import ModelError
from rewardkit.models.dynamics_reward import (
    DynamicsReward,
    DynamicsRewardTraining,
    ensemble_dynamics_reward,
    filter_probabilities,
    normalized_logits,
    select_candidates,
    truncation_mask,
)

TOY = DynamicsRewardTraining(seed=0)  # the defaults


def linear_system(n, rng):
    s = rng.uniform(-1.0, 1.0, (n, 1))
    a = rng.uniform(-0.5, 0.5, (n, 1))
    return s, a, s + a


@pytest.fixture(scope="module")
def toy(one_thread):
    rng = np.random.default_rng(0)
    reward = DynamicsReward(1, 1, TOY)
    metrics = reward.fit(*linear_system(2000, rng))
    return reward, metrics, linear_system(500, np.random.default_rng(1))


# ------------------------------------------------------------------------ hand-computed math
def test_normalized_logits_clamp_and_rescale():
    out = normalized_logits([[-3.0, 0.0, 1.0, 2.0, 9.0], [0.5, 1.0, 1.5, 2.0, 3.0]],
                            [0.0, 1.0], [2.0, 3.0])  # fmt: skip
    np.testing.assert_allclose(out, [[-1, -1, 0, 1, 1], [-1, -1, -0.5, 0, 1]])


def test_ensemble_reward_is_minus_log_one_minus_mean_probability():
    p = np.array([[0.2, 0.9, 0.99], [0.6, 0.7, 0.99]])
    np.testing.assert_allclose(ensemble_dynamics_reward(p), -np.log(1 - np.array([0.4, 0.8, 0.99])))
    clipped = ensemble_dynamics_reward(p, clip=0.5)  # mean capped at c
    np.testing.assert_allclose(clipped, -np.log([0.6, 0.5, 0.5]))
    assert ensemble_dynamics_reward([[1.0]])[0] == pytest.approx(-np.log(1e-9))


def test_softmax_filter_by_hand():
    rewards = np.array([[1.0, 0.0], [1.1, 0.0], [0.9, 0.0]])
    e = np.exp([0.0, 1.0, -1.0])  # (r − max) / τ with τ = 0.1, up to a shift
    np.testing.assert_allclose(filter_probabilities(rewards)[:, 0], e / e.sum())
    np.testing.assert_allclose(filter_probabilities(rewards)[:, 1], [1 / 3] * 3)
    np.testing.assert_allclose(filter_probabilities(rewards, 1.0)[:, 0],
                               np.exp([1.0, 1.1, 0.9]) / np.exp([1.0, 1.1, 0.9]).sum())  # fmt: skip
    hard = filter_probabilities(rewards, 0.0)
    np.testing.assert_array_equal(hard, [[0, 1], [1, 0], [0, 0]])  # ties: the first


def test_select_candidates_follows_the_softmax():
    rewards = np.repeat(np.array([[0.0], [0.1 * np.log(3.0)]]), 20000, axis=1)  # P = 1/4, 3/4
    picks = select_candidates(rewards, 0.1, np.random.default_rng(0))
    assert picks.shape == (20000,)
    assert picks.mean() == pytest.approx(0.75, abs=0.01)
    again = select_candidates(rewards, 0.1, np.random.default_rng(0))
    np.testing.assert_array_equal(picks, again)
    np.testing.assert_array_equal(select_candidates([[0.3, 0.2], [0.1, 0.5]], 0.0), [0, 1])


def test_truncation_threshold_and_minimal_length():
    r = [0.59, 0.6, 1.2, 0.0]
    np.testing.assert_array_equal(truncation_mask(r), [True, False, False, True])
    np.testing.assert_array_equal(truncation_mask(r, threshold=1.0), [True, True, False, True])
    assert not truncation_mask(r, step=3, minimal_length=3).any()
    np.testing.assert_array_equal(truncation_mask(r, step=4, minimal_length=3), truncation_mask(r))


# ------------------------------------------------------------------------------ the toy
def test_real_transitions_score_above_corrupted_ones(toy):
    reward, metrics, (s, a, s2) = toy
    assert metrics["snapshots"] >= 20
    rng = np.random.default_rng(2)
    real = reward.score(s, a, s2)
    for noise, rate in ((0.05, 0.95), (0.1, 0.95), (0.3, 0.97)):
        corrupted = reward.score(s, a, s2 + rng.normal(0.0, noise, s2.shape))
        assert (real > corrupted).mean() > rate, noise
    far = reward.score(s, a, s2 + 0.5)
    assert real.mean() > 0.9 > 0.4 > far.mean()


def test_filter_picks_the_true_next_state(toy):
    reward, _, (s, a, s2) = toy
    rng = np.random.default_rng(3)
    k = 8
    candidates = np.stack([s2] + [s2 + rng.normal(0.0, 0.1, s2.shape) for _ in range(k - 1)])
    scores = reward.score_candidates(s, a, candidates)
    assert scores.shape == (k, len(s))
    assert (select_candidates(scores, 0.0) == 0).mean() > 0.9  # chance: 1/8
    assert (select_candidates(scores, 0.1, rng) == 0).mean() > 0.75
    np.testing.assert_allclose(scores[3], reward.score(s, a, candidates[3]))


def test_the_reward_learns_the_data_not_a_prior(toy, one_thread):
    """Trained on a mirrored system (s' = s − a), the same transitions rank the other way."""
    _, _, (s, a, s2) = toy
    rng = np.random.default_rng(4)
    ms, ma, _ = linear_system(2000, rng)
    mirrored = DynamicsReward(1, 1, DynamicsRewardTraining(rounds=400, seed=1))
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    mirrored.fit(ms, ma, ms - ma)
    assert torch.equal(torch.rand(3), expected)  # the caller's RNG is left alone
    assert (mirrored.score(s, a, s - a) > mirrored.score(s, a, s2)).mean() > 0.9


def test_truncation_keeps_real_rollouts_and_cuts_wrong_ones(toy):
    reward, _, (s, a, s2) = toy
    assert truncation_mask(reward.score(s, a, s2)).mean() < 0.2
    assert truncation_mask(reward.score(s, a, s2 + 0.2)).mean() > 0.9


def test_it_is_a_term_and_pickles(toy):
    reward, _, (s, a, s2) = toy
    out = reward({"obs": s[:5], "action": a[:5, 0], "next_obs": s2[:5]})
    assert out.total.shape == (5,) and np.isfinite(out.total).all()
    assert list(out.terms) == ["dynamics_reward"]
    copy = pickle.loads(pickle.dumps(reward))
    np.testing.assert_allclose(copy.score(s[:5], a[:5], s2[:5]), out.total)


# ------------------------------------------------------------------------------- errors
def test_bad_inputs_raise_clear_errors(toy):
    reward, _, (s, a, s2) = toy
    with pytest.raises(ShapeError):
        reward.score(s, a, s2[:-1])
    with pytest.raises(ShapeError):
        reward.score(s, np.hstack([a, a]), s2)
    with pytest.raises(ShapeError):
        reward.score_candidates(s, a, s2)
    bad = s2.copy()
    bad[3] = np.nan
    with pytest.raises(BatchError, match="NaN"):
        reward.score(s, a, bad)
    with pytest.raises(BatchError, match="empty"):
        reward.score(s[:0], a[:0], s2[:0])
    with pytest.raises(BatchError, match="NaN"):
        DynamicsReward(1, 1, TOY).fit(s, a, bad)
    with pytest.raises(ModelError, match="fit"):
        DynamicsReward(1, 1).score(s, a, s2)


def test_bad_settings_and_arguments_raise():
    bad_settings = [{"rounds": 0}, {"warmup_rounds": 5, "rounds": 5}, {"clip": 0.0}]
    bad_settings += [{"entropy_coef": -1.0}, {"batch_size": 2.5}, {"transition_lr": 0.0}]
    for settings in bad_settings:
        with pytest.raises(ConfigurationError):
            DynamicsRewardTraining(**settings)
    with pytest.raises(ConfigurationError):
        filter_probabilities([[1.0]], temperature=-0.1)
    with pytest.raises(ShapeError):
        filter_probabilities([1.0, 2.0])
    with pytest.raises(BatchError):
        filter_probabilities([[np.nan]])
    with pytest.raises(ShapeError):
        truncation_mask([[0.1]])
    with pytest.raises(ConfigurationError):
        normalized_logits([[0.0]], [1.0], [1.0])
    with pytest.raises(ConfigurationError):
        ensemble_dynamics_reward([[1.5]])
    with pytest.raises(ConfigurationError):
        DynamicsReward(0, 1)
