"""Novelty search's kNN novelty against a brute-force loop, and its adaptive archive."""

import numpy as np
import pytest

from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.explore.novelty import NoveltySearchBonus, knn_novelty


def brute_force(queries, reference, k, skip_self):
    out = []
    for i, q in enumerate(queries):
        distances = sorted(
            float(np.sqrt(((q - r) ** 2).sum()))
            for j, r in enumerate(reference)
            if not (skip_self and j == i)
        )
        near = distances[:k]
        out.append(sum(near) / len(near) if near else 0.0)
    return np.array(out)


@pytest.mark.parametrize("k", [1, 3, 15])
def test_knn_novelty_matches_a_loop(k):
    rng = np.random.default_rng(k)
    reference = rng.normal(size=(12, 2))
    np.testing.assert_allclose(knn_novelty(reference[:5], reference, k), brute_force(
        reference[:5], reference, k, False))  # fmt: skip
    # skip_self: each query is the same-index row of the reference
    np.testing.assert_allclose(
        knn_novelty(reference, reference, k, skip_self=True),
        brute_force(reference, reference, k, True),
    )


def test_a_hand_computed_value():
    # (0,0) against (3,4) and (6,8): distances 5 and 10; k=2 -> 7.5
    got = knn_novelty(np.array([[0.0, 0.0]]), np.array([[3.0, 4.0], [6.0, 8.0]]), k=2)
    assert got.tolist() == [7.5]


def test_bad_input():
    with pytest.raises(ShapeError):
        knn_novelty(np.zeros((2, 2)), np.zeros((3, 3)))
    with pytest.raises(ConfigurationError):
        knn_novelty(np.zeros((2, 2)), np.zeros((3, 2)), k=0)
    with pytest.raises(ConfigurationError):
        NoveltySearchBonus(threshold=0.0)


def test_the_term_scores_against_archive_and_batch_and_archives_novel_rows():
    bonus = NoveltySearchBonus(k=1, threshold=1.5, patience=2, max_added=1)
    batch = {"descriptor": np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 0.0]])}
    # nearest other row: 1, 1, 4
    assert bonus(batch).total.tolist() == [1.0, 1.0, 4.0]
    metrics = bonus.update(batch)
    assert bonus.archive.tolist() == [[5.0, 0.0]] and metrics["added"] == 1.0
    # the archived (5, 0) is now a neighbour of a new row at (5, 1)
    assert bonus({"descriptor": np.array([[5.0, 1.0], [9.0, 0.0]])}).total.tolist() == [1.0, 4.0]


def test_the_threshold_falls_when_nothing_joins_and_rises_when_many_do():
    bonus = NoveltySearchBonus(k=1, threshold=10.0, patience=2, max_added=1)
    close = {"descriptor": np.array([[0.0], [0.1]])}
    bonus.update(close)
    bonus.update(close)
    assert bonus.threshold == pytest.approx(10.0 * 0.95)
    far = {"descriptor": np.array([[0.0], [100.0], [200.0], [300.0]])}
    bonus.update(far)
    assert len(bonus.archive) == 4 and bonus.threshold == pytest.approx(10.0 * 0.95 * 1.2)


def test_a_non_finite_descriptor_scores_nan_and_never_joins():
    bonus = NoveltySearchBonus(k=1, threshold=0.1)
    batch = {"descriptor": np.array([[0.0], [np.nan], [3.0]])}
    scores = bonus(batch).total
    assert np.isnan(scores[1]) and scores[0] == 3.0 and scores[2] == 3.0
    bonus.update(batch)
    assert np.isfinite(bonus.archive).all() and len(bonus.archive) == 2


def test_an_empty_batch_scores_nothing_and_a_changed_width_is_refused():
    bonus = NoveltySearchBonus(k=1, threshold=0.1)
    assert bonus({"descriptor": np.zeros((0, 2))}).total.shape == (0,)
    bonus.update({"descriptor": np.array([[0.0, 0.0], [5.0, 5.0]])})
    with pytest.raises(ShapeError, match="archive"):
        bonus({"descriptor": np.array([[0.0, 0.0, 1.0]])})
