"""IoU, Gaussian point/coverage, box size, Brier calibration, partial credit."""

import math

import numpy as np
import pytest

from rewardkit.core import column
from rewardkit.verify import (
    BoxIoU,
    BoxSize,
    BrierCalibration,
    GaussianCoverage,
    GaussianPoint,
    PartialCredit,
    box_iou,
    box_size_reward,
    gaussian_coverage_reward,
    gaussian_point_reward,
    partial_credit,
)
from rewardkit.verify.grounding import parse_box


def test_iou_by_hand():
    pred = np.array([[0, 0, 2, 2], [0, 0, 1, 1], [0, 0, 4, 4]])
    gt = np.array([[1, 1, 3, 3], [2, 2, 3, 3], [1, 1, 3, 3]])
    # overlap 1 / union 7; disjoint; gt inside pred: 4 / 16
    np.testing.assert_allclose(box_iou(pred, gt), [1 / 7, 0.0, 0.25])


def test_gaussian_point_by_hand_and_adaptive_variance():
    gt = np.array([[0, 0, 10, 20], [0, 0, 100, 200]])
    # 2.5 px right of centre: z = 2.5 / (0.5 * 10) = 0.5 for the small box
    small, large = gaussian_point_reward(np.array([[7.5, 10.0], [52.5, 100.0]]), gt)
    assert math.isclose(small, math.exp(-0.5 * 0.25))
    assert large > small  # the same 2.5 px error matters less on a large element


def test_gaussian_coverage_penalizes_inflation_and_offsets():
    gt = np.array([[0, 0, 10, 10]] * 4)
    pred = np.array([[0, 0, 10, 10], [-5, -5, 15, 15], [-45, -45, 55, 55], [5, 0, 15, 10]])
    cov = gaussian_coverage_reward(pred, gt)
    assert cov[0] == pytest.approx(1.0)
    assert cov[0] > cov[1] > cov[2]  # inflation lowers the reward
    assert cov[3] < 1.0
    # by hand for the 2x box: var1 = 25, var2 = 100 -> var = 62.5 per axis, no offset
    d_b = 2 * 0.5 * (math.log(62.5) - 0.5 * (math.log(100) + math.log(25)))
    assert cov[1] == pytest.approx(math.exp(-d_b))
    # IoU rewards the same inflation less harshly: the hack GUI-G1 describes
    assert box_iou(pred[1:2], gt[:1])[0] == pytest.approx(0.25)


def test_box_size_by_hand():
    gt = np.array([[0, 0, 10, 10]] * 3)
    pred = np.array([[0, 0, 10, 10], [0, 0, 20, 20], [0, 0, 5, 5]])
    np.testing.assert_allclose(box_size_reward(pred, gt), [1.0, 0.5, 1 / 1.5])


def test_grounding_terms_parse_completions():
    batch = {
        "completion": ["<answer>[0, 0, 10, 10]</answer>", "[3, 3, 1, 1]", "click (5, 5)"],
        "gt_box": [[0, 0, 10, 10]] * 3,
    }
    np.testing.assert_allclose(BoxIoU()(batch).total, [1.0, np.nan, np.nan])
    np.testing.assert_allclose(GaussianPoint()(batch).total[2], 1.0)
    assert GaussianCoverage()(batch).total[0] == pytest.approx(1.0)
    assert BoxSize()(batch).total[0] == 1.0
    assert parse_box("[1, 2, 3, 4] then [0, 0, 5, 5]") == (0.0, 0.0, 5.0, 5.0)


def test_brier_calibration_by_hand():
    batch = {
        "correct": [1.0, 1.0, 0.0, 0.0, 1.0],
        "completion": [
            "confidence: 1.0",
            "confidence: 0.5",
            "confidence: 0.9",
            "<confidence>0.1</confidence>",
            "confidence: 2",
        ],
    }
    out = BrierCalibration(column("correct"))(batch)
    np.testing.assert_allclose(out.total, [1.0, 0.75, 1 - 0.81, 1 - 0.01, np.nan])


def test_partial_credit_by_hand():
    gold = [("1", "color", "red"), ("2", "size", "large")]
    best = 2 * 5.0
    assert partial_credit(gold, gold) == 1.0
    assert partial_credit([("1", "color", "blue")], gold) == pytest.approx(1.5 / best)
    assert partial_credit([("1", "shape", "cube")], gold) == pytest.approx(0.5 / best)
    # enumerating five guesses: 5.0 for the hit (gold 1 is then used up, nothing else
    # shares a field with gold 2), -1 for each of the 3 items beyond the 2 gold ones
    guesses = [("1", "color", c) for c in ("red", "blue", "green", "cyan", "gray")]
    assert partial_credit(guesses, gold) == pytest.approx((5.0 - 3.0) / best)
    assert partial_credit([], gold) == pytest.approx(-1.0 / best)
    term = PartialCredit()
    out = term(
        {
            "completion": ["<answer>1.color.red;2.size.large</answer>"],
            "answer": [["1.color.red", "2.size.large"]],
        }
    )
    assert out.total[0] == 1.0
