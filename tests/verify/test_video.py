"""Temporal IoU, Veason-R1 consistency and STVG-o1 rewards (rewardkit.verify.video)."""

import math
import pickle

import numpy as np
import pytest

from rewardkit.audit import check_reward
from rewardkit.core import Status, build_reward
from rewardkit.core.errors import BatchError, ConfigurationError
from rewardkit.verify.video import (
    MISSING_BOX_SCORE,
    STVGo1Reward,
    TemporalConsistency,
    TemporalIoU,
    parse_span,
    stvg_spatial_reward,
    temporal_iou,
)


def _tiou_loop(pred, gt, inclusive=False):
    extra = 1.0 if inclusive else 0.0
    out = []
    for (ps, pe), (gs, ge) in zip(pred, gt, strict=True):
        inter = max(0.0, min(pe, ge) - max(ps, gs) + extra)
        out.append(inter / ((pe - ps + extra) + (ge - gs + extra) - inter))
    return np.array(out)


def _giou_loop(a, b):
    def area(x):
        return max(0.0, x[2] - x[0]) * max(0.0, x[3] - x[1])

    inter = area([max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])])
    union = area(a) + area(b) - inter
    hull = area([min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])])
    return inter / union - (hull - union) / hull


def _spatial_loop(pred, gt, pred_span, gt_span):
    lo, hi = max(pred_span[0], gt_span[0]), min(pred_span[1], gt_span[1])
    if lo > hi:
        return 0.0
    scores = []
    for t in range(int(lo), int(hi) + 1):
        p, g = pred[t], gt[t]
        if np.isnan(p).any() or p[2] <= p[0] or p[3] <= p[1]:
            scores.append(MISSING_BOX_SCORE)
        else:
            p = np.clip(p, 0.0, 1.0)
            scores.append(_giou_loop(p, g) - np.abs(p - g).sum())
    return float(np.mean(scores))


def test_temporal_iou_by_hand():
    pred = np.array([[0.0, 4.0], [1.0, 3.0], [2.0, 5.0], [0.0, 2.0], [0.0, 1.0]])
    gt = np.array([[2.0, 6.0], [0.0, 4.0], [2.0, 5.0], [2.0, 4.0], [5.0, 9.0]])
    # overlap 2 of 6; nested 2 of 4; identical; touching at a point; disjoint
    np.testing.assert_allclose(temporal_iou(pred, gt), [2 / 6, 0.5, 1.0, 0.0, 0.0])


def test_temporal_iou_inclusive_frames_by_hand():
    pred = np.array([[5, 7], [3, 3], [3, 3], [0, 2]])
    gt = np.array([[6, 9], [3, 3], [4, 4], [2, 4]])
    # frames 6,7 of 5 frames; one-frame spans; adjacent frames; sharing frame 2 (1 of 5)
    np.testing.assert_allclose(temporal_iou(pred, gt, inclusive=True), [0.4, 1.0, 0.0, 0.2])


def test_a_zero_length_predicted_span_scores_zero():
    # a point covers nothing: intersection 0, union the target's length
    pred = np.array([[2.0, 2.0], [7.0, 7.0], [0.0, 0.0]])
    gt = np.array([[0.0, 4.0], [0.0, 4.0], [0.0, 4.0]])
    np.testing.assert_array_equal(temporal_iou(pred, gt), [0.0, 0.0, 0.0])


@pytest.mark.parametrize(
    ("pred", "gt", "inclusive"),
    [
        ([[0.0, 4.0]], [[3.0, 3.0]], False),  # zero-length target
        ([[3.0, 1.0]], [[0.0, 4.0]], False),  # reversed
        ([[3, 1]], [[0, 4]], True),  # reversed frames
        ([[0.5, 2.0]], [[0, 4]], True),  # frame indices must be integers
        ([[0.0, np.nan]], [[0.0, 4.0]], False),
        ([[0.0, 1.0, 2.0]], [[0.0, 4.0, 5.0]], False),  # not (N, 2)
        ([[0.0, 1.0]], [[0.0, 4.0], [1.0, 2.0]], False),  # N differs
        ([[0.0, 1.0], [2.0]], [[0.0, 4.0], [1.0, 2.0]], False),  # ragged
    ],
)
def test_temporal_iou_rejects_invalid_spans(pred, gt, inclusive):
    with pytest.raises(BatchError):
        temporal_iou(pred, gt, inclusive=inclusive)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("inclusive", [False, True])
def test_temporal_iou_matches_reference_loop(seed, inclusive):
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, 20, size=(64, 2))
    spans = np.stack([starts[:, 0], starts[:, 0] + rng.integers(0 if inclusive else 1, 10, 64)], 1)
    gt = np.stack([starts[:, 1], starts[:, 1] + rng.integers(0 if inclusive else 1, 10, 64)], 1)
    got = temporal_iou(spans, gt, inclusive=inclusive)
    np.testing.assert_allclose(got, _tiou_loop(spans, gt, inclusive))
    np.testing.assert_allclose(got, temporal_iou(gt, spans, inclusive=inclusive))  # symmetric
    assert ((got >= 0) & (got <= 1)).all()


def _square(shape=(6, 6), rows=(1, 4), cols=(1, 4)):
    mask = np.zeros(shape, bool)
    mask[rows[0] : rows[1], cols[0] : cols[1]] = True
    return mask


def _track(length, frames, box):
    boxes = np.full((length, 4), np.nan)
    boxes[list(frames)] = box
    return boxes


def test_stvg_spatial_reward_by_hand():
    gt = _track(6, range(1, 5), [0.0, 0.0, 0.5, 0.5])
    perfect = _track(6, range(0, 6), [0.0, 0.0, 0.5, 0.5])
    taller = _track(6, range(0, 6), [0.0, 0.0, 0.5, 1.0])  # GIoU 0.5, L1 0.5 -> 0
    far = _track(6, range(0, 6), [0.6, 0.6, 0.8, 0.8])  # disjoint
    gap = perfect.copy()
    gap[2] = np.nan  # frame 2 of the intersection has no box
    # far vs gt: IoU 0, hull 0.8^2 = 0.64, union 0.25 + 0.04 -> GIoU = -(0.64 - 0.29) / 0.64;
    # L1 = 0.6 + 0.6 + 0.3 + 0.3
    far_score = -(0.64 - 0.29) / 0.64 - 1.8
    pred = np.stack([perfect, taller, far, gap, perfect])
    spans = np.array([[0, 5], [2, 3], [1, 4], [1, 2], [5, 5]])
    gt_spans = np.array([[1, 4]] * 5)
    got = stvg_spatial_reward(pred, np.stack([gt] * 5), spans, gt_spans)
    # the last prediction's span [5, 5] misses the target's [1, 4]: no spatial feedback
    expected = [1.0, 0.0, far_score, (1.0 + MISSING_BOX_SCORE) / 2, 0.0]
    np.testing.assert_allclose(got, expected)


def test_stvg_spatial_reward_scales_pixels_by_image_size():
    gt = _track(2, [0, 1], [0.0, 0.0, 50.0, 50.0])
    pred = _track(2, [0, 1], [0.0, 0.0, 50.0, 25.0])
    spans = np.array([[0, 1]])
    # in a 100 x 50 frame: [0, 0, .5, .5] vs [0, 0, .5, 1]: GIoU 0.5, L1 0.5
    scaled = stvg_spatial_reward(pred[None], gt[None], spans, spans, image_size=[[100, 50]])
    np.testing.assert_allclose(scaled, [0.0])
    with pytest.raises(BatchError, match="image_size"):  # pixels read as [0, 1] coordinates
        stvg_spatial_reward(pred[None], gt[None], spans, spans)


def test_missing_box_score_is_a_floor_in_pixels():
    # gt [0, 0, 50, 50] in a 100 x 50 frame is [0, 0, .5, 1]; the predictions are clipped
    # to the frame: [5000, 5000, 9000, 9000] -> [1, 1, 1, 1]: IoU 0, hull 1, union .5,
    # GIoU -.5, L1 1 + 1 + .5 + 0 -> -3; [-900, -900, -500, -500] -> [0, 0, 0, 0]: hull =
    # union = .5, GIoU 0, L1 0 + 0 + .5 + 1 -> -1.5
    gt = _track(2, [0, 1], [0.0, 0.0, 50.0, 50.0])
    far = _track(2, [0, 1], [5000.0, 5000.0, 9000.0, 9000.0])
    behind = _track(2, [0, 1], [-900.0, -900.0, -500.0, -500.0])
    skipped = _track(2, [], [0.0, 0.0, 1.0, 1.0])
    spans, size = np.array([[0, 1]] * 3), [[100, 50]] * 3
    got = stvg_spatial_reward(
        np.stack([far, behind, skipped]), np.stack([gt] * 3), spans, spans, size
    )
    np.testing.assert_allclose(got, [-3.0, -1.5, MISSING_BOX_SCORE])
    rng = np.random.default_rng(0)  # any box, however far off: never below the floor
    wild = rng.normal(0, 1e6, (64, 2, 4))
    wild[..., 2:] = wild[..., :2] + np.abs(rng.normal(0, 1e6, (64, 2, 2)))
    many = stvg_spatial_reward(wild, np.stack([gt] * 64), spans[:1].repeat(64, 0),
                               spans[:1].repeat(64, 0), [[100, 50]] * 64)  # fmt: skip
    assert (many >= MISSING_BOX_SCORE).all()


@pytest.mark.parametrize("seed", range(5))
def test_stvg_spatial_reward_matches_reference_loop(seed):
    rng = np.random.default_rng(seed)
    n, length = 16, 12
    corners = rng.random((2, n, length, 2)) * 0.59
    sizes = rng.random((2, n, length, 2)) * 0.4 + 0.01
    pred, gt = np.concatenate([corners, corners + sizes], axis=3)
    pred[rng.random((n, length)) < 0.2] *= 3.0  # some boxes reach past the frame: clipped
    pred[rng.random((n, length)) < 0.1] -= 1.0
    pred[rng.random((n, length)) < 0.15] = np.nan  # some frames without a box
    pred[rng.random((n, length)) < 0.05, 2] = -1.0  # some malformed boxes
    gt_spans = np.sort(rng.integers(0, length, (n, 2)), axis=1)
    pred_spans = np.sort(rng.integers(0, length, (n, 2)), axis=1)
    got = stvg_spatial_reward(pred, gt, pred_spans, gt_spans)
    ref = [_spatial_loop(*row) for row in zip(pred, gt, pred_spans, gt_spans, strict=True)]
    np.testing.assert_allclose(got, ref)


def test_stvg_spatial_reward_is_shape_checked():
    gt, spans = _track(3, [0, 1], [0.0, 0.0, 1.0, 1.0])[None], np.array([[0, 1]])
    with pytest.raises(BatchError):  # a frame of the gt span without a box
        stvg_spatial_reward(gt, gt, spans, np.array([[0, 2]]))
    with pytest.raises(BatchError):  # the gt span runs past the boxes
        stvg_spatial_reward(gt, gt, spans, np.array([[1, 3]]))
    with pytest.raises(BatchError):
        stvg_spatial_reward(gt[..., :3], gt[..., :3], spans, spans)
    with pytest.raises(BatchError):
        stvg_spatial_reward(gt, gt, np.array([[0.5, 1.0]]), spans)
    with pytest.raises(BatchError):
        stvg_spatial_reward(gt, gt, spans, spans, image_size=[[0, 10]])
    with pytest.raises(BatchError, match="outside its image"):
        stvg_spatial_reward(gt * 20, gt * 20, spans, spans, image_size=[[10, 10]])
    with pytest.raises(BatchError):
        stvg_spatial_reward(gt, gt, np.array([[0, 1], [0, 1]]), spans)


@pytest.mark.parametrize(
    ("box", "message"),
    [
        ([0.0, 0.0, np.inf, 0.5], "not finite"),
        ([0.0, -np.inf, 0.5, 0.5], "not finite"),
        ([0.5, 0.0, 0.1, 0.5], "reversed"),  # x2 < x1
        ([0.0, 0.5, 0.5, 0.1], "reversed"),  # y2 < y1
        ([0.0, 0.0, 2.0, 0.5], "image_size"),  # pixels without a scale
        ([-0.1, 0.0, 0.5, 0.5], "image_size"),
    ],
)
def test_stvg_spatial_reward_rejects_broken_gt_boxes(box, message):
    gt = _track(2, [0, 1], [0.0, 0.0, 0.5, 0.5])
    gt[1] = box
    spans = np.array([[0, 1]])
    with pytest.raises(BatchError, match=message):
        stvg_spatial_reward(gt[None], gt[None], spans, spans)
    text = _stvg("0 - 1", f"0. {SQUARE}, 1. {SQUARE}", f"0. {SQUARE}, 1. {SQUARE}")
    with pytest.raises(BatchError, match=message):  # the term: a target error, not a score
        STVGo1Reward()({"completion": [text], "gt_span": [[0, 1]], "gt_boxes": [gt]})


def test_parse_span():
    assert parse_span("<think>a - b</think><answer>[12.5, 20]</answer>") == (12.5, 20.0)
    assert parse_span("<time> 5 - 7 </time>") == (5.0, 7.0)
    assert parse_span("from (1, 2) no, from 3 to 4.5s") == (3.0, 4.5)
    assert parse_span("between 3s - 8s") == (3.0, 8.0)
    assert parse_span("[0, 0, 10, 10]") is None  # a box is not a span
    assert parse_span("no span here") is None
    assert parse_span("[.5, 2.25] and 1.5 - 3") == (1.5, 3.0)


@pytest.mark.parametrize(
    "text",
    [
        "<answer>[0, 1" + "0" * 400 + "]</answer>",  # float() would give inf
        "<answer>0 - " + "1" * 5000 + "</answer>",  # int() would pass Python's digit limit
        "<answer>[0, 1234567890]</answer>",  # 10 digits
        "<answer>0 - 12345678901.5</answer>",
        "<answer>[0, 1.5.5]</answer>",
    ],
)
def test_parse_span_reads_no_piece_of_a_huge_number(text):
    assert parse_span(text) is None


def test_parse_span_is_linear_in_its_input():
    # no quadratic backtracking: each finishes at once (these took minutes before)
    assert parse_span("<answer>1" + " " * 200_000 + "x</answer>") is None
    assert parse_span("<answer>" + "1" * 200_000 + "</answer>") is None


def test_temporal_iou_term():
    batch = {
        "completion": [
            "<answer>[2, 6]</answer>",
            [{"role": "assistant", "content": "<answer>0 - 4</answer>"}],
            "<answer>[6, 2]</answer>",  # reversed
            "<answer>[3, 3]</answer>",  # zero-length: covers nothing
            "I cannot tell",
            "<answer>[0, 4]</answer>",
            "<answer>[0, 4]</answer>",
            "<answer>[0, 4]</answer>",
            "<answer>[0, 1" + "0" * 400 + "]</answer>",  # a huge number: no span
            "<answer>0 - " + "1" * 5000 + "</answer>",
        ],
        "gt_span": [[0, 4]] * 5 + [None, math.nan, [math.nan, math.nan], [0, 4], [0, 4]],
    }
    out = TemporalIoU()(batch)
    np.testing.assert_allclose(out.total, [1 / 3, 1.0, np.nan, 0.0] + [np.nan] * 6)
    assert out.status[3] == Status.OK
    assert list(out.status[4:]) == [Status.NOT_APPLICABLE] * 6
    with pytest.raises(BatchError):  # a broken target is an error, not a NaN
        TemporalIoU()({"completion": ["[0, 1]"], "gt_span": [[4, 4]]})
    with pytest.raises(BatchError):  # half a target is broken, not missing
        TemporalIoU()({"completion": ["[0, 1]"], "gt_span": [[0, math.nan]]})


def test_temporal_consistency_by_hand():
    gt = _square()
    shifted = np.roll(gt, 2, axis=1)  # 3 shared pixels of 9 + 9 - 3 = 15: IoU 1/5
    video_gt = np.stack([gt, gt, np.zeros_like(gt)])
    video_pred = np.stack([gt, shifted, np.zeros_like(gt)])  # exact, shifted, empty vs empty
    batch = {"pred_mask": [shifted, video_pred, None], "gt_mask": [gt, video_gt, gt]}
    out = TemporalConsistency()(batch)
    np.testing.assert_allclose(out.total, [1 / 5, (1 + 1 / 5 + 1) / 3, np.nan])
    assert out.status[2] == Status.NOT_APPLICABLE
    with pytest.raises(BatchError):
        TemporalConsistency()({"pred_mask": [gt[:3]], "gt_mask": [gt]})


def _stvg(time, think, pred):
    return f"<time>{time}</time><think_bbox>{think}</think_bbox><pred_bbox>{pred}</pred_bbox>"


SQUARE = "[0, 0, .5, .5]"
TALL = "[0, 0, .5, 1]"


def test_stvg_o1_by_hand():
    batch = {
        "completion": [
            _stvg("1 - 2", f"1. {SQUARE}, 2. {TALL}", f"1. {SQUARE}, 2. {SQUARE}"),
            _stvg("1 - 2", f"1. {SQUARE}", f"1. {SQUARE}, 2. {SQUARE}"),  # think skips frame 2
            "Sure! " + _stvg("1 - 2", f"1. {SQUARE}, 2. {SQUARE}", f"1. {SQUARE}, 2. {SQUARE}"),
            _stvg("5 - 6", f"5. {SQUARE}, 6. {SQUARE}", f"5. {SQUARE}, 6. {SQUARE}"),
            _stvg("2 - 1", f"1. {SQUARE}", f"1. {SQUARE}"),  # reversed span
            "the person in red, frames 1 to 2",
        ],
        "gt_span": [[1, 3]] * 6,
        "gt_boxes": [[[0, 0, 0.5, 0.5]] * 3] * 6,
    }
    out = STVGo1Reward()(batch)
    t = 2 / 3  # frames {1, 2} of {1, 2, 3}
    parts = {
        # R_spa(think) = (1 + 0) / 2, R_spa(pred) = 1
        "format": [1, 1, 0, 1, 1, 0],
        "consistency": [1, 0, 1, 1, np.nan, np.nan],
        "temporal": [t, t, t, 0, np.nan, np.nan],
        "spatial": [1.5, 1 + (1 + MISSING_BOX_SCORE) / 2, 2, 0, np.nan, np.nan],
        "think": [0.5, 1 - (1 + MISSING_BOX_SCORE) / 2, 0, 0, np.nan, np.nan],
    }
    for name, expected in parts.items():
        np.testing.assert_allclose(out.terms[name], expected, err_msg=name)
    total = [
        1 + 1 + t + 1.5 + 0.25,
        1 + 0 + t + (1 + (1 + MISSING_BOX_SCORE) / 2) + 0.5 * (1 - (1 + MISSING_BOX_SCORE) / 2),
        0 + 1 + t + 2 + 0,
        1 + 1 + 0 + 0 + 0,  # no shared frame: no temporal or spatial reward
        np.nan,
        np.nan,
    ]
    np.testing.assert_allclose(out.total, total)
    assert list(out.status) == [Status.OK] * 4 + [Status.NOT_APPLICABLE] * 2
    np.testing.assert_allclose(out.terms["pred_spatial"][:4], [1, 1, 1, 0])


def test_stvg_o1_unparseable_score_and_missing_target():
    batch = {
        "completion": ["no span", "no span", _stvg("0 - 0", f"0. {SQUARE}", f"0. {SQUARE}")],
        "gt_span": [[0, 0], None, [0, 0]],
        "gt_boxes": [[[0, 0, 0.5, 0.5]], None, [[0, 0, 0.5, 0.5]]],
    }
    plain = STVGo1Reward()(batch)
    np.testing.assert_allclose(plain.total, [np.nan, np.nan, 1 + 1 + 1 + 2 + 0])
    scored = STVGo1Reward(unparseable_score=0.0)(batch)
    np.testing.assert_allclose(scored.total, [0.0, np.nan, 5.0])  # no target: still NaN
    assert list(scored.status) == [Status.OK, Status.NOT_APPLICABLE, Status.OK]


def test_stvg_o1_missing_targets_are_not_applicable():
    text = _stvg("0 - 0", f"0. {SQUARE}", f"0. {SQUARE}")
    batch = {
        "completion": [text] * 5,
        "gt_span": [[0, 0], [0, 0], None, math.nan, [0, 0]],
        "gt_boxes": [None, math.nan, [[0, 0, 0.5, 0.5]], [[0, 0, 0.5, 0.5]], [[0, 0, 0.5, 0.5]]],
    }
    for term in (STVGo1Reward(), STVGo1Reward(unparseable_score=0.0)):
        out = term(batch)
        np.testing.assert_allclose(out.total, [np.nan] * 4 + [5.0])
        assert list(out.status) == [Status.NOT_APPLICABLE] * 4 + [Status.OK]


def test_stvg_o1_reads_a_chat_completion():
    text = _stvg("1 - 2", f"1. {SQUARE}, 2. {TALL}", f"1. {SQUARE}, 2. {SQUARE}")
    chat = [{"role": "user", "content": "Where?"}, {"role": "assistant", "content": text}]
    batch = {"gt_span": [[1, 3]] * 2, "gt_boxes": [[[0, 0, 0.5, 0.5]] * 3] * 2}
    out = STVGo1Reward()({**batch, "completion": [chat, text]})
    np.testing.assert_allclose(out.total, [1 + 1 + 2 / 3 + 1.5 + 0.25] * 2)


@pytest.mark.parametrize(
    "text",
    [
        "<time>0 - 1" + "0" * 400 + "</time>",
        "<time>0 - 1" + "0" * 5000 + "</time>",  # past Python's int() digit limit
        "<time>0 - 999999999999</time>",  # 12 digits: not a frame
        _stvg("0 - 1", "0" * 5000 + ". [0, 0, .5, .5]", "1" * 400 + ". [0, 0, 1e400, .5]"),
    ],
)
def test_stvg_o1_huge_numbers_never_crash_the_batch(text):
    batch = {"completion": [text, _stvg("0 - 0", f"0. {SQUARE}", f"0. {SQUARE}")]}
    out = STVGo1Reward()(
        {**batch, "gt_span": [[0, 1], [0, 0]], "gt_boxes": [[[0, 0, 1, 1]] * 2, [[0, 0, 0.5, 0.5]]]}
    )
    assert out.status[1] == Status.OK and out.total[1] == 5.0  # the rest of the batch scores
    if "<think_bbox>" not in text:
        assert np.isnan(out.total[0]) and out.status[0] == Status.NOT_APPLICABLE
    else:  # the span parses; the chains hold no frame: inconsistent, every frame missing
        assert out.terms["consistency"][0] == 0.0
        assert out.terms["spatial"][0] == 2 * MISSING_BOX_SCORE


def test_stvg_o1_a_billion_frame_span_is_checked_without_building_it():
    text = _stvg("0 - 999999999", f"0. {SQUARE}", f"0. {SQUARE}")
    out = STVGo1Reward()({"completion": [text], "gt_span": [[0, 0]], "gt_boxes": [[[0, 0, 1, 1]]]})
    assert out.terms["consistency"][0] == 0.0  # one box for 10⁹ frames
    assert out.terms["temporal"][0] == pytest.approx(1e-9)


def test_stvg_o1_pays_a_disjoint_span_more_than_a_mediocre_overlap():
    # the incentive the docstring states: R_spa is 0 without a shared frame, and GIoU - L1
    # is negative for a poor box. Target: frames 0-1, [0, 0, .5, .5]. The overlap names
    # frames 1-2 (tIoU 1/3, one shared frame) with [.25, .25, .75, .75]: IoU .0625 / .4375
    # = 1/7, hull .75² = .5625, GIoU = 1/7 - (.5625 - .4375) / .5625, L1 = 4 x .25 = 1.
    off = "[.25, .25, .75, .75]"
    overlap = _stvg("1 - 2", f"1. {off}, 2. {off}", f"1. {off}, 2. {off}")
    disjoint = _stvg("5 - 6", f"5. {off}, 6. {off}", f"5. {off}, 6. {off}")
    batch = {"completion": [overlap, disjoint], "gt_span": [[0, 1]] * 2,
             "gt_boxes": [[[0, 0, 0.5, 0.5]] * 2] * 2}  # fmt: skip
    out = STVGo1Reward()(batch)
    r_spa = 1 / 7 - (0.5625 - 0.4375) / 0.5625 - 1.0
    np.testing.assert_allclose(out.terms["spatial"], [2 * r_spa, 0.0])
    np.testing.assert_allclose(out.total, [2 + 1 / 3 + 2 * r_spa, 2.0])
    assert out.total[1] > out.total[0]


def test_stvg_o1_image_size_and_target_errors():
    text = _stvg(
        "0 - 1", "0. [0, 0, 50, 25], 1. [0, 0, 50, 25]", "0. [0, 0, 50, 50], 1. [0, 0, 50, 50]"
    )
    batch = {"completion": [text], "gt_span": [[0, 1]], "gt_boxes": [[[0, 0, 50, 50]] * 2]}
    # think boxes in a 100 x 50 frame: GIoU 0.5 - L1 0.5 = 0; pred boxes exact: 1
    out = STVGo1Reward()({**batch, "image_size": [[100, 50]]})
    np.testing.assert_allclose([out.terms["spatial"][0], out.terms["think"][0]], [1.0, 1.0])
    with pytest.raises(BatchError):  # two boxes for a three-frame span
        STVGo1Reward()({**batch, "gt_span": [[0, 2]]})
    with pytest.raises(BatchError):
        STVGo1Reward()({**batch, "gt_span": [[-1, 0]]})
    with pytest.raises(ConfigurationError):
        STVGo1Reward(think_weight=math.nan)
    with pytest.raises(ConfigurationError):
        STVGo1Reward(unparseable_score=math.inf)


_MASK = _square()
EXAMPLES = {
    "temporal_iou": (
        {},
        {
            "completion": ["<answer>[2, 6]</answer>", "no span", "<answer>[0, 4]</answer>"],
            "gt_span": [[0, 4], [0, 4], None],
        },
    ),
    "temporal_consistency": (
        {},
        {"pred_mask": [_MASK[None], None], "gt_mask": [_MASK[None], _MASK[None]]},
    ),
    "stvg_o1": (
        {"think_weight": 0.5},
        {
            "completion": [_stvg("1 - 2", f"1. {SQUARE}, 2. {TALL}", f"1. {SQUARE}"), "no span"],
            "gt_span": [[1, 3], [0, 1]],
            "gt_boxes": [[[0, 0, 0.5, 0.5]] * 3, [[0, 0, 1, 1]] * 2],
        },
    ),
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_registered_terms_meet_the_contract(name):
    params, batch = EXAMPLES[name]
    term = build_reward({"term": name, **params})
    out = term(batch)
    n = len(next(iter(batch.values())))
    assert out.total.shape == (n,) and out.total.dtype == np.float64
    np.testing.assert_array_equal(np.isnan(out.total), out.status != Status.OK)
    assert term.name in out.terms
    clone = pickle.loads(pickle.dumps(term))
    again = clone(batch)
    np.testing.assert_array_equal(again.total, out.total)
    for key, values in out.terms.items():
        np.testing.assert_array_equal(again.terms[key], values)
    assert check_reward(term, batch, warn=False).passed
    assert build_reward({"term": name, **params, "name": "renamed"}).name == "renamed"
