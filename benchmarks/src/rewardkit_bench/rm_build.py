"""``rewardkit bench rm-lab``: building reward models, and keeping them honest in the loop.

Two halves, each a set of units in one run:

- **building** (:mod:`rewardkit_bench.rm_build_real`): on SmolLM2-135M-Instruct's frozen
  features of its own answers (the real-output corpus), per seed (a split of the
  questions): BaseReward-style heads (depth, activation, an ensemble), Ctrl-U-style
  uncertainty weighting, HERON's factor-tree labels, and VPL on planted users, each
  against the linear Bradley–Terry head, on held-out questions; a POLAR-style RM
  pretrained on a SmolLM2 policy zoo (:mod:`rewardkit_bench.rm_build_polar`); a
  BR-RM-style two-turn judge against the one-turn judge, SmolLM2 judging
  (:mod:`rewardkit_bench.rm_build_judge`, one unit);
- **in the loop** (:mod:`rewardkit_bench.rm_build_loop`): the char-level lab on
  ``chain_sum``, GRPO with a learned PRM's step rewards as they are, clipped, delta'd or
  both, against outcome-only GRPO, the gold verifier watching; and the planted
  step-repeat exploit under each refinement; Cooper-style online RM updates, BRAIn-style
  training and GRPO with a KL penalty against the same RM frozen
  (:mod:`rewardkit_bench.rm_build_cooper`); tree-structured against chain pairs
  (:mod:`rewardkit_bench.rm_build_tree`); HERON on LunarLander's reward factors in the
  delayed-credit harness (:mod:`rewardkit_bench.rm_build_heron`).

Figures are medians over seeds. Full run: 73 minutes with ``--jobs 2`` from an empty
cache, on two cores shared with other work for its last 44 minutes (the set-up runs as pool
units; see :meth:`RMBuild.plan`); our three loop ablations run only with ``--designs all``.
``--quick``: one seed, 20 steps, two designs, 15 questions a task.

Run: ``rewardkit bench rm-lab --jobs 2``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from rewardkit_bench.runner import RunFolder, Suite, drive, environment

__all__ = ["RMBuild", "main"]

QUICK_QUESTIONS = 15
#: the pseudo-design that runs the tree-against-chain comparison (one unit a seed)
TREE = "tree_vs_chain"
#: the pseudo-design of HERON on LunarLander (one PPO run per HERON design and seed)
HERON = "heron_lunar"
#: the pseudo-design of the POLAR-style RM on SmolLM2's features (one unit a seed)
POLAR = "polar"
#: the pseudo-design of the two-turn (BR-RM-style) judge against the one-turn one (one unit)
JUDGE = "two_turn_judge"
#: the pseudo-designs that are not GRPO loop designs
PSEUDO = (TREE, HERON, POLAR, JUDGE)
#: our ablations of the loop (Clip at η = 0.5, whole-solution PRM credit): run with
#: ``--designs all`` or by name; left out of the default run to keep it inside an hour
ABLATIONS = ("prm_clip_half", "prm_solution", "prm_delta_solution")


def _all_designs() -> list[str]:
    from rewardkit_bench.rm_build_cooper import COOPER_DESIGNS
    from rewardkit_bench.rm_build_loop import DESIGNS, OPRL

    return [*DESIGNS, OPRL, *COOPER_DESIGNS, *PSEUDO]


def _default_designs() -> list[str]:
    return [d for d in _all_designs() if d not in ABLATIONS]


def _uses_prm(design: str) -> bool:
    return design.startswith("prm")


def _key(run: dict[str, Any]) -> tuple[Any, ...]:
    return (run["kind"], run.get("design"), run.get("seed"))


class RMBuild(Suite):
    """The rm-lab suite (see the module docs)."""

    name: ClassVar[str] = "rm-lab"
    description: ClassVar[str | None] = __doc__
    quick_help: ClassVar[str] = (
        f"one seed, 20 steps, outcome and prm_clip only, {QUICK_QUESTIONS} questions a task"
    )
    quick_sets: ClassVar[tuple[str, ...]] = ("seeds", "steps", "designs")
    options: ClassVar[tuple[str, ...]] = ("seeds", "jobs", "resume", "rerender")

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--steps", type=int, default=300, help="GRPO steps a run")
        parser.add_argument(
            "--designs",
            default=None,
            help="only these designs (comma-separated); 'all' adds our ablations "
            f"{', '.join(ABLATIONS)} to the default set",
        )
        parser.add_argument("--corpus", default=None, help="the real-output corpus (jsonl)")

    def _settings(self, args: argparse.Namespace) -> dict[str, Any]:
        if not args.designs:
            designs = _default_designs()
        elif args.designs == "all":
            designs = _all_designs()
        else:
            designs = args.designs.split(",")
        if args.quick:
            return {"seeds": 1, "steps": 20, "designs": ["outcome", "prm_clip"],
                    "questions": QUICK_QUESTIONS}  # fmt: skip
        return {"seeds": args.seeds, "steps": args.steps, "designs": designs, "questions": None}

    def check(self, args: argparse.Namespace) -> str | None:
        settings = self._settings(args)
        wrong = set(settings["designs"]) - set(_all_designs())
        if wrong:
            return f"unknown designs {sorted(wrong)}; choose from {_all_designs()}"
        if settings["steps"] < 1:
            return "--steps must be >= 1"
        return None

    def command(self, args: argparse.Namespace) -> str:
        if args.quick:
            return "rewardkit bench rm-lab --quick"
        return f"rewardkit bench rm-lab --seeds {args.seeds} --jobs {args.jobs}"

    def prepare(self, args: argparse.Namespace) -> None:
        from rewardkit_bench.real_rm import _corpus_path

        self.corpus = str(_corpus_path(args.corpus, suite="rm-lab"))
        self.questions = self._settings(args)["questions"]

    def plan(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> list[Any]:
        """Three stages, each a pool of units, so that the set-up runs beside other work:

        1. SmolLM2's features (one unit; cached), the warm start (cached), and the units
           that need neither (the judge, HERON);
        2. with those cached: the PRMs and Cooper's reference RMs (cached), and the
           units that need only the features or the warm start;
        3. with the PRMs and RMs cached: the exploit tables and the GRPO runs.
        """
        from rewardkit_bench.rm_build_cooper import COOPER_DESIGNS
        from rewardkit_bench.rm_build_loop import LoopSpec
        from rewardkit_bench.rm_build_tree import TreeSpec

        settings = self._settings(args)
        designs = settings["designs"]
        done = {_key(r) for r in runs}
        seeds = range(settings["seeds"])
        first: list[Any] = [u for u in (("features", None), ("warmstart", None))
                            if (u[0], None, None) not in done]  # fmt: skip
        if JUDGE in designs and not any(key[0] == "judge" for key in done):
            first.append(("judge", None))
        if HERON in designs:
            from rewardkit_bench.rm_build_heron import HERON_DESIGNS

            first += [("heron", d, seed) for seed in seeds for d in HERON_DESIGNS
                      if ("heron", d, seed) not in done]  # fmt: skip
        if any(u[0] in ("features", "warmstart") for u in first):
            return first
        second: list[Any] = []
        for seed in seeds:
            if any(_uses_prm(d) for d in designs) and ("fit", "prm", seed) not in done:
                second.append(("fit", "prm", seed))
            if set(COOPER_DESIGNS) & set(designs) and ("fit", "reference_rm", seed) not in done:
                second.append(("fit", "reference_rm", seed))
        fitted = not second
        for seed in seeds:
            if ("build", None, seed) not in done:
                second.append(("build", seed))
            if POLAR in designs and ("polar", None, seed) not in done:
                second.append(("polar", seed))
            if TREE in designs and ("tree", None, seed) not in done:
                second.append(TreeSpec(seed, settings["steps"]))
        if ("before", None, None) not in done:
            second.append(("before", None))
        # the longest units first (the tree units, about 200 s each), so no core idles
        # at the end of the stage while one finishes
        second.sort(key=lambda unit: not isinstance(unit, TreeSpec))
        if not fitted:
            return first + second
        third: list[Any] = []
        for seed in seeds:
            if any(_uses_prm(d) for d in designs) and ("exploit", None, seed) not in done:
                third.append(("exploit", seed))
            for design in designs:
                if design not in PSEUDO and ("train", design, seed) not in done:
                    third.append(LoopSpec(design, seed, settings["steps"]))
        return first + second + third

    def run_unit(self, unit: Any) -> dict[str, Any]:
        from rewardkit_bench.rm_build_cooper import COOPER_DESIGNS, run_cooper
        from rewardkit_bench.rm_build_loop import exploit_table, run_before, run_loop
        from rewardkit_bench.rm_build_real import labelled_rows, read_last_layer, run_build
        from rewardkit_bench.rm_build_tree import TreeSpec, run_tree

        if isinstance(unit, tuple) and unit[0] in ("features", "warmstart", "fit"):
            return self._set_up(unit)
        if isinstance(unit, tuple) and unit[0] == "build":
            rows = labelled_rows(Path(self.corpus), self.questions)
            return run_build(rows, read_last_layer(rows), unit[1])
        if isinstance(unit, tuple) and unit[0] == "before":
            return run_before()
        if isinstance(unit, tuple) and unit[0] == "exploit":
            return exploit_table(unit[1])
        if isinstance(unit, tuple) and unit[0] == "heron":
            from rewardkit_bench.rm_build_heron import FRAMES, run_heron

            return {"kind": "heron"} | run_heron((unit[1], FRAMES, unit[2]))
        if isinstance(unit, tuple) and unit[0] == "polar":
            from rewardkit_bench.rm_build_polar import run_polar_unit

            return {"kind": "polar", "seed": unit[1]} | run_polar_unit(unit[1])
        if isinstance(unit, tuple) and unit[0] == "judge":
            from rewardkit_bench.rm_build_judge import run_two_turn

            return run_two_turn() | {"kind": "judge"}
        if isinstance(unit, TreeSpec):
            return run_tree(unit)
        if unit.design in COOPER_DESIGNS:
            return run_cooper(unit)
        return run_loop(unit)

    def _set_up(self, unit: tuple[Any, ...]) -> dict[str, Any]:
        """A cached set-up step as a unit: its record says what it made and how long."""
        import time

        started = time.monotonic()
        if unit[0] == "features":
            from rewardkit_bench.rm_build_polar import reference_rows, zoo_rows
            from rewardkit_bench.rm_build_real import labelled_rows, read_last_layer

            rows = labelled_rows(Path(self.corpus), self.questions)
            read_last_layer(rows, threads=1)  # one job of two: one thread each
            if self.questions is None:  # the POLAR units' features (full runs only), on
                from rewardkit_bench.real_rm import CORPUS  # the shipped corpus they read

                polar_rows = labelled_rows(CORPUS)
                read_last_layer(polar_rows, threads=1)
                read_last_layer(zoo_rows(), threads=1)
                read_last_layer(reference_rows(polar_rows), threads=1)
            record: dict[str, Any] = {"kind": "features"}
        elif unit[0] == "warmstart":
            from rewardkit_bench.grpo_lab import load_policy
            from rewardkit_bench.rm_build_loop import TASK

            load_policy(None, TASK)
            record = {"kind": "warmstart"}
        elif unit[1] == "prm":
            from rewardkit_bench.rm_build_loop import fit_prm

            fit_prm(unit[2])
            record = {"kind": "fit", "design": "prm", "seed": unit[2]}
        else:
            from rewardkit_bench.rm_build_cooper import fit_reference_rm

            fit_reference_rm(unit[2])
            record = {"kind": "fit", "design": "reference_rm", "seed": unit[2]}
        return record | {"seconds": time.monotonic() - started}

    def describe(self, run: dict[str, Any]) -> str | None:
        if run["kind"] in ("features", "warmstart", "fit"):
            what = " ".join(str(run[k]) for k in ("kind", "design", "seed") if k in run)
            return f"set-up: {what} ({run['seconds']:.0f}s)"
        if run["kind"] == "build":
            accuracy = run["accuracy"]["controlled"]
            best = max(accuracy, key=lambda name: accuracy[name])
            return (
                f"building, seed {run['seed']}: best style-controlled {best} "
                f"{accuracy[best]:.3f} ({run['seconds']:.0f}s)"
            )
        if run["kind"] == "tree":
            return (
                f"tree vs chain, seed {run['seed']}: RM {run['tree']['rm_held_out']:.3f} vs "
                f"{run['chain']['rm_held_out']:.3f}, policy {run['tree']['accuracy']:.3f} vs "
                f"{run['chain']['accuracy']:.3f}, win rate {run['win_rate']:.3f} "
                f"({run['seconds']:.0f}s)"
            )
        if run["kind"] == "heron":
            return (f"HERON on LunarLander, {run['design']} seed {run['seed']}: final return "
                    f"{run['final']:.1f} ({run['seconds']:.0f}s)")  # fmt: skip
        if run["kind"] in ("polar", "judge"):
            return f"{run['kind']} ({run.get('seconds', 0):.0f}s)"
        if run["kind"] == "before":
            return f"warm start: accuracy {run['accuracy']:.3f}, {run['steps']:.2f} steps"
        if run["kind"] == "exploit":
            returns = run["returns"]
            return "planted repeats, seed {}: return at r=0→4: {}".format(
                run["seed"],
                ", ".join(f"{k} {v['0']:.2f}→{v['4']:.2f}" for k, v in returns.items()),
            )
        after = run["after"]
        return (
            f"{run['design']} seed {run['seed']}: accuracy {after['accuracy']:.3f}, "
            f"{after['steps']:.2f} steps, repeats {after['repeat_rate']:.3f} "
            f"({run['seconds']:.0f}s)"
        )

    def record(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
        return {**self._settings(args), "quick": args.quick, "environment": environment(),
                "runs": runs}  # fmt: skip

    def summarize(self, results: dict[str, Any]) -> dict[str, Any]:
        from rewardkit_bench.rm_build_report import summarize

        return summarize(results)

    def plot(self, folder: RunFolder, results: dict[str, Any]) -> list[str]:
        from rewardkit_bench.rm_build_report import plot

        return plot(folder, results)

    def report(self, results: dict[str, Any], plots: list[str]) -> str | None:
        from rewardkit_bench.rm_build_report import render

        return render(results, plots)


def main(argv: Sequence[str] | None = None) -> int:
    """``rewardkit bench rm-lab``: see the module docs."""
    return drive(RMBuild(), argv)
