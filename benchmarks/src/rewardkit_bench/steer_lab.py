"""The ``steer-lab`` suite: best-of-N, SMC and value-guided decoding at equal token budgets.

Two tasks, each with its own warm-started tiny GPT-2: the lab's task v2
(3-digit additions with carries, gold: the lab's answer check) and
reasoning-gym's ``chain_sum`` (gold: reasoning-gym's own scorer). Held-out
problems are answered under each method at budgets of 1, 4, 16 and 32
samples (or particles, or candidates) per prompt; accuracy is the gold
verdict on the one completion each method returns, and every generated
token is counted. Per task and seed:

- greedy and plain sampling (budget 1);
- best-of-N selected by the gold verifier (an oracle upper bound), by a
  Bradley–Terry RM trained on the policy's own pairs, by a process reward
  model with Math-Shepherd labels from the policy's rollouts (min over
  steps), by a value head on the frozen policy, and on the carries task by
  ``arith_consistent`` (a self-consistency check that does not know the gold);
- SMC with the ``arith_steps`` potential (the running results checked
  against the reference ones: a process oracle), a block = one step (it
  ends at the delimiter ``,``, or after 4 tokens), under FK's ``difference``,
  ``max`` and ``sum``;
- SMC with the PRM and with the value head as the potential (non-oracle),
  and blockwise value-guided decoding with either;
- a smaller warm start with SMC, against the larger one's sampling;
- best-of-n for n = 1…64 under the learned RM (inference-time overoptimization);
- the time per generated token of SMC against plain sampling, same run.

Run: ``rewardkit bench steer-lab --jobs 2`` (``--quick``: one seed, 30 prompts).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from rewardkit_bench.runner import (
    RunFolder,
    Suite,
    claim_lines,
    drive,
    environment,
    markdown_table,
    pyplot,
    save_figure,
)
from rewardkit_bench.steer_claims import at_tokens, summarize_task, task_claims
from rewardkit_bench.steer_runs import (
    BLOCK_SIZE,
    BUDGETS,
    FK_KINDS,
    SMALL_MODEL,
    SMC_BUDGETS,
    STEERING_SCORERS,
    TASKS,
    SteerSettings,
    run_seed,
    warm_starts,
)

__all__ = [
    "BUDGETS",
    "FK_KINDS",
    "SMC_BUDGETS",
    "STEERING_SCORERS",
    "TASKS",
    "SteerLab",
    "SteerSettings",
    "at_tokens",
    "main",
    "run_seed",
]


def _method_rows(table: Mapping[str, Any]) -> list[list[str]]:
    return [[method, *(f"{b[str(x)]['accuracy']:.3f} ({b[str(x)]['tokens']:.0f})"
                       if str(x) in b else "–" for x in BUDGETS)]
            for method, b in table.items()]  # fmt: skip


TASK_TITLES = {
    "carries": "Lab task v2 (3-digit additions with carries; gold: the lab's answer check)",
    "chain_sum": "reasoning-gym chain_sum (3 numbers of 1-2 digits, + and -; gold: "
    "reasoning-gym's own scorer)",
}


class SteerLab(Suite):
    """The steer-lab suite (see the module docs)."""

    name = "steer-lab"
    description = __doc__
    quick_help = "one seed, 30 prompts"
    quick_sets = ("seeds",)
    options = ("seeds", "jobs", "rerender")

    def settings(self, args: argparse.Namespace) -> SteerSettings:
        if args.quick:
            return SteerSettings(prompts=30, bon_max=16, prm_prompts=200, value_prompts=300)
        return SteerSettings()

    def command(self, args: argparse.Namespace) -> str:
        return "rewardkit bench steer-lab" + (" --quick" if args.quick else f" --jobs {args.jobs}")

    def prepare(self, args: argparse.Namespace) -> None:
        for task in self.settings(args).tasks:
            warm_starts(task)  # train and cache every warm start before the pool

    def plan(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> list[Any]:
        seeds = 1 if args.quick else args.seeds
        settings = self.settings(args)
        done = {(r["task"], r["seed"]) for r in runs}
        return [(settings, task, seed) for task in settings.tasks for seed in range(seeds)
                if (task, seed) not in done]  # fmt: skip

    def run_unit(self, unit: Any) -> dict[str, Any]:
        return run_seed(unit)

    def describe(self, run: dict[str, Any]) -> str:
        best = max(run["methods"], key=lambda r: r["accuracy"])
        return (
            f"{run['task']} seed {run['seed']}: best {best['method']} x{best['budget']} "
            f"{best['accuracy']:.3f} ({run['seconds']:.0f}s)"
        )

    def record(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
        return {"settings": asdict(self.settings(args)), "environment": environment(),
                "runs": runs}  # fmt: skip

    def summarize(self, results: dict[str, Any]) -> dict[str, Any]:
        prompts = results["settings"]["prompts"]
        tasks = [t for t in results["settings"]["tasks"]
                 if any(r["task"] == t for r in results["runs"])]  # fmt: skip
        summary: dict[str, Any] = {"tasks": {}, "claims": {}}
        for task in tasks:
            runs = [r for r in results["runs"] if r["task"] == task]
            summary["tasks"][task] = summarize_task(runs)
            summary["claims"].update(task_claims(task, summary["tasks"][task], prompts))
        return summary

    def plot(self, folder: RunFolder, results: dict[str, Any]) -> list[str]:
        plt = pyplot()
        if plt is None:
            return []
        tasks = list(results["tasks"])
        methods = list(dict.fromkeys(m for t in tasks for m in results["tasks"][t]["table"]))
        fig, axes = plt.subplots(len(tasks), 2, figsize=(12, 4.2 * len(tasks)), squeeze=False)
        for row, task in enumerate(tasks):
            summary = results["tasks"][task]
            for method, budgets in summary["table"].items():
                order = sorted(budgets, key=int)
                style = "--" if method.startswith(("bon_gold", "smc_steps")) else "-"
                axes[row][0].plot(
                    [budgets[b]["tokens"] for b in order],
                    [budgets[b]["accuracy"] for b in order],
                    style, marker="o", label=method, color=plt.cm.tab20(methods.index(method) % 20),
                )  # fmt: skip
            for name, curve in summary["overoptimization"].items():
                axes[row][1].plot(curve["n"], curve["gold"], marker="o", label=f"by {name}")
            axes[row][0].set_xscale("log")
            axes[row][0].set_xlabel("generated tokens per prompt")
            axes[row][0].set_title(f"{task}: accuracy vs tokens (dashed: oracles)")
            axes[row][1].set_xscale("log", base=2)
            axes[row][1].set_xlabel("n")
            axes[row][1].set_title(f"{task}: gold accuracy of best-of-n under a proxy")
            for axis in axes[row]:
                axis.legend(fontsize=6)
        fig.tight_layout()
        return [save_figure(plt, fig, folder, "steer.png")]

    def report(self, results: dict[str, Any], plots: list[str]) -> str:
        settings = results["settings"]
        lines = [
            "# steer-lab", "",
            f"Regenerate: `{results['command']}` ({results.get('seconds', 0) / 60:.1f} min)", "",
            f"{settings['prompts']} held-out prompts per task, medians over seeds. Accuracy is "
            "the gold verdict on the one completion a method returns; tokens are generated "
            "tokens per prompt, every sample, particle and candidate counted. SMC: "
            f"λ = {settings['lam']:g}, a block ends at the delimiter `,` (one step) or after "
            f"{BLOCK_SIZE} tokens, resampling when ESS < K/2 (systematic). `smc_steps_*` and "
            "`bon_gold` know the gold (oracles); `bon_rm`, `bon_prm`, `bon_value`, "
            "`bon_consistency`, `smc_prm`, `smc_value` and `vgd_*` do not. `vgd_*`: blockwise "
            "value-guided decoding (best of K blocks under the PRM or the value head).", "",
        ]  # fmt: skip
        header = ["method", *(f"x{b}: accuracy (tokens)" for b in BUDGETS)]
        for task, summary in results["tasks"].items():
            lines += [f"## {TASK_TITLES.get(task, task)}", "", f"{summary['seeds']} seed(s).", "",
                      markdown_table(header, _method_rows(summary["table"])), "",
                      f"Smaller model ({SMALL_MODEL}, same warm-start recipe):", "",
                      markdown_table(header, _method_rows(summary["small_table"])), "",
                      "Best-of-n gold accuracy under a proxy (one set of "
                      f"{settings['bon_max']} samples per prompt, all subsets):", ""]  # fmt: skip
            for name, curve in summary["overoptimization"].items():
                pairs = zip(curve["n"], curve["gold"], strict=True)
                lines.append(f"- {name}: " + ", ".join(f"n={n}: {g:.3f}" for n, g in pairs))
            lines += ["", "How well each proxy ranks a prompt's correct samples above its wrong "
                      "ones (paired accuracy on the same samples; 0.5 is chance). Within the "
                      "completions that show their work, style no longer gives the answer away:",
                      ""]  # fmt: skip
            lines += [f"- {name}: {curve['paired_accuracy']:.3f} (worked only: "
                      f"{curve['paired_accuracy_worked']:.3f})"
                      for name, curve in summary["overoptimization"].items()]  # fmt: skip
            lines.append("")
        if "steer.png" in plots:
            lines += ["![steer](steer.png)", ""]
        lines += ["## Claims", ""]
        lines += claim_lines(results["claims"])
        return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``rewardkit bench steer-lab``: see the module docs."""
    return drive(SteerLab(), argv)
