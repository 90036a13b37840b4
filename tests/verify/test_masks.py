"""DAVIS region similarity J, contour accuracy F and J&F (rewardkit.verify.masks)."""

import math
import pickle

import numpy as np
import pytest

from rewardkit.audit import check_reward
from rewardkit.core import Status, build_reward
from rewardkit.core.errors import BatchError, ConfigurationError
from rewardkit.verify.masks import JAndF, contour_accuracy, j_and_f, region_similarity


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


def _blobs(rng, shape, p=0.35):
    """Random masks with some structure: a thresholded, smoothed noise field."""
    noise = rng.random(shape)
    smooth = (noise + np.roll(noise, 1, -1) + np.roll(noise, 1, -2)) / 3
    return smooth < p


def _square(shape=(6, 6), rows=(1, 4), cols=(1, 4)):
    mask = np.zeros(shape, bool)
    mask[rows[0] : rows[1], cols[0] : cols[1]] = True
    return mask


# A 3 x 3 square at rows/cols 1-3 of a 6 x 6 image, and the same square 2 columns to the
# right. J: 3 shared pixels of 9 + 9 - 3 = 15. F: seg2bmap marks 12 boundary pixels of the
# square and 10 of the shifted one (its east edge is the image border); with the 1-pixel
# tolerance of a 6 x 6 image (ceil(0.008 * 8.49) = 1), 8 of 10 predicted and 8 of 12 true
# boundary pixels are matched: P = 4/5, R = 2/3, F = 2PR / (P + R) = 8/11.
SHIFTED_J, SHIFTED_F = 3 / 15, 8 / 11


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
    gt_square = _square()
    shifted = np.roll(gt_square, 2, axis=1)
    np.testing.assert_allclose(region_similarity(shifted[None], gt_square[None]), [SHIFTED_J])


def test_contour_accuracy_by_hand():
    gt = _square()
    shifted = np.roll(gt, 2, axis=1)
    assert contour_accuracy(shifted[None], gt[None])[0] == pytest.approx(SHIFTED_F)
    assert contour_accuracy(shifted[None], gt[None], bound_th=2)[0] == 1.0  # 2-pixel tolerance
    assert contour_accuracy(np.roll(gt, 1, axis=1)[None], gt[None])[0] == 1.0
    # DAVIS at 480p (854 x 480): ceil(0.008 * 979.7) = 8 pixels of tolerance
    big = _square((480, 854), (100, 300), (200, 500))
    assert contour_accuracy(np.roll(big, 8, axis=1)[None], big[None])[0] == 1.0
    assert contour_accuracy(np.roll(big, 9, axis=1)[None], big[None])[0] < 1.0


def test_j_and_f_by_hand():
    gt = _square()
    shifted = np.roll(gt, 2, axis=1)
    got = j_and_f(np.stack([gt, shifted]), np.stack([gt, gt]))
    np.testing.assert_allclose(got, [1.0, (SHIFTED_J + SHIFTED_F) / 2])


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


def test_a_huge_tolerance_is_capped_at_the_diagonal():
    rng = np.random.default_rng(0)
    pred, gt = _blobs(rng, (2, 9, 11)), _blobs(rng, (2, 9, 11))
    whole = contour_accuracy(pred, gt, bound_th=15)  # 15 > the diagonal (14.2): every pixel
    for bound_th in (1e9, 1e300):  # no 10⁹-pixel padding, no hang
        np.testing.assert_array_equal(contour_accuracy(pred, gt, bound_th=bound_th), whole)
    np.testing.assert_allclose(whole, [1.0, 1.0])  # both have boundaries: all matched


@pytest.mark.parametrize(
    ("pred", "gt", "message"),
    [
        (np.zeros((1, 4, 4), bool), np.zeros((1, 4, 5), bool), "differ"),  # shapes differ
        (np.zeros((4, 4), bool), np.zeros((4, 4), bool), "N, H, W"),  # no batch axis
        (np.zeros((1, 0, 4), bool), np.zeros((1, 0, 4), bool), "N, H, W"),  # no pixels
        (np.zeros((1, 0, 4, 4), bool), np.zeros((1, 0, 4, 4), bool), "no frames"),  # T = 0
        (np.full((1, 4, 4), 0.5), np.zeros((1, 4, 4), bool), "threshold"),  # scores
        (np.full((1, 4, 4), 255), np.zeros((1, 4, 4), bool), "0/255"),  # an image's 0/255
        ([np.zeros((4, 4)), np.zeros((3, 4))], np.zeros((2, 4, 4), bool), "regular"),  # ragged
    ],
)
def test_masks_are_shape_checked(pred, gt, message):
    for fn in (region_similarity, contour_accuracy, j_and_f):
        with pytest.raises(BatchError, match=message):
            fn(pred, gt)


def test_no_frames_is_an_error_not_a_warning(recwarn):
    with pytest.raises(BatchError, match="no frames"):
        JAndF()({"pred_mask": [np.zeros((0, 4, 4), bool)], "gt_mask": [np.zeros((0, 4, 4), bool)]})
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


@pytest.mark.parametrize("bound_th", [0.0, -1.0, math.nan, math.inf])
def test_bad_tolerance_is_a_configuration_error(bound_th):
    with pytest.raises(ConfigurationError):
        contour_accuracy(np.zeros((1, 4, 4), bool), np.zeros((1, 4, 4), bool), bound_th)
    with pytest.raises(ConfigurationError):
        JAndF(bound_th=bound_th)


def test_j_and_f_term_logs_its_parts():
    gt = _square()
    shifted = np.roll(gt, 2, axis=1)
    video_gt = np.stack([gt, gt, np.zeros_like(gt)])
    video_pred = np.stack([gt, shifted, np.zeros_like(gt)])  # exact, shifted, empty vs empty
    batch = {"pred_mask": [shifted, video_pred, None], "gt_mask": [gt, video_gt, gt]}
    out = JAndF()(batch)
    j, f = SHIFTED_J, SHIFTED_F
    np.testing.assert_allclose(out.terms["region_similarity"][:2], [j, (2 + j) / 3])
    np.testing.assert_allclose(out.terms["contour_accuracy"][:2], [f, (2 + f) / 3])
    np.testing.assert_allclose(out.total[:2], [(j + f) / 2, (4 + j + f) / 6])
    assert np.isnan(out.total[2]) and out.status[2] == Status.NOT_APPLICABLE
    with pytest.raises(BatchError):
        JAndF()({"pred_mask": [gt[:3]], "gt_mask": [gt]})


def test_the_old_video_imports_still_work():
    from rewardkit import verify
    from rewardkit.verify import video

    for name in ("JAndF", "contour_accuracy", "j_and_f", "region_similarity"):
        assert getattr(video, name) is getattr(verify, name) is globals()[name]


def test_j_and_f_meets_the_contract():
    mask = _square()
    batch = {"pred_mask": [mask, None, np.roll(mask, 2, 1)], "gt_mask": [mask, mask, mask]}
    term = build_reward({"term": "j_and_f", "bound_th": 0.008})
    out = term(batch)
    assert out.total.shape == (3,) and out.total.dtype == np.float64
    np.testing.assert_array_equal(np.isnan(out.total), out.status != Status.OK)
    assert term.name in out.terms
    again = pickle.loads(pickle.dumps(term))(batch)
    np.testing.assert_array_equal(again.total, out.total)
    assert check_reward(term, batch, warn=False).passed
    assert build_reward({"term": "j_and_f", "name": "renamed"}).name == "renamed"
