"""OPRL-style token advantages: by hand, against a reference loop, through the estimator table."""

import math

import numpy as np
import pytest

from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.credit.implicit_prm import oprl_advantages, oprl_group_advantages
from rewardkit.credit.oprl import OPRLEstimator, oprl_token_advantages
from rewardkit.credit.process import ProcessEstimator


def _zscore(pool, value, eps):  # type: ignore[no-untyped-def]
    if len(pool) < 2:
        return 0.0
    mean = sum(pool) / len(pool)
    std = math.sqrt(sum((v - mean) ** 2 for v in pool) / (len(pool) - 1))
    return (value - mean) / (std + eps)


def _reference(rewards, group, sequences, steps, ends, alpha, eps):  # type: ignore[no-untyped-def]
    """Token by token, with plain Python lists."""
    out = []
    for i, seq in enumerate(sequences):
        if math.isnan(rewards[i]):
            out.append([0.0] * len(seq))
            continue
        members = [j for j in range(len(sequences)) if group[j] == group[i]]
        live = [j for j in members if not math.isnan(rewards[j])]
        usable = [j for j in live if not any(math.isnan(v) for v in steps[j])]
        episode = _zscore([rewards[j] for j in live], rewards[i], eps)
        pool = [v for j in usable for v in steps[j]]
        row = []
        for t in range(len(seq)):
            value = episode
            if i in usable:
                k = next((k for k, e in enumerate(ends[i]) if t < e), None)
                if k is not None:
                    value += alpha * _zscore(pool, steps[i][k], eps)
            row.append(value)
        out.append(row)
    return out


def test_by_hand():
    # one group: outcomes 1, 0 (A^E ±1/√2); steps pooled: 0.2, 0.4, 0.0 → mean 0.2, std 0.2
    out = oprl_token_advantages(
        np.array([1.0, 0.0]), np.array([3, 3]), [[5, 6, 7, 2], [8, 2]],
        step_rewards=[[0.2, 0.4], [0.0]], step_ends=[[2, 3], [1]], alpha=0.5, epsilon=0.0,
    )  # fmt: skip
    h = 1 / math.sqrt(2)
    np.testing.assert_allclose(out[0], [h, h, h + 0.5, h])  # the EOS (token 3): A^E alone
    np.testing.assert_allclose(out[1], [-h - 0.5, -h])


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("alpha", [0.0, 1.0, 2.5])
def test_matches_a_reference_loop(seed, alpha):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    n = 12
    rewards = rng.choice([0.0, 1.0, 0.5, np.nan], size=n, p=[0.4, 0.3, 0.2, 0.1])
    group = rng.choice(["a", "b", "c"], size=n)  # labels, not contiguous
    sequences, steps, ends = [], [], []
    for _ in range(n):
        length = int(rng.integers(1, 9))
        k = int(rng.integers(0, 4))
        cut = np.sort(rng.integers(0, length + 1, size=k))  # repeats: empty steps
        sequences.append(list(range(length)))
        ends.append(cut.astype(np.int64))
        steps.append(rng.normal(size=k))
    steps[1] = np.array([0.3, np.nan])  # a PRM that could not score: A^E alone
    ends[1] = np.array([1, 2])
    sequences[1] = [0, 1, 2]
    out = oprl_token_advantages(
        rewards, group, sequences, step_rewards=steps, step_ends=ends, alpha=alpha
    )
    expected = _reference(rewards, group, sequences, steps, ends, alpha, 1e-6)
    for got, want in zip(out, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_group_ids_match_the_group_size_form_and_any_order():
    rng = np.random.default_rng(0)
    outcomes = rng.choice([0.0, 1.0, np.nan], size=8)
    steps = [rng.normal(size=int(rng.integers(1, 4))) for _ in range(8)]
    sized = oprl_advantages(outcomes, steps, group_size=4)
    order = rng.permutation(8)
    shuffled = oprl_group_advantages(
        outcomes[order], [steps[i] for i in order], (np.arange(8) // 4)[order]
    )
    np.testing.assert_allclose(shuffled.episode, sized.episode[order])
    for k, i in enumerate(order):
        np.testing.assert_allclose(shuffled.combined[k], sized.combined[i])
    with pytest.raises(ShapeError, match="one group id per trajectory"):
        oprl_group_advantages(outcomes, steps, [0, 1])


def test_nan_outcome_trains_nothing_as_the_process_estimator():
    rewards, group = np.array([1.0, np.nan, 0.0]), np.zeros(3)
    sequences = [[1, 2], [3, 4, 5], [6]]
    extras = {"step_rewards": [[0.1], [0.2, 0.3], [0.0]], "step_ends": [[2], [1, 3], [1]]}
    out = OPRLEstimator()(rewards, group, sequences, 0, 1, **extras)
    process = ProcessEstimator()(rewards, group, sequences, 0, 1, **extras)
    assert out.values[1].tolist() == process.values[1].tolist() == [0.0, 0.0, 0.0]
    assert all(np.isfinite(v).all() for v in out.values)
    alone = OPRLEstimator()(
        rewards[[0, 2]], group[[0, 2]], [sequences[0], sequences[2]], 0, 1,
        step_rewards=[[0.1], [0.0]], step_ends=[[2], [1]],
    )  # fmt: skip
    np.testing.assert_allclose(out.values[0], alone.values[0])


def test_through_the_estimator_table():
    from rewardkit.credit.token import ESTIMATOR_NAMES, FACTORIES, make_estimator

    assert "oprl" in ESTIMATOR_NAMES and FACTORIES["oprl"] is OPRLEstimator
    estimator = make_estimator("oprl", alpha=0.5)
    assert isinstance(estimator, OPRLEstimator) and estimator.alpha == 0.5
    assert estimator.requires == frozenset({"step_rewards", "step_ends"})
    args = (np.array([1.0, 0.0, 0.5, 0.0]), np.array([0, 1, 0, 1]), [[1, 2], [3], [4], [5, 6]])
    extras = {
        "step_rewards": [[0.1], [0.2], [0.3], [0.4, 0.5]],
        "step_ends": [[1], [1], [1], [1, 2]],
    }
    got = estimator(*args, 0, 1, **extras).values
    want = oprl_token_advantages(*args, **extras, alpha=0.5)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w)
    with pytest.raises(ConfigurationError, match="oprl"):
        make_estimator("oprl", weight=1.0)


@pytest.mark.parametrize(
    ("params", "match"),
    [({"alpha": float("nan")}, "alpha"), ({"alpha": -1.0}, "alpha"), ({"epsilon": -1.0}, "eps")],
)
def test_refuses_bad_settings(params, match):  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigurationError, match=match):
        OPRLEstimator(**params)


@pytest.mark.parametrize(
    ("steps", "ends", "match"),
    [
        ([[0.1]], [[1]], "as many"),
        ([[0.1], [0.2]], [[1], [1, 2]], r"\(1,\) step rewards but \(2,\)"),
        ([[0.1], [0.2]], [[3], [1]], "within its 2 tokens"),
        ([[0.1, 0.2], [0.2]], [[2, 1], [1]], "must ascend"),
        ([[0.1], [0.2]], [[1.0], [1]], "must be ints"),
        ([[0.1], [0.2]], [[-1], [1]], "must ascend"),
    ],
)
def test_refuses_bad_steps(steps, ends, match):  # type: ignore[no-untyped-def]
    with pytest.raises(ShapeError, match=match):
        OPRLEstimator()(
            np.array([1.0, 0.0]), np.array([0, 0]), [[1, 2], [3]], 0, 1,
            step_rewards=steps, step_ends=ends,
        )  # fmt: skip


def test_refuses_inf_outcomes_and_bad_groups():
    with pytest.raises(ShapeError, match="inf"):
        oprl_token_advantages(
            np.array([np.inf, 0.0]), np.zeros(2), [[1], [2]],
            step_rewards=[[0.1], [0.2]], step_ends=[[1], [1]],
        )  # fmt: skip
    with pytest.raises(ShapeError, match="group"):
        oprl_token_advantages(
            np.array([1.0, 0.0]), np.zeros(3), [[1], [2]],
            step_rewards=[[0.1], [0.2]], step_ends=[[1], [1]],
        )  # fmt: skip
