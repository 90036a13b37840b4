"""The ``novelty-maze`` suite: novelty search against objective search in a deceptive maze.

Both searches evolve open-loop move sequences in
:class:`~rewardkit_bench.tasks.deceptive_maze.DeceptiveMaze` with the same
evolutionary loop (:func:`rewardkit.train.evolution.evolve`, defaults); only
the selection score differs:

- ``fitness``: the objective, minus the distance from where the agent ends to
  the goal (``column("fitness")``);
- ``novelty``: novelty search's ρ, the mean distance of the end cell to its
  15 nearest neighbours among an archive and the population
  (:class:`~rewardkit.explore.novelty.NoveltySearchBonus`, defaults).

Coverage is the share of the maze's free cells that some evaluated genome
ended in; solved is the first generation in which one reached the goal.
Medians over seeds.

Claim (Lehman & Stanley 2011): in deceptive mazes, novelty search finds the
goal far more often than objective search, which is drawn into the dead end.

Run: ``rewardkit bench novelty-maze`` (5 seeds, 300 generations, seconds), or
``--quick`` (1 seed, 60 generations).
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rewardkit_bench.runner import (
    RunFolder,
    Suite,
    drive,
    environment,
    markdown_table,
    median_curve,
    pyplot,
    save_figure,
)

__all__ = ["METHODS", "NoveltyMaze", "RunSpec", "main", "run_one"]

METHODS = ("fitness", "novelty")


@dataclass(frozen=True)
class RunSpec:
    """One search: ``method`` for ``generations`` with ``seed``."""

    method: str
    seed: int
    generations: int


def run_one(spec: RunSpec) -> dict[str, Any]:
    """Run one search; its coverage curve, first solved generation and archive size."""
    import numpy as np

    from rewardkit.core.builtin import column
    from rewardkit.explore.novelty import NoveltySearchBonus
    from rewardkit.train.evolution import EvolutionConfig, evolve
    from rewardkit_bench.tasks.deceptive_maze import DeceptiveMaze

    maze = DeceptiveMaze()
    config = EvolutionConfig(generations=spec.generations, seed=spec.seed)

    def evaluate(genomes: Any) -> dict[str, Any]:
        final, solved = maze.run(genomes)
        return {"descriptor": final.astype(float), "fitness": maze.fitness(final),
                "solved": solved}  # fmt: skip

    reached: set[tuple[int, int]] = set()
    curve: list[dict[str, float]] = []
    solved_at: list[int] = []

    def on_generation(generation: int, batch: dict[str, Any], scores: Any) -> None:
        reached.update(map(tuple, batch["descriptor"].astype(int).tolist()))
        if batch["solved"].any() and not solved_at:
            solved_at.append(generation)
        curve.append(
            {
                "evaluations": float((generation + 1) * config.population),
                "coverage": len(reached) / maze.free_cells,
                "best_fitness": float(np.max(batch["fitness"])),
            }
        )

    term = column("fitness") if spec.method == "fitness" else NoveltySearchBonus()
    log = evolve(evaluate, term, config, on_generation)
    return {
        "method": spec.method,
        "seed": spec.seed,
        "generations": spec.generations,
        "solved_at": solved_at[0] if solved_at else None,
        "final_coverage": curve[-1]["coverage"],
        "best_fitness": max(point["best_fitness"] for point in curve),
        "archive_size": log[-1].get("score/novelty_search/archive_size", 0.0),
        "curve": curve,
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per method: seeds solved, median generation of the first solve (unsolved seeds
    count as never), median final coverage and best fitness."""
    table = {}
    for method in METHODS:
        mine = [r for r in runs if r["method"] == method]
        if not mine:
            continue
        solved = [r["solved_at"] for r in mine]
        median = statistics.median(s if s is not None else float("inf") for s in solved)
        table[method] = {
            "seeds": len(mine),
            "seeds_solved": sum(s is not None for s in solved),
            "median_solved_at": None if median == float("inf") else median,
            "final_coverage": statistics.median(r["final_coverage"] for r in mine),
            "best_fitness": statistics.median(r["best_fitness"] for r in mine),
        }
    return table


class NoveltyMaze(Suite):
    """The suite: each (method, seed) is a unit."""

    name = "novelty-maze"
    description = __doc__
    quick_help = "one seed, 60 generations"
    quick_sets = ("seeds", "generations")
    options = ("seeds", "jobs", "resume", "rerender")

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--generations", type=int, default=300, help="generations per run")
        parser.set_defaults(seeds=5)

    def check(self, args: argparse.Namespace) -> str | None:
        if min(args.generations, args.seeds) < 1:
            return "--generations and --seeds must be >= 1"
        return None

    def _settings(self, args: argparse.Namespace) -> tuple[int, int]:
        return (1, 60) if args.quick else (args.seeds, args.generations)

    def command(self, args: argparse.Namespace) -> str:
        if args.quick:
            return f"rewardkit bench {self.name} --quick"
        seeds, generations = self._settings(args)
        return f"rewardkit bench {self.name} --seeds {seeds} --generations {generations}"

    def plan(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> list[RunSpec]:
        seeds, generations = self._settings(args)
        done = {(r["method"], r["seed"]) for r in runs}
        return [
            RunSpec(method, seed, generations)
            for method in METHODS
            for seed in range(seeds)
            if (method, seed) not in done
        ]

    def run_unit(self, unit: RunSpec) -> dict[str, Any]:
        return run_one(unit)

    def describe(self, run: dict[str, Any]) -> str:
        solved = "never" if run["solved_at"] is None else f"generation {run['solved_at']}"
        return (
            f"{run['method']} seed {run['seed']}: solved {solved}, coverage "
            f"{run['final_coverage']:.2f}"
        )

    def record(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
        seeds, generations = self._settings(args)
        return {"seeds": seeds, "generations": generations, "environment": environment(),
                "runs": sorted(runs, key=lambda r: (r["method"], r["seed"]))}  # fmt: skip

    def summarize(self, results: dict[str, Any]) -> dict[str, Any]:
        return {"summary": summarize(results["runs"])}

    def plot(self, folder: RunFolder, results: dict[str, Any]) -> list[str]:
        plt = pyplot()
        if plt is None:
            return []
        fig, axis = plt.subplots(figsize=(6.0, 3.6))
        for method in METHODS:
            mine = [r for r in results["runs"] if r["method"] == method]
            if mine:
                axis.plot(*median_curve(mine, "evaluations", "coverage"), label=method)
        axis.set_xlabel("genomes evaluated")
        axis.set_ylabel("share of free cells reached")
        axis.set_title("Deceptive maze: coverage (median over seeds)")
        axis.set_ylim(0, 1.02)
        axis.legend()
        return [save_figure(plt, fig, folder, "coverage.png")]

    def report(self, results: dict[str, Any], plots: list[str]) -> str:
        from rewardkit.train.evolution import EvolutionConfig

        search = EvolutionConfig()  # the runs use its defaults
        rows = []
        summary = results["summary"]
        for method, s in summary.items():
            solved = "never" if s["median_solved_at"] is None else f"{s['median_solved_at']:g}"
            best = s["best_fitness"] + 0.0  # no "-0.00"
            rows.append([method, f"{s['seeds_solved']}/{s['seeds']}", solved,
                         f"{s['final_coverage']:.2f}", f"{best:.2f}"])  # fmt: skip
        header = ["search", "seeds reaching the goal", "median generation of first solve",
                  "final coverage", "best fitness (minus distance)"]  # fmt: skip
        lines = [
            "# novelty-maze",
            "",
            f"Regenerate: `{results['command']}`",
            "",
            f"{results['seeds']} seeds, {results['generations']} generations of "
            f"{search.population} genomes ({search.genome_length} moves each; "
            f"{search.parents} parents; gene mutation rate {search.mutation_rate:g}), medians "
            "over seeds. "
            "The maze and the search loop are written here (a grid version of Lehman & "
            "Stanley's deceptive maze, open-loop genomes): project-generated, not a peer's "
            "benchmark.",
            "",
            markdown_table(header, rows),
            "",
        ]
        if "coverage.png" in plots:
            lines += ["![coverage](coverage.png)", ""]
        return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``rewardkit bench novelty-maze``: see the module docs."""
    return drive(NoveltyMaze(), argv)
