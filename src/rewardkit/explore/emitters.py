"""SERENE-style emitters: local reward-driven searches, and the budget they share with
novelty search.

SERENE (Paolo et al. 2021, "Sparse Reward Exploration via Novelty Search and
Emitters", GECCO) splits a search into two alternating processes. Novelty
search explores; when it evaluates a solution with reward > 0, that solution
becomes the parent of an *emitter*, a small population-based optimizer that
climbs the reward around it. A meta-scheduler hands out the evaluation budget
B in chunks of K evaluations, alternately to exploration and to exploitation.

With g_p the parent's genome and g_1..g_n the other genomes of the novelty
search population, the emitter's mutation scale is (paper, code)

    σ_0 = min_j ‖g_p − g_j‖ / 3                                  (initial_mutation_scale)

so that its samples stay within the gap to the nearest other solution. An
emitter keeps a population of M = 6 genomes (first sampled around g_p), makes
2 mutants of each per generation, and keeps the M best by reward of parents
and mutants (elitist (μ + λ) selection: the code's ``FitnessEmitter``). With
R_t the rewards of its population after its t-th generation, its improvement is

    I = max(0, mean(R_{T−2}, R_{T−1}, R_T) − mean(R_0, R_1, R_2))  (emitter_improvement)

A new emitter is first a *candidate*: it runs 6 generations and joins the
active emitters only if I > 0. In an exploitation chunk the candidates run
first, then the active emitter of highest I runs until it stops or the chunk is
spent. Chunks alternate explore, exploit, explore, ...; an exploitation chunk
is skipped while there is no emitter (:func:`next_phase`,
:class:`BudgetScheduler`); the budget is never overdrawn.

Simplified here (so "SERENE-style"): an emitter stops after ``patience``
generations without a new best reward (the paper's code compares the medians of
the first and last 20 generations of a sliding window); the active emitter is
the one of highest improvement (the code samples the Pareto front of
improvement and novelty against the reward archive); candidates run in the
order they were found (the code orders them by novelty); and the most novel
solutions that emitters find are not handed back to novelty search's archive.

Example:
    >>> def reward(genomes):                           # a peak of 1 at (1, 1)
    ...     return 1.0 - ((genomes - 1.0) ** 2).sum(axis=1)
    >>> emitter = Emitter(np.zeros(2), scale=0.3, patience=5, seed=0)
    >>> while not emitter.stopped and emitter.generation < 60:
    ...     genomes = emitter.ask()
    ...     _ = emitter.tell(genomes, reward(genomes))
    >>> bool(emitter.best_reward > 0.95), emitter.improvement > 0
    (True, True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.core.output import FloatArray

__all__ = [
    "BudgetScheduler",
    "Emitter",
    "EmitterPool",
    "Mutation",
    "emitter_improvement",
    "gaussian_mutation",
    "initial_mutation_scale",
    "next_phase",
    "resample_mutation",
]

#: ``mutate(genomes (N, D), scale, rng) -> mutants (N, D)``
Mutation = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]

EXPLORE, EXPLOIT = "explore", "exploit"


def gaussian_mutation(bounds: tuple[float, float] | None = None) -> Mutation:
    """SERENE's mutation: g' = clip(g + σ ε, bounds), ε ~ N(0, I).

    Example:
        >>> mutate = gaussian_mutation((-1.0, 1.0))
        >>> out = mutate(np.zeros((3, 2)), 10.0, np.random.default_rng(0))
        >>> out.shape, bool(np.abs(out).max() <= 1.0)
        ((3, 2), True)
    """

    def mutate(genomes: np.ndarray, scale: float, rng: np.random.Generator) -> np.ndarray:
        out = np.asarray(genomes, dtype=np.float64) + scale * rng.standard_normal(genomes.shape)
        return out if bounds is None else np.clip(out, bounds[0], bounds[1])

    return mutate


def resample_mutation(values: int) -> Mutation:
    """For genomes of discrete genes in [0, values): each gene is redrawn uniformly with
    probability ``scale`` (the rate plays the role of σ).

    Example:
        >>> mutate = resample_mutation(4)
        >>> out = mutate(np.zeros((2, 5), dtype=np.int64), 1.0, np.random.default_rng(0))
        >>> out.shape, bool(((out >= 0) & (out < 4)).all())
        ((2, 5), True)
    """
    if values < 2:
        raise ConfigurationError(f"values must be >= 2, got {values}")

    def mutate(genomes: np.ndarray, scale: float, rng: np.random.Generator) -> np.ndarray:
        genes = np.asarray(genomes)
        redraw = rng.random(genes.shape) < scale
        return np.where(redraw, rng.integers(0, values, genes.shape), genes)

    return mutate


def initial_mutation_scale(
    parent: Any, others: Any, number_of_std: float = 3.0, fallback: float = 0.05
) -> float:
    """σ_0 = min_j ‖g_p − g_j‖ / number_of_std over the other genomes (M, D); ``fallback``
    when there are none or the nearest is a copy (distance 0).

    Raises:
        ShapeError: if ``parent`` is not (D,) or ``others`` not (M, D).

    Example:
        >>> initial_mutation_scale(np.zeros(2), np.array([[3.0, 4.0], [6.0, 0.0]]))
        1.6666666666666667
    """
    g = np.asarray(parent, dtype=np.float64)
    pool = np.asarray(others, dtype=np.float64)
    if g.ndim != 1 or pool.ndim != 2 or pool.shape[1] != g.shape[0]:
        raise ShapeError(f"parent (D,) and others (M, D) must share D, got {g.shape}, {pool.shape}")
    if number_of_std <= 0:
        raise ConfigurationError(f"number_of_std must be > 0, got {number_of_std}")
    if len(pool) == 0:
        return float(fallback)
    nearest = float(np.linalg.norm(pool - g, axis=1).min())
    return nearest / number_of_std if nearest > 0 else float(fallback)


def emitter_improvement(values: Sequence[Any], window: int = 3) -> float:
    """I = max(0, mean of the last ``window`` generations' rewards − mean of the first
    ``window``); 0 with no generations. Each entry of ``values`` is one generation's
    population rewards.

    Example:
        >>> emitter_improvement([[0.0, 0.2], [0.1], [0.1], [0.5, 0.7], [0.6]])  # 0.475 - 0.1
        0.375
    """
    if window < 1:
        raise ConfigurationError(f"window must be >= 1, got {window}")
    if not values:
        return 0.0

    def mean(rows: Sequence[Any]) -> float:
        return float(np.mean(np.concatenate([np.ravel(np.asarray(r, float)) for r in rows])))

    return round(max(0.0, mean(values[-window:]) - mean(values[:window])), 12)


class Emitter:
    """An elitist local search around ``parent``: ``ask`` for genomes, ``tell`` their rewards.

    Args:
        parent: the rewarding genome (D,) the emitter starts from.
        scale: σ of the mutation (a rate for :func:`resample_mutation`).
        population: M, the genomes kept.
        offspring: mutants per kept genome each generation.
        patience: generations without a new best reward before it stops.
        max_generations: a hard stop (None: none).
        mutate: the mutation (default: :func:`gaussian_mutation`, unbounded).
        parent_reward: the parent's reward; the first best to beat.
        seed: seeds the emitter's generator.
    """

    def __init__(
        self,
        parent: Any,
        scale: float,
        population: int = 6,
        offspring: int = 2,
        patience: int = 10,
        max_generations: int | None = None,
        mutate: Mutation | None = None,
        parent_reward: float = float("-inf"),
        seed: int | np.random.Generator = 0,
    ) -> None:
        self.parent = np.asarray(parent)
        if self.parent.ndim != 1:
            raise ShapeError(f"parent must be one genome (D,), got shape {self.parent.shape}")
        if min(population, offspring, patience) < 1 or not scale >= 0:
            raise ConfigurationError("population, offspring, patience must be >= 1, scale >= 0")
        self.scale, self.population, self.offspring = float(scale), population, offspring
        self.patience, self.max_generations = patience, max_generations
        self.mutate = mutate if mutate is not None else gaussian_mutation()
        self.rng = np.random.default_rng(seed)
        self.parent_reward = float(parent_reward)
        self.best_reward, self.best_genome = self.parent_reward, self.parent.copy()
        self.values: list[FloatArray] = []
        self.generation = 0
        self.evaluations = 0
        self._stale = 0
        self._genomes: np.ndarray | None = None
        self._rewards: FloatArray | None = None

    def ask(self) -> np.ndarray:
        """M genomes around the parent at first; then ``offspring`` mutants of each kept one."""
        if self._genomes is None:
            start = np.repeat(self.parent[None, :], self.population, axis=0)
            return self.mutate(start, self.scale, self.rng)
        return self.mutate(np.repeat(self._genomes, self.offspring, axis=0), self.scale, self.rng)

    def tell(self, genomes: Any, rewards: Any) -> dict[str, float]:
        """Keep the M best of the kept genomes and these (N, D) with rewards (N,); NaN ranks
        last, and a tie goes to the new genome (as the code's reversed argsort does, so the
        population drifts on plateaus). Returns the generation's best reward, improvement
        and stale count."""
        genes, values = np.asarray(genomes), np.asarray(rewards, dtype=np.float64)
        if genes.ndim != 2 or genes.shape[1:] != self.parent.shape or values.shape != (len(genes),):
            raise ShapeError(
                f"genomes (N, {self.parent.shape[0]}) and rewards (N,) expected, got "
                f"{genes.shape}, {values.shape}"
            )
        if len(genes) == 0:
            return self._metrics()
        if self._genomes is not None and self._rewards is not None:  # ties go to the new
            genes = np.concatenate([genes, self._genomes])
            values = np.concatenate([values, self._rewards])
        order = np.argsort(-np.nan_to_num(values, nan=-np.inf), kind="stable")[: self.population]
        self._genomes, self._rewards = genes[order], values[order]
        self.values.append(self._rewards.copy())
        self.evaluations += len(np.asarray(rewards))
        self.generation += 1
        top = float(np.nan_to_num(self._rewards[0], nan=-np.inf))
        if top > self.best_reward:
            self.best_reward, self.best_genome = top, self._genomes[0].copy()
            self._stale = 0
        else:
            self._stale += 1
        return self._metrics()

    def _metrics(self) -> dict[str, float]:
        return {"best_reward": self.best_reward, "improvement": self.improvement,
                "stale": float(self._stale)}  # fmt: skip

    @property
    def improvement(self) -> float:
        """:func:`emitter_improvement` over the generations so far."""
        return emitter_improvement(self.values)

    @property
    def stopped(self) -> bool:
        """``patience`` generations without a new best, or ``max_generations`` reached."""
        capped = self.max_generations is not None and self.generation >= self.max_generations
        return self._stale >= self.patience or capped


def next_phase(previous: str | None, can_exploit: bool) -> str:
    """SERENE's alternating meta-scheduler: exploit after an exploration chunk when there is
    an emitter, explore otherwise.

    Example:
        >>> next_phase(None, True), next_phase("explore", True), next_phase("explore", False)
        ('explore', 'exploit', 'explore')
    """
    return EXPLOIT if previous == EXPLORE and can_exploit else EXPLORE


class BudgetScheduler:
    """Hands out ``budget`` evaluations in chunks of ``chunk``, alternating exploration and
    exploitation (:func:`next_phase`). ``take(n)`` grants at most n of the current chunk and
    the budget, and books them; a chunk ended early returns its rest to the budget.

    Example:
        >>> plan = BudgetScheduler(budget=250, chunk=100)
        >>> plan.start_chunk(can_exploit=False), plan.take(150), plan.take(150)
        ('explore', 100, 0)
        >>> plan.start_chunk(can_exploit=True), plan.take(30)
        ('exploit', 30)
        >>> plan.start_chunk(can_exploit=True), plan.take(500), plan.done, plan.spent
        ('explore', 100, False, {'explore': 200, 'exploit': 30})
    """

    def __init__(self, budget: int, chunk: int) -> None:
        if budget < 0 or chunk < 1:
            raise ConfigurationError(f"budget must be >= 0 and chunk >= 1, got {budget}, {chunk}")
        self.budget, self.chunk = int(budget), int(chunk)
        self.spent = {EXPLORE: 0, EXPLOIT: 0}
        self.phase: str | None = None
        self.chunk_left = 0
        self.chunks = 0

    @property
    def remaining(self) -> int:
        """Evaluations left in the whole budget."""
        return self.budget - self.spent[EXPLORE] - self.spent[EXPLOIT]

    @property
    def done(self) -> bool:
        """True once the budget is spent."""
        return self.remaining <= 0

    def start_chunk(self, can_exploit: bool) -> str:
        """Open the next chunk; returns its phase."""
        if self.done:
            raise ConfigurationError("the budget is spent; check `done` before a new chunk")
        self.phase = next_phase(self.phase, can_exploit)
        self.chunk_left = min(self.chunk, self.remaining)
        self.chunks += 1
        return self.phase

    def take(self, wanted: int) -> int:
        """Grant and book up to ``wanted`` evaluations of the open chunk."""
        if self.phase is None:
            raise ConfigurationError("call start_chunk before take")
        granted = max(0, min(int(wanted), self.chunk_left))
        self.chunk_left -= granted
        self.spent[self.phase] += granted
        return granted


class EmitterPool:
    """SERENE's emitters between chunks: new candidates, the active ones, the finished.

    ``run(evaluate, scheduler)`` spends the open exploitation chunk: each candidate runs
    ``bootstrap`` generations and becomes active if its improvement is > 0 (a candidate
    starts only while more than a third of a chunk is left, as in the paper's code); then
    the active emitter of highest improvement runs until it stops or the chunk is spent.
    ``evaluate(genomes) -> rewards`` scores genomes (it may record them too).
    """

    def __init__(self, bootstrap: int = 6) -> None:
        if bootstrap < 1:
            raise ConfigurationError(f"bootstrap must be >= 1, got {bootstrap}")
        self.bootstrap = bootstrap
        self.candidates: list[Emitter] = []
        self.active: list[Emitter] = []
        self.finished: list[Emitter] = []

    def add(self, emitter: Emitter) -> None:
        """Queue a new candidate emitter."""
        self.candidates.append(emitter)

    @property
    def has_work(self) -> bool:
        """Whether an exploitation chunk would have something to run."""
        return bool(self.candidates or self.active)

    @staticmethod
    def _step(
        emitter: Emitter, evaluate: Callable[[np.ndarray], Any], plan: BudgetScheduler
    ) -> bool:
        genomes = emitter.ask()
        granted = plan.take(len(genomes))
        if granted:
            emitter.tell(genomes[:granted], np.asarray(evaluate(genomes[:granted]), float))
        return granted == len(genomes)

    def run(
        self, evaluate: Callable[[np.ndarray], Any], scheduler: BudgetScheduler
    ) -> dict[str, float]:
        """Spend the open chunk (see the class docs); returns counts."""
        while self.candidates and scheduler.chunk_left > scheduler.chunk / 3:
            candidate = self.candidates.pop(0)
            for _ in range(self.bootstrap):
                if not self._step(candidate, evaluate, scheduler):
                    break
            kept = candidate.improvement > 0 and not candidate.stopped
            (self.active if kept else self.finished).append(candidate)
        while self.active and scheduler.chunk_left > 0:
            emitter = max(self.active, key=lambda e: e.improvement)
            while scheduler.chunk_left > 0 and not emitter.stopped:
                self._step(emitter, evaluate, scheduler)
            if emitter.stopped:
                self.active.remove(emitter)
                self.finished.append(emitter)
        return {"candidates": float(len(self.candidates)), "active": float(len(self.active)),
                "finished": float(len(self.finished))}  # fmt: skip
