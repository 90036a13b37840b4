"""The evolutionary loop: selection by any term, NaN ranks last, seeded runs repeat."""

import numpy as np
import pytest

from rewardkit.core.builtin import column
from rewardkit.core.errors import ConfigurationError
from rewardkit.train.evolution import EvolutionConfig, evolve


def ones(genomes):
    return {"fitness": (genomes == 1).sum(axis=1).astype(float)}


def test_selection_climbs_the_score_and_seeded_runs_repeat():
    config = EvolutionConfig(population=30, parents=6, genome_length=10, actions=2,
                             generations=40, seed=3)  # fmt: skip
    first = evolve(ones, column("fitness"), config)
    assert first[-1]["best_score"] == 10.0
    assert [r["best_score"] for r in evolve(ones, column("fitness"), config)] == [
        r["best_score"] for r in first
    ]


def test_rows_scored_nan_are_never_parents():
    seen = []

    def evaluate(genomes):
        fitness = (genomes == 1).sum(axis=1).astype(float)
        fitness[genomes[:, 0] == 1] = np.nan  # genomes starting with 1 are "broken"
        return {"fitness": fitness}

    def on_generation(generation, batch, scores):
        seen.append(batch["fitness"])

    config = EvolutionConfig(population=40, parents=5, genome_length=6, actions=2,
                             generations=25, mutation_rate=0.02)  # fmt: skip
    log = evolve(evaluate, column("fitness"), config, on_generation)
    assert np.isfinite(log[-1]["best_score"]) and log[-1]["best_score"] == 5.0
    assert np.isnan(seen[-1]).mean() < 0.5  # the broken ones are bred out


def test_config_validation():
    with pytest.raises(ConfigurationError):
        EvolutionConfig(parents=200)
    with pytest.raises(ConfigurationError):
        EvolutionConfig(mutation_rate=0.0)
