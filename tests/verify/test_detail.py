"""RewardMap-style difficulty-aware detail reward, and RewardMap's stage schedule."""

import math
import pickle

import numpy as np
import pytest

from rewardkit.core.errors import BatchError, ConfigurationError
from rewardkit.verify.detail import (
    DifficultyAwareDetail,
    StageSchedule,
    count_details,
    curriculum_order,
    detail_reward,
    difficulty_aware_reward,
    difficulty_weight,
    normalize_detail,
    split_details,
)


def test_details_are_normalized_and_split():
    assert normalize_detail("Line = 2 ") == "line=2"
    assert normalize_detail("Central  Station") == "central station"
    assert split_details("origin: A\ndestination: B;; line: 2") == [
        "origin=a",
        "destination=b",
        "line=2",
    ]
    assert split_details(["Origin: A", " "]) == ["origin=a"]
    assert split_details(None) == [] and split_details("") == []


def test_count_details_by_hand():
    gold = ["origin=a", "transfer=c", "transfer=d", "destination=b"]
    assert count_details(["origin=a", "transfer=c", "transfer=c", "line=9"], gold) == (2, 2)
    assert count_details(gold, gold) == (4, 0)
    assert count_details([], gold) == (0, 0)  # empty prediction: nothing right, nothing wrong


def test_detail_reward_by_hand():
    got = detail_reward([2, 4, 0, 0, 1], [2, 0, 0, 9, 0], [4, 4, 4, 4, 4])
    np.testing.assert_allclose(got, [0.0, 1.0, 0.0, -1.0, 0.25])
    # scaling credit and penalty together leaves the ratio, and the reward, unchanged
    np.testing.assert_allclose(detail_reward([3], [1], [4], credit=0.5, penalty=0.5), [0.5])
    # a harsher penalty
    np.testing.assert_allclose(detail_reward([3], [1], [4], penalty=2.0), [0.25])
    with pytest.raises(BatchError):
        detail_reward([5], [0], [4])  # more right details than gold ones
    with pytest.raises(BatchError):
        detail_reward([1], [0], [0])
    with pytest.raises(BatchError):
        detail_reward([1, 2], [0], [3])
    with pytest.raises(ConfigurationError):
        detail_reward([1], [0], [2], credit=0.0)


def test_difficulty_weight_matches_rewardmap_table():
    # the authors' code: easy 1.0, middle 1.2, hard 1.5; +0.5 once the question needs a transfer
    levels, hops = [0, 1, 2, 0, 1, 2], [0, 0, 0, 1, 2, 5]
    np.testing.assert_allclose(difficulty_weight(levels, hops), [1.0, 1.2, 1.5, 1.5, 1.7, 2.0])
    np.testing.assert_allclose(
        difficulty_weight([1], [2], level_weights=(1, 2), hop_weights=(0, 1, 3)), [5.0]
    )
    with pytest.raises(BatchError):
        difficulty_weight([3], [0])
    with pytest.raises(BatchError):
        difficulty_weight([0], [-1])
    with pytest.raises(BatchError):
        difficulty_weight([0.5], [0])
    with pytest.raises(BatchError):
        difficulty_weight([0, 1], [0])
    # an empty batch arrives as float arrays
    assert difficulty_weight([], []).shape == (0,)
    assert difficulty_weight(np.array([]), np.array([], dtype=int)).dtype == np.float64
    for weights in (
        {"level_weights": (1.0, -0.5)},
        {"hop_weights": (0.0, math.nan)},
        {"level_weights": ()},
    ):
        with pytest.raises(ConfigurationError):
            difficulty_weight([0], [0], **weights)


def test_difficulty_aware_reward_by_hand():
    got = difficulty_aware_reward([1, 0, 0], [1.0, 0.5, -1.0], [1.2, 2.0, 1.0], alpha=0.5)
    np.testing.assert_allclose(got, [1.2 * 1.5, 2.0 * 0.25, -0.5])
    with_format = difficulty_aware_reward([1], [1.0], [1.5], fmt=[1.0])
    np.testing.assert_allclose(with_format, [1.5 * 2.5])
    with pytest.raises(BatchError):
        difficulty_aware_reward([1, 0], [1.0], [1.0, 1.0])


@pytest.mark.parametrize("seed", range(3))
def test_vectorized_matches_reference_loop(seed):
    rng = np.random.default_rng(seed)
    n = 50
    gold = rng.integers(1, 8, size=n)
    right = np.array([rng.integers(0, g + 1) for g in gold])
    wrong = rng.integers(0, 10, size=n)
    levels, hops = rng.integers(0, 3, size=n), rng.integers(0, 4, size=n)
    credit, penalty, alpha = 0.5, 0.75, 0.5
    detail = detail_reward(right, wrong, gold, credit, penalty)
    weight = difficulty_weight(levels, hops)
    total = difficulty_aware_reward(right == gold, detail, weight, alpha)
    for i in range(n):
        d = max(-1.0, min(1.0, (credit * right[i] - penalty * wrong[i]) / (credit * gold[i])))
        w = (1.0, 1.2, 1.5)[levels[i]] + (0.5 if hops[i] > 0 else 0.0)
        assert detail[i] == pytest.approx(d)
        assert weight[i] == pytest.approx(w)
        assert total[i] == pytest.approx(w * (float(right[i] == gold[i]) + alpha * d))


def test_stage_schedule_by_step_and_progress():
    schedule = StageSchedule(sizes=(600, 900, 700))
    np.testing.assert_allclose(schedule.boundaries, [600 / 2200, 1500 / 2200, 1.0])
    assert [schedule.stage_at(s, 2200) for s in (0, 599, 600, 1499, 1500, 2199)] == [
        "judgment",
        "judgment",
        "counting",
        "counting",
        "planning",
        "planning",
    ]
    assert schedule.stage_at_progress(0.0) == "judgment"
    assert schedule.stage_at_progress(1.0) == "planning"
    progress = np.linspace(0, 1, 23)
    loop = [0 if p < 600 / 2200 else 1 if p < 1500 / 2200 else 2 for p in progress]
    np.testing.assert_array_equal(schedule.stage_index(progress), loop)
    four = StageSchedule(stages=("judgment", "counting", "listing", "planning"), sizes=(1, 1, 1, 1))
    assert four.stage_at(5, 8) == "listing"


def test_stage_schedule_rejects_bad_settings():
    for stages, sizes in [
        (("a", "b"), (1.0,)),
        (("a", "a"), (1.0, 1.0)),
        (("a",), (0.0,)),
        ((), ()),
    ]:
        with pytest.raises(ConfigurationError):
            StageSchedule(stages=stages, sizes=sizes)
    schedule = StageSchedule()
    with pytest.raises(ConfigurationError):
        schedule.stage_at(10, 10)
    with pytest.raises(ConfigurationError):
        schedule.stage_at_progress(1.5)
    assert pickle.loads(pickle.dumps(schedule)) == schedule
    for step, total in ((1.5, 3), (1, 3.0), (True, 3), ("1", 3)):
        with pytest.raises(ConfigurationError, match="integer"):
            schedule.stage_at(step, total)
    assert schedule.stage_at(np.int64(2), np.int64(3)) == "planning"
    with pytest.raises(ConfigurationError):
        StageSchedule(stages="abc", sizes=(1, 1, 1))
    with pytest.raises(ConfigurationError):
        StageSchedule(sizes=("a", 1, 1))


def test_stage_schedule_stores_tuples():
    schedule = StageSchedule(stages=["a", "b"], sizes=[1, 3])
    assert schedule.stages == ("a", "b") and schedule.sizes == (1.0, 3.0)
    assert hash(schedule) == hash(StageSchedule(stages=("a", "b"), sizes=(1.0, 3.0)))
    assert schedule.stage_at_progress(0.5) == "b"


def test_curriculum_order_is_staged_and_shuffled_within_stages():
    stages = np.array([2, 0, 1, 0, 2, 1, 0, 0, 1, 2] * 3)
    orders = [curriculum_order(stages, seed=s) for s in range(5)]
    for order in orders:
        assert sorted(order.tolist()) == list(range(stages.size))  # a permutation
        assert np.all(np.diff(stages[order]) >= 0)  # stage by stage
    np.testing.assert_array_equal(curriculum_order(stages, seed=3), orders[3])
    assert len({tuple(o.tolist()) for o in orders}) > 1  # local stochasticity
    assert curriculum_order([]).shape == (0,)
    with pytest.raises(BatchError):
        curriculum_order([0.5, 1.0])


def test_term_by_hand():
    gold = "origin: A; destination: B; transfer: C"
    batch = {
        "completion": [
            "<answer>origin: A; destination: B; transfer: C</answer>",  # all right
            "<answer>Origin: A; destination: D</answer>",  # 1 right, 1 wrong
            "<answer>origin: A; origin: A; x: 1; y: 2</answer>",  # 1 right, 3 wrong
            "no answer",  # not applicable
            "<answer>origin: A</answer>",  # no gold details: not applicable
        ],
        "details": [gold, gold, {"origin": "A", "destination": "B", "transfer": "C"}, gold, None],
        "difficulty": ["hard", "middle", 0, "easy", "easy"],
        "hops": [1, 0, 2, 0, 0],
    }
    out = DifficultyAwareDetail()(batch)
    expected = [2.0 * (1 + 0.5), 1.2 * (0.5 * 0.0), 1.5 * (0.5 * -2 / 3), np.nan, np.nan]
    np.testing.assert_allclose(out.total, expected)
    np.testing.assert_array_equal(out.status, [0, 0, 0, 1, 1])
    np.testing.assert_allclose(out.terms["detail_reward/detail"][:3], [1.0, 0.0, -2 / 3])
    np.testing.assert_array_equal(out.terms["detail_reward/correct"][:3], [1, 0, 0])
    np.testing.assert_allclose(out.terms["detail_reward/weight"], [2.0, 1.2, 1.5, 1.0, 1.0])


def test_term_without_difficulty_columns_weighs_one():
    batch = {"completion": ["<answer>a: 1</answer>"], "details": [["a: 1", "b: 2"]]}
    # 1 of 2 right, none wrong: 0.5 * 0.5
    assert DifficultyAwareDetail()(batch).total[0] == pytest.approx(0.25)
    numeric = {**batch, "difficulty": np.array([2]), "hops": np.array([1])}
    assert DifficultyAwareDetail()(numeric).total[0] == pytest.approx(2.0 * 0.25)


def test_term_pickles_and_rejects_bad_input():
    term = DifficultyAwareDetail(alpha=1.0, penalty=0.5, hop_weights=(0.0, 1.0), name="detail")
    batch = {"completion": ["<answer>a: 1; c: 3</answer>"], "details": ["a: 1; b: 2"]}
    clone = pickle.loads(pickle.dumps(term))
    np.testing.assert_array_equal(clone(batch).total, term(batch).total)
    assert clone(batch).total[0] == pytest.approx((1 - 0.5) / 2)
    with pytest.raises(BatchError, match="easy/middle/hard"):
        term({**batch, "difficulty": ["impossible"]})
    with pytest.raises(BatchError, match="level must be in"):
        term({**batch, "difficulty": [7]})
    for bad in (
        {"alpha": -1.0},
        {"credit": 0.0},
        {"level_weights": ()},
        {"penalty": float("inf")},
        {"level_weights": (1.0, -1.0)},
        {"hop_weights": (0.0, -0.5)},
        {"hop_weights": ("a",)},
        {"unparseable_score": math.nan},
        {"alpha": "0.5"},
    ):
        with pytest.raises(ConfigurationError):
            DifficultyAwareDetail(**bad)


def test_term_missing_difficulty_and_hops_take_the_defaults():
    nan = float("nan")
    batch = {
        "completion": ["<answer>a: 1</answer>"] * 5,
        "details": ["a: 1"] * 5,
        "difficulty": [None, nan, "", "2", 1.0],
        "hops": [nan, None, "1", 2.0, np.int64(0)],
    }
    out = DifficultyAwareDetail()(batch)
    np.testing.assert_allclose(out.terms["detail_reward/weight"], [1.0, 1.0, 1.5, 2.0, 1.2])
    # a right answer: W * (1 + 0.5)
    np.testing.assert_allclose(out.total, [1.5, 1.5, 2.25, 3.0, 1.8])
    # a huge hop count is many transfers, and a huge level is out of range, not an overflow
    assert (
        DifficultyAwareDetail()({**batch, "hops": [10**30] * 5}).terms["detail_reward/weight"][0]
        == 1.5
    )
    with pytest.raises(BatchError, match="level must be in"):
        DifficultyAwareDetail()({**batch, "difficulty": [10**30] * 5})


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("hops", 1.7, "hops of sample 1 must be a whole number"),
        ("hops", "two", "hops of sample 1 must be a whole number"),
        ("hops", math.inf, "hops of sample 1"),
        ("hops", -1, "hops >= 0"),
        ("difficulty", 1.9, "difficulty of sample 1: use easy/middle/hard"),
        ("difficulty", "impossible", "difficulty of sample 1"),
    ],
)
def test_term_rejects_non_integer_difficulty_on_every_row(column, value, message):
    # row 1 has no answer: the bad value raises all the same
    batch = {
        "completion": ["<answer>a: 1</answer>", "no answer"],
        "details": ["a: 1"] * 2,
        column: [0, value],
    }
    with pytest.raises(BatchError, match=message):
        DifficultyAwareDetail()(batch)


def test_term_gold_details_none_nan_or_scalar():
    batch = {
        "completion": ["<answer>7</answer>", "<answer>7</answer>", "<answer>7</answer>"],
        "details": [7, float("nan"), None],  # a number is one detail
    }
    out = DifficultyAwareDetail()(batch)
    np.testing.assert_array_equal(out.total, [1.5, np.nan, np.nan])
    np.testing.assert_array_equal(out.status, [0, 1, 1])
    assert split_details(np.array("x: 1")) == ["x=1"]
    assert split_details(["a: 1", None, float("nan")]) == ["a=1"]


def test_term_chat_completion_and_unparseable_score():
    chat = [
        {"role": "user", "content": "route?"},
        {"role": "assistant", "content": "<answer>a: 1</answer>"},
    ]
    batch = {
        "completion": [chat, "I cannot tell", "<answer>a: 1; a: 1</answer>"],
        "details": ["a: 1", "a: 1", None],
        "difficulty": ["hard", "hard", "hard"],
    }
    np.testing.assert_allclose(DifficultyAwareDetail()(batch).total, [2.25, np.nan, np.nan])
    scored = DifficultyAwareDetail(unparseable_score=0.0)(batch)
    # an unreadable answer scores the number itself (not weighted); no gold stays n/a
    np.testing.assert_allclose(scored.total, [2.25, 0.0, np.nan])
    np.testing.assert_array_equal(scored.status, [0, 0, 1])
