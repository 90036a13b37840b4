"""SERENE-style emitters on a 2-D quadratic reward (improve, then stop when stuck), the
budget split of the scheduler, the pure helpers by hand, and the shape checks."""

from itertools import pairwise

import numpy as np
import pytest

from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.explore.emitters import (
    BudgetScheduler,
    Emitter,
    EmitterPool,
    emitter_improvement,
    gaussian_mutation,
    initial_mutation_scale,
    next_phase,
    resample_mutation,
)

PEAK = np.array([1.0, -2.0])


def quadratic(genomes):
    """Reward 10 at the peak (1, -2), falling off quadratically."""
    return 10.0 - ((np.asarray(genomes) - PEAK) ** 2).sum(axis=1)


def run(emitter, reward, limit=500):
    while not emitter.stopped and emitter.generation < limit:
        genomes = emitter.ask()
        emitter.tell(genomes, reward(genomes))
    return emitter


def test_an_emitter_climbs_a_quadratic_and_stops_when_stuck():
    parent = np.array([-1.0, 0.0])
    start = float(quadratic(parent[None])[0])  # 2.0
    emitter = run(Emitter(parent, scale=0.3, patience=8, parent_reward=start, seed=0), quadratic)
    assert emitter.stopped and emitter.generation < 500
    assert emitter.best_reward > 9.9 > start
    assert np.linalg.norm(emitter.best_genome - PEAK) < 0.3
    assert emitter.improvement > 5.0
    assert emitter.evaluations == 6 + 12 * (emitter.generation - 1)


def test_an_emitter_on_a_flat_reward_stops_after_patience():
    emitter = run(Emitter(np.zeros(2), 0.1, patience=4, parent_reward=1.0, seed=1),
                  lambda g: np.ones(len(g)))  # fmt: skip
    assert emitter.generation == 4 and emitter.improvement == 0.0
    capped = run(Emitter(np.zeros(2), 0.1, patience=99, max_generations=3), quadratic)
    assert capped.generation == 3


def test_elitism_keeps_the_best():
    emitter = Emitter(np.zeros(1), 1.0, population=2, seed=0)
    emitter.tell(np.array([[1.0], [2.0], [3.0]]), np.array([1.0, np.nan, 3.0]))
    assert emitter.values[-1].tolist() == [3.0, 1.0]
    emitter.tell(np.array([[4.0]]), np.array([2.0]))
    assert emitter.values[-1].tolist() == [3.0, 2.0]
    assert emitter.ask().shape == (4, 1)  # 2 mutants of each of the 2 kept


def test_helpers_by_hand():
    # nearest other genome (3, 4) is at distance 5 -> 5/3
    assert initial_mutation_scale([0.0, 0.0], [[3.0, 4.0], [9.0, 9.0]]) == pytest.approx(5 / 3)
    assert initial_mutation_scale([1.0], [[1.0]], fallback=0.2) == 0.2
    assert initial_mutation_scale([1.0], np.zeros((0, 1)), fallback=0.2) == 0.2
    # first three generations average 1; the last three (the third is in both) 3
    values = [[1.0, 1.0], [0.0, 2.0], [1.0, 1.0], [4.0, 4.0], [3.0, 5.0]]
    assert emitter_improvement(values) == pytest.approx(2.0)
    assert emitter_improvement([[1.0], [1.0], [1.0], [4.0], [4.0], [4.0]]) == pytest.approx(3.0)
    assert emitter_improvement([[5.0], [1.0]], window=1) == 0.0
    assert emitter_improvement([]) == 0.0
    rng = np.random.default_rng(0)
    assert (resample_mutation(4)(np.zeros((3, 5), int), 0.0, rng) == 0).all()
    assert np.abs(gaussian_mutation((-0.5, 0.5))(np.zeros((9, 2)), 5.0, rng)).max() <= 0.5
    assert [next_phase(p, c) for p, c in [(None, True), ("explore", True), ("exploit", True),
            ("explore", False)]] == ["explore", "exploit", "explore", "explore"]  # fmt: skip


@pytest.mark.parametrize("budget,chunk", [(1000, 100), (997, 64), (50, 300)])
def test_the_budget_split_is_exact(budget, chunk):
    rng = np.random.default_rng(budget)
    plan = BudgetScheduler(budget, chunk)
    phases = []
    while not plan.done:
        phase = plan.start_chunk(can_exploit=bool(rng.random() < 0.7))
        phases.append(phase)
        granted_in_chunk = 0
        while plan.chunk_left:
            if phase == "exploit" and rng.random() < 0.05:
                break  # the emitters ran out: the rest of the chunk goes back
            granted_in_chunk += plan.take(int(rng.integers(1, 40)))
        assert granted_in_chunk <= chunk
    assert plan.spent["explore"] + plan.spent["exploit"] == budget
    assert plan.remaining == 0 and plan.take(5) == 0
    assert all(a != b or a == "explore" for a, b in pairwise(phases))  # alternation
    with pytest.raises(ConfigurationError):
        plan.start_chunk(can_exploit=True)


def test_a_pool_spends_its_chunk_exactly_and_keeps_improving_emitters():
    plan = BudgetScheduler(budget=600, chunk=300)
    pool = EmitterPool()
    pool.add(Emitter(np.array([-1.0, 0.0]), 0.3, patience=8, parent_reward=2.0, seed=0))
    pool.add(Emitter(np.array([1.0, -2.0]), 0.0, patience=3, parent_reward=10.0, seed=1))
    seen = []

    def evaluate(genomes):
        seen.append(len(genomes))
        return quadratic(genomes)

    assert plan.start_chunk(pool.has_work) == "explore" and plan.take(300) == 300
    assert plan.start_chunk(pool.has_work) == "exploit"
    pool.run(evaluate, plan)
    assert sum(seen) == 300 == plan.spent["exploit"]
    # the climbing emitter was kept; the stuck one (σ = 0 at the peak) was dropped
    assert len(pool.active) + len(pool.finished) == 2
    assert pool.finished[0].parent.tolist() == [1.0, -2.0]
    assert max(e.best_reward for e in pool.active + pool.finished) > 9.0


def test_bad_shapes_and_settings_raise():
    with pytest.raises(ShapeError):
        Emitter(np.zeros((2, 2)), 0.1)
    emitter = Emitter(np.zeros(3), 0.1)
    with pytest.raises(ShapeError):
        emitter.tell(np.zeros((4, 2)), np.zeros(4))
    with pytest.raises(ShapeError):
        emitter.tell(np.zeros((4, 3)), np.zeros(5))
    with pytest.raises(ShapeError):
        initial_mutation_scale(np.zeros(2), np.zeros((3, 3)))
    with pytest.raises(ConfigurationError):
        Emitter(np.zeros(2), 0.1, population=0)
    with pytest.raises(ConfigurationError):
        BudgetScheduler(100, 0)
    with pytest.raises(ConfigurationError):
        BudgetScheduler(100, 10).take(5)
