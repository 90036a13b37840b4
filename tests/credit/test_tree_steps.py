"""Prefix trees, TEMPO, sibling advantages, turning points, prefix retention."""

import math

import numpy as np
import pytest

from rewardkit.credit import (
    build_prefix_tree,
    continuation_accumulated_reward,
    grpo_advantages,
    prefix_retention_lengths,
    sibling_advantages,
    tempo_advantages,
    turning_point_credit,
    turning_points,
)

SQ3 = math.sqrt(3) / 2  # GRPO advantage of 1 and 0 in a group [1, 0, 1, 0] (ddof=1)


def test_prefix_tree_by_hand():
    tree = build_prefix_tree([[1, 2, 3], [1, 2, 4], [1, 5], [7]], [1.0, 0.0, 1.0, 0.0])
    # nodes: 0 root, 1:"1", 2:"1 2", 3:"1 2 3", 4:"1 2 4", 5:"1 5", 6:"7"
    assert tree.size == 7
    assert tree.parent == [-1, 0, 1, 2, 2, 1, 0]
    assert tree.paths == [[1, 2, 3], [1, 2, 4], [1, 5], [6]]
    np.testing.assert_allclose(tree.value(), [0.5, 2 / 3, 0.5, 1.0, 0.0, 1.0, 0.0])
    assert tree.branching().tolist() == [True, True, True, False, False, False, False]
    assert tree.count == [4, 3, 2, 1, 1, 1, 1]


@pytest.mark.parametrize("seed", range(4))
def test_tempo_equals_grpo_without_shared_prefixes(seed):
    rng = np.random.default_rng(seed)
    sequences = [[k, *rng.integers(0, 50, size=rng.integers(1, 6)).tolist()] for k in range(6)]
    rewards = rng.random(6)
    grpo = grpo_advantages(rewards, np.zeros(6))
    for tokens, advantage, expected in zip(
        sequences, tempo_advantages(sequences, rewards), grpo, strict=True
    ):
        np.testing.assert_allclose(advantage, np.full(len(tokens), expected))


def test_tempo_td_only_at_branching_tokens_by_hand():
    sequences = [[1, 2, 3], [1, 2, 4], [1, 5, 6], [7, 8, 9]]
    advantages = tempo_advantages(sequences, [1.0, 0.0, 1.0, 0.0])
    # Â = ±√3/2. V("1") = (Â0+Â1+Â2)/3 = √3/6, V("1 2") = 0, V("1 2 3") = Â0, V("1 5") = Â2.
    v1 = SQ3 / 3
    expected = [
        [SQ3, SQ3 + (0 - v1), SQ3 + (SQ3 - 0)],  # branches at "1" and at "1 2"
        [-SQ3, -SQ3 + (0 - v1), -SQ3 + (-SQ3 - 0)],
        [SQ3, SQ3 + (SQ3 - v1), SQ3],  # "1 5" does not branch: no TD at the last token
        [-SQ3, -SQ3, -SQ3],  # never passes a branching node below the root
    ]
    for got, want in zip(advantages, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5)  # epsilon=1e-6 in the std
    td = [a - a[0] for a in advantages]
    assert td[2][2] == 0 and np.all(td[3] == 0)


def test_tempo_handles_several_groups_separately():
    sequences = [[1, 2], [1, 3], [1, 2], [1, 3]]
    out = tempo_advantages(sequences, [1.0, 0.0, 0.0, 1.0], group=[0, 0, 1, 1], td_weight=0.5)
    # each group has two completions branching at "1": V("1") = 0, V(child) = Â
    for got, reward in zip(out, [1.0, 0.0, 0.0, 1.0], strict=True):
        a = 1 / math.sqrt(2) if reward else -1 / math.sqrt(2)
        np.testing.assert_allclose(got, [a, a + 0.5 * a], rtol=1e-5)


def test_sibling_advantages_by_hand():
    sequences = [[1, 2], [1, 3], [1, 3], [4, 5]]
    out = sibling_advantages(sequences, [1.0, 0.0, 1.0, 0.0])
    # root children: V("1") = 2/3, V("4") = 0 -> ±(1/3)/std([2/3, 0]) = ±1/√2
    # node "1" children: V("1 2") = 1, V("1 3") = 0.5 -> ±0.25/std([1, .5]) = ±1/√2
    r = 1 / math.sqrt(2)
    expected = [[r, r], [r, -r], [r, -r], [-r, -r]]
    for got, want in zip(out, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5)


def test_turning_points_by_hand():
    incremental = [0.2, 0.1, -0.3, 0.0, -0.1, 0.4, 0.1]
    # signs + + - (0) - + + : turns at index 2 (+ to -) and 5 (- to +); the zero carries '-'
    assert turning_points(incremental).tolist() == [False, False, True, False, False, True, False]
    credit = turning_point_credit(incremental)
    np.testing.assert_allclose(credit, [0.2, 0.1, -0.4, 0.0, -0.1, 0.5, 0.1])
    assert not turning_points([0.0, 0.0, 1.0]).any()


def test_prefix_retention_and_continuation_reward():
    lengths = [10, 5, 1]
    assert prefix_retention_lengths(lengths, 0, 10).tolist() == [2, 1, 1]
    assert prefix_retention_lengths(lengths, 5, 10).tolist() == [6, 3, 1]
    assert prefix_retention_lengths(lengths, 10, 10).tolist() == [10, 5, 1]
    np.testing.assert_allclose(
        continuation_accumulated_reward([[1.0, 0.0, np.nan], [np.nan, np.nan, np.nan]]),
        [0.5, np.nan],
    )
