"""Behaviour-space learning and emitters on the deceptive maze: TAXONS-, SERENE- and
STAX-style search against novelty search on a hand-made descriptor and objective search.

The maze and genomes are the ``novelty-maze`` suite's
(:class:`~rewardkit_bench.tasks.deceptive_maze.DeceptiveMaze`: open-loop genomes of
64 moves), and so is the generation step (:func:`rewardkit.train.evolution.evolve`'s
defaults: 100 genomes, the 20 best by score are parents, gene mutation rate 0.05).
Designs differ in the score and in who spends the budget:

- ``ns_handcrafted``: novelty search on the hand-made descriptor, the cell where the
  agent ends (:class:`~rewardkit.explore.novelty.NoveltySearchBonus`): the baseline.
- ``taxons_style``: the descriptor is learned. The observation is the rendered maze
  (:func:`render`: a 22×34 image, walls grey, the agent a soft spot 2.5 cells wide, as a
  camera sees a robot; with a 1.5-cell spot the learned space covered less, see below);
  an autoencoder (:class:`~rewardkit.explore.behaviour_space.AutoencoderDescriptor`,
  10-D latent) is trained on the archive's and the population's images after
  exploration chunks 1, 3, 6, 10, ...; each generation selects by latent novelty or by
  reconstruction error, drawn 50/50; 5 random genomes per generation join the archive
  (TAXONS' rule).
- ``serene_style``: ``ns_handcrafted`` plus emitters (:mod:`rewardkit.explore.emitters`):
  the budget goes in chunks of 1,000 evaluations, alternating novelty search and
  emitters; a genome with reward > 0 that ends in a cell no earlier rewarding genome
  ended in becomes a candidate emitter (6 genomes, 2 mutants each per generation, each
  gene redrawn with rate max(1, h/3)/64, h the fewest genes in which another genome of
  the population differs: SERENE's σ_0 = nearest distance / 3 in Hamming form).
- ``stax_style``: ``taxons_style`` plus the same emitters.
- ``objective``: selection by the maze's objective, minus the distance to the goal.

The reward that emitters climb is sparse (SERENE's setting): r = max(0, 1 − g/10), g
the moves from the end cell to the goal through the maze, so only the 19 cells of the
top corridor nearest the goal pay, and r = 1 only at the goal. Coverage counts every
evaluated genome's end cell (emitters' too); ``solved_at`` is the first generation, in
units of 100 evaluations, in which a genome reached the goal.

Simplified from the papers (so "-style"): every design uses the (μ, λ) generation step
above (TAXONS and SERENE keep parents and offspring, (μ + λ)); the hand-made designs keep
``NoveltySearchBonus``'s adaptive-threshold archive (SERENE's code adds 5 random
offspring a generation); the autoencoder is small (see
:mod:`rewardkit.explore.behaviour_space`) and is not trained on the emitters' images
(STAX's is, on its reward archive); what emitters find is not handed back to novelty
search's archive; a rewarding genome is a new candidate when its end cell (its
observation: the image is a function of the cell) is new among rewarding ones, where
SERENE makes every rewarding genome a candidate and orders them by novelty; emitters stop
after 30 generations without a new best (see :mod:`rewardkit.explore.emitters`).

Claims checked (Paolo et al. 2020, 2021): the learned space covers about as well as the
hand-made one; emitters reach higher reward than novelty search alone. Seen here (full
runs, seeds 0-4, 2026-12-07, one CPU thread each): every design but ``objective`` ends at
coverage 1.00 and reward 1.0 (``objective``: 0.47-0.50 and 0.0, never solved); the
learned space covers more slowly (median coverage after 5,000 evaluations 0.92 against
0.98 for the hand-made cell; with a 1.5-cell spot, quick runs of seeds 0 and 1 stalled at
0.89 and 0.79) and solves later (median generation 108 against 46); emitters reach the
top reward sooner (median 36 against 46 with the hand-made descriptor, 44 against 108
with the learned one; quick runs reach reward 1.0 in 5/5 against 4/5 and 4/5 against
2/5). Seconds per full run: about 2 without the autoencoder, 35 (TAXONS) and 17 (STAX).

Run: ``python -m rewardkit_bench.control_qd [--quick] [--seed 0] [--designs ...]``
(full: 30,000 evaluations; quick: 6,000). Project-generated task, not a peer's.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["DESIGNS", "render", "run_qd", "sparse_reward"]

DESIGNS = ("ns_handcrafted", "taxons_style", "serene_style", "stax_style", "objective")
POPULATION, PARENTS, MUTATION, GENOME = 100, 20, 0.05, 64
CHUNK, ARCHIVE_PER_GENERATION, REWARD_RADIUS, PATIENCE, HALO = 1000, 5, 10, 30, 2.5


def render(maze: Any, final: Any, scale: int = 2, halo: float | None = None) -> np.ndarray:
    """Images (P, H·scale, W·scale) of the maze with each agent's end cell: walls 0.5,
    floor 0, the agent a Gaussian spot of ``halo`` cells' width (default HALO) peaking at 1.

    Example:
        >>> from rewardkit_bench.tasks.deceptive_maze import DeceptiveMaze
        >>> images = render(DeceptiveMaze(), np.array([[9, 1], [1, 1]]))
        >>> images.shape, float(images[0, 0, 0]), float(images[0, 18:20, 2:4].min()) > 0.9
        ((2, 22, 34), 0.5, True)
    """
    halo = HALO if halo is None else halo
    cells = np.asarray(final, dtype=np.float64)
    walls = np.kron(maze.walls.astype(np.float32) * 0.5, np.ones((scale, scale), np.float32))
    rows = (np.arange(walls.shape[0]) + 0.5) / scale - 0.5
    cols = (np.arange(walls.shape[1]) + 0.5) / scale - 0.5
    dr = (rows[None, :, None] - cells[:, 0, None, None]) ** 2
    dc = (cols[None, None, :] - cells[:, 1, None, None]) ** 2
    spot = np.exp(-(dr + dc) / (2 * halo**2)).astype(np.float32)
    return np.maximum(walls[None], spot)


def goal_distances(maze: Any) -> np.ndarray:
    """Moves from each cell to the goal through the maze (inf behind walls)."""
    from rewardkit.explore.topology import bfs_distances

    free = [tuple(c) for c in np.argwhere(~maze.walls).tolist()]
    graph = {c: [n for n in ((c[0] + dr, c[1] + dc) for dr, dc in ((1, 0), (-1, 0), (0, 1),
             (0, -1))) if not maze.walls[n]] for c in free}  # fmt: skip
    out = np.full(maze.walls.shape, np.inf)
    for cell, d in bfs_distances(graph, tuple(maze.goal.tolist())).items():
        out[cell] = d
    return out


def sparse_reward(distances: np.ndarray, final: Any) -> np.ndarray:
    """r = max(0, 1 − g/R) with g the moves from the end cell to the goal, R = 10.

    Example:
        >>> from rewardkit_bench.tasks.deceptive_maze import DeceptiveMaze
        >>> maze = DeceptiveMaze()
        >>> distances = goal_distances(maze)
        >>> sparse_reward(distances, np.array([[1, 1], [2, 4], [4, 1], [9, 1]])).round(2).tolist()
        [1.0, 0.6, 0.0, 0.0]
        >>> int((distances < REWARD_RADIUS).sum())
        19
    """
    g = distances[final[:, 0], final[:, 1]]
    return np.clip(1.0 - g / REWARD_RADIUS, 0.0, None)


class _Run:
    """The state one (design, seed) run shares: maze, records, budget."""

    def __init__(self, design: str, seed: int, budget: int) -> None:
        from rewardkit.explore.emitters import BudgetScheduler, EmitterPool
        from rewardkit_bench.tasks.deceptive_maze import DeceptiveMaze

        self.design, self.seed = design, seed
        self.maze = DeceptiveMaze()
        self.distances = goal_distances(self.maze)
        self.rng = np.random.default_rng(seed)
        self.plan = BudgetScheduler(budget, CHUNK)
        self.pool = EmitterPool()
        self.reached: set[tuple[int, int]] = set()
        self.rewarded: set[tuple[int, int]] = set()
        self.best_reward, self.solved_eval, self.first_reward_eval = 0.0, None, None
        self.curve: list[dict[str, float]] = []

    @property
    def evaluations(self) -> int:
        return self.plan.budget - self.plan.remaining

    def evaluate(self, genomes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Play genomes (already booked); record coverage, reward, solves."""
        final, solved = self.maze.run(genomes)
        reward = sparse_reward(self.distances, final)
        self.reached.update(map(tuple, final.tolist()))
        before = self.evaluations - len(genomes)
        if solved.any() and self.solved_eval is None:
            self.solved_eval = before + int(np.argmax(solved)) + 1
        if (reward > 0).any() and self.first_reward_eval is None:
            self.first_reward_eval = before + int(np.argmax(reward > 0)) + 1
        self.best_reward = max(self.best_reward, float(reward.max(initial=0.0)))
        return final, reward

    def spawn_emitters(self, genomes: np.ndarray, final: np.ndarray, reward: np.ndarray) -> None:
        """A rewarding genome ending in a cell no earlier one did becomes a candidate."""
        from rewardkit.explore.emitters import Emitter, resample_mutation

        for i in np.flatnonzero(reward > 0):
            cell = (int(final[i, 0]), int(final[i, 1]))
            if cell in self.rewarded:
                continue
            self.rewarded.add(cell)
            differing = (genomes != genomes[i]).sum(axis=1)
            nearest = np.delete(differing, i).min(initial=GENOME)
            rate = max(1.0, nearest / 3.0) / GENOME
            self.pool.add(Emitter(genomes[i], rate, patience=PATIENCE, mutate=resample_mutation(4),
                                  parent_reward=float(reward[i]),
                                  seed=int(self.rng.integers(2**31))))  # fmt: skip

    def record(self) -> None:
        self.curve.append({"evaluations": float(self.evaluations),
                           "coverage": len(self.reached) / self.maze.free_cells,
                           "best_reward": self.best_reward})  # fmt: skip


class _Taxons:
    """TAXONS' learned descriptor, its random archive and its 50/50 criterion."""

    def __init__(self, run: _Run) -> None:
        from rewardkit.explore.behaviour_space import AutoencoderDescriptor

        self.run = run
        self.ae = AutoencoderDescriptor(latent_dim=10, epochs=50, seed=run.seed)
        self.ae.fit(render(run.maze, run.maze.start[None]), epochs=0)  # untrained start
        self.archive = np.zeros((0, 2), dtype=np.int64)  # end cells; images re-rendered
        self.latents = np.zeros((0, 10))
        self.last = np.zeros((0, 2), dtype=np.int64)
        self.fits = 0

    def score(self, final: np.ndarray) -> np.ndarray:
        from rewardkit.explore.behaviour_space import taxons_criterion, taxons_score

        images = render(self.run.maze, final)
        latents, errors = self.ae.encode(images), self.ae.reconstruction_error(images)
        criterion = taxons_criterion(self.run.rng)
        scores = taxons_score(latents, errors, self.latents, criterion=criterion)
        joins = self.run.rng.choice(len(final), min(ARCHIVE_PER_GENERATION, len(final)), False)
        self.archive = np.concatenate([self.archive, final[joins]])
        self.latents = np.concatenate([self.latents, latents[joins]])
        self.last = final
        return scores

    def train(self) -> None:
        cells = np.concatenate([self.archive, self.last])
        self.ae.fit(render(self.run.maze, cells))
        self.latents = self.ae.encode(render(self.run.maze, self.archive))
        self.fits += 1


def _explore_chunk(run: _Run, genomes: np.ndarray, scorer: Any) -> np.ndarray:
    """Novelty search (or objective search) generations until the chunk is spent; the
    generation step is :func:`rewardkit.train.evolution.evolve`'s."""
    while run.plan.chunk_left > 0:
        batch = genomes[: run.plan.take(len(genomes))]
        final, reward = run.evaluate(batch)
        if run.design in ("serene_style", "stax_style"):
            run.spawn_emitters(batch, final, reward)
        scores = np.asarray(scorer(final), dtype=np.float64)
        ranked = np.nan_to_num(scores, nan=-np.inf)
        parents = batch[np.argsort(-ranked, kind="stable")[: min(PARENTS, len(batch))]]
        children = parents[run.rng.integers(0, len(parents), POPULATION)]
        mutate = run.rng.random(children.shape) < MUTATION
        genomes = np.where(mutate, run.rng.integers(0, 4, children.shape), children)
    return genomes


def _scorer(run: _Run) -> tuple[Any, _Taxons | None]:
    if run.design in ("taxons_style", "stax_style"):
        taxons = _Taxons(run)
        return taxons.score, taxons
    if run.design == "objective":
        return run.maze.fitness, None
    from rewardkit.explore.novelty import NoveltySearchBonus

    term = NoveltySearchBonus()

    def novelty(final: np.ndarray) -> np.ndarray:
        batch = {"descriptor": final.astype(float)}
        scores = np.asarray(term(batch).total, dtype=np.float64)
        term.update(batch)
        return scores

    return novelty, None


def run_qd(design: str, seed: int, quick: bool = False) -> dict[str, Any]:
    """One (design, seed) run on the deceptive maze (see the module docs): coverage of the
    free cells, the generation (×100 evaluations) first reaching the goal or None, the
    best sparse reward, evaluations and seconds."""
    import torch

    if design not in DESIGNS:
        raise ValueError(f"design must be one of {DESIGNS}, got {design!r}")
    torch.set_num_threads(1)
    started = time.perf_counter()
    run = _Run(design, seed, budget=(60 if quick else 300) * POPULATION)
    scorer, taxons = _scorer(run)
    genomes = run.rng.integers(0, 4, (POPULATION, GENOME))
    explore_chunks = 0
    while not run.plan.done:
        phase = run.plan.start_chunk(can_exploit=run.pool.has_work)
        if phase == "explore":
            genomes = _explore_chunk(run, genomes, scorer)
            explore_chunks += 1
            from rewardkit.explore.behaviour_space import is_training_step

            if taxons is not None and is_training_step(explore_chunks):
                taxons.train()
        else:
            run.pool.run(lambda g: run.evaluate(g)[1], run.plan)
        run.record()
    solved = run.solved_eval
    return {
        "design": design,
        "seed": seed,
        "quick": quick,
        "coverage": len(run.reached) / run.maze.free_cells,
        "solved_at": None if solved is None else (solved - 1) // POPULATION,
        "solved_at_evaluations": solved,
        "first_reward_at_evaluations": run.first_reward_eval,
        "best_reward": run.best_reward,
        "evaluations": run.evaluations,
        "exploit_evaluations": run.plan.spent["exploit"],
        "emitters": len(run.pool.active) + len(run.pool.finished),
        "ae_fits": 0 if taxons is None else taxons.fits,
        "seconds": round(time.perf_counter() - started, 2),
        "curve": run.curve,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the designs for one seed and print a table (and ``--json`` the records)."""
    parser = argparse.ArgumentParser(prog="python -m rewardkit_bench.control_qd")
    parser.add_argument("--quick", action="store_true", help="6,000 evaluations, not 30,000")
    parser.add_argument("--seed", type=int, default=0, help="the run's seed")
    parser.add_argument("--designs", nargs="+", default=list(DESIGNS), choices=DESIGNS)
    parser.add_argument("--json", default=None, help="write the records here")
    args = parser.parse_args(argv)
    records = [run_qd(d, args.seed, args.quick) for d in args.designs]
    print(f"{'design':16} {'coverage':>8} {'solved':>7} {'best r':>7} {'evals':>6} {'s':>6}")
    for r in records:
        solved = "-" if r["solved_at"] is None else str(r["solved_at"])
        print(f"{r['design']:16} {r['coverage']:8.2f} {solved:>7} {r['best_reward']:7.2f} "
              f"{r['evaluations']:6d} {r['seconds']:6.1f}")  # fmt: skip
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(records, handle, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
