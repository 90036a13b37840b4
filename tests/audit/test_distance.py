"""EPIC and STARC: invariances, the positive case, tabular vs sample, and regret."""

import itertools

import numpy as np
import pytest

from rewardkit.audit import (
    canonicalize_epic_tabular,
    epic_distance,
    epic_distance_tabular,
    pearson_distance,
    starc_distance,
)
from rewardkit.core import ShapeError, term

GAMMA = 0.9


def random_mdp(rng, states=5, actions=3):
    transition = rng.dirichlet(np.ones(states) * 0.5, size=(states, actions))
    reward = rng.normal(size=(states, actions, states))
    return transition, reward


def shaped(reward, potential, gamma=GAMMA):
    return reward + gamma * potential[None, None, :] - potential[:, None, None]


def optimal_policy(reward, transition, gamma=GAMMA, iterations=2000):
    q = np.zeros(reward.shape[:2])
    for _ in range(iterations):
        v = q.max(axis=1)
        q = np.einsum("sax,sax->sa", transition, reward + gamma * v[None, None, :])
    return q.argmax(axis=1)


def policy_value(policy, reward, transition, gamma=GAMMA):
    n = reward.shape[0]
    p = transition[np.arange(n), policy]
    r = np.einsum("sx,sx->s", p, reward[np.arange(n), policy])
    return np.linalg.solve(np.eye(n) - gamma * p, r)


@pytest.mark.parametrize("seed", range(5))
def test_invariant_to_shaping_and_positive_rescaling(seed):
    rng = np.random.default_rng(seed)
    transition, reward = random_mdp(rng)
    potential = rng.normal(size=reward.shape[0]) * 5
    for other in (shaped(reward, potential), 7.0 * reward, 0.1 * shaped(reward, potential) + 3.0):
        assert epic_distance_tabular(reward, other, GAMMA) == pytest.approx(0.0, abs=1e-6)
        assert starc_distance(reward, other, transition, GAMMA) == pytest.approx(0.0, abs=1e-6)


def test_canonical_form_removes_potential_exactly():
    rng = np.random.default_rng(3)
    _, reward = random_mdp(rng)
    potential = rng.normal(size=reward.shape[0])
    np.testing.assert_allclose(
        canonicalize_epic_tabular(shaped(reward, potential), GAMMA),
        canonicalize_epic_tabular(reward, GAMMA),
        atol=1e-12,
    )


def test_positive_for_a_reward_with_a_different_optimal_policy():
    rng = np.random.default_rng(7)
    transition, reward = random_mdp(rng)
    flipped = -reward
    assert not np.array_equal(
        optimal_policy(reward, transition), optimal_policy(flipped, transition)
    )
    assert epic_distance_tabular(reward, flipped, GAMMA) == pytest.approx(1.0)
    assert starc_distance(reward, flipped, transition, GAMMA) == pytest.approx(2.0)
    other = rng.normal(size=reward.shape)
    assert 0.3 < epic_distance_tabular(reward, other, GAMMA) < 1.0
    assert starc_distance(reward, other, transition, GAMMA) > 0.3


def test_sample_based_epic_matches_tabular_within_its_interval():
    rng = np.random.default_rng(11)
    n_states, n_actions = 6, 3
    reward_a = rng.normal(size=(n_states, n_actions, n_states))
    reward_b = reward_a + rng.normal(size=reward_a.shape) * 0.8
    exact = epic_distance_tabular(reward_a, reward_b, GAMMA)

    def as_term(table, name):
        return term(
            lambda obs, action, next_obs: table[obs[:, 0], action, next_obs[:, 0]], name=name
        )

    n = 4000  # coverage = uniform over (s, a, s'), matching the tabular default
    transitions = {
        "obs": rng.integers(0, n_states, size=(n, 1)),
        "action": rng.integers(0, n_actions, size=n),
        "next_obs": rng.integers(0, n_states, size=(n, 1)),
    }
    estimate = epic_distance(
        as_term(reward_a, "a"),
        as_term(reward_b, "b"),
        transitions,
        gamma=GAMMA,
        mc_samples=256,
        bootstrap=300,
    )
    assert estimate.low <= exact <= estimate.high, (exact, str(estimate))
    assert abs(estimate.distance - exact) < 0.03


@pytest.mark.slow
def test_starc_regret_grows_with_distance():
    # The paper bounds regret by a constant times the STARC distance. On random
    # MDPs: zero distance gives zero regret, and regret rises with distance.
    rng = np.random.default_rng(0)
    distances, regrets = [], []
    for _ in range(60):
        transition, reward = random_mdp(rng, states=6, actions=3)
        for scale in (0.0, 0.2, 0.5, 1.0, 2.0, 4.0):
            other = reward + scale * rng.normal(size=reward.shape)
            d = starc_distance(reward, other, transition, GAMMA)
            best = policy_value(optimal_policy(reward, transition), reward, transition).mean()
            worst = policy_value(optimal_policy(-reward, transition), reward, transition).mean()
            got = policy_value(optimal_policy(other, transition), reward, transition).mean()
            distances.append(d)
            regrets.append((best - got) / (best - worst))
    distances, regrets = np.array(distances), np.array(regrets)
    assert np.all(regrets[distances < 1e-9] < 1e-9)
    bins = np.quantile(distances, [0, 0.25, 0.5, 0.75, 1.0])
    medians = [
        np.median(regrets[(distances >= lo) & (distances <= hi)])
        for lo, hi in itertools.pairwise(bins)
    ]
    assert all(a <= b + 1e-9 for a, b in itertools.pairwise(medians)), medians
    assert np.corrcoef(distances, regrets)[0, 1] > 0.5
    positive = distances > 1e-6
    assert np.max(regrets[positive] / distances[positive]) < 1.0  # a finite bound, well below 1/d


def test_validation():
    with pytest.raises(ShapeError, match=r"\(S, A, S\)"):
        epic_distance_tabular(np.zeros((2, 2)), np.zeros((2, 2)), GAMMA)
    with pytest.raises(ShapeError, match="sum to 1"):
        starc_distance(np.zeros((2, 1, 2)), np.zeros((2, 1, 2)), np.ones((2, 1, 2)), GAMMA)
    assert pearson_distance(np.ones(3), np.ones(3)) == 0.0
