"""Temporal IoU, DAVIS J&F, Veason-R1 consistency and STVG-o1 rewards (rewardkit.verify.video)."""

import math
import pickle

import numpy as np
import pytest

from rewardkit.audit import check_reward
from rewardkit.core import Status, build_reward
from rewardkit.core.errors import BatchError, ConfigurationError
from rewardkit.verify.video import (
    MISSING_BOX_SCORE,
    JAndF,
    STVGo1Reward,
    TemporalConsistency,
    TemporalIoU,
    contour_accuracy,
    j_and_f,
    parse_span,
    region_similarity,
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


def _seg2bmap_loop(seg):
    """DAVIS's seg2bmap, one pixel at a time."""
    h, w = seg.shape
    b = np.zeros_like(seg)
    for y in range(h):
        for x in range(w):
            e = seg[y, x + 1] if x + 1 < w else False
            s = seg[y + 1, x] if y + 1 < h else False
            se = seg[y + 1, x + 1] if x + 1 < w and y + 1 < h else False
            if y == h - 1 and x == w - 1:
                b[y, x] = False
            elif y == h - 1:
                b[y, x] = seg[y, x] ^ e
            elif x == w - 1:
                b[y, x] = seg[y, x] ^ s
            else:
                b[y, x] = (seg[y, x] ^ e) | (seg[y, x] ^ s) | (seg[y, x] ^ se)
    return b


def _dilate_loop(b, r):
    h, w = b.shape
    out = np.zeros_like(b)
    for y, x in zip(*np.nonzero(b), strict=True):
        for dy in range(-r, r + 1):
            for dx in range(-r, r + 1):
                if dx * dx + dy * dy <= r * r and 0 <= y + dy < h and 0 <= x + dx < w:
                    out[y + dy, x + dx] = True
    return out


def _f_loop(pred, gt, bound_th=0.008):
    """DAVIS f_measure for one frame, its branches written out."""
    r = math.ceil(bound_th if bound_th >= 1 else bound_th * math.hypot(*pred.shape))
    pb, gb = _seg2bmap_loop(pred), _seg2bmap_loop(gt)
    n_fg, n_gt = pb.sum(), gb.sum()
    if n_fg == 0 and n_gt > 0:
        precision, recall = 1.0, 0.0
    elif n_fg > 0 and n_gt == 0:
        precision, recall = 0.0, 1.0
    elif n_fg == 0 and n_gt == 0:
        precision, recall = 1.0, 1.0
    else:
        precision = (pb & _dilate_loop(gb, r)).sum() / n_fg
        recall = (gb & _dilate_loop(pb, r)).sum() / n_gt
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def _j_loop(pred, gt):
    union = (pred | gt).sum()
    return 1.0 if union == 0 else (pred & gt).sum() / union


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
            scores.append(_giou_loop(p, g) - np.abs(p - g).sum())
    return float(np.mean(scores))


def _blobs(rng, shape, p=0.35):
    """Random masks with some structure: a thresholded, smoothed noise field."""
    noise = rng.random(shape)
    smooth = (noise + np.roll(noise, 1, -1) + np.roll(noise, 1, -2)) / 3
    return smooth < p


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


@pytest.mark.parametrize(
    ("pred", "gt", "inclusive"),
    [
        ([[2.0, 2.0]], [[0.0, 4.0]], False),  # zero-length
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


def test_region_similarity_by_hand():
    pred, gt = np.zeros((4, 4), bool), np.zeros((4, 4), bool)
    pred[:2, :2] = True  # 4 pixels
    gt[:2, :] = True  # 8 pixels, containing pred
    empty = np.zeros_like(gt)
    got = region_similarity(np.stack([pred, empty, empty, gt]), np.stack([gt, empty, gt, empty]))
    np.testing.assert_allclose(got, [0.5, 1.0, 0.0, 0.0])  # empty vs empty is 1 (DAVIS)
    # (N, T, H, W): frame means
    video = region_similarity(np.stack([pred, empty])[None], np.stack([gt, empty])[None])
    np.testing.assert_allclose(video, [0.75])
    # 0/1 integer masks are accepted
    np.testing.assert_allclose(region_similarity(pred[None].astype(int), gt[None]), [0.5])


def test_contour_accuracy_by_hand():
    gt = _square()
    shifted = np.roll(gt, 2, axis=1)
    # seg2bmap marks 12 boundary pixels of gt and 10 of the shifted square (its east edge is
    # the image border). With the 1-pixel tolerance of a 6x6 image (ceil(0.008 * 8.49) = 1),
    # 8 of 10 predicted and 8 of 12 true boundary pixels are matched.
    precision, recall = 8 / 10, 8 / 12
    expected = 2 * precision * recall / (precision + recall)
    assert contour_accuracy(shifted[None], gt[None])[0] == pytest.approx(expected)
    assert contour_accuracy(shifted[None], gt[None], bound_th=2)[0] == 1.0  # 2-pixel tolerance
    assert contour_accuracy(np.roll(gt, 1, axis=1)[None], gt[None])[0] == 1.0
    # DAVIS at 480p (854 x 480): ceil(0.008 * 979.7) = 8 pixels of tolerance
    big = _square((480, 854), (100, 300), (200, 500))
    assert contour_accuracy(np.roll(big, 8, axis=1)[None], big[None])[0] == 1.0
    assert contour_accuracy(np.roll(big, 9, axis=1)[None], big[None])[0] < 1.0


def test_empty_masks_follow_davis():
    gt, empty = _square()[None], np.zeros((1, 6, 6), bool)
    assert contour_accuracy(empty, empty)[0] == 1.0  # precision = recall = 1
    assert contour_accuracy(empty, gt)[0] == 0.0  # empty prediction: precision 1, recall 0
    assert contour_accuracy(gt, empty)[0] == 0.0  # precision 0, recall 1
    np.testing.assert_allclose(
        j_and_f(np.stack([empty[0], empty[0], gt[0]]), np.stack([empty[0], gt[0], gt[0]])),
        [1.0, 0.0, 1.0],
    )


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("bound_th", [0.008, 0.2, 2, 3.0])
def test_j_and_f_match_reference_loops(seed, bound_th):
    rng = np.random.default_rng(seed)
    pred, gt = _blobs(rng, (3, 2, 9, 11)), _blobs(rng, (3, 2, 9, 11))
    pred[0, 1] = False  # an empty prediction
    gt[1, 0] = False  # an empty target
    pred[2, 0], gt[2, 0] = False, False  # both empty
    f_ref = [
        np.mean([_f_loop(p, g, bound_th) for p, g in zip(pv, gv, strict=True)])
        for pv, gv in zip(pred, gt, strict=True)
    ]
    j_ref = [
        np.mean([_j_loop(p, g) for p, g in zip(pv, gv, strict=True)])
        for pv, gv in zip(pred, gt, strict=True)
    ]
    np.testing.assert_allclose(contour_accuracy(pred, gt, bound_th), f_ref)
    np.testing.assert_allclose(region_similarity(pred, gt), j_ref)
    np.testing.assert_allclose(j_and_f(pred, gt, bound_th), (np.array(j_ref) + f_ref) / 2)


@pytest.mark.parametrize(
    ("pred", "gt"),
    [
        (np.zeros((1, 4, 4), bool), np.zeros((1, 4, 5), bool)),  # shapes differ
        (np.zeros((4, 4), bool), np.zeros((4, 4), bool)),  # no batch axis
        (np.zeros((1, 0, 4), bool), np.zeros((1, 0, 4), bool)),  # no pixels
        (np.full((1, 4, 4), 0.5), np.zeros((1, 4, 4), bool)),  # scores, not masks
        ([np.zeros((4, 4)), np.zeros((3, 4))], np.zeros((2, 4, 4), bool)),  # ragged
    ],
)
def test_masks_are_shape_checked(pred, gt):
    for fn in (region_similarity, contour_accuracy, j_and_f):
        with pytest.raises(BatchError):
            fn(pred, gt)


@pytest.mark.parametrize("bound_th", [0.0, -1.0, math.nan, math.inf])
def test_bad_tolerance_is_a_configuration_error(bound_th):
    with pytest.raises(ConfigurationError):
        contour_accuracy(np.zeros((1, 4, 4), bool), np.zeros((1, 4, 4), bool), bound_th)
    with pytest.raises(ConfigurationError):
        JAndF(bound_th=bound_th)


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
    np.testing.assert_allclose(stvg_spatial_reward(pred[None], gt[None], spans, spans), [-24.5])


@pytest.mark.parametrize("seed", range(5))
def test_stvg_spatial_reward_matches_reference_loop(seed):
    rng = np.random.default_rng(seed)
    n, length = 16, 12
    corners = rng.random((2, n, length, 2)) * 0.6
    sizes = rng.random((2, n, length, 2)) * 0.4 + 0.01
    pred, gt = np.concatenate([corners, corners + sizes], axis=3)
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
    with pytest.raises(BatchError):
        stvg_spatial_reward(gt, gt, np.array([[0, 1], [0, 1]]), spans)


def test_parse_span():
    assert parse_span("<think>a - b</think><answer>[12.5, 20]</answer>") == (12.5, 20.0)
    assert parse_span("<time> 5 - 7 </time>") == (5.0, 7.0)
    assert parse_span("from (1, 2) no, from 3 to 4.5s") == (3.0, 4.5)
    assert parse_span("between 3s - 8s") == (3.0, 8.0)
    assert parse_span("[0, 0, 10, 10]") is None  # a box is not a span
    assert parse_span("no span here") is None


def test_temporal_iou_term():
    batch = {
        "completion": [
            "<answer>[2, 6]</answer>",
            [{"role": "assistant", "content": "<answer>0 - 4</answer>"}],
            "<answer>[6, 2]</answer>",  # reversed
            "<answer>[3, 3]</answer>",  # zero-length
            "I cannot tell",
            "<answer>[0, 4]</answer>",
        ],
        "gt_span": [[0, 4]] * 5 + [None],
    }
    out = TemporalIoU()(batch)
    np.testing.assert_allclose(out.total, [1 / 3, 1.0, np.nan, np.nan, np.nan, np.nan])
    assert list(out.status[2:]) == [Status.NOT_APPLICABLE] * 4
    with pytest.raises(BatchError):  # a broken target is an error, not a NaN
        TemporalIoU()({"completion": ["[0, 1]"], "gt_span": [[4, 4]]})


def test_mask_terms_log_their_parts():
    gt = _square()
    shifted = np.roll(gt, 2, axis=1)
    video_gt = np.stack([gt, gt, np.zeros_like(gt)])
    video_pred = np.stack([gt, shifted, np.zeros_like(gt)])
    batch = {"pred_mask": [shifted, video_pred, None], "gt_mask": [gt, video_gt, gt]}
    out = JAndF()(batch)
    j, f = (
        region_similarity(shifted[None], gt[None])[0],
        contour_accuracy(shifted[None], gt[None])[0],
    )
    # the video: exact, shifted, empty vs empty frames
    np.testing.assert_allclose(out.terms["region_similarity"][:2], [j, (2 + j) / 3])
    np.testing.assert_allclose(out.terms["contour_accuracy"][:2], [f, (2 + f) / 3])
    np.testing.assert_allclose(out.total[:2], [(j + f) / 2, (4 + j + f) / 6])
    assert np.isnan(out.total[2]) and out.status[2] == Status.NOT_APPLICABLE
    consistency = TemporalConsistency()(batch)
    np.testing.assert_allclose(consistency.total[:2], out.terms["region_similarity"][:2])
    assert np.isnan(consistency.total[2])
    with pytest.raises(BatchError):
        JAndF()({"pred_mask": [gt[:3]], "gt_mask": [gt]})


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
    "j_and_f": (
        {"bound_th": 0.008},
        {"pred_mask": [_MASK, None, np.roll(_MASK, 2, 1)], "gt_mask": [_MASK, _MASK, _MASK]},
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
