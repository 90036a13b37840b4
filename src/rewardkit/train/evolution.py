"""A small evolutionary search whose selection score is any rewardkit term.

Each generation, a population of genomes (sequences of discrete actions) is
evaluated into a batch of columns, the term scores the batch, the
``parents`` best-scoring genomes are kept, and each child is a parent with
every gene resampled with probability ``mutation_rate`` ((μ, λ) selection,
no crossover). The term sees each batch once and is then updated, so a
stateful score such as novelty search's archive
(:class:`~rewardkit.explore.novelty.NoveltySearchBonus`) evolves with the
search; ``column("fitness")`` gives plain objective search. A row scored NaN
ranks last.

Example:
    >>> from rewardkit.core.builtin import column
    >>> def evaluate(genomes):                 # fitness: how many genes are 1
    ...     return {"fitness": (genomes == 1).sum(axis=1).astype(float)}
    >>> config = EvolutionConfig(population=20, parents=5, genome_length=8, actions=2,
    ...                          generations=30)
    >>> log = evolve(evaluate, column("fitness"), config)
    >>> log[-1]["best_score"] > log[0]["best_score"]
    True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardkit.core.errors import ConfigurationError
from rewardkit.core.progress import progress as show_progress
from rewardkit.core.rollout import update_metrics
from rewardkit.core.term import Term, as_term

__all__ = ["EvolutionConfig", "evolve"]


@dataclass(frozen=True)
class EvolutionConfig:
    """Population sizes, genomes and mutation of :func:`evolve`."""

    population: int = 100
    parents: int = 20
    genome_length: int = 64
    actions: int = 4
    mutation_rate: float = 0.05
    generations: int = 200
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.population, self.parents, self.genome_length, self.generations) < 1:
            raise ConfigurationError("population, parents, genome_length and generations >= 1")
        if self.parents > self.population or self.actions < 2:
            raise ConfigurationError("parents must be <= population, and actions >= 2")
        if not 0.0 < self.mutation_rate <= 1.0:
            raise ConfigurationError(f"mutation_rate must be in (0, 1], got {self.mutation_rate}")


def evolve(
    evaluate: Callable[[np.ndarray], dict[str, Any]],
    score: Term,
    config: EvolutionConfig,
    on_generation: Callable[[int, dict[str, Any], np.ndarray], None] | None = None,
) -> list[dict[str, float]]:
    """Run the search; returns one record per generation (best and mean score, and the
    term's ``update`` metrics). ``on_generation(generation, batch, scores)`` sees every
    evaluated batch (for coverage, solved flags, ...)."""
    term = as_term(score)
    rng = np.random.default_rng(config.seed)
    genomes = rng.integers(0, config.actions, (config.population, config.genome_length))
    log: list[dict[str, float]] = []
    for generation in show_progress(range(config.generations), "evolve"):
        batch = dict(evaluate(genomes))
        scores = np.asarray(term(batch).total, dtype=np.float64)
        metrics = update_metrics(term, batch, prefix="score")
        if on_generation is not None:
            on_generation(generation, batch, scores)
        ranked = np.nan_to_num(scores, nan=-np.inf)
        finite = scores[np.isfinite(scores)]
        log.append(
            {
                "generation": float(generation),
                "best_score": float(finite.max()) if finite.size else float("nan"),
                "mean_score": float(finite.mean()) if finite.size else float("nan"),
                **metrics,
            }
        )
        parents = genomes[np.argsort(-ranked, kind="stable")[: config.parents]]
        children = parents[rng.integers(0, config.parents, config.population)]
        mutate = rng.random(children.shape) < config.mutation_rate
        genomes = np.where(mutate, rng.integers(0, config.actions, children.shape), children)
    return log
