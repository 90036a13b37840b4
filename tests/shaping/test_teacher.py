"""Teacher-driven rewards on a chain with known V*: invariance, faster Q-learning, adaptivity."""

import pickle

import numpy as np
import pytest

from rewardkit.core import BatchError, ConfigurationError, ShapeError
from rewardkit.shaping.teacher import (
    TeacherShaping,
    ValueTable,
    lookahead_informativeness,
    most_informative_reward,
    policy_evaluation,
    shaped_reward_table,
    teacher_shaping_reward,
    value_iteration,
)

N, GAMMA = 10, 0.9  # states 0..9, state 9 is the goal; actions 0 = left, 1 = right
GOAL = N - 1


def chain(n=N):
    P = np.zeros((n, 2, n))
    for s in range(n):
        P[s, 0, max(s - 1, 0)] = 1.0
        P[s, 1, min(s + 1, n - 1)] = 1.0
    R = np.zeros((n, 2))
    R[n - 2, 1] = 1.0  # stepping into the goal pays 1
    terminal = np.zeros(n, dtype=bool)
    terminal[n - 1] = True
    return P, R, terminal


def test_value_iteration_recovers_the_known_v_star():
    P, R, terminal = chain()
    v_star, q_star = value_iteration(P, R, GAMMA, terminal)
    # V*(s) = γ^(N-2-s): the goal's 1 arrives after N-1-s steps
    expected = np.array([GAMMA ** (N - 2 - s) for s in range(N - 1)] + [0.0])
    np.testing.assert_allclose(v_star, expected, atol=1e-9)
    np.testing.assert_array_equal(q_star[:-1].argmax(axis=1), np.ones(N - 1))


def test_shaping_with_v_star_leaves_the_optimal_policy_unchanged():
    P, R, terminal = chain()
    v_star, q_star = value_iteration(P, R, GAMMA, terminal)
    shaped = shaped_reward_table(P, R, v_star, GAMMA, terminal)
    v_hat, q_hat = value_iteration(P, shaped, GAMMA, terminal)
    np.testing.assert_array_equal(q_hat[:-1].argmax(axis=1), q_star[:-1].argmax(axis=1))
    # Q̂* = Q* − V*(s) (Ng et al. 1999), so V̂* = 0
    np.testing.assert_allclose(q_hat, np.where(terminal[:, None], 0, q_star - v_star[:, None]))
    np.testing.assert_allclose(v_hat, 0.0, atol=1e-9)
    # and the one-step shaped reward is already the optimal advantage A* = Q* − V*
    np.testing.assert_allclose(shaped, q_hat, atol=1e-9)


def test_policy_evaluation_hand_computed():
    P, R, terminal = chain(3)
    # uniform policy, γ = 0.5: V(1) = 0.5 + 0.25 V(0), V(0) = 0.25 V(0) + 0.25 V(1)
    v, q = policy_evaluation(P, R, np.full((3, 2), 0.5), 0.5, terminal)
    np.testing.assert_allclose(v, [2 / 11, 6 / 11, 0.0])
    np.testing.assert_allclose(q[1], [0.5 * 2 / 11, 1.0])
    v1, q1 = policy_evaluation(P, R, np.full((3, 2), 0.5), 0.5, terminal, horizon=1)
    np.testing.assert_allclose(q1, R)  # one step: the immediate reward
    np.testing.assert_allclose(v1, [0.0, 0.5, 0.0])


def q_learning(reward_fn, seed, episodes=300, max_steps=60, alpha=0.5, epsilon=0.1):
    """Tabular ε-greedy Q-learning from s=0 (Q = 0, random tie-breaking); returns the
    first episode after which the greedy policy (ties to 'left') walks to the goal in N-1
    steps, or None."""
    rng = np.random.default_rng(seed)
    q = np.zeros((N, 2))
    for episode in range(1, episodes + 1):
        s = 0
        for _ in range(max_steps):
            if rng.random() < epsilon:
                a = int(rng.integers(2))
            else:
                a = int(rng.choice(np.flatnonzero(q[s] == q[s].max())))
            s2 = min(s + 1, N - 1) if a == 1 else max(s - 1, 0)
            done = s2 == GOAL
            r = reward_fn(s, a, s2, done)
            target = r + (0.0 if done else GAMMA * q[s2].max())
            q[s, a] += alpha * (target - q[s, a])
            s = s2
            if done:
                break
        if _greedy_reaches_goal(q):
            return episode
    return None


def _greedy_reaches_goal(q):
    s = 0
    for _ in range(N - 1):
        s = min(s + 1, N - 1) if q[s].argmax() == 1 else max(s - 1, 0)
    return s == GOAL


def test_v_star_shaping_makes_q_learning_reach_the_goal_in_fewer_episodes():
    P, R, terminal = chain()
    v_star, _ = value_iteration(P, R, GAMMA, terminal)

    def sparse(s, a, s2, done):
        return float(done)

    def shaped(s, a, s2, done):
        return float(
            teacher_shaping_reward([float(done)], [v_star[s]], [v_star[s2]], [done], GAMMA)[0]
        )

    seeds = range(5)
    sparse_episodes = [q_learning(sparse, seed) for seed in seeds]
    shaped_episodes = [q_learning(shaped, seed) for seed in seeds]
    assert None not in sparse_episodes and None not in shaped_episodes
    assert all(t < s for t, s in zip(shaped_episodes, sparse_episodes, strict=True))
    assert np.mean(shaped_episodes) * 3 < np.mean(sparse_episodes)


def test_teacher_shaping_term_and_pickling():
    P, R, terminal = chain(3)
    v_star, _ = value_iteration(P, R, 0.5, terminal)
    shaping = TeacherShaping(v_star, gamma=0.5)
    batch = {
        "obs": [0, 1, 0, 1],
        "next_obs": [1, 2, 0, 0],
        "terminated": [False, True, False, False],
    }
    # right from 0: 0.5*1 - 0.5 = 0 ; into goal: -1 ; left at 0: 0.25 - 0.5 ; left at 1: 0.25 - 1
    expected = [0.0, -1.0, -0.25, -0.75]
    np.testing.assert_allclose(shaping(batch).total, expected)
    np.testing.assert_allclose(pickle.loads(pickle.dumps(shaping))(batch).total, expected)
    env_reward = np.array([0.0, 1.0, 0.0, 0.0])
    np.testing.assert_allclose(  # r + F is the optimal advantage A*(s, a)
        teacher_shaping_reward(
            env_reward, v_star[[0, 1, 0, 1]], v_star[[1, 2, 0, 0]], batch["terminated"], 0.5
        ),
        [0.0, 0.0, -0.25, -0.75],
    )


@pytest.mark.parametrize(
    ("obs", "error"),
    [
        ([0.5], BatchError),
        ([3], BatchError),
        ([-1], BatchError),
        ([np.nan], BatchError),
        ([[0, 1]], ShapeError),
    ],
)
def test_value_table_rejects_bad_states(obs, error):
    with pytest.raises(error):
        ValueTable([0.5, 1.0, 0.0])(np.asarray(obs))


def test_bad_models_and_settings_raise():
    P, R, terminal = chain(3)
    with pytest.raises(ShapeError):
        value_iteration(P[:, :, :2], R, 0.5)
    with pytest.raises(ShapeError):
        value_iteration(P, R[:, :1], 0.5)
    with pytest.raises(BatchError, match="distribution"):
        value_iteration(P * 2, R, 0.5)
    with pytest.raises(BatchError, match="finite"):
        value_iteration(P, np.full_like(R, np.nan), 0.5)
    with pytest.raises(ConfigurationError, match="gamma"):
        value_iteration(P, R, 1.0, terminal)
    with pytest.raises(ShapeError, match="terminal"):
        value_iteration(P, R, 0.5, [0, 0, 1])
    with pytest.raises(BatchError, match="policy"):
        policy_evaluation(P, R, np.full((3, 2), 0.7), 0.5, terminal)
    with pytest.raises(ConfigurationError, match="horizon"):
        policy_evaluation(P, R, np.full((3, 2), 0.5), 0.5, terminal, horizon=0)
    with pytest.raises(ShapeError):
        shaped_reward_table(P, R, [1.0, 2.0], 0.5, terminal)
    with pytest.raises(BatchError, match="NaN"):
        teacher_shaping_reward([np.nan], [0.0], [0.0], [False], 0.5)
    with pytest.raises(ShapeError):
        teacher_shaping_reward([0.0, 0.0], [0.0], [0.0], [False], 0.5)
    with pytest.raises(ConfigurationError):
        ValueTable([])


def test_lookahead_informativeness_hand_computed():
    P, R, terminal = chain(3)
    uniform = np.full((3, 2), 0.5)
    start = np.array([1.0, 0.0, 0.0])
    # h = 1, sparse reward: A(1, right) = 0.5, A(1, left) = -0.5, A(0, .) = 0;
    # one step (η = 1): π'(right|1) = σ(1); J(π') from state 0 minus J(π) = 2/11
    p = 1 / (1 + np.exp(-1.0))
    # V'(1) = p + (1-p) γ V'(0), V'(0) = γ/2 (V'(0) + V'(1)), γ = 0.5
    v1 = p / (1 - (1 - p) * 0.5 * (0.5 / 1.5))
    v0 = 0.5 / 1.5 * v1
    info = lookahead_informativeness(P, R, R, uniform, 0.5, start=start, terminal=terminal)
    assert info == pytest.approx(v0 - 2 / 11)


def test_teacher_picks_v_star_shaping_for_a_myopic_learner_and_adapts():
    P, R, terminal = chain()
    v_star, _ = value_iteration(P, R, GAMMA, terminal)
    candidates = {"sparse": R, "v_star_shaping": shaped_reward_table(P, R, v_star, GAMMA, terminal)}
    start = np.eye(N)[0]
    uniform = np.full((N, 2), 0.5)
    best, scores = most_informative_reward(
        candidates, P, R, uniform, GAMMA, start=start, terminal=terminal, horizon=1
    )
    assert best == "v_star_shaping"
    assert scores["v_star_shaping"] > scores["sparse"] > 0
    # with an exact (h = ∞) learner the potential cancels from the advantage: no difference
    _, exact = most_informative_reward(
        candidates, P, R, uniform, GAMMA, start=start, terminal=terminal, horizon=None
    )
    assert exact["v_star_shaping"] == pytest.approx(exact["sparse"])
    # a learner that already acts optimally gains nothing from either reward
    optimal = np.tile([0.0, 1.0], (N, 1))
    _, done = most_informative_reward(
        candidates, P, R, optimal, GAMMA, start=start, terminal=terminal, horizon=1
    )
    assert done == pytest.approx({"sparse": 0.0, "v_star_shaping": 0.0})
    with pytest.raises(ConfigurationError):
        most_informative_reward({}, P, R, uniform, GAMMA, start=start)
    with pytest.raises(ShapeError, match="start"):
        lookahead_informativeness(P, R, R, uniform, GAMMA, start=[1.0])
    with pytest.raises(ConfigurationError, match="step_size"):
        lookahead_informativeness(P, R, R, uniform, GAMMA, start=start, step_size=0)
