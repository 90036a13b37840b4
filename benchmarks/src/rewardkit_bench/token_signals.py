"""``rewardkit bench token-signals``: rewards and estimators from the policy's own signals.

Two halves, each a set of units in one run:

- **training** (:mod:`rewardkit_bench.token_signals_train`): the char-level
  lab (task v2 ``carries`` and reasoning-gym's ``chain_sum``), ``--seeds``
  seeds, ``--steps`` GRPO steps of 8 prompts x 8 completions a design (equal
  samples): binary GRPO vs the likelihood rewards with no verifier and with
  one; PEAR vs GRPO-λ for length; the signal estimators vs GRPO; greedy
  accuracy, length, pass@k (k up to 64) and distinct answers before and after;
- **real model** (:mod:`rewardkit_bench.token_signals_real`): SmolLM2-135M-Instruct
  scoring its own answers (the real-output corpus): AUC of the likelihood
  reward, RLP's information gain, RLFR's flow reward and PEAR's entropy
  against the labels.

Figures are medians over seeds. Full run: about 45 minutes with ``--jobs 2``
on two idle cores; ``--quick``: one seed, 40 steps, carries only, 10 questions.

Run: ``rewardkit bench token-signals --jobs 2``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, ClassVar

from rewardkit_bench.runner import RunFolder, Suite, drive, environment

__all__ = ["TokenSignals", "main"]

TASKS = ("carries", "chain_sum")


def _key(run: dict[str, Any]) -> tuple[Any, ...]:
    if run["kind"] == "train":
        return ("train", run["task"], run["design"], run["seed"])
    return (run["kind"], run.get("task"))


class TokenSignals(Suite):
    """The token-signals suite (see the module docs)."""

    name: ClassVar[str] = "token-signals"
    description: ClassVar[str | None] = __doc__
    quick_help: ClassVar[str] = "one seed, 40 steps, carries only, 10 questions of the corpus"
    quick_sets: ClassVar[tuple[str, ...]] = ("seeds", "steps", "tasks", "questions")
    options: ClassVar[tuple[str, ...]] = ("seeds", "jobs", "resume", "rerender")

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--steps", type=int, default=300, help="GRPO steps a run")
        parser.add_argument("--tasks", default=",".join(TASKS), help="lab tasks, comma-separated")
        parser.add_argument(
            "--questions", type=int, default=50, help="corpus questions a task (real model)"
        )
        parser.add_argument("--corpus", default=None, help="the real-output corpus (jsonl)")
        parser.add_argument("--designs", default=None, help="only these designs (comma-separated)")

    def _settings(self, args: argparse.Namespace) -> dict[str, Any]:
        from rewardkit_bench.token_signals_train import DESIGNS

        designs = list(DESIGNS) if not args.designs else args.designs.split(",")
        if args.quick:
            return {"seeds": 1, "steps": 40, "tasks": ["carries"], "questions": 10,
                    "designs": designs}  # fmt: skip
        return {
            "seeds": args.seeds, "steps": args.steps, "tasks": args.tasks.split(","),
            "questions": args.questions, "designs": designs,
        }  # fmt: skip

    def check(self, args: argparse.Namespace) -> str | None:
        from rewardkit_bench.token_signals_train import DESIGNS

        settings = self._settings(args)
        unknown = set(settings["tasks"]) - set(TASKS)
        if unknown:
            return f"unknown tasks {sorted(unknown)}; choose from {list(TASKS)}"
        wrong = set(settings["designs"]) - set(DESIGNS)
        if wrong:
            return f"unknown designs {sorted(wrong)}; choose from {sorted(DESIGNS)}"
        if settings["steps"] < 1 or settings["questions"] < 1:
            return "--steps and --questions must be >= 1"
        return None

    def command(self, args: argparse.Namespace) -> str:
        if args.quick:
            return "rewardkit bench token-signals --quick"
        return f"rewardkit bench token-signals --jobs {args.jobs}"

    def prepare(self, args: argparse.Namespace) -> None:
        from rewardkit_bench.grpo_lab import load_policy
        from rewardkit_bench.real_rm import _corpus_path

        self.corpus = str(_corpus_path(args.corpus, suite="token-signals"))
        for task in self._settings(args)["tasks"]:
            load_policy(None, task)  # train and cache each warm start once, before the pool

    def plan(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> list[Any]:
        from rewardkit_bench.token_signals_train import TrainSpec

        settings = self._settings(args)
        done = {_key(r) for r in runs}
        units: list[Any] = []
        if ("real", None) not in done:
            units.append(("real", self.corpus, settings["questions"]))
        for task in settings["tasks"]:
            if ("before", task) not in done:
                units.append(("before", task))
        for task in settings["tasks"]:
            for seed in range(settings["seeds"]):
                for design in settings["designs"]:
                    if ("train", task, design, seed) not in done:
                        units.append(TrainSpec(task, design, seed, settings["steps"]))
        return units

    def run_unit(self, unit: Any) -> dict[str, Any]:
        from rewardkit_bench.token_signals_real import run_real
        from rewardkit_bench.token_signals_train import run_before, run_training

        if isinstance(unit, tuple) and unit[0] == "real":
            return run_real(unit[1], unit[2])
        if isinstance(unit, tuple) and unit[0] == "before":
            return run_before(unit[1])
        return run_training(unit)

    def describe(self, run: dict[str, Any]) -> str | None:
        if run["kind"] == "real":
            aucs = ", ".join(f"{k}: {v['auc_pooled']:.3f}" for k, v in run["signals"].items())
            return f"real model, {run['rows']} answers: AUC {aucs} ({run['seconds']:.0f}s)"
        if run["kind"] == "before":
            return f"{run['task']} warm start: accuracy {run['accuracy']:.3f}"
        after = run["after"]
        return (
            f"{run['task']}/{run['design']} seed {run['seed']}: accuracy {after['accuracy']:.3f}, "
            f"pass@64 {after['pass_at_k']['64']:.3f}, length {after['length']:.1f} "
            f"({run['seconds']:.0f}s)"
        )

    def record(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
        return {**self._settings(args), "environment": environment(), "runs": runs}

    def summarize(self, results: dict[str, Any]) -> dict[str, Any]:
        from rewardkit_bench.token_signals_report import summarize

        return summarize(results)

    def plot(self, folder: RunFolder, results: dict[str, Any]) -> list[str]:
        from rewardkit_bench.token_signals_report import plot

        return plot(folder, results)

    def report(self, results: dict[str, Any], plots: list[str]) -> str | None:
        from rewardkit_bench.token_signals_report import render

        return render(results, plots)


def main(argv: Sequence[str] | None = None) -> int:
    """``rewardkit bench token-signals``: see the module docs."""
    return drive(TokenSignals(), argv)
