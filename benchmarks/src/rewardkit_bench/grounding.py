"""``rewardkit bench grounding``: graded against binary rewards for clicks, boxes, time
spans and layouts, on procedurally drawn screens, clips and rooms.

A small from-scratch policy (:mod:`rewardkit_bench.grounding_policy`: a CNN over the
image and a token head emitting binned coordinates, boxes, spans or confidences) is
trained with GRPO's group advantages (:mod:`rewardkit_bench.grounding_train`) on each
reward design of each task (:mod:`rewardkit_bench.grounding_designs`), every design with
the same number of samples, and judged greedily on held-out scenes of its seed:

- ``click`` (screens): binary hit against GUI-G²'s Gaussian point reward; hit rate, with
  small targets (under 2 % of the screen) apart;
- ``click_confidence``: the click plus a stated confidence: no confidence reward, a Brier
  term on the hit, and HyperClick's reward (format + hit + alignment with its truncated
  Gaussian); ECE and Brier against the hit;
- ``box``: binary IoU ≥ 0.5, IoU, IoU + GUI-G1-style box size, GUI-G²'s point + coverage
  and GRiP-style salience-weighted IoU (the target salient, the other elements context);
- ``clip``: a span and a moving box: binary (tIoU and vIoU ≥ 0.5), STVG-o1's reward and
  Veason-R1-style mask consistency; tIoU, vIoU, J&F;
- ``layout`` (rooms): every object's metric position: binary (all within 1 m), STAR-R1's
  partial credit, a Video2Layout-style metric reward, and RewardMap-style detail rewards
  with and without its difficulty stages.

All of it is generated offline from seeds; the figures are on the project's own drawn
data and are labelled so. Medians over seeds; a claim line per paper
(:mod:`rewardkit_bench.grounding_report`).

Run: ``rewardkit bench grounding --jobs 2`` (full run: 3 seeds); ``--quick``: one seed,
a short budget, every design.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import asdict, replace
from typing import Any, ClassVar

from rewardkit_bench.grounding_designs import DESIGNS
from rewardkit_bench.grounding_report import HEADLINE, report_text, summarize_runs
from rewardkit_bench.grounding_train import TrainSettings, train_design
from rewardkit_bench.reporting import median_curve
from rewardkit_bench.runner import RunFolder, Suite, drive, environment, pyplot, save_figure

__all__ = ["FULL", "QUICK", "Grounding", "main"]

#: each task's budget in the full run (steps of 32 scenes × 8 samples)
FULL = {
    "click": TrainSettings(steps=600),
    "click_confidence": TrainSettings(steps=600),
    "box": TrainSettings(steps=800),
    "clip": TrainSettings(steps=450),
    "layout": TrainSettings(steps=600),
}
#: --quick: a short budget for every design, one seed
QUICK = {task: replace(s, steps=30, pool=256, test=128, eval_every=15) for task, s in FULL.items()}


class Grounding(Suite):
    """The grounding suite (see the module docs)."""

    name = "grounding"
    description = __doc__
    quick_help = "one seed, 30 steps a design, small pools"
    quick_sets: ClassVar[tuple[str, ...]] = ("seeds",)
    options: ClassVar[tuple[str, ...]] = ("seeds", "jobs", "resume", "rerender")

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        choices = ", ".join(FULL)
        parser.add_argument(
            "--tasks", default=None, help=f"only these tasks (comma-separated; of {choices})"
        )

    def check(self, args: argparse.Namespace) -> str | None:
        unknown = set(self._tasks(args)) - set(FULL)
        return f"unknown tasks {sorted(unknown)}; choose from {list(FULL)}" if unknown else None

    def _tasks(self, args: argparse.Namespace) -> list[str]:
        return list(FULL) if not getattr(args, "tasks", None) else args.tasks.split(",")

    def _budget(self, args: argparse.Namespace) -> dict[str, TrainSettings]:
        return QUICK if args.quick else FULL

    def command(self, args: argparse.Namespace) -> str:
        tasks = f" --tasks {args.tasks}" if getattr(args, "tasks", None) else ""
        if args.quick:
            return f"rewardkit bench grounding --quick{tasks}"
        return f"rewardkit bench grounding --seeds {args.seeds} --jobs {args.jobs}{tasks}"

    def plan(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> list[Any]:
        seeds = 1 if args.quick else args.seeds
        done = {(r["task"], r["design"], r["seed"]) for r in runs}
        budget = self._budget(args)
        return [(task, design, seed, budget[task]) for seed in range(seeds)
                for task in self._tasks(args) for design in DESIGNS[task]
                if (task, design, seed) not in done]  # fmt: skip

    def run_unit(self, unit: Any) -> dict[str, Any]:
        task, design, seed, settings = unit
        return train_design(task, design, seed, settings)

    def describe(self, run: dict[str, Any]) -> str:
        metric = HEADLINE[run["task"]][0]
        return (f"{run['task']} / {run['design']} seed {run['seed']}: {metric} "
                f"{run['final'][metric]:.3f} ({run['seconds']:.0f}s)")  # fmt: skip

    def record(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
        budget = self._budget(args)
        return {"quick": args.quick, "budgets": {t: asdict(budget[t]) for t in self._tasks(args)},
                "environment": environment(), "runs": runs}  # fmt: skip

    def summarize(self, results: dict[str, Any]) -> dict[str, Any]:
        return summarize_runs(results["runs"])

    def plot(self, folder: RunFolder, results: dict[str, Any]) -> list[str]:
        plt = pyplot()
        if plt is None:
            return []
        names = []
        for task in results["tasks"]:
            metric = HEADLINE[task][0]
            fig, axis = plt.subplots(figsize=(6, 4))
            for design in results["tasks"][task]:
                runs = [r for r in results["runs"] if r["task"] == task and r["design"] == design]
                steps, values = median_curve(runs, "step", metric)
                axis.plot(steps, values, label=design)
            axis.set_title(f"{task}: held-out {metric} (median over seeds)")
            axis.set_xlabel("GRPO step")
            axis.legend(fontsize=7)
            fig.tight_layout()
            names.append(save_figure(plt, fig, folder, f"{task}.png"))
        return names

    def report(self, results: dict[str, Any], plots: list[str]) -> str:
        budgets = "; ".join(
            f"{t}: {b['steps']} steps of {b['images_per_step']} scenes, {b['group']} samples each"
            for t, b in results["budgets"].items()
        )
        preamble = [
            "# grounding", "",
            f"Regenerate: `{results['command']}` ({results.get('seconds', 0) / 60:.1f} min)", "",
            "**On the project's own drawn data**: screens, clips and rooms generated from "
            "seeds (`rewardkit_bench.envs`), a small CNN policy trained from scratch with GRPO "
            "group advantages, judged greedily on held-out scenes. Medians over seeds; every "
            f"design of a task gets the same number of samples ({budgets}). The papers fine-tune "
            "multimodal LLMs on real screens and videos: their figures are quoted, not "
            "compared. No outside data: the papers' benchmarks (ScreenSpot, HCSTVG, ReVOS, "
            "ReasonMap) are images and videos that no package installable offline ships.", "",
        ]  # fmt: skip
        return report_text(results, plots, preamble)


def main(argv: Sequence[str] | None = None) -> int:
    """``rewardkit bench grounding``: see the module docs."""
    return drive(Grounding(), argv)
