"""Multi-channel advantages (HDPO, GDPO), token estimators and PPPO's pieces, by hand."""

import math

import numpy as np
import pytest

from rewardkit.core.errors import ConfigurationError, EmptyGroupWarning, ShapeError
from rewardkit.credit import (
    ESTIMATORS,
    PPPOEstimator,
    ProgressiveRetention,
    continuation_accumulated_reward,
    gdpo_advantages,
    grpo_advantages,
    hdpo_advantages,
    make_estimator,
    multi_channel_advantages,
)


def test_hdpo_efficiency_only_among_correct_samples_by_hand():
    # group 0: correct [1, 1, 1, 0] → A_acc = (r − .75) / .5 = [.5, .5, .5, −1.5]
    # efficiency among the three correct [.9, .5, .1]: mean .5, std .4 → [1, 0, −1], wrong → 0
    # group 1: one correct sample → |Q| = 1 → efficiency advantage 0
    accuracy = [1.0, 1.0, 1.0, 0.0, 1.0, 0.0]
    efficiency = [0.9, 0.5, 0.1, 1.0, 0.3, 0.9]
    group = [0, 0, 0, 0, 1, 1]
    out = hdpo_advantages(accuracy, efficiency, group, weight=0.15, epsilon=0.0)
    np.testing.assert_allclose(out.per_channel["accuracy"][:4], [0.5, 0.5, 0.5, -1.5])
    np.testing.assert_allclose(out.per_channel["efficiency"], [1.0, 0.0, -1.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(
        out.combined, out.per_channel["accuracy"] + 0.15 * out.per_channel["efficiency"]
    )
    assert out.eligible["efficiency"].tolist() == [True, True, True, False, True, False]


def test_hdpo_differs_from_one_mixed_scalar():
    # Mixing brevity into the reward rewards the short wrong answer; HDPO does not.
    accuracy = np.array([1.0, 1.0, 0.0, 0.0])
    brevity = np.array([0.2, 0.1, 1.0, 0.0])
    mixed = grpo_advantages(accuracy + brevity, [0] * 4)
    hdpo = hdpo_advantages(accuracy, brevity, [0] * 4, weight=1.0).combined
    assert mixed[2] > 0 > hdpo[2]


def test_gated_channel_with_no_eligible_sample_is_silent_and_zero():
    with __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("error", EmptyGroupWarning)
        out = hdpo_advantages([0.0, 0.0], [0.5, 0.7], [0, 0])
    assert out.per_channel["efficiency"].tolist() == [0.0, 0.0]


def test_multi_channel_reference_loop():
    rng = np.random.default_rng(0)
    rewards = rng.normal(size=(12, 3))
    rewards[rng.random((12, 3)) < 0.2] = np.nan
    group = np.repeat([0, 1, 2], 4)
    gates = {"1": rng.random(12) < 0.6}
    weights = {"0": 1.0, "1": 0.5, "2": 2.0}
    out = multi_channel_advantages(rewards, group, gates=gates, weights=weights, epsilon=0.0)
    for k in range(3):
        name = str(k)
        gate = gates.get(name, np.ones(12, dtype=bool))
        for i in range(12):
            members = [
                j
                for j in range(12)
                if group[j] == group[i] and gate[j] and not math.isnan(rewards[j, k])
            ]
            if i not in members or len(members) < 2:
                expected = 0.0
            else:
                values = rewards[members, k]
                expected = (rewards[i, k] - values.mean()) / values.std(ddof=1)
            assert out.per_channel[name][i] == pytest.approx(expected)
    total = sum(weights[n] * out.per_channel[n] for n in weights)
    np.testing.assert_allclose(out.combined, total)


def test_gdpo_is_the_batch_normalized_preset():
    r = np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [np.nan, np.nan]])
    out = multi_channel_advantages(r, [0, 0, 0, 0, 1], batch_normalize=True)
    np.testing.assert_allclose(gdpo_advantages(r, [0, 0, 0, 0, 1]), out.combined)
    assert out.combined[4] == 0.0


def test_channel_errors_name_the_fix():
    with pytest.raises(ShapeError, match="unknown channels"):
        multi_channel_advantages({"a": [1.0, 0.0]}, [0, 0], gates={"b": [True, True]})
    with pytest.raises(ShapeError, match=r"shape \(N,\)"):
        multi_channel_advantages({"a": [1.0, 0.0], "b": [1.0]}, [0, 0])
    with pytest.raises(ConfigurationError, match="two channels"):
        make_estimator("hdpo", channels=("correct",))
    with pytest.raises(ConfigurationError, match="no parts named"):
        make_estimator("hdpo", channels=("correct", "brevity"))(
            [1.0, 0.0], [0, 0], [[1], [2]], 0, 1, channels={"correct": [1.0, 0.0]}
        )
    with pytest.raises(ConfigurationError, match="unknown estimator"):
        make_estimator("pppo_half")


def test_hdpo_estimator_trains_efficiency_as_a_separate_loss():
    estimator = make_estimator("hdpo", channels=("correct", "brevity"), weight=0.15)
    channels = {"correct": [1.0, 1.0, 0.0], "brevity": [0.9, 0.1, 1.0]}
    out = estimator([1.0, 1.0, 0.0], [0, 0, 0], [[1, 2], [3], [4]], 0, 1, channels=channels)
    (loss,) = out.channel_losses
    assert loss.name == "efficiency" and loss.weight == 0.15
    assert loss.rows.tolist() == [True, True, False]
    assert [v.tolist() for v in loss.values] == [
        [pytest.approx(1 / math.sqrt(2), rel=1e-5)] * 2,
        [pytest.approx(-1 / math.sqrt(2), rel=1e-5)],
        [0.0],
    ]
    summed = make_estimator(
        "hdpo", channels=("correct", "brevity"), weight=0.15, separate_losses=False
    )
    assert not summed(
        [1.0, 1.0, 0.0], [0] * 3, [[1], [2], [3]], 0, 1, channels=channels
    ).channel_losses


def test_tree_estimators_leave_not_applicable_samples_out_of_the_tree():
    sequences = [[1, 2], [1, 3], [1, 4]]
    with_nan = ESTIMATORS["tempo"](np.array([1.0, 0.0, np.nan]), np.zeros(3), sequences, 0, 1)
    without = ESTIMATORS["tempo"](np.array([1.0, 0.0]), np.zeros(2), sequences[:2], 0, 1)
    for a, b in zip(with_nan.values[:2], without.values, strict=True):
        np.testing.assert_allclose(a, b)
    assert with_nan.values[2].tolist() == [0.0, 0.0]


def test_continuation_accumulated_reward_is_pppos_sum():
    # R_i = Σ_j r(b_i ⊕ c_j) + r(o_i)
    got = continuation_accumulated_reward(
        [[1.0, 0.0, 1.0], [0.0, 0.0, np.nan]], [1.0, 0.0], reduce="sum"
    )
    assert got.tolist() == [3.0, 0.0]
    assert np.isnan(continuation_accumulated_reward([[np.nan]], [np.nan], reduce="sum")[0])
    # a missing continuation reward counts as the mean of the others, not as 0
    assert continuation_accumulated_reward([[1.0, np.nan, 1.0]], [0.0], reduce="sum").tolist() == [
        pytest.approx(4 * 2 / 3)
    ]
    with pytest.raises(ShapeError, match="reduce"):
        continuation_accumulated_reward([[1.0]], reduce="max")


def test_progressive_retention_grows_on_plateaus_and_stops_at_its_end():
    retention = ProgressiveRetention(start=0.15, step=0.05, end=0.25, patience=1)
    fractions = [retention.update(s) for s in [0.5, 0.4, 0.4, 0.6, 0.1, 0.1, 0.1]]
    assert fractions == pytest.approx([0.15, 0.2, 0.25, 0.25, 0.25, 0.25, 0.25])
    assert retention.update(float("nan")) == pytest.approx(0.25)


def test_pppo_estimator_by_hand():
    estimator = PPPOEstimator(continuations=2, retention=ProgressiveRetention(patience=100))
    sequences = [[1] * 10, [2] * 10, [3] * 3, [4] * 20]
    assert estimator.prefix_lengths(sequences).tolist() == [1, 1, 1, 3]  # ⌊.15·|o|⌋, ≥ 1
    continuation = np.array([[1.0, 1.0], [0.0, 1.0], [0.0, 0.0], [1.0, 0.0]])
    rewards = np.array([1.0, 0.0, 0.0, 1.0])
    out = estimator(rewards, [0, 0, 1, 1], sequences, 0, 10, continuation_rewards=continuation)
    accumulated = np.array([3.0, 1.0, 0.0, 2.0])
    expected = grpo_advantages(accumulated, [0, 0, 1, 1])
    assert [v[0] for v in out.values] == pytest.approx(expected.tolist())
    assert out.train_lengths.tolist() == [1, 1, 1, 3]
