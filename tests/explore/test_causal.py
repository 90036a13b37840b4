"""CIP-style pieces on planted answers: DirectLiNGAM finds the reward's parents, the swap
keeps them, and the empowerment bonus approaches log|A| − H(a | s, s')."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.explore.causal import (
    CausalEmpowermentBonus,
    causal_reward_weights,
    counterfactual_swap,
    scaled_softmax,
)


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _planted(n: int = 3000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """r = 2 s0 − 1.5 a0 + noise; s2 follows s0 but does not cause r; s1, a1 are idle."""
    rng = np.random.default_rng(0)
    s = rng.uniform(-1, 1, size=(n, 3))
    s[:, 2] = 0.8 * s[:, 0] + 0.5 * rng.uniform(-1, 1, n)
    a = rng.uniform(-1, 1, size=(n, 2))
    r = 2 * s[:, 0] - 1.5 * a[:, 0] + 0.1 * rng.uniform(-1, 1, n)
    return s, a, r


def test_scaled_softmax_by_hand() -> None:
    c = np.array([1.0, 0.0, -1.0])
    expected = 3 * np.exp(c) / np.exp(c).sum()
    np.testing.assert_allclose(scaled_softmax(c), expected)
    assert scaled_softmax(c).sum() == pytest.approx(3.0)


def test_direct_lingam_finds_the_rewards_parents() -> None:
    s, a, r = _planted()
    weights = causal_reward_weights(s, a, r)
    np.testing.assert_allclose(weights.adjacency[-1, [0, 3]], [2.0, -1.5], atol=0.05)
    assert weights.state[0] > 1 > weights.state[2] and weights.state[1] < 1
    assert weights.action[0] > 1 > weights.action[1]
    assert weights.state.sum() == pytest.approx(3) and weights.action.sum() == pytest.approx(2)


def test_signed_weights_put_a_negative_effect_below_no_effect() -> None:
    s, a, r = _planted()
    signed = causal_reward_weights(s, a, r, signed=True)
    assert signed.action[0] < signed.action[1]  # −1.5 < 0, the authors' code's reading


def test_swap_keeps_the_rewards_parent_and_moves_the_rest_in_pairs() -> None:
    s, _, _ = _planted(11)
    s_next = s + 1.0
    weights = np.array([2.5, 0.25, 0.25])
    new, new_next = counterfactual_swap(s, s_next, weights, np.random.default_rng(3))
    np.testing.assert_array_equal(new[:, 0], s[:, 0])  # the reward's parent stays
    np.testing.assert_array_equal(new_next - new, s_next - s)  # s and s' swapped alike
    for column in (1, 2):
        assert sorted(new[:, column]) == sorted(s[:, column])  # values move, none is made
    moved = (new[:, 1:] != s[:, 1:]).any(1)
    assert moved.sum() == 10  # five pairs swapped; the odd one out stays as it was
    partner = {i: int(np.flatnonzero(s[:, 1] == new[i, 1])[0]) for i in np.flatnonzero(moved)}
    assert all(partner[partner[i]] == i for i in partner)  # pairs swap both ways


def test_swap_refuses_mismatched_shapes() -> None:
    with pytest.raises(ShapeError):
        counterfactual_swap(np.zeros((4, 2)), np.zeros((4, 3)), [1, 1], np.random.default_rng())


def _discrete_batch(rng: np.random.Generator, n: int = 2000) -> dict[str, np.ndarray]:
    """Actions 0 and 1 move left and right; 2 and 3 both stay: (2, 3) cannot be told apart."""
    obs = rng.integers(0, 10, size=(n, 1)).astype(float)
    actions = rng.integers(0, 4, size=n)
    nxt = obs + np.select([actions == 0, actions == 1], [-1.0, 1.0], 0.0)[:, None]
    return {"obs": obs, "actions": actions, "next_obs": nxt}


def test_discrete_empowerment_approaches_log_a_minus_the_inverse_entropy() -> None:
    rng = np.random.default_rng(0)
    bonus = CausalEmpowermentBonus(num_actions=4, learning_rate=1e-2)
    for _ in range(300):
        bonus.update(_discrete_batch(rng))
    batch = _discrete_batch(rng)
    values = bonus(batch).total
    moves, stays = values[batch["actions"] < 2], values[batch["actions"] >= 2]
    assert moves.mean() == pytest.approx(np.log(4), abs=0.05)  # H(a | s, s') = 0
    assert stays.mean() == pytest.approx(np.log(4) - np.log(2), abs=0.05)  # H = log 2
    policy = dict(batch, log_prob=np.full(len(values), np.log(0.5)))
    np.testing.assert_allclose(bonus(policy).total, values - np.log(4) - np.log(0.5), atol=1e-9)


def test_continuous_empowerment_weighs_the_dimension_that_moves_the_state() -> None:
    rng = np.random.default_rng(1)

    def batch(n: int = 2000) -> dict[str, np.ndarray]:
        obs = rng.normal(size=(n, 1))
        actions = rng.normal(size=(n, 2))  # the standard-normal prior is the truth
        return {"obs": obs, "actions": actions, "next_obs": obs + actions[:, :1]}

    both = CausalEmpowermentBonus(action_dim=2, learning_rate=1e-2)
    for _ in range(400):
        both.update(batch())
    fresh = batch()
    only_first = CausalEmpowermentBonus(action_dim=2, action_weights=[1.0, 0.0])
    only_first._model, only_first._log_std = both._model, both._log_std  # the same q
    only_first._obs_dim = both._obs_dim
    first = only_first(fresh).total
    # the idle dimension adds nothing on average: q learns its N(0, 1) prior
    assert abs(both(fresh).total.mean() - first.mean()) < 0.1
    assert first.mean() > 1.5  # the first dimension is read off s' − s


def test_bad_settings_and_batches_are_refused() -> None:
    with pytest.raises(ConfigurationError):
        CausalEmpowermentBonus()
    with pytest.raises(ConfigurationError):
        CausalEmpowermentBonus(num_actions=4, action_dim=2)
    with pytest.raises(ConfigurationError):
        CausalEmpowermentBonus(action_dim=2, action_weights=[1.0])
    bonus = CausalEmpowermentBonus(num_actions=2)
    with pytest.raises(ShapeError):
        bonus.update({"obs": np.zeros((3, 1)), "actions": [0, 1, 2], "next_obs": np.zeros((3, 1))})
    with pytest.raises(ShapeError):
        causal_reward_weights(np.full((20, 1), np.nan), np.zeros((20, 1)), np.zeros(20))


def test_a_bad_row_is_left_out_of_the_fit_and_scores_nan() -> None:
    rng = np.random.default_rng(2)
    batch = _discrete_batch(rng, 64)
    batch["obs"][3, 0] = np.nan
    bonus = CausalEmpowermentBonus(num_actions=4)
    metrics = bonus.update(batch)
    assert metrics["causal_empowerment/skipped"] == 1.0
    assert np.isfinite(metrics["causal_empowerment/inverse_nll"])
    out = bonus(batch)
    assert np.isnan(out.total[3]) and np.isfinite(np.delete(out.total, 3)).all()
