"""Tree-structured pairs share their prefix; HERON's decision tree against a reference loop."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.models.preference_data import (
    TreeShape,
    chain_pairs,
    cut_prefix,
    heron_margins,
    heron_preferences,
    sample_tree,
    tree_pairs,
)


def _heron_reference(a, b, margins, signs):  # type: ignore[no-untyped-def]
    """One comparison, written as the paper's decision tree."""
    for level in range(len(margins)):
        gap = signs[level] * (a[level] - b[level])
        if gap > margins[level]:
            return 1
        if -gap > margins[level]:
            return -1
    return 0


def test_heron_matches_a_reference_loop() -> None:
    rng = np.random.default_rng(0)
    factors = rng.integers(0, 4, size=(12, 3)).astype(float)  # many ties at the top level
    factors = np.concatenate([factors, factors[:3]])  # and rows no factor can tell apart
    pairs = list(itertools.combinations(range(15), 2))
    margins, signs = heron_margins(factors, 0.5), [1, -1, 1]
    got = heron_preferences(factors, pairs, margins, signs)
    want = [_heron_reference(factors[a], factors[b], margins, signs) for a, b in pairs]
    assert got.tolist() == want
    assert 0 in want and 1 in want and -1 in want  # the toy exercises every outcome


def test_heron_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="NaN"):
        heron_preferences([[np.nan]], [(0, 0)], [0.0])
    with pytest.raises(ShapeError):
        heron_preferences([[1.0, 2.0]], [(0, 0)], [0.0])
    with pytest.raises(ShapeError):
        heron_preferences([[1.0], [2.0]], [(0, 2)], [0.0])
    with pytest.raises(ConfigurationError):
        heron_preferences([[1.0]], [(0, 0)], [0.0], signs=[2])


def _sampler(texts, n):  # type: ignore[no-untyped-def]
    """A deterministic stand-in policy: two more steps, then an answer that depends on i."""
    return [f"{len(t) + i},{i},{i}>{i}" for t in texts for i in range(n)]


def test_tree_pairs_share_their_prefix_and_chain_pairs_do_not() -> None:
    shape = TreeShape(roots=2, branches=3, cut=0.5, separator=",")
    trees = sample_tree(["5+9=", "1+2="], _sampler, shape)
    assert [len(leaves) for leaves in trees] == [6, 6]
    for leaves in trees:
        for leaf in leaves:
            assert leaf.prefix and leaf.completion.startswith(leaf.prefix)

    def score(leaf):  # type: ignore[no-untyped-def]
        return float(leaf.completion.endswith(">1"))

    pairs = tree_pairs(trees, score)
    assert pairs
    for pair in pairs:
        prefix = pair["shared_prefix"]
        assert prefix and pair["chosen"].startswith(prefix) and pair["rejected"].startswith(prefix)
        assert pair["chosen"].endswith(">1") and not pair["rejected"].endswith(">1")
    # siblings only: 2 roots × (1 winner × 2 losers) per prompt
    assert len(pairs) == 2 * 2 * 2
    assert len(tree_pairs(trees, score, budget=3)) == 3
    chain = chain_pairs(["5+9="], [["1>1", "2>2", "1>1"]], lambda p, c: float(c == "1>1"))
    assert len(chain) == 2 and all(p["shared_prefix"] == "" for p in chain)


def test_cut_prefix_keeps_a_share_of_steps_and_never_all() -> None:
    assert cut_prefix("a,b,c,d>d", 0.5, ",") == "a,b,"
    assert cut_prefix("a,b", 0.99, ",") == "a,"
    assert cut_prefix("a", 0.5, ",") == ""
    with pytest.raises(ConfigurationError):
        TreeShape(branches=1)
    with pytest.raises(ShapeError):
        sample_tree(["p"], lambda texts, n: ["x"], TreeShape(roots=2))
