"""Potential-based shaping keeps optimal policies; a same-size non-potential bonus need not."""

import numpy as np
import pytest

from rewardkit.core import ConfigurationError, ShapeError
from rewardkit.shaping import PotentialShaping, PotentialValue, shaping_reward

GAMMA = 0.95


def value_iteration(reward, transition, terminal, gamma=GAMMA, iterations=3000):
    """Q-values of a tabular MDP; terminal states have value 0."""
    q = np.zeros(reward.shape[:2])
    for _ in range(iterations):
        v = np.where(terminal, 0.0, q.max(axis=1))
        q = np.einsum("sax,sax->sa", transition, reward + gamma * v[None, None, :])
    return q


def chain(n=6):
    """A corridor: action 1 moves right, action 0 left; reaching the end pays 1 and ends."""
    transition = np.zeros((n, 2, n))
    for s in range(n):
        transition[s, 0, max(s - 1, 0)] = 1.0
        transition[s, 1, min(s + 1, n - 1)] = 1.0
    terminal = np.zeros(n, dtype=bool)
    terminal[-1] = True
    reward = np.zeros((n, 2, n))
    reward[n - 2, 1, n - 1] = 1.0
    return reward, transition, terminal


def shaped_table(reward, potential, terminal, gamma=GAMMA):
    n = reward.shape[0]
    phi_next = np.where(terminal, 0.0, potential)  # Φ(terminal) counts as 0
    f = shaping_reward(
        np.broadcast_to(potential[:, None, None], reward.shape),
        np.broadcast_to(phi_next[None, None, :], reward.shape),
        np.zeros(reward.shape, dtype=bool),
        gamma,
    )
    return reward + f, n


@pytest.mark.parametrize("seed", range(5))
def test_potential_shaping_keeps_the_optimal_policy(seed):
    rng = np.random.default_rng(seed)
    n, actions = 7, 3
    transition = rng.dirichlet(np.ones(n), size=(n, actions))
    terminal = np.zeros(n, dtype=bool)
    terminal[-1] = True
    reward = rng.normal(size=(n, actions, n))
    potential = rng.normal(size=n) * 10
    shaped, _ = shaped_table(reward, potential, terminal)
    q, q_shaped = (
        value_iteration(reward, transition, terminal),
        value_iteration(shaped, transition, terminal),
    )
    live = ~terminal
    np.testing.assert_array_equal(q[live].argmax(axis=1), q_shaped[live].argmax(axis=1))
    # and Q differs exactly by -Φ(s) (Ng et al., Theorem 1)
    np.testing.assert_allclose(q_shaped[live], q[live] - potential[live, None], atol=1e-6)


def test_a_non_potential_bonus_of_the_same_size_can_change_it():
    reward, transition, terminal = chain()
    n = reward.shape[0]
    q = value_iteration(reward, transition, terminal)
    assert (q[:-1].argmax(axis=1) == 1).all()  # go right
    # Potential that grows to the right: a bonus of size ~0.5 per step, policy unchanged.
    potential = np.linspace(0, 2.5, n)
    shaped, _ = shaped_table(reward, potential, terminal)
    assert (value_iteration(shaped, transition, terminal)[:-1].argmax(axis=1) == 1).all()
    # A "loitering" bonus of the same size paid for staying in state 0 (moving left there)
    # is not potential-based: it changes the optimal policy to stay forever.
    loiter = reward.copy()
    loiter[0, 0, 0] += 0.5
    q_loiter = value_iteration(loiter, transition, terminal)
    assert q_loiter[0].argmax() == 0


def test_terms_read_observations():
    batch = {
        "obs": np.array([[0.0], [1.0]]),
        "next_obs": np.array([[1.0], [2.0]]),
        "terminated": np.array([False, True]),
    }
    shaping = PotentialShaping("coordinate", {"index": 0, "scale": 2.0}, gamma=0.5)
    np.testing.assert_allclose(shaping(batch).total, [0.5 * 2.0 - 0.0, -2.0])
    custom = PotentialShaping(lambda obs: obs[:, 0] ** 2, gamma=1.0)
    np.testing.assert_allclose(custom(batch).total, [1.0, -1.0])
    value = PotentialValue("negative_distance", {"goal": [2.0]})
    np.testing.assert_allclose(value(batch).total, [-1.0, 0.0])
    with pytest.raises(ConfigurationError, match="unknown potential"):
        PotentialShaping("bogus")
    with pytest.raises(ShapeError):
        shaping_reward(np.zeros(2), np.zeros(3), np.zeros(2, bool), 0.9)
