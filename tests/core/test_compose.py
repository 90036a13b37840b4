"""Every composition operator on hand-computed batches."""

import numpy as np
import pytest

from rewardkit.core import (
    CompositionError,
    RewardOutput,
    Status,
    affine,
    clip,
    column,
    conditional,
    gate,
    group_switch,
    product,
    term,
    tiered,
    weighted_sum,
)

NA, TO, OK = Status.NOT_APPLICABLE, Status.TIMEOUT, Status.OK


@term
def timed(score, timed_out):
    """A verifier-like term: NaN with TIMEOUT where timed_out is set."""
    status = np.where(timed_out, Status.TIMEOUT, Status.OK)
    return RewardOutput(np.asarray(score, dtype=float), status=status)


def assert_output(out, total, status=None):
    np.testing.assert_allclose(out.total, total, equal_nan=True)
    if status is not None:
        assert out.status.tolist() == list(status)


def test_weighted_sum_by_position_and_by_name():
    a, b = column("a"), column("b")
    batch = {"a": [1.0, 2.0], "b": [10.0, 20.0]}
    assert_output(weighted_sum([a, b], [2.0, 0.5])(batch), [7.0, 14.0])
    out = weighted_sum([a, b], {"b": -1.0}, name="r")(batch)
    assert_output(out, [-9.0, -18.0])
    assert set(out.terms) == {"a", "b"}
    np.testing.assert_array_equal(out.terms["b"], [10.0, 20.0])  # parts are logged unweighted


def test_weighted_sum_propagates_status_unless_skip_missing():
    batch = {"score": [1.0, 1.0, 0.0], "timed_out": [False, True, False], "b": [1.0, None, None]}
    parts = [timed, column("b")]
    # sample 1: timeout beats not-applicable; sample 2: b missing
    assert_output(weighted_sum(parts)(batch), [2.0, np.nan, np.nan], [OK, TO, NA])
    assert_output(weighted_sum(parts, skip_missing=True)(batch), [2.0, np.nan, 0.0], [OK, TO, OK])


def test_weighted_sum_validates():
    with pytest.raises(CompositionError, match="distinct name"):
        weighted_sum([column("a"), column("a")])
    with pytest.raises(CompositionError, match="unknown terms"):
        weighted_sum([column("a")], {"z": 1.0})
    with pytest.raises(CompositionError, match="finite"):
        weighted_sum([column("a")], [float("inf")])
    with pytest.raises(CompositionError, match="2 terms but 1 weights"):
        weighted_sum([column("a"), column("b")], [1.0])


def test_product():
    batch = {"a": [1.0, 1.0, 0.0, 2.0], "b": [1.0, 0.5, 0.5, None]}
    assert_output(
        product([column("a"), column("b")])(batch), [1.0, 0.5, 0.0, np.nan], [OK, OK, OK, NA]
    )


def test_clip_and_affine():
    batch = {"a": [-3.0, 0.25, 9.0, None]}
    assert_output(clip(column("a"), -1.0, 1.0)(batch), [-1.0, 0.25, 1.0, np.nan])
    assert_output(clip(column("a"), high=0.0)(batch), [-3.0, 0.0, 0.0, np.nan])
    assert_output(affine(column("a"), 2.0, 1.0)(batch), [-5.0, 1.5, 19.0, np.nan])
    with pytest.raises(CompositionError, match="above high"):
        clip(column("a"), 1.0, 0.0)


def test_gate_counts_inner_term_only_when_gate_passes():
    batch = {
        "outcome": [1.0, 0.4, 0.6, None, 0.9],
        "dense": [0.5, 0.5, 0.5, 0.5, None],
    }
    out = gate(column("outcome"), column("dense"), threshold=0.5)(batch)
    # 1.0+0.5 | 0.4 (closed) | 0.6+0.5 | gate missing | gate open, inner missing
    assert_output(out, [1.5, 0.4, 1.1, np.nan, np.nan], [OK, OK, OK, NA, NA])
    np.testing.assert_array_equal(out.terms["gate_open"], [1, 0, 1, 0, 1])
    closed_inner_missing = {"outcome": [0.0], "dense": [None]}
    assert_output(gate(column("outcome"), column("dense"), 0.5)(closed_inner_missing), [0.0], [OK])
    only_inner = gate(column("outcome"), column("dense"), 0.5, include_gate=False)(batch)
    assert_output(only_inner, [0.5, 0.0, 0.5, np.nan, np.nan])


def test_conditional_is_not_applicable_where_condition_fails():
    batch = {"correct": [1.0, 0.0, 1.0, None], "cost": [-3.0, -1.0, -2.0, -1.0]}
    out = conditional(column("correct"), column("cost"))(batch)
    assert_output(out, [-3.0, np.nan, -2.0, np.nan], [OK, NA, OK, NA])
    zero = conditional(column("correct"), column("cost"), otherwise=0.0)(batch)
    assert_output(zero, [-3.0, 0.0, -2.0, np.nan], [OK, OK, OK, NA])


def test_group_switch_threshold_by_hand():
    # group 0: 3/4 correct -> penalty on; group 1: 1/4 -> off;
    # group 2: 2/2 correct among applicable (one NaN) -> on
    batch = {
        "correct": [1, 1, 1, 0, 1, 0, 0, 0, 1, 1, None],
        "length": [0.1, 0.2, 0.3, 0.4, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7],
        "group": [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2],
    }
    penalty = affine(column("length"), scale=-1.0, name="length_penalty")
    out = group_switch(column("correct"), penalty, threshold=0.75)(batch)
    expected = [0.9, 0.8, 0.7, -0.4, 1, 0, 0, 0, 0.5, 0.4, np.nan]
    assert_output(out, expected)
    np.testing.assert_array_equal(out.terms["switch_on"], [1] * 4 + [0] * 4 + [1] * 3)
    np.testing.assert_allclose(out.terms["group_success_ratio"], [0.75] * 4 + [0.25] * 4 + [1] * 3)


def test_group_switch_top_fraction_and_separate_success_term():
    batch = {
        "score": [0.2, 0.3, 0.9, 0.8, 0.5, 0.6],
        "solved": [0, 0, 1, 1, 1, 0],
        "group": ["a", "a", "b", "b", "c", "c"],
        "cost": [-1.0] * 6,
    }
    out = group_switch(
        column("score"), column("cost"), top_fraction=1 / 3, success=column("solved")
    )(batch)
    # ratios a=0, b=1, c=0.5; top third (1 group) is b
    assert_output(out, [0.2, 0.3, -0.1, -0.2, 0.5, 0.6])
    with pytest.raises(CompositionError, match="exactly one of"):
        group_switch(column("score"), column("cost"))


def test_tiered_maps_scores_to_amplified_tiers():
    zones = tiered(column("iou"), thresholds=[0.25, 0.5, 0.75], rewards=[0.0, 0.1, 0.4, 1.0])
    batch = {"iou": [0.0, 0.25, 0.49, 0.5, 0.8, 1.0, None]}
    assert_output(zones(batch), [0.0, 0.1, 0.1, 0.4, 1.0, 1.0, np.nan])
    with pytest.raises(CompositionError, match="must not decrease"):
        tiered(column("iou"), [0.5], [1.0, 0.0])
    with pytest.raises(CompositionError, match="one more reward"):
        tiered(column("iou"), [0.5], [1.0])
    with pytest.raises(CompositionError, match="must increase"):
        tiered(column("iou"), [0.5, 0.5], [0.0, 0.5, 1.0])


def test_nested_terms_are_logged_with_paths():
    inner = weighted_sum([column("a"), column("b")], name="inner")
    outer = weighted_sum([inner, column("c")], name="outer")
    out = outer({"a": [1.0], "b": [2.0], "c": [3.0]})
    assert set(out.terms) == {"inner", "inner/a", "inner/b", "c"}
    assert out.total.tolist() == [6.0]


class Counter:
    """A stateful term: update() returns metrics."""

    name = "counter"
    columns = ()

    def __init__(self):
        self.seen = 0

    def __call__(self, batch):
        return RewardOutput.from_values(
            [float(self.seen)] * len(next(iter(batch.values()))), name=self.name
        )

    def update(self, batch):
        self.seen += 1
        return {"seen": self.seen}


def test_update_is_forwarded_with_prefixes():
    counter = Counter()
    reward = weighted_sum([counter, column("a")])
    assert reward.update({"a": [1.0]}) == {"counter/seen": 1}
    assert reward({"a": [1.0]}).total.tolist() == [2.0]
