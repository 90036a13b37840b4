"""Returns, λ-returns and GAE: hand-computed cases and a reference loop."""

import itertools

import numpy as np
import pytest
import torch

from rewardkit.core import ShapeError
from rewardkit.credit import (
    bootstrap_values,
    discounted_returns,
    generalized_advantage_estimation,
    lambda_returns,
)

R = np.array([1.0, 2.0, 3.0])
V = np.array([0.5, 1.0, 1.5])
V_TP1 = np.array([1.0, 1.5, 2.0])
F, T = False, True


# ---------------------------------------------------------------- by hand
# gamma = 0.9, lambda = 0.8, so gamma * lambda = 0.72
# deltas: d0 = 1 + 0.9*1.0 - 0.5 = 1.4 ; d1 = 2 + 0.9*1.5 - 1.0 = 2.35
@pytest.mark.parametrize(
    ("terminated", "truncated", "v_tp1", "expected"),
    [
        # terminated at the end: d2 = 3 - 1.5 = 1.5; A1 = 2.35 + .72*1.5; A0 = 1.4 + .72*A1
        ([F, F, T], [F, F, F], V_TP1, [3.8696, 3.43, 1.5]),
        # truncated at the end: bootstrap, d2 = 3 + 0.9*2 - 1.5 = 3.3
        ([F, F, F], [F, F, T], V_TP1, [4.80272, 4.726, 3.3]),
        # rollout cut mid-episode (no flag): same as truncation at the end
        ([F, F, F], [F, F, F], V_TP1, [4.80272, 4.726, 3.3]),
        # truncated after step 0 (final-obs value 5.0): d0 = 1 + 4.5 - 0.5, no recursion
        ([F, F, F], [T, F, F], [5.0, 1.5, 2.0], [5.0, 4.726, 3.3]),
        # terminated after step 0: d0 = 1 - 0.5 = 0.5 and nothing flows back
        ([T, F, F], [F, F, F], V_TP1, [0.5, 4.726, 3.3]),
        # terminated and truncated together: termination wins (no bootstrap)
        ([T, F, F], [T, F, F], V_TP1, [0.5, 4.726, 3.3]),
    ],
)
def test_gae_by_hand(terminated, truncated, v_tp1, expected):
    advantages = generalized_advantage_estimation(
        R, V, v_tp1, terminated, truncated, gamma=0.9, lambda_=0.8
    )
    np.testing.assert_allclose(advantages, expected)


@pytest.mark.parametrize(
    ("terminated", "truncated", "expected"),
    [
        ([F, F, T], [F, F, F], [5.23, 4.7, 3.0]),  # 3; 2 + .9*3; 1 + .9*4.7
        ([F, F, F], [F, F, T], [6.688, 6.32, 4.8]),  # 3 + .9*2.0 bootstrapped
        ([T, F, T], [F, F, F], [1.0, 4.7, 3.0]),  # two episodes
        ([F, F, F], [T, F, T], [1.0 + 0.9 * 1.0, 6.32, 4.8]),  # truncated after step 0
    ],
)
def test_discounted_returns_by_hand(terminated, truncated, expected):
    returns = discounted_returns(R, terminated, truncated, v_tp1=V_TP1, gamma=0.9)
    np.testing.assert_allclose(returns, expected)


def test_lambda_returns_by_hand():
    # gamma=1, lambda=0.5, continuing; last step bootstraps from v_tp1 = 2
    # G1 = 1 + 2 = 3 ; G0 = 1 + (0.5*2 + 0.5*3) = 3.5
    np.testing.assert_allclose(
        lambda_returns([1.0, 1.0], [2.0, 2.0], [F, F], gamma=1.0, lambda_=0.5), [3.5, 3.0]
    )


# ---------------------------------------------------------------- reference loop
def reference_gae(r, v, v_tp1, term, trunc, gamma, lam):
    """Forward sums per environment: A_t = sum_k (gamma*lam)^k delta_{t+k} within the episode."""
    steps, envs = r.shape
    out = np.zeros_like(r)
    for e in range(envs):
        for t in range(steps):
            total, factor, k = 0.0, 1.0, t
            while True:
                bootstrap = 0.0 if term[k, e] else gamma * v_tp1[k, e]
                total += factor * (r[k, e] + bootstrap - v[k, e])
                if term[k, e] or trunc[k, e] or k == steps - 1:
                    break
                factor *= gamma * lam
                k += 1
            out[t, e] = total
    return out


def reference_returns(r, v_tp1, term, trunc, gamma):
    """Forward discounted sums per environment, bootstrapping where the episode is cut."""
    steps, envs = r.shape
    out = np.zeros_like(r)
    for e in range(envs):
        for t in range(steps):
            total, discount, k = 0.0, 1.0, t
            while True:
                total += discount * r[k, e]
                discount *= gamma
                if term[k, e]:
                    break
                if trunc[k, e] or k == steps - 1:
                    total += discount * v_tp1[k, e]
                    break
                k += 1
            out[t, e] = total
    return out


def random_rollout(steps, envs, p_done, seed):
    rng = np.random.default_rng(seed)
    r = rng.normal(size=(steps, envs))
    v = rng.normal(size=(steps, envs))
    v_tp1 = rng.normal(size=(steps, envs))
    term = rng.random((steps, envs)) < p_done
    trunc = rng.random((steps, envs)) < p_done
    return r, v, v_tp1, term, trunc


GRID = list(itertools.product([0.0, 0.9, 1.0], [0.0, 0.5, 0.95, 1.0], [1, 7, 33], [0.0, 0.1, 0.5]))


@pytest.mark.parametrize(("gamma", "lam", "steps", "p_done"), GRID)
def test_vectorized_matches_reference_loop(gamma, lam, steps, p_done):
    r, v, v_tp1, term, trunc = random_rollout(steps, 4, p_done, seed=steps)
    np.testing.assert_allclose(
        generalized_advantage_estimation(r, v, v_tp1, term, trunc, gamma=gamma, lambda_=lam),
        reference_gae(r, v, v_tp1, term, trunc, gamma, lam),
        atol=1e-10,
    )
    np.testing.assert_allclose(
        discounted_returns(r, term, trunc, v_tp1=v_tp1, gamma=gamma),
        reference_returns(r, v_tp1, term, trunc, gamma),
        atol=1e-10,
    )


@pytest.mark.parametrize(("gamma", "lam", "steps", "p_done"), GRID[::5])
def test_lambda_returns_equal_gae_plus_values(gamma, lam, steps, p_done):
    r, v, _, term, trunc = random_rollout(steps, 3, p_done, seed=1)
    v_final = np.random.default_rng(2).normal(size=v.shape)
    v_last = np.random.default_rng(3).normal(size=v.shape[1:])
    v_tp1 = bootstrap_values(v, v_last, trunc, v_final)  # consistent next values
    gae = generalized_advantage_estimation(r, v, v_tp1, term, trunc, gamma=gamma, lambda_=lam)
    np.testing.assert_allclose(
        lambda_returns(r, v_tp1, term, trunc, gamma=gamma, lambda_=lam), gae + v, atol=1e-10
    )


def test_lambda_one_is_monte_carlo_and_zero_is_td():
    r, _, v_tp1, term, trunc = random_rollout(20, 2, 0.2, seed=5)
    np.testing.assert_allclose(
        lambda_returns(r, v_tp1, term, trunc, gamma=0.9, lambda_=1.0),
        discounted_returns(r, term, trunc, v_tp1=v_tp1, gamma=0.9),
    )
    np.testing.assert_allclose(
        lambda_returns(r, v_tp1, term, trunc, gamma=0.9, lambda_=0.0),
        r + 0.9 * (1 - term) * v_tp1,
    )


def test_gae_on_a_chain_with_known_values():
    # A 5-step chain paying 1 at the end, gamma = 1: V(s_t) = 1 for every state.
    # With the true values every TD error is 0, so every advantage is 0.
    r = np.array([0.0, 0.0, 0.0, 0.0, 1.0])
    v = np.ones(5)
    v_tp1 = np.array([1.0, 1.0, 1.0, 1.0, 0.0])
    term = [F, F, F, F, T]
    np.testing.assert_allclose(
        generalized_advantage_estimation(r, v, v_tp1, term, gamma=1.0, lambda_=0.95), 0.0
    )


def test_torch_in_torch_out():
    r = torch.tensor([[1.0], [2.0], [3.0]], dtype=torch.float32)
    out = generalized_advantage_estimation(
        r,
        torch.zeros(3, 1),
        torch.zeros(3, 1),
        torch.tensor([[F], [F], [T]]),
        gamma=1.0,
        lambda_=1.0,
    )
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    torch.testing.assert_close(out, torch.tensor([[6.0], [5.0], [3.0]]))


def test_shape_and_range_errors():
    with pytest.raises(ShapeError, match="v_t has shape"):
        generalized_advantage_estimation(R, V[:2], V_TP1, [F, F, T], gamma=0.9, lambda_=0.9)
    with pytest.raises(ShapeError, match="terminated has shape"):
        discounted_returns(R, [F, T], gamma=0.9)
    with pytest.raises(ShapeError, match="gamma must be in"):
        discounted_returns(R, [F, F, T], gamma=1.5)
    with pytest.raises(ShapeError, match="boolean"):
        discounted_returns(R, [0, 2, 1], gamma=0.9)
    with pytest.raises(ShapeError, match="need v_final"):
        bootstrap_values(V, 1.0, [F, T, F])
