"""CaRL's multiplicative reward: hand-computed values, bad settings, pickling, a reference loop."""

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
    build_reward,
    column,
    term,
)
from rewardkit.core.compose import Composite
from rewardkit.shaping.multiplicative import (
    CheckedFactor,
    PenaltyFactor,
    carl_reward,
    multiplicative_reward,
)

BATCH = {
    "progress": [0.5, 0.5, 0.2, 0.0],
    "collision": [1, 0, 0, 1],
    "lane": [2, 0, 1, 0],
    "crash": [0, 0, 0, 1],
    "speeding": [1.0, 0.5, 1.0, 1.0],
}


def test_hand_computed_values():
    reward = carl_reward("progress", {"collision": 0.5, "lane": 0.9})
    out = reward(BATCH)
    np.testing.assert_allclose(out.total, [0.5 * 0.5 * 0.81, 0.5, 0.2 * 0.9, 0.0])
    assert (out.status == Status.OK).all()


def test_parts_are_logged():
    reward = carl_reward("progress", {"collision": 0.5, "lane": 0.9}, factors=["speeding"])
    out = reward(BATCH)
    np.testing.assert_allclose(out.terms["progress"], BATCH["progress"])
    np.testing.assert_allclose(out.terms["collision_factor"], [0.5, 1.0, 1.0, 0.5])
    np.testing.assert_allclose(out.terms["collision_factor/collision"], BATCH["collision"])
    np.testing.assert_allclose(out.terms["lane_factor"], [0.81, 1.0, 0.9, 1.0])
    np.testing.assert_allclose(out.terms["lane_factor/lane"], BATCH["lane"])
    np.testing.assert_allclose(out.terms["speeding"], BATCH["speeding"])
    np.testing.assert_allclose(out.total, [0.2025, 0.25, 0.18, 0.0])


def test_terminal_penalty_is_subtracted_and_logged():
    reward = carl_reward("progress", {"collision": 0.5}, terminal="crash", terminal_penalty=2.0)
    out = reward(BATCH)
    np.testing.assert_allclose(out.total, [0.25, 0.5, 0.2, 0.0 - 2.0])
    np.testing.assert_allclose(out.terms["penalized_progress"], [0.25, 0.5, 0.2, 0.0])
    np.testing.assert_allclose(out.terms["penalized_progress/collision_factor"], [0.5, 1, 1, 0.5])
    np.testing.assert_allclose(out.terms["crash"], BATCH["crash"])


def test_soft_penalties_never_make_the_reward_negative_or_exceed_progress():
    rng = np.random.default_rng(0)
    n = 200
    batch = {
        "progress": rng.uniform(0, 1, n),
        "a": rng.integers(0, 5, n),
        "b": rng.integers(0, 5, n),
    }
    total = carl_reward("progress", {"a": 0.3, "b": 0.95})(batch).total
    assert (total >= 0).all() and (total <= batch["progress"]).all()


def test_terms_work_as_progress_and_counts():
    @term
    def route_gain(rc, rc_prev):
        return np.asarray(rc) - np.asarray(rc_prev)

    @term
    def red_lights(lights):
        return [float(x) for x in lights]

    reward = carl_reward(route_gain, {red_lights: 0.5})
    out = reward({"rc": [0.3, 0.6], "rc_prev": [0.1, 0.2], "lights": [0, 1]})
    np.testing.assert_allclose(out.total, [0.2, 0.2])
    assert set(out.terms) == {"route_gain", "red_lights_factor", "red_lights_factor/red_lights"}


def test_not_applicable_parts_make_the_total_nan_with_their_status():
    reward = carl_reward("progress", {"collision": 1.0}, terminal="crash")
    out = reward({"progress": [None, 0.5, 0.5], "collision": [0, None, 0], "crash": [0, 0, None]})
    assert np.isnan(out.total).all()
    assert (out.status == Status.NOT_APPLICABLE).all()  # a factor of 1 does not hide NaN


def test_an_error_in_a_part_stays_an_error():
    @term(per_sample=True)
    def progress(distance):
        return 1.0 / distance

    out = carl_reward(progress, {"collision": 0.5})({"distance": [2.0, 0.0], "collision": [0, 0]})
    np.testing.assert_allclose(out.total, [0.5, np.nan])
    assert list(out.status) == [Status.OK, Status.ERROR]


@pytest.mark.parametrize("factor", [0.0, -0.5, 1.5, float("nan"), float("inf"), "half", None])
def test_factor_outside_unit_interval_is_refused(factor):
    with pytest.raises(ConfigurationError, match=r"\(0, 1\]"):
        carl_reward("progress", {"collision": factor})


def test_bad_settings_are_refused():
    with pytest.raises(CompositionError, match="penalties must map"):
        carl_reward("progress", [("collision", 0.5)])
    with pytest.raises(ConfigurationError, match="terminal_penalty"):
        carl_reward("progress", {}, terminal="crash", terminal_penalty=-1.0)
    with pytest.raises(CompositionError, match="column name or a term"):
        carl_reward(3, {})
    with pytest.raises(CompositionError, match="invalid term name"):
        carl_reward("route completion", {})
    with pytest.raises(CompositionError, match="several terms named"):
        carl_reward("progress", {}, factors=["progress"])


def test_unknown_column_names_the_missing_one():
    reward = carl_reward("progress", {"colision": 0.5})
    with pytest.raises(MissingColumnError, match=r"no column 'colision'.*Did you mean 'collision'"):
        reward(BATCH)


def test_bad_values_in_a_batch_are_refused():
    reward = carl_reward("progress", {"collision": 0.5}, factors=["speeding"])
    with pytest.raises(BatchError, match="counts in 'collision'"):
        reward({**BATCH, "collision": [1, -1, 0, 0]})
    with pytest.raises(BatchError, match="counts in 'collision'"):
        reward({**BATCH, "collision": [1, float("inf"), 0, 0]})
    with pytest.raises(BatchError, match=r"factor 'speeding' must lie in \[0, 1\]"):
        reward({**BATCH, "speeding": [1.0, 1.2, 1.0, 1.0]})


def test_pickling_round_trip():
    reward = carl_reward(
        "progress", {"collision": 0.5, "lane": 0.9}, factors=["speeding"], terminal="crash"
    )
    clone = pickle.loads(pickle.dumps(reward))
    np.testing.assert_array_equal(clone(BATCH).total, reward(BATCH).total)
    assert clone.name == reward.name


def test_registered_and_built_from_a_spec():
    spec = {
        "term": "carl_reward",
        "progress": "progress",
        "penalties": {"collision": 0.5, "lane": 0.9},
        "terminal": "crash",
    }
    reward = build_reward(spec)
    expected = carl_reward("progress", {"collision": 0.5, "lane": 0.9}, terminal="crash")
    np.testing.assert_array_equal(reward(BATCH).total, expected(BATCH).total)
    assert build_reward({**spec, "name": "renamed"}).name == "renamed"


@pytest.mark.parametrize("terminal", [None, "crash"])
def test_shared_contract(terminal):
    reward = carl_reward("progress", {"collision": 0.5}, terminal=terminal)
    batch = {"progress": [0.5, None, 0.1], "collision": [1, 0, 0], "crash": [0, 0, 1]}
    out = reward(batch)
    assert isinstance(reward, Composite)
    assert out.total.shape == (3,) and out.total.dtype == np.float64
    np.testing.assert_array_equal(np.isnan(out.total), out.status != Status.OK)
    assert all(part.name in out.terms for part in reward.parts)
    assert check_reward(reward, batch, warn=False).passed


def test_building_blocks_by_hand():
    counts = {"c": [0, 1, 3]}
    np.testing.assert_allclose(PenaltyFactor(column("c"), 0.5, "f")(counts).total, [1, 0.5, 0.125])
    np.testing.assert_allclose(
        CheckedFactor(column("c"), name="g")({"c": [0.0, 1.0]}).total, [0, 1]
    )


def _reference(progress, counts, factors, terminal, terminal_penalty):
    """The equation, one step at a time."""
    out = []
    for t in range(len(progress)):
        r = progress[t]
        for k, factor in enumerate(factors):
            for _ in range(int(counts[t][k])):
                r *= factor
        if terminal is not None:
            r -= terminal_penalty * terminal[t]
        out.append(r)
    return np.array(out)


@pytest.mark.parametrize(
    ("seed", "kinds", "with_terminal"), list(itertools.product(range(3), [0, 1, 3], [False, True]))
)
def test_matches_a_reference_loop(seed, kinds, with_terminal):
    rng = np.random.default_rng(seed)
    n = 25
    progress = rng.uniform(-0.2, 1.0, n)
    counts = rng.integers(0, 4, (n, kinds))
    factors = rng.uniform(0.05, 1.0, kinds)
    terminal = rng.integers(0, 2, n) if with_terminal else None
    names = [f"infraction_{k}" for k in range(kinds)]
    batch = {"progress": progress, **{name: counts[:, k] for k, name in enumerate(names)}}
    if terminal is not None:
        batch["terminal"] = terminal
    reward = carl_reward(
        "progress",
        dict(zip(names, factors, strict=True)),
        terminal="terminal" if with_terminal else None,
        terminal_penalty=0.7,
    )
    expected = _reference(progress, counts, factors, terminal, 0.7)
    np.testing.assert_allclose(reward(batch).total, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        multiplicative_reward(progress, counts, factors, terminal, 0.7),
        expected,
        rtol=1e-12,
        atol=1e-12,
    )


def test_pure_function_checks_shapes_and_settings():
    with pytest.raises(ShapeError, match=r"counts must have shape \(N, K\)"):
        multiplicative_reward([0.5, 0.5], [1, 2], [0.5])
    with pytest.raises(ShapeError, match="progress must have shape"):
        multiplicative_reward([[0.5]], [[1]], [0.5])
    with pytest.raises(ShapeError, match="terminal must have shape"):
        multiplicative_reward([0.5], [[1]], [0.5], terminal=[0, 1])
    with pytest.raises(ConfigurationError, match=r"factors\[0\]"):
        multiplicative_reward([0.5], [[1]], [1.5])
    with pytest.raises(BatchError, match="≥ 0"):
        multiplicative_reward([0.5], [[-1]], [0.5])
    np.testing.assert_allclose(multiplicative_reward([np.nan, 1.0], [[0], [0]], [0.5]), [np.nan, 1])
