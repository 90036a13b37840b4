"""``rewardkit bench trl-grpo``: TRL's own GRPOTrainer on SmolLM2-135M-Instruct, on CPU.

Each run trains SmolLM2 with LoRA under one reward set (see
:mod:`rewardkit_bench.trl_grpo_run`): rewardkit's ``split_parts`` rewards or TRL's
own ``trl.rewards`` functions doing the same work (correctness, the same format
regex, DAPO's overlong punishment). Per run it keeps TRL's ``log_history`` (each
part's mean and std, rewardkit's status counts), the seconds each step spent in
the reward functions, and a replay: both sets scoring that run's own completions,
step by step, three times each (the median kept), so the two are timed on the same
texts in the same process.

Targets (issue #31): the format reward rises by ≥ 0.3 within the run (median over
seeds of the mean of the last five steps minus the first step); rewardkit's reward
time per step ≤ TRL's own functions' at equal work (median over steps and runs of
the replay).
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence
from typing import Any, ClassVar

from rewardkit_bench.runner import RunFolder, Suite, drive, environment

__all__ = ["TrlGrpo", "format_rise", "main"]

STEPS, QUICK_STEPS = 30, 3
RISE_TARGET = 0.3
#: steps averaged at the end of a run for the rise
TAIL = 5


def format_rise(log: Sequence[dict[str, Any]], key: str = "rewards/format/mean") -> float:
    """The mean of the last :data:`TAIL` steps' ``key`` minus the first step's.

    Example:
        >>> log = [{"rewards/format/mean": v} for v in (0.1, 0.2, 0.5, 0.6, 0.7, 0.8, 0.9)]
        >>> round(format_rise(log), 3)
        0.6
    """
    if not log:
        return float("nan")
    tail = [entry[key] for entry in log[-TAIL:]]
    return statistics.fmean(tail) - log[0][key]


class TrlGrpo(Suite):
    """The trl-grpo suite (see the module docs)."""

    name: ClassVar[str] = "trl-grpo"
    description: ClassVar[str | None] = __doc__
    quick_help: ClassVar[str] = f"{QUICK_STEPS} steps, one seed per reward set"
    quick_sets: ClassVar[tuple[str, ...]] = ("seeds",)
    options: ClassVar[tuple[str, ...]] = ("seeds", "resume", "rerender")

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--steps", type=int, default=STEPS, help=f"GRPO steps ({STEPS})")

    def check(self, args: argparse.Namespace) -> str | None:
        return "--steps must be at least 2" if args.steps < 2 else None

    def command(self, args: argparse.Namespace) -> str:
        if args.quick:
            return "rewardkit bench trl-grpo --quick"
        return f"rewardkit bench trl-grpo --seeds {args.seeds} --steps {args.steps}"

    def plan(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> list[Any]:
        from rewardkit_bench.trl_grpo_run import SETS

        seeds = 1 if args.quick else args.seeds
        steps = QUICK_STEPS if args.quick else args.steps
        done = {(run["set"], run["seed"]) for run in runs}
        return [
            (which, seed, steps)
            for seed in range(seeds)
            for which in SETS
            if (which, seed) not in done
        ]

    def run_unit(self, unit: Any) -> dict[str, Any]:
        from rewardkit_bench.trl_grpo_run import train

        which, seed, steps = unit
        return {"set": which, "seed": seed, "steps": steps, **train(which, seed, steps)}

    def describe(self, run: dict[str, Any]) -> str | None:
        return (
            f"{run['set']} seed {run['seed']}: format rise {format_rise(run['log']):+.2f}, "
            f"{run['seconds'] / 60:.1f} min"
        )

    def record(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
        return {"quick": args.quick, "machine": environment(), "runs": runs}

    def summarize(self, results: dict[str, Any]) -> dict[str, Any]:
        from rewardkit_bench.trl_grpo_run import PART_NAMES, SETS

        table: dict[str, Any] = {}
        for which in SETS:
            # a run that logged no step (it failed before the first) has nothing to compare
            mine = [run for run in results["runs"] if run["set"] == which and run["log"]]
            if not mine:
                continue
            correct, _, _ = PART_NAMES[which]
            table[which] = {
                "runs": len(mine),
                "format_first": statistics.median(r["log"][0]["rewards/format/mean"] for r in mine),
                "format_rise": statistics.median(format_rise(r["log"]) for r in mine),
                "correct_first": statistics.median(
                    r["log"][0][f"rewards/{correct}/mean"] for r in mine
                ),
                "correct_rise": statistics.median(
                    format_rise(r["log"], f"rewards/{correct}/mean") for r in mine
                ),
                "live_reward_seconds": statistics.median(
                    s for r in mine for s in r["reward_seconds"][1:] or r["reward_seconds"]
                ),
                "minutes": statistics.median(r["seconds"] / 60 for r in mine),
            }
        replay = {}
        for which in SETS:
            steps = [s for r in results["runs"] for s in r["replay"][which]["step_seconds"]]
            if steps:
                replay[which] = statistics.median(steps)
        pairs = [
            (a == 1.0, b == 1.0)
            for r in results["runs"]
            for a, b in zip(r["replay"]["rewardkit"]["correct"], r["replay"]["trl"]["correct"],
                            strict=True)
        ]  # fmt: skip
        return {
            "table": table,
            "replay_seconds": replay,
            "replay_ratio": (
                replay["rewardkit"] / replay["trl"]
                if replay.get("trl") and "rewardkit" in replay
                else None
            ),
            "correct_scored": {
                "completions": len(pairs),
                "both": sum(a and b for a, b in pairs),
                "only_rewardkit": sum(a and not b for a, b in pairs),
                "only_trl": sum(b and not a for a, b in pairs),
            },
        }

    def plot(self, folder: RunFolder, results: dict[str, Any]) -> list[str]:
        from rewardkit_bench.trl_grpo_report import plot

        return plot(folder, results)

    def report(self, results: dict[str, Any], plots: list[str]) -> str | None:
        from rewardkit_bench.trl_grpo_report import render

        return render(results, plots, RISE_TARGET)


def main(argv: Sequence[str] | None = None) -> int:
    """``rewardkit bench trl-grpo``: see the module docs."""
    return drive(TrlGrpo(), argv)
