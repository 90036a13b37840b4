"""OPRL's implicit PRM math: hand-computed values, reference loops, NaN status, bad input."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.credit.implicit_prm import (
    implicit_step_rewards,
    oprl_advantages,
    outcome_pairs,
    step_to_token_advantages,
    trajectory_dpo_loss,
)

# ---------------------------------------------------------------- implicit step rewards


def test_step_rewards_by_hand():
    policy = [np.array([-1.0, -0.5, -2.0, -0.1]), np.array([-3.0])]
    ref = [np.array([-1.2, -1.0, -1.0, -0.1]), np.array([-1.0])]
    out = implicit_step_rewards(policy, ref, [np.array([1, 3, 4]), np.array([1])], beta=0.1)
    # trajectory 0: diffs 0.2 | 0.5, -1.0 | 0.0 ; trajectory 1: -2.0
    np.testing.assert_allclose(out[0], [0.02, -0.05, 0.0], atol=1e-12)
    np.testing.assert_allclose(out[1], [-0.2])


def _reference_step_rewards(policy, ref, ends, beta):  # type: ignore[no-untyped-def]
    out = []
    for p, r, e in zip(policy, ref, ends, strict=True):
        rewards, start = [], 0
        for end in e:
            rewards.append(beta * sum(p[t] - r[t] for t in range(start, end)))
            start = end
        out.append(rewards)
    return out


def test_step_rewards_match_a_reference_loop_and_telescope():
    rng = np.random.default_rng(0)
    policy, ref, ends = [], [], []
    for _ in range(20):
        length = int(rng.integers(1, 40))
        k = int(rng.integers(1, length + 1))
        cuts = np.sort(rng.choice(np.arange(1, length), size=k - 1, replace=False))
        ends.append(np.append(cuts, length).astype(int))
        policy.append(-rng.exponential(size=length))
        ref.append(-rng.exponential(size=length))
    out = implicit_step_rewards(policy, ref, ends, beta=0.05)
    for got, want in zip(out, _reference_step_rewards(policy, ref, ends, 0.05), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    # Σ_t r_φ = β (log π_φ(τ) − log π_ref(τ)): the DPO implicit reward of the trajectory
    for got, p, r in zip(out, policy, ref, strict=True):
        assert got.sum() == pytest.approx(0.05 * (p.sum() - r.sum()), abs=1e-12)


def test_empty_trajectory_and_torch_input():
    torch = pytest.importorskip("torch")
    out = implicit_step_rewards([np.zeros(0), torch.tensor([-1.0, -1.0])],
                                [np.zeros(0), torch.tensor([-2.0, -1.0])],
                                [np.zeros(0, dtype=int), [1, 2]], beta=1.0)  # fmt: skip
    assert out[0].shape == (0,)
    np.testing.assert_allclose(out[1], [1.0, 0.0])


@pytest.mark.parametrize(
    ("policy", "ref", "ends", "match"),
    [
        ([[-1.0, -1.0]], [[-1.0]], [[2]], "must be 1-D, equal"),
        ([[-1.0, np.nan]], [[-1.0, -1.0]], [[2]], r"policy_logp\[0\]\[1\] is nan"),
        ([[-1.0, -1.0]], [[-1.0, np.inf]], [[2]], r"reference_logp\[0\]\[1\] is inf"),
        ([[-1.0, -1.0]], [[-1.0, -1.0]], [[1]], "expected 2 tokens"),
        ([[-1.0, -1.0]], [[-1.0, -1.0]], [[3]], "expected 2 tokens"),
        ([[-1.0, -1.0]], [[-1.0, -1.0]], [[1, 1, 2]], "rise strictly"),
        ([[-1.0, -1.0]], [[-1.0, -1.0]], [[0, 2]], "rise strictly"),
        ([[-1.0, -1.0]], [[-1.0, -1.0]], [[1.0, 2.0]], "array of ints"),
        ([[-1.0, -1.0]], [[-1.0, -1.0]], [[[2]]], "array of ints"),
        ([[-1.0]], [[-1.0]], [], "one per trajectory"),
        ([["a"]], [[-1.0]], [[1]], "must be numeric"),
    ],
)
def test_step_rewards_refuse_bad_input(policy, ref, ends, match):  # type: ignore[no-untyped-def]
    with pytest.raises(ShapeError, match=match):
        implicit_step_rewards(policy, ref, ends, beta=0.05)


@pytest.mark.parametrize("beta", [0.0, -0.1, float("nan"), float("inf")])
def test_step_rewards_refuse_bad_beta(beta):  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigurationError, match="beta"):
        implicit_step_rewards([[-1.0]], [[-1.0]], [[1]], beta=beta)


# ---------------------------------------------------------------- trajectory DPO


def test_dpo_loss_by_hand():
    torch = pytest.importorskip("torch")
    c_pol, c_ref = torch.tensor([-1.0, -2.0]), torch.tensor([-1.5, -2.0])
    r_pol, r_ref = torch.tensor([-3.0, -1.0]), torch.tensor([-2.0, -1.0])
    loss = trajectory_dpo_loss(c_pol, c_ref, r_pol, r_ref, beta=0.5)
    # margins: (0.5 − (−1.0)) = 1.5 and 0; −log σ(z) = log(1 + e^{−z})
    want = (math.log1p(math.exp(-0.75)) + math.log(2.0)) / 2
    assert loss.item() == pytest.approx(want, rel=1e-6)


def test_dpo_loss_agrees_with_implicit_step_rewards():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    logp = [-rng.exponential(size=6) for _ in range(4)]  # PRM: chosen 0, 1; rejected 2, 3
    old = [-rng.exponential(size=6) for _ in range(4)]
    ends = [np.array([2, 6])] * 4
    step = implicit_step_rewards(logp, old, ends, beta=0.05)
    want = np.mean([-math.log(1 / (1 + math.exp(-(step[c].sum() - step[r].sum()))))
                    for c, r in [(0, 2), (1, 3)]])  # fmt: skip
    sums = [
        torch.tensor([logp[i].sum() for i in idx], dtype=torch.float64) for idx in ([0, 1], [2, 3])
    ]
    olds = [
        torch.tensor([old[i].sum() for i in idx], dtype=torch.float64) for idx in ([0, 1], [2, 3])
    ]
    got = trajectory_dpo_loss(sums[0], olds[0], sums[1], olds[1], beta=0.05)
    assert got.item() == pytest.approx(want, rel=1e-10)


def test_dpo_gradient_pushes_chosen_up_and_rejected_down():
    torch = pytest.importorskip("torch")
    chosen = torch.tensor([-4.0, -1.0, -2.0], requires_grad=True)
    rejected = torch.tensor([-1.0, -3.0, -2.0], requires_grad=True)
    ref_c, ref_r = torch.tensor([-2.0, -2.0, -2.0]), torch.tensor([-2.0, -2.0, -2.0])
    loss = trajectory_dpo_loss(chosen, ref_c, rejected, ref_r, beta=0.05)
    loss.backward()
    assert chosen.grad is not None and rejected.grad is not None
    assert bool((chosen.grad < 0).all()) and bool((rejected.grad > 0).all())
    with torch.no_grad():  # one descent step raises chosen, lowers rejected, lowers the loss
        stepped = trajectory_dpo_loss(chosen - chosen.grad, ref_c, rejected - rejected.grad,
                                      ref_r, beta=0.05)  # fmt: skip
    assert stepped.item() < loss.item()


def test_dpo_loss_refuses_bad_input():
    torch = pytest.importorskip("torch")
    one, two = torch.zeros(1), torch.zeros(2)
    with pytest.raises(ShapeError, match="rejected_ref"):
        trajectory_dpo_loss(one, one, one, two, beta=0.05)
    with pytest.raises(ShapeError, match="non-empty 1-D"):
        trajectory_dpo_loss(torch.zeros(0), torch.zeros(0), torch.zeros(0), torch.zeros(0), 0.05)
    with pytest.raises(ShapeError, match="non-empty 1-D"):
        trajectory_dpo_loss(torch.zeros(1, 1), one, one, one, beta=0.05)
    with pytest.raises(ShapeError, match="non-empty 1-D"):
        trajectory_dpo_loss(np.zeros(1), one, one, one, beta=0.05)  # type: ignore[arg-type]
    with pytest.raises(ShapeError, match="chosen_ref holds NaN"):
        trajectory_dpo_loss(one, torch.tensor([float("nan")]), one, one, beta=0.05)
    with pytest.raises(ConfigurationError, match="beta"):
        trajectory_dpo_loss(one, one, one, one, beta=0.0)


# ---------------------------------------------------------------- pairs


def test_pairs_by_hand():
    outcomes = [7.0, 2.0, np.nan, 9.0, 6.0, 1.0, 8.0]
    groups = ["b", "a", "b", "b", "a", "b", "a"]  # interleaved, in order of first appearance
    chosen, rejected = outcome_pairs(outcomes, groups, threshold=6.0)
    pairs = list(zip(chosen.tolist(), rejected.tolist(), strict=True))
    assert pairs == [(0, 5), (3, 5), (6, 1), (6, 4)]
    assert chosen.dtype == rejected.dtype == np.int64


def test_pairs_none_when_a_group_is_all_one_side():
    chosen, rejected = outcome_pairs([1.0, 1.0, 0.0, np.nan], [0, 0, 1, 1])
    assert chosen.shape == rejected.shape == (0,)


def test_pairs_match_a_reference_loop():
    rng = np.random.default_rng(2)
    outcomes = rng.choice([0.0, 0.5, 1.0, np.nan], size=40)
    groups = rng.integers(0, 5, size=40)
    chosen, rejected = outcome_pairs(outcomes, groups)
    want = {(i, j) for i in range(40) for j in range(40)
            if groups[i] == groups[j] and outcomes[i] > 0 and outcomes[j] <= 0}  # fmt: skip
    got = list(zip(chosen.tolist(), rejected.tolist(), strict=True))
    assert len(got) == len(set(got)) and set(got) == want


def test_pairs_refuse_bad_input():
    with pytest.raises(ShapeError, match="must be"):
        outcome_pairs([1.0, 0.0], [0])
    with pytest.raises(ShapeError, match="must be"):
        outcome_pairs([[1.0, 0.0]], [[0, 0]])
    with pytest.raises(ShapeError, match="inf"):
        outcome_pairs([np.inf, 0.0], [0, 0])


# ---------------------------------------------------------------- advantages


def _std(values):  # type: ignore[no-untyped-def]
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def test_advantages_by_hand():
    outcomes = np.array([1.0, 0.0, 0.5])  # one group of 3
    steps = [np.array([0.1, 0.3]), np.array([-0.2]), np.array([0.0, 0.2, 0.1])]
    out = oprl_advantages(outcomes, steps, group_size=3, alpha=0.5, epsilon=0.0)
    np.testing.assert_allclose(out.episode, [1.0, -1.0, 0.0])  # mean 0.5, std 0.5
    pooled = [0.1, 0.3, -0.2, 0.0, 0.2, 0.1]  # mean 0.5 / 6
    mean, std = 0.5 / 6, _std(pooled)
    for i, s in enumerate(steps):
        np.testing.assert_allclose(out.step[i], (s - mean) / std)
        np.testing.assert_allclose(out.combined[i], out.episode[i] + 0.5 * (s - mean) / std)


def _reference_advantages(outcomes, steps, group_size, alpha, eps):  # type: ignore[no-untyped-def]
    episode = [math.nan] * len(outcomes)
    step = [[math.nan] * len(s) for s in steps]
    for g in range(0, len(outcomes), group_size):
        live = [i for i in range(g, g + group_size) if not math.isnan(outcomes[i])]
        r_o = [outcomes[i] for i in live]
        r_s = [v for i in live for v in steps[i]]
        for i in live:
            episode[i] = (
                0.0 if len(r_o) < 2 else (outcomes[i] - sum(r_o) / len(r_o)) / (_std(r_o) + eps)
            )
            step[i] = [
                0.0 if len(r_s) < 2 else (v - sum(r_s) / len(r_s)) / (_std(r_s) + eps)
                for v in steps[i]
            ]
    combined = [[episode[i] + alpha * v for v in step[i]] for i in range(len(outcomes))]
    return episode, step, combined


@pytest.mark.parametrize("alpha", [0.0, 1.0, 2.5])
def test_advantages_match_a_reference_loop(alpha):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(3)
    outcomes = rng.choice([0.0, 1.0, 0.3, np.nan], size=32, p=[0.4, 0.3, 0.2, 0.1])
    outcomes[8:12] = np.nan  # a group with no applicable trajectory
    outcomes[12:15] = np.nan  # a group with one
    steps = [rng.normal(size=int(rng.integers(0, 6))) * 0.05 for _ in range(32)]
    out = oprl_advantages(outcomes, steps, group_size=4, alpha=alpha)
    episode, step, combined = _reference_advantages(outcomes, steps, 4, alpha, 1e-6)
    np.testing.assert_allclose(out.episode, episode, rtol=1e-9, atol=1e-12)
    for i in range(32):
        np.testing.assert_allclose(out.step[i], step[i], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(out.combined[i], combined[i], rtol=1e-9, atol=1e-12)


def test_nan_outcome_is_a_status_not_a_zero():
    steps = [np.array([0.1, 0.2]), np.array([np.nan, 5.0]), np.array([0.3]), np.array([-0.1])]
    out = oprl_advantages(np.array([1.0, np.nan, 0.0, 0.5]), steps, group_size=4)
    assert np.isnan(out.episode[1])
    assert np.isnan(out.step[1]).all() and np.isnan(out.combined[1]).all()
    assert out.combined[1].shape == (2,)
    # the others are as if trajectory 1 were not there
    alone = oprl_advantages(np.array([1.0, 0.0, 0.5]), [steps[0], steps[2], steps[3]], 3)
    np.testing.assert_allclose(out.episode[[0, 2, 3]], alone.episode)
    for i, j in [(0, 0), (2, 1), (3, 2)]:
        np.testing.assert_allclose(out.combined[i], alone.combined[j])


def test_all_nan_group_and_single_trajectory():
    out = oprl_advantages(np.array([np.nan, np.nan]), [np.array([0.1]), np.array([0.2])], 2)
    assert np.isnan(out.episode).all() and all(np.isnan(c).all() for c in out.combined)
    single = oprl_advantages(np.array([1.0]), [np.array([0.5])], 1)  # no baseline: 0, not NaN
    assert single.episode.tolist() == [0.0] and single.combined[0].tolist() == [0.0]


@pytest.mark.parametrize(
    ("outcomes", "steps", "group_size", "error", "match"),
    [
        ([1.0, 0.0], [[0.1]], 1, ShapeError, r"must be \(1,\)"),
        ([[1.0]], [[0.1]], 1, ShapeError, "must be"),
        ([1.0, 0.0, 1.0], [[0.1]] * 3, 2, ConfigurationError, "dividing 3"),
        ([1.0, 0.0], [[0.1]] * 2, 0, ConfigurationError, "group_size"),
        ([1.0, 0.0], [[0.1]] * 2, True, ConfigurationError, "group_size"),
        ([1.0, 0.0], [[0.1]] * 2, 2.0, ConfigurationError, "group_size"),
        ([np.inf, 0.0], [[0.1]] * 2, 2, ShapeError, "inf"),
        ([1.0, 0.0], [[0.1], [np.nan]], 2, ShapeError, r"step_rewards\[1\]\[0\] is nan"),
        ([1.0, 0.0], [[0.1], [[0.2]]], 2, ShapeError, "1-D"),
    ],
)
def test_advantages_refuse_bad_input(outcomes, steps, group_size, error, match):  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=match):
        oprl_advantages(np.array(outcomes), steps, group_size)


def test_advantages_refuse_bad_alpha_and_epsilon():
    with pytest.raises(ConfigurationError, match="alpha"):
        oprl_advantages(np.array([1.0]), [[0.1]], 1, alpha=float("nan"))
    with pytest.raises(ShapeError, match="epsilon"):
        oprl_advantages(np.array([1.0]), [[0.1]], 1, epsilon=-1.0)


# ---------------------------------------------------------------- tokens


def test_spread_onto_tokens():
    out = step_to_token_advantages([np.array([0.5, np.nan, -1.0]), np.zeros(0)],
                                   [np.array([1, 4, 6]), np.zeros(0, dtype=int)])  # fmt: skip
    np.testing.assert_array_equal(out[0], [0.5, np.nan, np.nan, np.nan, -1.0, -1.0])
    assert out[1].shape == (0,)


def test_spread_refuses_bad_input():
    with pytest.raises(ShapeError, match="step values but"):
        step_to_token_advantages([np.array([1.0])], [np.array([1, 2])])
    with pytest.raises(ShapeError, match="rise strictly"):
        step_to_token_advantages([np.array([1.0, 2.0])], [np.array([2, 2])])
    with pytest.raises(ShapeError, match="1 step_values but 2"):
        step_to_token_advantages([np.array([1.0])], [np.array([1]), np.array([1])])


def test_imports_without_torch():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from rewardkit.credit.implicit_prm import implicit_step_rewards as f\n"
        "print(f([[-1.0]], [[-2.0]], [[1]], beta=1.0)[0].tolist())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[1.0]"
