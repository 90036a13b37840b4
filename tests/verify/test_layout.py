"""Video2Layout: the answer's MRA and format (its RL reward) and our metric-map reward."""

import math
import pickle
import re

import numpy as np
import pytest

from rewardkit.core.errors import BatchError, ConfigurationError
from rewardkit.verify.layout import (
    MAX_MAP_CHARS,
    MRA_THRESHOLDS,
    LayoutMetric,
    SpatialAnswer,
    layout_format,
    layout_match_reward,
    mean_relative_accuracy,
    parse_layout,
)


def test_mra_by_hand():
    # relative errors 0.28 (passes 0.50 ... 0.30: 5 of 10), 0.04 (all), 0.6 (none)
    got = mean_relative_accuracy([1.28, 10.4, 1.6, 0.0, 0.28], [1.0, 10.0, 1.0, 0.0, 0.0])
    # y = 0: absolute error, 0 passes every threshold and 0.28 passes 0.50 ... 0.30
    np.testing.assert_allclose(got, [0.5, 1.0, 0.0, 1.0, 0.5])
    assert MRA_THRESHOLDS[0] == 0.5 and MRA_THRESHOLDS[-1] == pytest.approx(0.05)
    assert mean_relative_accuracy([1.1], [1.0], thresholds=[0.2, 0.05])[0] == 0.5
    with pytest.raises(BatchError):
        mean_relative_accuracy([1.0, 2.0], [1.0])
    with pytest.raises(ConfigurationError):
        mean_relative_accuracy([1.0], [1.0], thresholds=[])


def test_mra_without_a_target_is_not_applicable():
    nan, inf = float("nan"), float("inf")
    # a NaN or infinite target: NaN; a NaN or infinite prediction passes nothing: 0
    got = mean_relative_accuracy([1.0, 1.0, nan, inf, 1e308], [nan, inf, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(got, [np.nan, np.nan, 0.0, 0.0, 0.0])


def test_layout_format():
    assert layout_format("<map>{}</map><think>t</think><answer>2</answer>")
    assert layout_format("< map >{}</ map >\n<think>t</think> <answer> 2 </answer>\n")
    assert not layout_format("<think>t</think><answer>2</answer>")
    assert not layout_format("<map>{}</map><think>t</think><answer>2</answer> and more")
    assert not layout_format("<map>{}</map><answer>2</answer><think>t</think>")
    assert layout_format("<map>a</map><think>b</think><answer>c</answer>d</answer>")


def test_layout_format_matches_the_authors_pattern_in_linear_time():
    pattern = re.compile(r"<map>.*?</map>\s*<think>.*?</think>\s*<answer>.*?</answer>", re.DOTALL)
    pieces = ["<map>", "</map>", "<think>", "</think>", "<answer>", "</answer>", "x", "\n"]
    rng = np.random.default_rng(0)
    for _ in range(3_000):
        text = "".join(rng.choice(pieces, size=rng.integers(0, 10)))
        assert layout_format(text) == (pattern.fullmatch(text) is not None), text
    # nested candidates (the regex backtracks cubically on these): answered at once
    nested = "<map>" + "</map>\n<think></think><answer>" * 3_000 + "x"
    assert not layout_format(nested)
    assert layout_format(nested + "</answer>")


def test_parse_layout_forms():
    text = (
        "<think>chair: [9, 9]</think><map>\n"
        '{"Chair_1": [0, 0, 2, 2], "chair 2": [[4, 0], [6, 2]], '
        "'lamp': (1.5, -2), sofa = [3, 3, 5]}\n</map>"
    )
    assert parse_layout(text) == [
        ("chair", 1.0, 1.0),
        ("chair", 5.0, 1.0),
        ("lamp", 1.5, -2.0),
    ]
    assert parse_layout("table: [1, 2]") == [("table", 1.0, 2.0)]  # no map tag: whole text
    assert parse_layout("<map></map>") == []
    # list bullets, several maps (the last counts), a label only after a delimiter
    assert parse_layout("<map>a: [0, 0]</map><MAP>\n- lamp: [1, 2]\n* sofa: (3, 4)</MAP>") == [
        ("lamp", 1.0, 2.0),
        ("sofa", 3.0, 4.0),
    ]
    assert parse_layout("<map>{coffee table: [1, 1]; big chair_3 = [2, 2]}</map>") == [
        ("coffee table", 1.0, 1.0),
        ("big chair", 2.0, 2.0),
    ]


def test_parse_layout_reads_a_bounded_region():
    entry = "chair: [1, 0]; "  # 15 characters
    huge = "<map>" + entry * 4_000 + "</map>"  # 60,000 characters of map
    # only the map's first 4,000 characters are read: 266 whole entries (4,000 // 15)
    assert MAX_MAP_CHARS == 4_000
    assert len(parse_layout(huge)) == MAX_MAP_CHARS // len(entry) == 266
    # without a map, the text's last 4,000 characters; a label cut in half there is dropped
    text = "x" * 50_000 + "\nchair_2: [3, 1]"
    assert parse_layout(text) == [("chair", 3.0, 1.0)]
    cut = "-" * 50_000 + "\nbig_lamp: [0, 0]" + " " * (MAX_MAP_CHARS - len("ig_lamp: [0, 0]"))
    assert parse_layout(cut) == []  # only "ig_lamp: ..." is in the region: no half label
    # inputs that made the old pattern quadratic return, with nothing in them
    for filler in ("a " * 25_000, "a" * 50_000, ",a" * 25_000, "\n" * 50_000, ", a  : " * 8_000):
        assert parse_layout(f"<map>{filler}</map>") == []
        assert parse_layout(filler) == []


def test_parse_layout_reads_huge_numbers_as_far_away():
    huge = "9" * 400  # float() gives inf
    objects = parse_layout(f"<map>chair: [{huge}, 1]; sofa: [-{huge}, 0, {huge}, 2]</map>")
    assert objects[0] == ("chair", math.inf, 1.0)
    assert objects[1][0] == "sofa" and math.isnan(objects[1][1])
    batch = {
        "completion": [f"<map>chair: [{huge}, 1]; sofa: [-{huge}, 0, {huge}, 2]</map>"],
        "gt_layout": [{"chair": [1, 1], "sofa": [5, 5]}],
    }
    np.testing.assert_array_equal(LayoutMetric()(batch).total, [0.0])  # two misses


def test_layout_match_by_hand():
    chair, table = 0, 1
    gt_xy = np.array([[[0.0, 0.0], [0.2, 0.0], [3.0, 4.0]]])
    gt_labels = np.array([[chair, chair, table]])
    # one chair between the two target chairs: it matches one of them only
    one = layout_match_reward(np.array([[[0.1, 0.0]]]), np.array([[chair]]), gt_xy, gt_labels)
    assert one[0] == pytest.approx(math.exp(-0.1) / 3)
    # both chairs and the table exact, plus a hallucinated lamp: 3 / max(3, 4)
    pred_xy = np.array([[[0.2, 0.0], [0.0, 0.0], [3.0, 4.0], [9.0, 9.0]]])
    pred_labels = np.array([[chair, chair, table, 2]])
    assert layout_match_reward(pred_xy, pred_labels, gt_xy, gt_labels)[0] == pytest.approx(0.75)
    # right place, wrong category: nothing
    wrong = layout_match_reward(np.array([[[3.0, 4.0]]]), np.array([[chair]]), gt_xy[:, 2:], [[1]])
    assert wrong[0] == 0.0
    # scale: 5 m off with tau = 5 is exp(-1)
    far = layout_match_reward(np.array([[[0.0, 0.0]]]), [[table]], gt_xy[:, 2:], [[table]], 5.0)
    assert far[0] == pytest.approx(math.exp(-1))


def test_greedy_matching_takes_the_closest_pair_first():
    gt_xy, gt_labels = np.array([[[0.0, 0.0], [2.0, 0.0]]]), np.array([[0, 0]])
    pred_xy, pred_labels = np.array([[[1.9, 0.0], [1.0, 0.0]]]), np.array([[0, 0]])
    # (1.9 -> 2.0) first, then (1.0 -> 0.0)
    want = (math.exp(-0.1) + math.exp(-1.0)) / 2
    assert layout_match_reward(pred_xy, pred_labels, gt_xy, gt_labels)[0] == pytest.approx(want)


def test_empty_predictions_score_zero():
    gt_xy, gt_labels = np.array([[[0.0, 0.0]]]), np.array([[0]])
    empty = layout_match_reward(np.zeros((1, 0, 2)), np.zeros((1, 0), dtype=int), gt_xy, gt_labels)
    padded = layout_match_reward(np.full((1, 2, 2), np.nan), [[-1, -1]], gt_xy, gt_labels)
    assert empty[0] == 0.0 and padded[0] == 0.0


def _reference(pred, gt, scale):
    pairs = sorted(
        (
            (math.exp(-math.dist(p[1:], g[1:]) / scale), i, j)
            for i, p in enumerate(pred)
            for j, g in enumerate(gt)
            if p[0] == g[0]
        ),
        key=lambda t: (-t[0], t[1] * len(gt) + t[2]),
    )
    used_p, used_g, total = set(), set(), 0.0
    for value, i, j in pairs:
        if i not in used_p and j not in used_g:
            used_p.add(i)
            used_g.add(j)
            total += value
    return total / max(len(gt), len(pred))


def _pad(layouts):
    width = max((len(x) for x in layouts), default=0)
    xy, labels = np.full((len(layouts), width, 2), np.nan), np.full((len(layouts), width), -1)
    for i, layout in enumerate(layouts):
        for k, (label, x, y) in enumerate(layout):
            xy[i, k], labels[i, k] = (x, y), label
    return xy, labels


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("scale", [0.5, 2.0])
def test_vectorized_matches_reference_loop(seed, scale):
    rng = np.random.default_rng(seed)

    def layout(low):
        count = int(rng.integers(low, 6))
        return [
            (int(rng.integers(0, 3)), *rng.uniform(0, 5, size=2).round(3)) for _ in range(count)
        ]

    preds = [layout(0) for _ in range(30)]
    gts = [layout(1) for _ in range(30)]
    got = layout_match_reward(*_pad(preds), *_pad(gts), scale)
    want = [_reference(p, g, scale) for p, g in zip(preds, gts, strict=True)]
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_layout_match_rejects_bad_input():
    xy, labels = np.zeros((1, 1, 2)), np.zeros((1, 1), dtype=int)
    with pytest.raises(BatchError, match="at least one target"):
        layout_match_reward(xy, labels, xy, [[-1]])
    with pytest.raises(BatchError, match=r"\(N, M, 2\)"):
        layout_match_reward(np.zeros((1, 1, 3)), labels, xy, labels)
    with pytest.raises(BatchError, match="integer"):
        layout_match_reward(xy, np.zeros((1, 1)), xy, labels)
    with pytest.raises(BatchError, match="targets"):
        layout_match_reward(xy, labels, np.zeros((2, 1, 2)), np.zeros((2, 1), dtype=int))
    with pytest.raises(ConfigurationError):
        layout_match_reward(xy, labels, xy, labels, scale=0.0)


def test_layout_metric_term():
    batch = {
        "completion": [
            "<map>chair: [0, 0, 2, 2]\nsofa: [5, 5]</map><think>..</think><answer>2</answer>",
            "<map>chair_1: [1, 1]; chair_2: [3, 1]</map>",
            "<map></map><answer>3</answer>",  # no object: not applicable
            "<map>lamp: [0, 0]</map>",  # no target layout: not applicable
            "<map>Chair: [1, 1]</map>",
        ],
        "gt_layout": [
            {"chair": [1, 1], "sofa": [5, 6]},
            [("chair", [1, 1]), ("chair", [3, 2])],
            {"chair": [1, 1]},
            None,
            "<map>chair: [0, 0, 2, 2]</map>",
        ],
    }
    out = LayoutMetric()(batch)
    want = [(1 + math.exp(-1)) / 2, (1 + math.exp(-1)) / 2, np.nan, np.nan, 1.0]
    np.testing.assert_allclose(out.total, want)
    np.testing.assert_array_equal(out.status, [0, 0, 1, 1, 0])
    np.testing.assert_array_equal(out.terms["layout_metric/objects"], [2, 2, 0, 1, 1])
    clone = pickle.loads(pickle.dumps(LayoutMetric(scale=2.0, name="map")))
    assert clone.name == "map" and clone.scale == 2.0
    # tau = 2: the 1 m misses score exp(-1/2)
    half = (1 + math.exp(-0.5)) / 2
    np.testing.assert_allclose(clone(batch).total, [half, half, np.nan, np.nan, 1.0])
    with pytest.raises(BatchError, match="x1, y1, x2, y2"):
        LayoutMetric()({"completion": ["chair: [1, 1]"], "gt_layout": [{"chair": [1, 2, 3]}]})
    with pytest.raises(BatchError, match="label, coordinates"):
        LayoutMetric()({"completion": ["chair: [1, 1]"], "gt_layout": [[("chair", 1, 1)]]})
    with pytest.raises(ConfigurationError):
        LayoutMetric(scale=-1.0)


def test_spatial_answer_term_by_hand():
    full = "<map>m</map><think>t</think><answer>{}</answer>"
    batch = {
        "completion": [
            full.format("1.28"),  # MRA 0.5, format 1
            full.format("Left"),  # exact match, case-insensitive
            "<answer>2.0</answer>",  # exact number, no map: format 0
            "no answer tag",
            full.format("4"),  # no gold answer
        ],
        "answer": ["1.0", "left", 2, "1", None],
    }
    out = SpatialAnswer()(batch)
    np.testing.assert_allclose(out.total, [0.9 * 0.5 + 0.1, 1.0, 0.9, np.nan, np.nan])
    np.testing.assert_allclose(out.terms["spatial_answer/accuracy"], [0.5, 1, 1, np.nan, np.nan])
    np.testing.assert_array_equal(out.terms["spatial_answer/format"], [1, 1, 0, 0, 1])
    clone = pickle.loads(pickle.dumps(SpatialAnswer(format_weight=0.0)))
    np.testing.assert_allclose(clone(batch).total[:3], [0.5, 1.0, 1.0])
    with pytest.raises(ConfigurationError):
        SpatialAnswer(format_weight=2.0)


def test_layout_metric_targets_none_nan_or_malformed():
    nan = float("nan")
    completion = "<map>chair: [1, 1]</map>"
    golds = [None, nan, {"chair": [nan, nan]}, {"chair": None}, [("chair", [1, None])], "nan", {}]
    out = LayoutMetric()({"completion": [completion] * len(golds), "gt_layout": golds})
    np.testing.assert_array_equal(out.total, [np.nan] * len(golds))  # not applicable, never 0
    np.testing.assert_array_equal(out.status, [1] * len(golds))
    for bad, message in [
        (5, "give a mapping"),
        ({"chair": ["a", 1]}, "must be numbers"),
        ({"chair": [math.inf, 1]}, "finite"),
        (["chair"], "label, coordinates"),
    ]:
        with pytest.raises(BatchError, match=message):
            LayoutMetric()({"completion": ["no map"], "gt_layout": [bad]})


def test_layout_metric_chat_completion_and_unparseable_score():
    chat = [{"role": "user", "content": "map?"}, {"role": "assistant", "content": "chair: [1, 1]"}]
    batch = {
        "completion": [chat, "nothing here", "nothing here"],
        "gt_layout": [{"chair": [1, 1]}, {"chair": [1, 1]}, None],
    }
    np.testing.assert_array_equal(LayoutMetric()(batch).total, [1.0, np.nan, np.nan])
    scored = LayoutMetric(unparseable_score=-0.5)(batch)
    np.testing.assert_array_equal(scored.total, [1.0, -0.5, np.nan])  # no target stays n/a
    np.testing.assert_array_equal(scored.status, [0, 0, 1])
    for bad in (math.nan, math.inf, "0"):
        with pytest.raises(ConfigurationError, match="unparseable_score"):
            LayoutMetric(unparseable_score=bad)


def test_spatial_answer_follows_the_authors_extraction():
    full = "<map>m</map><think>t</think><answer>{}</answer>"
    batch = {
        "completion": [
            "< answer >2</ answer >",  # whitespace around tag characters removed first
            "<answer>2</answer><answer>7</answer>",  # the first answer counts
            "<answer>\\boxed{2}</answer>",  # not unpacked: a text answer, no match
            "<answer>1 / 2</answer>",  # cleaned to "1/2", as the authors do
            "<ANSWER>2</ANSWER>",  # the authors' tag is case-sensitive: no answer
            full.format(""),  # an empty answer is a wrong one
        ],
        "answer": ["2", "2", "2", "1/2", "2", "2"],
    }
    out = SpatialAnswer()(batch)
    np.testing.assert_allclose(out.terms["spatial_answer/accuracy"], [1, 1, 0, 1, np.nan, 0])
    np.testing.assert_allclose(out.total, [0.9, 0.9, 0.0, 0.9, np.nan, 0.1])
    # unparseable_score=0.0 gives the authors' 0 for a completion without an answer
    authors = SpatialAnswer(unparseable_score=0.0)(batch).total
    np.testing.assert_allclose(authors, [0.9, 0.9, 0.0, 0.9, 0.0, 0.1])


def test_spatial_answer_missing_gold_and_huge_numbers():
    nan = float("nan")
    answer = "<answer>{}</answer>"
    batch = {
        "completion": [answer.format(2)] * 6 + [answer.format("9" * 500), answer.format("nan")],
        "answer": [None, nan, "nan", " ", "inf", 10**400, 2.0, 2.0],
    }
    out = SpatialAnswer()(batch)
    # a missing or unusable gold is not applicable (never 0); a huge or "nan" answer is wrong
    np.testing.assert_array_equal(out.total, [np.nan] * 6 + [0.0, 0.0])
    np.testing.assert_array_equal(out.status, [1] * 6 + [0, 0])
    scored = SpatialAnswer(unparseable_score=0.0)(batch)  # only a missing answer is scored
    np.testing.assert_array_equal(scored.status, [1] * 6 + [0, 0])
    chat = [{"role": "assistant", "content": "<answer>Left</answer>"}]
    assert SpatialAnswer()({"completion": [chat], "answer": ["left"]}).total[0] == 0.9
