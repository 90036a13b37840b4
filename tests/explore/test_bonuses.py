"""Exploration bonuses on tiny hand-made inputs."""

import itertools

import numpy as np
import pytest
import torch

from rewardkit.explore import (
    CountBonus,
    E3BBonus,
    EpisodicCountBonus,
    RDDBonus,
    RNDBonus,
    SimHashCountBonus,
    count_bonus,
    rdd_bound,
    sherman_morrison_update,
)


def test_count_bonus_by_hand_and_decreasing():
    np.testing.assert_allclose(count_bonus([0, 1, 3], beta=2.0), [2.0, 2 / np.sqrt(2), 1.0])
    bonus = CountBonus(beta=1.0)
    state = {"next_obs": np.array([[3, 4]])}
    values = []
    for _ in range(5):
        values.append(bonus(state).total[0])
        bonus.update(state)
    np.testing.assert_allclose(values, 1 / np.sqrt(np.arange(1, 6)))
    assert all(a > b for a, b in itertools.pairwise(values))


def test_simhash_shares_counts_between_near_vectors():
    bonus = SimHashCountBonus(beta=1.0, bits=16, seed=0)
    base = np.array([[1.0, 2.0, 3.0]])
    bonus.update({"next_obs": base})
    near = bonus({"next_obs": base * 1.001}).total[0]
    far = bonus({"next_obs": -base}).total[0]
    assert near == pytest.approx(1 / np.sqrt(2)) and far == 1.0


def test_episodic_counts_by_hand_reset_on_truncation_and_keep_envs_apart():
    bonus = EpisodicCountBonus(beta=2.0)
    batch = {
        "next_obs": np.array([[1], [1], [2], [1], [1], [1]]),
        "terminated": [False, False, False, False, False, False],
        "truncated": [False, False, False, True, False, False],
        "env": [0, 1, 0, 0, 0, 1],
    }
    # env 0 sees 1, 2, 1 (truncated: still paid, then forgotten), 1; env 1 sees 1, 1
    expected = [2.0, 2.0, 2.0, 2 / np.sqrt(2), 2.0, 2 / np.sqrt(2)]
    np.testing.assert_allclose(bonus(batch).total, expected)
    # counts persist across rollouts within an episode, and termination also resets
    step = {"next_obs": np.array([[1]]), "terminated": [True], "truncated": [False], "env": [0]}
    assert bonus(step).total[0] == pytest.approx(2 / np.sqrt(2))
    assert bonus(step).total[0] == pytest.approx(2.0)


def test_e3b_by_hand_resets_on_truncation_and_keeps_envs_apart():
    e3b = E3BBonus(ridge=1.0, projection_dim=None)
    one_hot = np.array([[1.0, 0.0]])
    step = {"next_obs": one_hot, "terminated": [False], "truncated": [False]}
    assert [e3b(step).total[0] for _ in range(3)] == pytest.approx([1.0, 1 / 2, 1 / 3])
    # the truncated step still gets its bonus, then the memory resets
    assert e3b({**step, "truncated": [True]}).total[0] == pytest.approx(1 / 4)
    assert e3b(step).total[0] == pytest.approx(1.0)
    # two environments in one batch keep separate memories
    batch = {
        "next_obs": np.repeat(one_hot, 4, axis=0),
        "terminated": [False] * 4,
        "truncated": [False] * 4,
        "env": [0, 1, 0, 1],
    }
    e3b.reset()
    np.testing.assert_allclose(e3b(batch).total, [1.0, 1.0, 0.5, 0.5])
    inverse = sherman_morrison_update(np.eye(2) / 0.5, np.array([1.0, 1.0]))
    np.testing.assert_allclose(inverse, np.linalg.inv(0.5 * np.eye(2) + np.ones((2, 2))))


def test_rnd_error_decreases_on_repeated_states():
    torch.manual_seed(0)
    rnd = RNDBonus(learning_rate=1e-3, seed=0)
    states = {"next_obs": np.random.default_rng(0).normal(size=(32, 4))}
    rnd.update(states)
    before = rnd.raw_bonus(states["next_obs"]).mean()
    for _ in range(200):
        rnd.update(states)
    after = rnd.raw_bonus(states["next_obs"]).mean()
    novel = rnd.raw_bonus(np.random.default_rng(1).normal(size=(32, 4)) * 3).mean()
    assert after < 0.2 * before
    assert novel > after  # unseen states keep a larger bonus


def test_rdd_matches_its_formula():
    rdd = RDDBonus(feature_dim=8, hidden=16, seed=0)
    obs = np.random.default_rng(0).normal(size=(5, 3))
    bonus = rdd({"next_obs": obs}).total
    x = rdd._inputs(obs)
    with torch.no_grad():
        expected = ((rdd.predictor(x) - rdd.target(x)) ** 2).mean(dim=1).numpy()
    np.testing.assert_allclose(bonus, expected, rtol=1e-6)


def test_rdd_bound_pseudo_count_term():
    # With the least-squares predictor (the mean of the n samples drawn so far), the
    # discrepancy term is 0 and the expected bonus is exactly sigma^2 / n.
    rng = np.random.default_rng(0)
    sigma, d, trials = 1.5, 64, 2000
    for n in (1, 4, 16):
        samples = rng.normal(0.0, sigma, size=(trials, n, d))  # targets around mu = 0
        bonus = (samples.mean(axis=1) ** 2).mean(axis=1)  # ||f*_n - mu||^2 / d
        assert bonus.mean() == pytest.approx(rdd_bound(sigma**2, n, 0.0), rel=0.05)


def test_rdd_bonus_decays_with_visits():
    rdd = RDDBonus(learning_rate=3e-3, seed=0)
    states = {"next_obs": np.random.default_rng(2).normal(size=(16, 4))}
    first = rdd(states).total.mean()
    for _ in range(300):
        rdd.update(states)
    assert rdd(states).total.mean() < 0.3 * first
