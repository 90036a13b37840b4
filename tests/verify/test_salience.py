"""GRiP-style salience-weighted IoU: pure functions and the term."""

import pickle

import numpy as np
import pytest

from rewardkit.core.errors import BatchError, ConfigurationError
from rewardkit.verify.salience import (
    SalienceIoU,
    pad_boxes,
    pad_salience,
    pairwise_iou,
    parse_boxes,
    salience_recall_precision,
    salience_weighted_iou,
)

GT = np.array([[[0, 0, 10, 10], [20, 20, 30, 30]]], dtype=float)
SALIENCE = np.array([[3.0, 1.0]])


def test_pairwise_iou_by_hand_with_padding():
    pred = np.array([[[0, 0, 10, 5], [np.nan] * 4]])
    iou = pairwise_iou(pred, GT)
    assert iou.shape == (1, 2, 2)
    np.testing.assert_allclose(iou, [[[0.5, 0.0], [0.0, 0.0]]])


def test_recall_precision_by_hand():
    half = np.array([[[0, 0, 10, 5]]], dtype=float)  # IoU 1/2 with the critical box
    recall, precision = salience_recall_precision(half, GT, SALIENCE)
    assert recall[0] == pytest.approx(3 * 0.5 / 4) and precision[0] == pytest.approx(0.5)
    assert salience_weighted_iou(half, GT, SALIENCE)[0] == pytest.approx(0.4375)
    # a junk box leaves recall alone and halves precision
    junk = np.array([[[0, 0, 10, 5], [50, 50, 60, 60]]], dtype=float)
    assert salience_weighted_iou(junk, GT, SALIENCE)[0] == pytest.approx(0.5 * 0.375 + 0.5 * 0.25)
    # repeating the right box gains nothing
    twice = np.array([[[0, 0, 10, 10], [0, 0, 10, 10]]], dtype=float)
    once = np.array([[[0, 0, 10, 10]]], dtype=float)
    np.testing.assert_allclose(
        salience_weighted_iou(twice, GT, SALIENCE), salience_weighted_iou(once, GT, SALIENCE)
    )
    # precision_weight 0: recall only, 1: precision only
    assert salience_weighted_iou(once, GT, SALIENCE, precision_weight=0.0)[0] == 0.75
    assert salience_weighted_iou(once, GT, SALIENCE, precision_weight=1.0)[0] == 1.0


def test_critical_object_beats_distractor_and_uniform_salience_is_plain_dual_iou():
    critical, distractor = GT[:, :1], GT[:, 1:]
    assert (
        salience_weighted_iou(critical, GT, SALIENCE)[0]
        > salience_weighted_iou(distractor, GT, SALIENCE)[0]
    )
    uniform = np.ones((1, 2))
    assert salience_weighted_iou(critical, GT, uniform)[0] == pytest.approx(
        salience_weighted_iou(distractor, GT, uniform)[0]
    )


def test_empty_predictions_score_zero():
    for empty in (np.zeros((1, 0, 4)), np.full((1, 3, 4), np.nan)):
        recall, precision = salience_recall_precision(empty, GT, SALIENCE)
        assert recall[0] == 0.0 and precision[0] == 0.0
        assert salience_weighted_iou(empty, GT, SALIENCE)[0] == 0.0


def _iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


def _reference(preds, gts, weights, lam):
    recall = sum(
        w * max((_iou(p, g) for p in preds), default=0.0) for g, w in zip(gts, weights, strict=True)
    )
    recall /= sum(weights)
    precision = sum(max(_iou(p, g) for g in gts) for p in preds) / len(preds) if preds else 0.0
    return (1 - lam) * recall + lam * precision


def _random_boxes(rng, count):
    corner = rng.uniform(0, 50, size=(count, 2))
    return np.concatenate([corner, corner + rng.uniform(1, 30, size=(count, 2))], axis=1)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("lam", [0.0, 0.3, 0.5, 1.0])
def test_vectorized_matches_reference_loop(seed, lam):
    rng = np.random.default_rng(seed)
    preds = [_random_boxes(rng, rng.integers(0, 5)).tolist() for _ in range(25)]
    gts = [_random_boxes(rng, rng.integers(1, 4)).tolist() for _ in range(25)]
    weights = [rng.uniform(0.1, 3, size=len(g)).tolist() for g in gts]
    got = salience_weighted_iou(pad_boxes(preds), pad_boxes(gts), pad_salience(weights), lam)
    want = [_reference(p, g, w, lam) for p, g, w in zip(preds, gts, weights, strict=True)]
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_pure_functions_reject_bad_input():
    with pytest.raises(BatchError, match=r"\(N, M, 4\)"):
        pairwise_iou(np.zeros((1, 4)), GT)
    with pytest.raises(BatchError, match="samples"):
        pairwise_iou(np.zeros((2, 1, 4)), GT)
    with pytest.raises(BatchError, match="shape"):
        salience_recall_precision(GT, GT, np.ones((1, 3)))
    with pytest.raises(BatchError, match=">= 0"):
        salience_recall_precision(GT, GT, np.array([[1.0, -1.0]]))
    with pytest.raises(BatchError, match="positive salience"):
        salience_recall_precision(GT, GT, np.zeros((1, 2)))
    with pytest.raises(ConfigurationError):
        salience_weighted_iou(GT, GT, SALIENCE, precision_weight=1.5)


def test_parse_boxes_skips_ill_formed_and_caps():
    assert parse_boxes("[0, 0, 5, 5] [5, 5, 1, 1] (1.5, 2, 3, 4.5)") == [
        (0.0, 0.0, 5.0, 5.0),
        (1.5, 2.0, 3.0, 4.5),
    ]
    assert len(parse_boxes("[0, 0, 1, 1] " * 50, max_boxes=4)) == 4
    assert parse_boxes("a point (3, 4) is not a box") == []


def test_term_by_hand_and_not_applicable():
    batch = {
        "completion": [
            "<think>zoom [0, 0, 10, 5]</think><answer>red</answer>",
            "<think>look at [20, 20, 30, 30] and [0, 0, 10, 10]</think>",
            "no box at all",
            "[0, 0, 10, 10]",
            [{"role": "assistant", "content": "[0, 0, 10, 10]"}],
        ],
        "gt_boxes": [GT[0].tolist()] * 3 + [[], [[0, 0, 10, 10]]],
        "salience": [[3.0, 1.0]] * 3 + [[], [1.0]],
    }
    out = SalienceIoU()(batch)
    np.testing.assert_allclose(out.total, [0.4375, 1.0, np.nan, np.nan, 1.0])
    np.testing.assert_array_equal(out.status, [0, 0, 1, 1, 0])
    np.testing.assert_allclose(out.terms["salience_iou/recall"][:2], [0.375, 1.0])
    np.testing.assert_allclose(out.terms["salience_iou/precision"][:2], [0.5, 1.0])


def test_term_without_salience_column_weighs_boxes_equally():
    batch = {"completion": ["[20, 20, 30, 30]"], "gt_boxes": [GT[0].tolist()]}
    assert SalienceIoU()(batch).total[0] == pytest.approx(0.5 * 0.5 + 0.5 * 1.0)


def test_term_pickles_and_rejects_bad_input():
    term = SalienceIoU(precision_weight=0.25, max_boxes=4, name="sal")
    batch = {"completion": ["[0, 0, 10, 10]"], "gt_boxes": [GT[0].tolist()], "salience": [[3, 1]]}
    clone = pickle.loads(pickle.dumps(term))
    np.testing.assert_array_equal(clone(batch).total, term(batch).total)
    assert clone.name == "sal" and clone.max_boxes == 4
    with pytest.raises(BatchError, match="salience of sample 0"):
        term({**batch, "salience": [[1.0, 2.0, 3.0]]})
    with pytest.raises(BatchError, match="x2 > x1"):
        term({**batch, "gt_boxes": [[[10, 0, 0, 10]]]})
    with pytest.raises(BatchError, match=r"\(M, 4\)"):
        term({**batch, "gt_boxes": [[[0, 0, 10]]]})
    for bad in ({"precision_weight": -0.1}, {"max_boxes": 0}, {"max_boxes": True}):
        with pytest.raises(ConfigurationError):
            SalienceIoU(**bad)


def test_term_targets_none_or_nan_are_not_applicable():
    nan = float("nan")
    box = "[0, 0, 10, 10]"
    golds = [nan, None, [[0, 0, 10, 10], None], [[0, 0, nan, 10]], [], [[0, 0, 10, 10]]]
    out = SalienceIoU()({"completion": [box] * 6, "gt_boxes": golds})
    np.testing.assert_array_equal(out.total, [np.nan] * 5 + [1.0])
    np.testing.assert_array_equal(out.status, [1] * 5 + [0])
    with pytest.raises(BatchError, match="finite"):
        SalienceIoU()({"completion": [box], "gt_boxes": [[[0, 0, np.inf, 10]]]})
    with pytest.raises(BatchError, match="must be boxes"):
        SalienceIoU()({"completion": [box], "gt_boxes": ["0, 0, 10, 10"]})


def test_term_missing_salience_cell_means_equal_weights():
    batch = {
        "completion": ["[20, 20, 30, 30]"] * 4,
        "gt_boxes": [GT[0].tolist()] * 4,
        "salience": [None, float("nan"), [1.0, float("nan")], [3.0, 1.0]],
    }
    out = SalienceIoU()(batch)
    # equal weights: recall 1/2, precision 1; a NaN weight: not applicable;
    # weights (3, 1) on the distractor: recall 1/4
    np.testing.assert_allclose(out.total, [0.75, 0.75, np.nan, 0.5 * 0.25 + 0.5])


def test_term_checks_every_weight_up_front():
    # sample 1 has no predicted box: its broken weights raise all the same
    batch = {"completion": ["[0, 0, 10, 10]", "no box"], "gt_boxes": [GT[0].tolist()] * 2}
    for bad, message in [
        ([1.0, -1.0], "sample 1 must be finite, >= 0"),
        ([0.0, 0.0], "not all 0"),
        ([1.0, np.inf], "finite"),
        ([1.0], "shape"),
        (["a", "b"], "must be numbers"),
    ]:
        with pytest.raises(BatchError, match=message):
            SalienceIoU()({**batch, "salience": [[3.0, 1.0], bad]})


def test_huge_numbers_in_boxes_score_without_crashing():
    huge = "9" * 400  # float() gives inf
    completion = f"[0, 0, 10, 10] and [0, 0, {huge}, 10] and [-{huge}, 0, 5, 5]"
    assert len(parse_boxes(completion)) == 3
    out = SalienceIoU()({"completion": [completion], "gt_boxes": [[[0, 0, 10, 10]]]})
    # recall 1; precision (1 + 0 + 0) / 3: the infinite boxes overlap nothing
    np.testing.assert_allclose(out.total, [0.5 + 0.5 / 3])
