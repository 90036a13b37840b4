"""The reward blend r_φ = r_p + Σ φ_i h_i: by hand, against a reference loop, NaN handling,
bad input refused, and the term (its parts logged, NaN statuses, pickling, the contract)."""

import itertools
import pickle

import numpy as np
import pytest

from rewardkit.audit import check_reward
from rewardkit.core import (
    BatchError,
    CompositionError,
    ConfigurationError,
    MissingColumnError,
    ShapeError,
    Status,
    column,
    term,
)
from rewardkit.shaping.blend import RewardBlend, blend_rewards, blend_weights

BATCH = {
    "reward": [0.0, 1.0, 0.0, 0.0],
    "progress": [0.1, 0.1, 0.0, -0.1],
    "fountain": [0.0, 0.0, 1.0, 1.0],
}


def test_hand_computed_values():
    # r_p + 2·progress − 0.5·fountain, row by row
    out = blend_rewards(
        BATCH["reward"], np.stack([BATCH["progress"], BATCH["fountain"]], 1), [2, -0.5]
    )
    np.testing.assert_allclose(out, [0.2, 1.2, -0.5, -0.7])
    assert out.dtype == np.float64 and out.shape == (4,)


def test_zero_weights_give_the_primary_reward_and_one_heuristic_works():
    h = np.array([[3.0], [4.0]])
    np.testing.assert_array_equal(blend_rewards([1.0, 2.0], h, [0.0]), [1.0, 2.0])
    np.testing.assert_allclose(blend_rewards([1.0, 2.0], h, [0.25]), [1.75, 3.0])


def reference_loop(primary, heuristics, weights):
    out = []
    for n, r in enumerate(primary):
        total = r
        for k, w in enumerate(weights):
            total += w * heuristics[n][k]
        out.append(total)
    return out


@pytest.mark.parametrize(("n", "k", "seed"), list(itertools.product([1, 7], [1, 3], [0, 1])))
def test_vectorised_matches_reference_loop(n, k, seed):
    rng = np.random.default_rng(seed)
    primary, heuristics, weights = rng.normal(size=n), rng.normal(size=(n, k)), rng.normal(size=k)
    np.testing.assert_allclose(
        blend_rewards(primary, heuristics, weights),
        reference_loop(primary.tolist(), heuristics.tolist(), weights.tolist()),
        rtol=1e-12,
    )


def test_nan_propagates_to_its_row_even_with_weight_zero():
    out = blend_rewards([1.0, 1.0, np.nan], [[np.nan, 1.0], [0.0, 1.0], [0.0, 0.0]], [0.0, 1.0])
    assert np.isnan(out[0]) and out[1] == 2.0 and np.isnan(out[2])


def test_nan_raise_names_row_and_column():
    with pytest.raises(BatchError, match=r"heuristic 1 is NaN .* row 2"):
        blend_rewards([0.0] * 3, [[0, 0], [0, 0], [0, np.nan]], [1, 1], nan="raise")
    with pytest.raises(BatchError, match=r"primary reward is NaN .* row 0"):
        blend_rewards([np.nan], [[0.0]], [1.0], nan="raise")
    with pytest.raises(ConfigurationError, match="nan must be one of"):
        blend_rewards([0.0], [[0.0]], [1.0], nan="zero")


@pytest.mark.parametrize(
    ("primary", "heuristics", "weights", "error", "match"),
    [
        ([[0.0]], [[0.0]], [1.0], ShapeError, "primary must have shape"),
        ([0.0, 1.0], [[0.0]], [1.0], ShapeError, "heuristics must have shape"),
        ([0.0], [0.0], [1.0], ShapeError, "heuristics must have shape"),
        ([0.0], [[0.0, 1.0]], [1.0], ShapeError, "one weight per heuristic"),
        ([0.0], [[0.0]], [[1.0]], ShapeError, "weights must have shape"),
        ([0.0], [[0.0]], [np.inf], ConfigurationError, "must be finite"),
        ([0.0], [[0.0]], ["a"], ConfigurationError, "must be numbers"),
    ],
)
def test_bad_input_is_refused(primary, heuristics, weights, error, match):
    with pytest.raises(error, match=match):
        blend_rewards(primary, heuristics, weights)


def test_blend_weights_copies():
    source = np.array([1.0, 2.0])
    phi = blend_weights(source)
    phi[0] = 9.0
    assert source[0] == 1.0


def test_term_totals_parts_and_weights():
    blend = RewardBlend("reward", ["progress", "fountain"], weights=[2.0, -0.5])
    out = blend(BATCH)
    np.testing.assert_allclose(out.total, [0.2, 1.2, -0.5, -0.7])
    assert set(out.terms) >= {"reward", "progress", "fountain"}
    np.testing.assert_allclose(out.terms["fountain"], BATCH["fountain"])
    primary, h = blend.columns(BATCH)
    np.testing.assert_allclose(blend_rewards(primary, h, blend.weights), out.total)
    blend.weights = [0.0, 0.0]
    np.testing.assert_allclose(blend(BATCH).total, BATCH["reward"])
    assert blend.named_weights() == {"progress": 0.0, "fountain": 0.0}
    assert "progress=0" in repr(blend)


def test_term_from_a_mapping_and_with_terms():
    moved = term(lambda progress: np.abs(progress), name="moved")
    blend = RewardBlend(column("reward"), {moved: 1.0, "fountain": 0.5})
    assert blend.heuristic_names == ["moved", "fountain"]
    np.testing.assert_allclose(blend(BATCH).total, [0.1, 1.1, 0.5, 0.6])
    assert blend.update(BATCH) == {}


def test_weights_are_a_copy_and_checked():
    blend = RewardBlend("reward", ["progress"])
    np.testing.assert_array_equal(blend.weights, [1.0])
    blend.weights[0] = 5.0  # a copy: no effect
    assert blend.named_weights() == {"progress": 1.0}
    with pytest.raises(ShapeError, match="one weight per heuristic"):
        blend.weights = [1.0, 2.0]
    with pytest.raises(ConfigurationError, match="finite"):
        blend.weights = [np.nan]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("reward", []), "at least one heuristic"),
        (("reward", ["reward"]), "distinct names"),
        ((3, ["progress"]), "primary must be a column name or a term"),
        (("reward", [None]), "a heuristic must be a column name or a term"),
    ],
)
def test_bad_blends_are_refused(args, match):
    with pytest.raises(CompositionError, match=match):
        RewardBlend(*args)


def test_not_applicable_part_gives_its_status_and_missing_column_raises():
    blend = RewardBlend("reward", ["progress"])
    out = blend({"reward": [1.0, 1.0], "progress": [None, 0.5]})
    assert np.isnan(out.total[0]) and out.total[1] == 1.5
    assert out.status.tolist() == [Status.NOT_APPLICABLE, Status.OK]
    with pytest.raises(MissingColumnError):
        blend({"reward": [1.0]})


def test_pickles_and_passes_the_term_contract():
    blend = RewardBlend("reward", {"progress": 2.0, "fountain": -1.0})
    clone = pickle.loads(pickle.dumps(blend))
    np.testing.assert_array_equal(clone(BATCH).total, blend(BATCH).total)
    assert clone.named_weights() == blend.named_weights()
    assert check_reward(blend, BATCH, warn=False).passed
