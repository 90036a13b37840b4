"""NovelD: the formula by hand, the episodic restriction, the novelty's normalization."""

import numpy as np
import pytest

from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.core.registry import REGISTRY
from rewardkit.explore.noveld import NovelDBonus, noveld_bonus


def test_the_formula_by_hand():
    # max(N(s') - 0.5 N(s), 0) on first visits: 4 - 0.5 = 3.5; 1 - 1.5 < 0 -> 0; not first -> 0
    got = noveld_bonus(np.array([1.0, 3.0, 2.0]), np.array([4.0, 1.0, 9.0]),
                       np.array([True, True, False]), alpha=0.5, beta=2.0)  # fmt: skip
    np.testing.assert_allclose(got, [7.0, 0.0, 0.0])
    with pytest.raises(ShapeError):
        noveld_bonus(np.zeros(2), np.zeros(3), np.ones(2, dtype=bool))
    with pytest.raises(ShapeError, match="finite"):
        noveld_bonus(np.array([np.nan]), np.zeros(1), np.ones(1, dtype=bool))
    with pytest.raises(ConfigurationError):
        noveld_bonus(np.zeros(1), np.zeros(1), np.ones(1, dtype=bool), alpha=-1.0)


def test_a_state_pays_once_per_episode_of_each_env():
    bonus = NovelDBonus()
    batch = {
        "next_obs": np.array([[1.0], [1.0], [2.0], [1.0], [1.0]]),
        "terminated": np.array([False, False, True, False, False]),
        "truncated": np.zeros(5, dtype=bool),
        "env": [0, 1, 0, 0, 0],
    }
    # env 0: [1] new, [2] new (episode ends), [1] new again, [1] seen; env 1: [1] new
    assert bonus.first_visits(batch).tolist() == [True, True, True, True, False]
    bonus.reset()
    assert bonus.first_visits(batch)[0]


def test_novelty_is_rnds_distance_over_the_running_std_of_that_distance():
    rng = np.random.default_rng(0)
    bonus = NovelDBonus(seed=3)
    raws = []
    for _ in range(3):
        observations = rng.normal(size=(32, 5))
        flags = np.zeros(32, dtype=bool)
        batch = {"obs": observations, "next_obs": observations, "terminated": flags,
                 "truncated": flags}  # fmt: skip
        raws.append(np.sqrt(bonus.raw_bonus(observations)))  # distance, not squared error
        bonus.update(batch)
    probe = rng.normal(size=(4, 5))
    pooled = np.concatenate(raws)  # the running statistics see every batch's raw error
    n, prior = len(pooled), 1e-4  # RunningMeanStd starts at mean 0, var 1, weight 1e-4
    var = (prior * 1.0 + n * pooled.var() + pooled.mean() ** 2 * prior * n / (n + prior)) / (
        n + prior
    )
    expected = np.sqrt(bonus.raw_bonus(probe)) / np.sqrt(var + 1e-8)
    np.testing.assert_allclose(bonus.novelty(probe), expected, rtol=1e-3)


def test_it_is_a_registered_term_that_scores_a_rollout():
    bonus = REGISTRY.create("noveld_bonus", alpha=0.5)
    observations = np.arange(12, dtype=float).reshape(6, 2)
    flags = np.zeros(6, dtype=bool)
    batch = {"obs": observations, "next_obs": observations + 1.0, "terminated": flags,
             "truncated": flags}  # fmt: skip
    out = bonus(batch).total
    assert out.shape == (6,) and np.all(out >= 0) and np.isfinite(out).all()


def test_ppo_trains_with_it():
    from rewardkit.train.ppo import PPOConfig, PPOTrainer

    config = PPOConfig(num_envs=2, num_steps=64, total_frames=256)
    log = PPOTrainer(config, bonus=NovelDBonus()).train()
    assert np.isfinite(log[-1]["bonus/noveld_bonus"]) and log[-1]["bonus/noveld_bonus"] >= 0


def test_a_non_finite_observation_scores_nan_and_stays_out_of_the_statistics():
    bonus = NovelDBonus()
    observations = np.array([[0.0, 1.0], [np.nan, 1.0], [2.0, 3.0]])
    flags = np.zeros(3, dtype=bool)
    batch = {"obs": observations, "next_obs": observations, "terminated": flags,
             "truncated": flags}  # fmt: skip
    out = bonus(batch).total
    assert np.isnan(out[1]) and np.isfinite(out[[0, 2]]).all()
    bonus.update(batch)
    assert np.isfinite(bonus.novelty_stats.var) and np.isfinite(bonus.obs_stats.mean).all()
