"""Lucy-SKG's KRC and distance shapes: hand-computed values, bad input, a reference loop."""

import itertools
import math
import pickle

import numpy as np
import pytest

from rewardkit.core import (
    BatchError,
    CompositionError,
    ConfigurationError,
    ShapeError,
    Status,
    column,
    term,
)
from rewardkit.shaping.krc import (
    KRC,
    DistanceShape,
    distance_reward,
    krc,
    krc_reward,
    signed_distance_reward,
)


def _krc_reference(row):
    """The authors' loop: product of |R_i|, n-th root, sign +1 only if all are positive."""
    product = 1.0
    for r in row:
        product *= abs(r)
    magnitude = product ** (1.0 / len(row))
    if magnitude == 0:
        return 0.0
    return magnitude if all(r > 0 for r in row) else -magnitude


def test_hand_computed_values():
    # sqrt(1 * 0.25) = 0.5; cube root(0.5 * 0.5 * 0.5) = 0.5; sqrt(0.64) = 0.8
    np.testing.assert_allclose(krc([[1.0, 0.25], [-1.0, 0.25], [-1.0, -0.25]]), [0.5, -0.5, -0.5])
    np.testing.assert_allclose(krc([[0.5, 0.5, 0.5], [0.5, -0.5, 0.5]]), [0.5, -0.5])
    np.testing.assert_allclose(krc([[0.64]]), [0.64])  # one component: itself


def test_high_only_if_all_components_are_high():
    # a weighted sum would score (1, 1, 0.01) at 0.67; KRC keeps it low
    assert krc([[1.0, 1.0, 0.01]])[0] == pytest.approx(0.01 ** (1 / 3))
    assert krc([[1.0, 1.0, 0.0]])[0] == 0.0
    assert not np.signbit(krc([[-1.0, 0.0]])[0])  # 0.0, never -0.0


def test_two_negatives_do_not_make_a_positive():
    # the plain product of (-1)(-0.25) is positive; KRC's sign is a logical AND
    assert krc([[-1.0, -0.25]])[0] == pytest.approx(-0.5)


@pytest.mark.parametrize("row", list(itertools.product([-1.0, -0.3, 0.0, 0.2, 1.0], repeat=3)))
def test_matches_reference_loop(row):
    assert krc([row])[0] == pytest.approx(_krc_reference(row))


def test_nan_marks_the_row_not_applicable_and_inf_raises():
    out = krc([[0.5, np.nan], [0.25, 1.0]])
    assert np.isnan(out[0]) and out[1] == pytest.approx(0.5)
    with pytest.raises(BatchError, match="finite"):
        krc([[np.inf, 1.0]])


@pytest.mark.parametrize("bad", [[1.0, 2.0], [[[1.0]]], np.zeros((3, 0))])
def test_bad_shapes_raise(bad):
    with pytest.raises(ShapeError, match=r"\(N, n\)"):
        krc(bad)


def test_distance_reward_hand_computed():
    # exp(-0.5 * 2 / 2) = exp(-0.5); dispersion 2 halves the exponent; density 0.5 squares it
    np.testing.assert_allclose(distance_reward([0.0, 2.0], scale=2.0), [1.0, math.exp(-0.5)])
    np.testing.assert_allclose(distance_reward([2.0], scale=2.0, dispersion=2.0), [math.exp(-0.25)])
    np.testing.assert_allclose(distance_reward([2.0], scale=2.0, density=0.5), [math.exp(-1.0)])
    np.testing.assert_allclose(distance_reward([2.0], scale=2.0, density=2.0), [math.exp(-0.25)])


def test_signed_distance_reward_hand_computed():
    zero_at = 2 * math.log(2)  # exp(-0.5 d) = 1/2
    out = signed_distance_reward([0.0, zero_at, 2 * math.log(4)], scale=1.0)
    # at d = 2 ln 4: 2 * (1/4 - 1/2) = -0.5
    np.testing.assert_allclose(out, [1.0, 0.0, -0.5], atol=1e-12)
    # density 2: |-0.5|^(1/2) keeps the sign
    np.testing.assert_allclose(
        signed_distance_reward([2 * math.log(4)], scale=1.0, density=2.0), [-math.sqrt(0.5)]
    )


@pytest.mark.parametrize("shape", [distance_reward, signed_distance_reward])
def test_distance_shapes_reject_bad_input(shape):
    with pytest.raises(BatchError, match=">= 0"):
        shape([-1.0], scale=1.0)
    with pytest.raises(BatchError, match=">= 0"):
        shape([np.inf], scale=1.0)
    with pytest.raises(ShapeError):
        shape([[1.0]], scale=1.0)
    for bad in ({"scale": 0.0}, {"scale": 1.0, "dispersion": -1.0}, {"scale": 1.0, "density": 0}):
        with pytest.raises(ConfigurationError, match="> 0"):
            shape([1.0], **bad)
    assert np.isnan(shape([np.nan], scale=1.0)[0])


def test_krc_term_logs_components_and_propagates_status():
    missing = term(lambda speed: [None if s < 0 else s for s in speed], name="speed_ok")
    reward = krc_reward(["align", missing], name="offensive")
    out = reward({"align": [1.0, 0.5, -1.0], "speed": [0.25, -1.0, 0.25]})
    np.testing.assert_allclose(out.total, [0.5, np.nan, -0.5])
    assert out.status[1] == Status.NOT_APPLICABLE
    assert sorted(out.terms) == ["align", "speed_ok"]
    assert isinstance(reward, KRC)


def test_krc_term_rejects_bad_components():
    with pytest.raises(CompositionError):
        krc_reward("align")
    with pytest.raises(CompositionError):
        krc_reward([3])
    with pytest.raises(CompositionError, match="distinct"):
        krc_reward(["align", "align"])
    with pytest.raises(BatchError, match="finite"):
        krc_reward(["a", "b"])({"a": [np.inf], "b": [1.0]})


def test_distance_shape_term_composes_with_krc():
    closeness = DistanceShape("dist", scale=2.0, name="closeness")
    reward = krc_reward(["align", closeness])
    out = reward({"align": [1.0, 1.0], "dist": [0.0, 4.0]})
    # sqrt(1 * 1) = 1; sqrt(1 * exp(-1)) = exp(-0.5)
    np.testing.assert_allclose(out.total, [1.0, math.exp(-0.5)])
    np.testing.assert_allclose(out.terms["closeness"], [1.0, math.exp(-1.0)])
    signed = DistanceShape(column("dist"), scale=1.0, signed=True)
    assert signed.name == "dist_shaped"
    np.testing.assert_allclose(signed({"dist": [0.0]}).total, [1.0])


def test_terms_pickle():
    reward = krc_reward(["a", DistanceShape("d", scale=1.0, name="near")])
    batch = {"a": [0.5], "d": [1.0]}
    clone = pickle.loads(pickle.dumps(reward))
    np.testing.assert_allclose(clone(batch).total, reward(batch).total)
