"""HyperClick's truncated-Gaussian confidence target, our screen-truncated hit probability,
and the dual-reward term."""

import math
import pickle

import numpy as np
import pytest

from rewardkit.core.errors import BatchError, ConfigurationError
from rewardkit.verify.click_confidence import (
    TruncatedGaussianClick,
    click_in_box,
    confidence_alignment,
    hyperclick_format,
    screen_hit_probability,
    truncated_gaussian_confidence,
)


def phi(z):
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def test_click_in_box_is_strict_at_the_border():
    box = np.array([[0, 0, 10, 10]] * 4)
    points = np.array([[5, 5], [0, 5], [10, 10], [5, 10.5]])
    np.testing.assert_array_equal(click_in_box(points, box), [1.0, 0.0, 0.0, 0.0])


def test_box_truncated_gaussian_by_hand():
    # box 20 x 10, alpha 1/4: sigma = (5, 2.5), centre (10, 5)
    boxes = np.array([[0, 0, 20, 10]] * 6)
    points = np.array([[10, 5], [15, 5], [10, 7.5], [15, 7.5], [21, 5], [20, 5]])
    expected = [1.0, math.exp(-0.5), math.exp(-0.5), math.exp(-1.0), 0.0, 0.0]
    np.testing.assert_allclose(truncated_gaussian_confidence(points, boxes), expected)
    # alpha 1/2: sigma = (10, 5); 5 px right is half a sigma
    half = truncated_gaussian_confidence(points[1:2], boxes[:1], alpha=0.5)
    assert half[0] == pytest.approx(math.exp(-0.125))
    # alpha 0: the paper's binary target (Eq. 8)
    np.testing.assert_array_equal(
        truncated_gaussian_confidence(points, boxes, alpha=0.0), [1, 1, 1, 1, 0, 0]
    )


def test_box_target_depends_on_the_offset_from_the_box_centre_only():
    # HyperClick's target has no screen input: the same offset from the centre of a
    # same-sized box scores the same wherever the box is.
    edge = truncated_gaussian_confidence(np.array([[2.0, 50.0]]), np.array([[0, 40, 10, 60]]))
    middle = truncated_gaussian_confidence(np.array([[47.0, 50.0]]), np.array([[45, 40, 55, 60]]))
    assert edge[0] == pytest.approx(middle[0]) == pytest.approx(math.exp(-0.5 * (3 / 2.5) ** 2))


def test_box_edge_is_two_sigma_at_the_papers_alpha():
    # alpha 1/4: sigma = width / 4, so the edge of a 10-wide box is 2 sigma from its centre
    just_inside = truncated_gaussian_confidence(
        np.array([[9.999, 5.0]]), np.array([[0, 0, 10, 10]])
    )
    assert just_inside[0] == pytest.approx(math.exp(-2.0), rel=1e-3)  # about 0.135


def test_nan_point_is_nan_in_both_targets():
    points, boxes = np.array([[np.nan, 5.0], [5.0, 5.0]]), np.array([[0, 0, 10, 10]] * 2)
    np.testing.assert_array_equal(click_in_box(points, boxes), [np.nan, 1.0])
    for alpha in (0.0, 0.25):
        got = truncated_gaussian_confidence(points, boxes, alpha)
        np.testing.assert_array_equal(got, [np.nan, 1.0])
    screen = screen_hit_probability(points, boxes, [[100, 100]] * 2)
    assert math.isnan(screen[0]) and 0 < screen[1] < 1


def test_screen_truncation_renormalises_at_the_edge_by_hand():
    screen = np.array([[100.0, 60.0]] * 2)
    # both boxes 20 x 20, alpha 1/4 -> sigma = 5; clicks at the box centres
    boxes = np.array([[40, 20, 60, 40], [0, 20, 20, 40]], dtype=float)
    points = np.array([[50.0, 30.0], [10.0, 30.0]])
    inside = phi(2) - phi(-2)  # +-2 sigma around the click, on both axes
    y_axis = inside / (phi((60 - 30) / 5) - phi(-30 / 5))
    centre_x = inside / (phi((100 - 50) / 5) - phi(-50 / 5))
    edge_x = inside / (phi((100 - 10) / 5) - phi(-10 / 5))  # 2 sigma of screen to the left
    got = screen_hit_probability(points, boxes, screen)
    np.testing.assert_allclose(got, [centre_x * y_axis, edge_x * y_axis], rtol=1e-12)
    assert got[1] > got[0]  # the mass that would fall off the screen is given back
    # with erf spelled out, the edge click's x factor:
    # erf(sqrt 2) / ((erf(18 / sqrt 2) + erf(sqrt 2)) / 2)
    by_erf = math.erf(math.sqrt(2)) / (0.5 * (math.erf(18 / math.sqrt(2)) + math.erf(math.sqrt(2))))
    assert edge_x == pytest.approx(by_erf)


def test_screen_truncation_clips_boxes_and_clicks_to_the_screen():
    screen = np.array([[100.0, 60.0]] * 2)
    boxes = np.array([[90, 20, 110, 40]] * 2, dtype=float)  # half off the right edge
    # a click on the right edge, and one off the screen (clipped onto the edge)
    got = screen_hit_probability(np.array([[100.0, 30.0], [120.0, 30.0]]), boxes, screen)
    x_axis = (phi(0) - phi(-2)) / (phi(0) - phi(-20))
    y_axis = (phi(2) - phi(-2)) / (phi(6) - phi(-6))
    np.testing.assert_allclose(got, [x_axis * y_axis] * 2, rtol=1e-12)


def _reference_box(point, box, alpha):
    (x, y), (x1, y1, x2, y2) = point, box
    if not (x1 < x < x2 and y1 < y < y2):
        return 0.0
    sx, sy = alpha * (x2 - x1), alpha * (y2 - y1)
    mx, my = (x1 + x2) / 2, (y1 + y2) / 2
    return math.exp(-0.5 * (((x - mx) / sx) ** 2 + ((y - my) / sy) ** 2))


def _reference_screen(point, box, screen, alpha):
    probability = 1.0
    for axis in range(2):
        size = screen[axis]
        c = min(max(point[axis], 0.0), size)
        sigma = alpha * (box[axis + 2] - box[axis])
        low, high = min(max(box[axis], 0.0), size), min(max(box[axis + 2], 0.0), size)
        mass = phi((high - c) / sigma) - phi((low - c) / sigma)
        probability *= mass / (phi((size - c) / sigma) - phi(-c / sigma))
    return probability


@pytest.mark.parametrize("alpha", [0.125, 0.25, 0.5])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorized_matches_reference_loop(alpha, seed):
    rng = np.random.default_rng(seed)
    n = 40
    screens = rng.uniform(50, 200, size=(n, 2))
    corner = rng.uniform(0, 0.8, size=(n, 2)) * screens
    boxes = np.concatenate([corner, corner + rng.uniform(2, 40, size=(n, 2))], axis=1)
    points = rng.uniform(-0.1, 1.1, size=(n, 2)) * screens
    got_box = truncated_gaussian_confidence(points, boxes, alpha)
    got_screen = screen_hit_probability(points, boxes, screens, alpha)
    for i in range(n):
        assert got_box[i] == pytest.approx(_reference_box(points[i], boxes[i], alpha), abs=1e-12)
        want = _reference_screen(points[i], boxes[i], screens[i], alpha)
        assert got_screen[i] == pytest.approx(want, abs=1e-12)


def test_alignment_and_format_by_hand():
    np.testing.assert_allclose(confidence_alignment([0.9, 0.0, 1.0], [0.6, 0.0, 0.0]), [0.91, 1, 0])
    assert hyperclick_format("<point>[350,2100]</point><confidence>0.969</confidence>")
    assert hyperclick_format(" <point>[ 3.5 , 4 ]</point>\n<confidence>1.000</confidence> ")
    assert not hyperclick_format("<point>[3,4]</point><confidence>0.9691</confidence>")
    assert not hyperclick_format("<point>[3,4]</point><confidence>1.2</confidence>")
    assert not hyperclick_format("Sure! <point>[3,4]</point><confidence>0.5</confidence>")
    assert not hyperclick_format("")


def test_term_by_hand_and_parts():
    batch = {
        "completion": [
            "<point>[15,5]</point><confidence>0.6</confidence>",  # exp(-1/2) target
            "I think <point>[25,5]</point> <confidence>0.2</confidence>",  # miss, bad format
            "<point>[10,5]</point>",  # no confidence: not applicable
            "<confidence>0.5</confidence>",  # no click: not applicable
            "",
        ],
        "gt_box": [[0, 0, 20, 10]] * 5,
    }
    out = TruncatedGaussianClick()(batch)
    target = math.exp(-0.5)
    expected = [1 + 1 + 1 - (0.6 - target) ** 2, 0 + 0 + 1 - 0.04, np.nan, np.nan, np.nan]
    np.testing.assert_allclose(out.total, expected)
    np.testing.assert_array_equal(out.status, [0, 0, 1, 1, 1])
    name = "truncated_gaussian_click"
    np.testing.assert_array_equal(out.terms[f"{name}/format"], [1, 0, 0, 0, 0])
    np.testing.assert_array_equal(out.terms[f"{name}/correct"], [1, 0, 1, np.nan, np.nan])
    assert out.terms[f"{name}/target"][0] == pytest.approx(target)
    np.testing.assert_allclose(out.terms[f"{name}/confidence"], [0.6, 0.2, np.nan, 0.5, np.nan])
    # format_weight 0 and alpha 0: the plain Brier form 1 - (c - 1[hit])^2 plus correctness
    plain = TruncatedGaussianClick(alpha=0.0, format_weight=0.0)(batch).total
    np.testing.assert_allclose(plain[:2], [1 + 1 - 0.16, 0 + 1 - 0.04])


def test_term_screen_target_reads_screen_size():
    batch = {
        "completion": ["<point>[10,30]</point><confidence>0.9</confidence>"],
        "gt_box": [[0, 20, 20, 40]],
        "screen_size": [[100, 60]],
    }
    term = TruncatedGaussianClick(target="screen", format_weight=0.0)
    assert "screen_size" in term.columns
    # box 20 x 20, alpha 1/4: sigma 5; the click is at the box centre, +-2 sigma inside on
    # both axes; the screen keeps [-2, 18] sigma of x and [-6, 6] sigma of y
    hit = (phi(2) - phi(-2)) / (phi(18) - phi(-2)) * (phi(2) - phi(-2)) / (phi(6) - phi(-6))
    assert term(batch).total[0] == pytest.approx(1 + 1 - (0.9 - hit) ** 2)


def test_term_pickles_and_rejects_bad_input():
    term = TruncatedGaussianClick(alpha=0.5, name="click")
    batch = {
        "completion": ["<point>[1,1]</point><confidence>0.5</confidence>"],
        "gt_box": [[0, 0, 2, 2]],
    }
    clone = pickle.loads(pickle.dumps(term))
    np.testing.assert_array_equal(clone(batch).total, term(batch).total)
    assert clone.name == "click" and clone.alpha == 0.5
    with pytest.raises(BatchError, match=r"\(N, 4\)"):
        term({"completion": ["x"], "gt_box": [[0, 0, 2]]})
    with pytest.raises(BatchError, match="x2 > x1"):
        term({**batch, "gt_box": [[2, 0, 0, 2]]})
    for bad in ({"alpha": -0.1}, {"target": "image"}, {"alpha": 0.0, "target": "screen"}):
        with pytest.raises(ConfigurationError):
            TruncatedGaussianClick(**bad)
    with pytest.raises(ConfigurationError):
        TruncatedGaussianClick(format_weight=float("nan"))


def test_pure_functions_check_shapes():
    with pytest.raises(BatchError):
        click_in_box(np.zeros((2, 2)), np.array([[0, 0, 1, 1]]))
    with pytest.raises(BatchError):
        truncated_gaussian_confidence(np.zeros((1, 3)), np.array([[0, 0, 1, 1]]))
    with pytest.raises(BatchError):
        screen_hit_probability(np.zeros((1, 2)), np.array([[0, 0, 1, 1]]), [[0, 10]])
    with pytest.raises(ConfigurationError):
        screen_hit_probability(np.zeros((1, 2)), np.array([[0, 0, 1, 1]]), [[10, 10]], alpha=0)
    with pytest.raises(BatchError):
        confidence_alignment([0.5, 0.5], [0.5])


def test_empty_batch_of_clicks():
    empty = np.zeros((0, 2)), np.zeros((0, 4))
    assert truncated_gaussian_confidence(*empty).shape == (0,)
    assert screen_hit_probability(*empty, np.zeros((0, 2))).shape == (0,)


def test_term_reads_the_point_block():
    box = [[0, 0, 10, 10]]
    trailing = "<point>[5,5]</point><confidence>0.9</confidence> (I had [99, 99] before)"
    batch = {
        "completion": [
            trailing,  # the block counts, not the last [x, y]: 0 + 1 + (1 - 0.01)
            "<POINT>[5, 5]</POINT> or <point>(5, 5)</point> <confidence>1</confidence>",
            "<point>[5,5]</point> <point>[8,8]</point> <confidence>1</confidence>",  # ambiguous
            "<point>the button</point> [5, 5] <confidence>1</confidence>",  # block without one
            "I click [5, 5]. <confidence>1</confidence>",  # no block: the last [x, y]
        ],
        "gt_box": box * 5,
    }
    out = TruncatedGaussianClick()(batch)
    np.testing.assert_allclose(out.total, [1.99, 2.0, np.nan, np.nan, 2.0])


def test_term_checks_every_target_up_front():
    term = TruncatedGaussianClick()
    click = "<point>[5,5]</point><confidence>1</confidence>"
    nan = float("nan")
    boxes = [
        [0, 0, 10, 10],
        None,
        nan,
        [0, nan, 10, 10],
        (0, None, 10, 10),
        np.array([0, 0, 10, 10]),
    ]
    out = term({"completion": [click] * 6, "gt_box": boxes})
    np.testing.assert_array_equal(out.total, [3.0, np.nan, np.nan, np.nan, np.nan, 3.0])
    np.testing.assert_array_equal(out.status, [0, 1, 1, 1, 1, 0])
    # a malformed box raises even where no click was parsed
    for bad, message in [
        ([2, 0, 0, 2], "sample 1: every box needs x2 > x1"),
        ([0, 0, math.inf, 2], "finite"),
        ("0, 0, 2, 2", "4 numbers"),
    ]:
        with pytest.raises(BatchError, match=message):
            term({"completion": [click, "no click"], "gt_box": [[0, 0, 2, 2], bad]})
    screen = TruncatedGaussianClick(target="screen")
    got = screen(
        {
            "completion": [click] * 2,
            "gt_box": [[0, 0, 10, 10]] * 2,
            "screen_size": [None, [100, 100]],
        }
    )
    assert math.isnan(got.total[0]) and got.status[1] == 0
    with pytest.raises(BatchError, match="positive"):
        screen({"completion": ["no click"], "gt_box": [[0, 0, 10, 10]], "screen_size": [[0, 10]]})


def test_term_unparseable_score_chat_and_huge_numbers():
    huge = "9" * 400  # float() gives inf: a click far off the box
    batch = {
        "completion": [
            [{"role": "assistant", "content": "<point>[5,5]</point><confidence>1</confidence>"}],
            f"<point>[{huge},5]</point><confidence>0.1</confidence>",
            "<point>[5,5]</point>",  # no confidence
            "<confidence>0.5</confidence>",  # no click
            "<point>[5,5]</point><confidence>1</confidence>",  # no target
        ],
        "gt_box": [[0, 0, 10, 10]] * 4 + [None],
    }
    out = TruncatedGaussianClick()(batch)
    # the far click: format 1, miss 0, target 0, alignment 1 - 0.01
    np.testing.assert_allclose(out.total, [3.0, 1.99, np.nan, np.nan, np.nan])
    assert out.terms["truncated_gaussian_click/correct"][1] == 0.0
    scored = TruncatedGaussianClick(unparseable_score=-1.0)(batch)
    np.testing.assert_allclose(scored.total, [3.0, 1.99, -1.0, -1.0, np.nan])
    np.testing.assert_array_equal(scored.status, [0, 0, 0, 0, 1])
    for bad in (math.nan, "low"):
        with pytest.raises(ConfigurationError, match="unparseable_score"):
            TruncatedGaussianClick(unparseable_score=bad)


def test_infinite_alpha_is_rejected():
    with pytest.raises(ConfigurationError):
        TruncatedGaussianClick(alpha=math.inf)
    with pytest.raises(ConfigurationError):
        TruncatedGaussianClick(alpha=math.inf, target="screen")
    one = np.array([[5.0, 5.0]]), np.array([[0, 0, 10, 10]])
    with pytest.raises(ConfigurationError):
        truncated_gaussian_confidence(*one, alpha=math.inf)
    with pytest.raises(ConfigurationError):
        screen_hit_probability(*one, [[100, 100]], alpha=math.inf)
