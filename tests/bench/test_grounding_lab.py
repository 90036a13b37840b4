"""The grounding lab: seeded generators, token decoding, the binary rewards, the metrics,
the claims, and a short seeded run in which the policy learns to click above chance."""

import argparse
import math

import numpy as np
import pytest
import torch

from rewardkit_bench.envs.clips import FRAMES, draw_clips
from rewardkit_bench.envs.layouts import MIN_GAP, draw_layouts
from rewardkit_bench.envs.screens import SIZE, SMALL_FRACTION, draw_screens
from rewardkit_bench.grounding import FULL, QUICK, Grounding
from rewardkit_bench.grounding_designs import (
    DESIGNS,
    all_within_1m,
    click_hit,
    iou_at_half,
    rewardmap_curriculum,
    span_and_track,
)
from rewardkit_bench.grounding_metrics import expected_calibration_error, viou
from rewardkit_bench.grounding_policy import GroundingPolicy
from rewardkit_bench.grounding_report import report_text, summarize_runs
from rewardkit_bench.grounding_tasks import (
    TASKS,
    box_tokens_to_boxes,
    clip_prediction,
    layout_positions,
)
from rewardkit_bench.grounding_train import TrainSettings, train_design


@pytest.mark.parametrize("draw", [draw_screens, draw_clips, draw_layouts])
def test_generators_are_deterministic_per_seed(draw):
    a, b, c = draw(6, seed=3), draw(6, seed=3), draw(6, seed=4)
    for field in a.__dataclass_fields__:
        left, right = getattr(a, field), getattr(b, field)
        assert np.array_equal(left, right, equal_nan=left.dtype.kind == "f"), field
    first = next(iter(a.__dataclass_fields__))
    assert not np.array_equal(getattr(a, first), getattr(c, first))


def test_screens_name_one_target_whose_mask_lies_in_its_box():
    screens = draw_screens(40, seed=0)
    assert screens.images.min() >= 0 and screens.images.max() <= 1
    for i in range(40):
        x1, y1, x2, y2 = screens.boxes[i].astype(int)
        mask = screens.masks[i]
        assert mask.any() and not mask[:y1].any() and not mask[y2:].any()
        assert not mask[:, :x1].any() and not mask[:, x2:].any()
        elements = screens.element_boxes[i][~np.isnan(screens.element_boxes[i][:, 0])]
        assert len(elements) == screens.clutter[i]
        assert np.array_equal(elements[0], screens.boxes[i])  # the target comes first
    area = (screens.boxes[:, 2] - screens.boxes[:, 0]) * (screens.boxes[:, 3] - screens.boxes[:, 1])
    assert np.array_equal(screens.small, area < SMALL_FRACTION * SIZE * SIZE)
    assert 0 < screens.small.mean() < 1  # both regimes are drawn


def test_clips_show_the_target_only_over_its_span():
    clips = draw_clips(20, seed=1)
    for i in range(20):
        start, end = clips.spans[i].astype(int)
        assert 0 <= start < end <= FRAMES and end - start >= 3
        assert not clips.masks[i, :start].any() and not clips.masks[i, end:].any()
        assert (
            np.isnan(clips.boxes[i, :start]).all() and not np.isnan(clips.boxes[i, start:end]).any()
        )


def test_layouts_keep_objects_apart_and_mark_the_absent():
    rooms = draw_layouts(30, seed=2)
    for i in range(30):
        points = rooms.positions[i][rooms.present[i]]
        assert len(points) == rooms.count[i]
        gaps = np.linalg.norm(points[:, None] - points[None], axis=-1)[
            np.triu_indices(len(points), 1)
        ]
        assert (gaps >= MIN_GAP).all()
        assert np.isnan(rooms.positions[i][~rooms.present[i]]).all()


@pytest.mark.parametrize("draw", [draw_screens, draw_clips, draw_layouts])
def test_generators_refuse_an_empty_batch(draw):
    with pytest.raises(ValueError, match="at least 1"):
        draw(0, seed=0)


def test_box_and_clip_decoding_by_hand():
    # centre bins (3, 5) of 2 px: (7, 11); size bins (2, 0) of 2 px with offset 1: 6 x 2
    assert box_tokens_to_boxes(np.array([[3, 5, 2, 0]]), 2.0, 2.0).tolist() == [
        [4.0, 10.0, 10.0, 12.0]
    ]
    # start frame 2, box centre bins (4, 4) of 2 px -> (9, 9), size bins (0, 0) -> 2 px;
    # last frame 4, box centre (13, 9): the box moves 2 px a frame
    tokens = np.array([[2, 4, 4, 0, 0, 4, 6, 4, 0, 0]])
    spans, boxes = clip_prediction(tokens)
    assert spans.tolist() == [[2.0, 5.0]]
    assert boxes[0, 3].tolist() == [10.0, 8.0, 12.0, 10.0]
    assert np.isnan(boxes[0, :2]).all() and np.isnan(boxes[0, 5:]).all()
    ended_early = np.array([[4, 4, 4, 0, 0, 2, 6, 4, 0, 0]])
    assert np.isnan(clip_prediction(ended_early)[0]).all()
    assert layout_positions(np.arange(8)[None]).tolist() == [
        [[0.25, 0.75], [1.25, 1.75], [2.25, 2.75], [3.25, 3.75]]
    ]


def test_binary_rewards_by_hand():
    box = [[10.0, 10.0, 20.0, 20.0]]
    assert click_hit({"point": [[15.0, 19.9]], "gt_box": box}).total.tolist() == [1.0]
    assert click_hit({"point": [[20.0, 15.0]], "gt_box": box}).total.tolist() == [0.0]  # edge
    pred = [[10.0, 10.0, 20.0, 30.0], [10.0, 10.0, 20.0, 31.0], [np.nan] * 4]
    out = iou_at_half({"pred_box": pred, "gt_box": box * 3})
    assert out.total[:2].tolist() == [1.0, 0.0] and math.isnan(out.total[2])  # IoU 1/2, 10/21
    positions = np.array([[[1.0, 1.0], [np.nan, np.nan]], [[1.0, 1.0], [5.0, 5.0]]])
    gold = np.array([[[1.5, 1.5], [np.nan, np.nan]], [[1.0, 1.0], [6.0, 6.0]]])
    assert all_within_1m({"pred_positions": positions, "gt_positions": gold}).total.tolist() == [
        1.0,
        0.0,
    ]


def test_span_and_track_needs_both_halves():
    gold_boxes = np.full((1, FRAMES, 4), np.nan)
    gold_boxes[0, 2:6] = [0.0, 0.0, 4.0, 4.0]
    good = gold_boxes.copy()
    far = np.full_like(gold_boxes, np.nan)
    far[0, 2:6] = [20.0, 20.0, 24.0, 24.0]
    batch = {
        "pred_span": [[2.0, 6.0]] * 2,
        "pred_boxes": np.concatenate([good, far]),
        "gt_span_open": [[2.0, 6.0]] * 2,
        "gt_frame_boxes": np.concatenate([gold_boxes] * 2),
    }
    assert span_and_track(batch).total.tolist() == [1.0, 0.0]


def test_viou_and_ece_by_hand():
    gold = np.full((1, 4, 4), np.nan)
    gold[0, 1:3] = [0.0, 0.0, 2.0, 2.0]
    pred = np.full((1, 4, 4), np.nan)
    pred[0, 2:4] = [0.0, 0.0, 2.0, 1.0]  # frame 2: IoU 1/2; union of frames {1, 2, 3}
    assert viou(pred, gold).tolist() == pytest.approx([0.5 / 3])
    # bins: {0.9, 0.9} accuracy 1/2, {0.1} accuracy 0 -> (2/3)·0.4 + (1/3)·0.1
    ece = expected_calibration_error(np.array([0.9, 0.9, 0.1]), np.array([1.0, 0.0, 0.0]))
    assert ece == pytest.approx(2 / 3 * 0.4 + 1 / 3 * 0.1)


def test_every_design_scores_every_sample_or_says_why():
    rng = np.random.default_rng(0)
    for name, task in TASKS.items():
        scenes = task.draw(6, 0)
        tokens = np.stack([rng.integers(0, n, 6) for n in task.slot_sizes], axis=1)
        columns = task.columns(tokens, scenes, np.arange(6))
        for design, spec in DESIGNS[name].items():
            out = spec.make_term()(columns)
            assert out.total.shape == (6,), (name, design)
            assert np.isfinite(out.total).any(), (name, design)


def test_the_rewardmap_stages_widen_the_rooms():
    assert [rewardmap_curriculum(p) for p in (0.0, 0.4, 0.9, 1.0)] == [2, 3, 4, 4]


def test_spans_are_decoded_in_order():
    torch.manual_seed(0)
    task = TASKS["clip"]
    policy = GroundingPolicy(task.channels, task.size, task.instruction_sizes, task.slot_sizes,
                             task.slot_kinds, frames=task.frames)  # fmt: skip
    images, colours = task.inputs(task.draw(4, 0), np.arange(4))
    with torch.no_grad():
        tokens, logp = policy.sample(torch.from_numpy(images), torch.from_numpy(colours), 16)
    assert (tokens[:, 5] >= tokens[:, 0]).all() and torch.isfinite(logp).all()


def test_the_policy_rejects_unknown_token_kinds():
    with pytest.raises(ValueError, match="slot_kinds"):
        GroundingPolicy(3, 64, (3,), (32,), ("z",))


def test_claims_need_most_seeds_and_the_guard():
    designs = (("hit only", 0.2, 0.5), ("HyperClick", 0.0, 0.1))
    runs = [
        {"task": "click_confidence", "design": d, "seed": s,
         "final": {"hit": hit, "ece": ece, "brier": ece, "confidence": 0.5}}
        for s in range(3) for d, hit, ece in designs
    ]  # fmt: skip
    results = summarize_runs(runs)
    claim = results["claims"][next(k for k in results["claims"] if k.startswith("HyperClick:"))]
    assert not claim["met"] and "not held" in claim["detail"]  # calibrated by never hitting
    report = report_text({**results, "runs": runs}, [], ["# grounding"])
    assert "## click_confidence" in report and "Not measured in this run: GUI-G²" in report


def test_the_suite_plans_every_design_once_per_seed():
    suite = Grounding()
    args = argparse.Namespace(quick=False, seeds=2, tasks="click,layout", jobs=1)
    units = suite.plan(args, [])
    assert len(units) == 2 * (len(DESIGNS["click"]) + len(DESIGNS["layout"]))
    assert suite.plan(args, [{"task": t, "design": d, "seed": s} for t, d, s, _ in units]) == []
    assert suite.check(argparse.Namespace(tasks="click,nope")) is not None
    assert all(QUICK[t].steps < FULL[t].steps for t in FULL)


def test_settings_refuse_a_group_of_one():
    with pytest.raises(ValueError, match="group"):
        TrainSettings(group=1)


@pytest.mark.slow
def test_the_policy_learns_to_click_above_chance():
    settings = TrainSettings(steps=120, pool=512, test=256, eval_every=120)
    record = train_design("click", "binary hit", seed=0, settings=settings)
    chance = record["curve"][0]["hit"]
    assert record["final"]["hit"] >= 0.08 > 2 * chance  # chance: the target's share of the screen
