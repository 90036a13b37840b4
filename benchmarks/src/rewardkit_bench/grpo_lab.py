"""The ``grpo-lab`` suite: reward shape, credit assignment and length designs, trained for real.

A tiny character-level GPT-2 is warm-started on procedural multi-step sums
(cached in ``runs/grpo-lab-cache``), then trained with rewardkit's GRPO
trainer under each design, three seeds each, with the same steps,
prompts, group size and maximum length (so at equal sampled tokens, except
PPPO, which also samples continuations of each prefix; the report counts
every design's sampled tokens). Greedy accuracy and
completion length are measured on held-out problems before and after.

Experiments:

- ``reward``: binary correctness vs graded closeness vs tiered closeness;
- ``credit``: GRPO, RLOO, Dr. GRPO, TEMPO, PPPO (whole: continuation
  accumulated reward and progressive prefix retention), PPPO's prefix
  retention alone, and sibling advantages;
- ``length``: no penalty vs a naive length penalty vs GRPO-λ vs HDPO (a
  brevity channel with its own advantage over correct samples only).

Run: ``rewardkit bench grpo-lab --jobs 2`` (``--quick``: one seed of
``credit``, fewer steps).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
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

__all__ = ["DESIGNS", "GrpoLab", "RunSpec", "main", "run_one"]

#: HDPO's channels: the reward parts whose advantages it keeps apart
HDPO_PARAMS = {"channels": ("correct", "length"), "weight": 0.15}

#: experiment -> design -> (reward design, estimator, estimator parameters)
DESIGNS: dict[str, dict[str, tuple[str, str, dict[str, Any]]]] = {
    "reward": {
        "binary": ("binary", "grpo", {}),
        "graded": ("graded", "grpo", {}),
        "tiered": ("tiered", "grpo", {}),
    },
    "credit": {
        "grpo": ("binary", "grpo", {}),
        "rloo": ("binary", "rloo", {}),
        "dr_grpo": ("binary", "dr_grpo", {}),
        "tempo": ("binary", "tempo", {}),
        "pppo": ("binary", "pppo", {"continuations": 8}),
        "prefix_retention": ("binary", "prefix_retention", {}),
        "sibling": ("binary", "sibling", {}),
    },
    "length": {
        "no_penalty": ("binary", "grpo", {}),
        "naive_penalty": ("naive_length", "grpo", {}),
        "grpo_lambda": ("grpo_lambda", "grpo", {}),
        "hdpo": ("channels", "hdpo", HDPO_PARAMS),
    },
}
MAX_NEW_TOKENS = 12
LENGTH_WEIGHT = 0.5
#: per lab task: the completion budget, and the warm start's supervised steps (chosen so
#: that its greedy accuracy lies in the lab's 15-40 % band)
TASK_SETTINGS: dict[str, dict[str, int]] = {
    "sums": {"max_new_tokens": MAX_NEW_TOKENS, "sft_steps": 100},
    "carries": {"max_new_tokens": 20, "sft_steps": 350},
    # reasoning-gym's chain_sum: 1,200 steps bring greedy accuracy to about 0.17 (350: 0.04)
    "chain_sum": {"max_new_tokens": 20, "sft_steps": 1200},
}


@dataclass(frozen=True)
class RunSpec:
    """One training run. ``model``: a local Hugging Face model folder instead of the tiny one."""

    experiment: str
    design: str
    seed: int
    steps: int
    model: str | None = None
    task: str = "sums"


def load_policy(model: str | None, task: str = "sums") -> tuple[Any, Any]:
    """The warm-started tiny GPT-2 (cached), or any local pretrained causal LM and tokenizer."""
    if model is None:
        from rewardkit_bench.warmstart import WarmStartSpec, load_or_train_warm_start

        spec = WarmStartSpec(task=task, sft_steps=TASK_SETTINGS[task]["sft_steps"])
        return load_or_train_warm_start(spec)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model, local_files_only=True)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return AutoModelForCausalLM.from_pretrained(model, local_files_only=True), tokenizer


_CORRECT = {"term": "arith_answer", "missing_score": 0.0, "name": "correct"}
_CLOSENESS = {"term": "arith_closeness", "scale": 5.0, "missing_score": 0.0, "name": "closeness"}


def reward_specs(max_new_tokens: int = MAX_NEW_TOKENS) -> dict[str, dict[str, Any]]:
    """The reward designs as specs, with the length terms over ``max_new_tokens``."""
    _LENGTH = {"term": "length_linear", "max_length": max_new_tokens, "unit": "tokens"}
    _WEIGHTED_LENGTH = {"affine": _LENGTH, "scale": LENGTH_WEIGHT, "name": "length"}
    return {
        "binary": _CORRECT,
        "graded": _CLOSENESS,
        "tiered": {
            "tiered": _CLOSENESS,
            "thresholds": [0.5, 0.8, 0.99],
            "rewards": [0.0, 0.1, 0.3, 1.0],
            "name": "tiered",
        },
        "naive_length": {"sum": [_CORRECT, _WEIGHTED_LENGTH], "name": "naive"},
        # GRPO-λ: the length penalty, on correct samples only, in groups at least 75 % correct
        "grpo_lambda": {
            "group_switch": _CORRECT,
            "penalty": {
                "conditional": _CORRECT,
                "then": _WEIGHTED_LENGTH,
                "otherwise": 0.0,
                "name": "length_on_correct",
            },
            "threshold": 0.75,
            "name": "grpo_lambda",
        },
        # HDPO reads the two parts as channels; the total is only logged
        "channels": {"sum": [_CORRECT, {**_LENGTH, "name": "length"}], "name": "reward"},
    }


#: reward designs as specs (``build_reward(spec, registry=rewardkit_bench.tasks.arithmetic.TERMS)``)
REWARDS: dict[str, dict[str, Any]] = reward_specs()


def build_reward(design: str, max_new_tokens: int = MAX_NEW_TOKENS) -> Any:
    """The reward term of a design, built from its spec (:func:`reward_specs`)."""
    from rewardkit.core.spec import build_reward as build
    from rewardkit_bench.tasks.arithmetic import TERMS

    specs = reward_specs(max_new_tokens)
    if design not in specs:
        raise ValueError(f"unknown reward design {design!r}; choose from {sorted(specs)}")
    return build(specs[design], registry=TERMS)


def run_one(spec: RunSpec) -> dict[str, Any]:
    """Warm start → GRPO → evaluation, in this process (one thread)."""
    import torch

    from rewardkit.train.grpo import GRPOConfig, GRPOTrainer, evaluate_greedy
    from rewardkit_bench.tasks.arithmetic import ArithmeticAnswer, task_problems

    torch.set_num_threads(1)
    start = time.monotonic()
    model, tokenizer = load_policy(spec.model, spec.task)
    budget = TASK_SETTINGS[spec.task]["max_new_tokens"]
    reward_design, estimator, estimator_params = DESIGNS[spec.experiment][spec.design]
    reward = build_reward(reward_design, budget)
    correct = ArithmeticAnswer(missing_score=0.0, name="correct")
    held_out = task_problems(spec.task, 300, seed=99_999)
    before = evaluate_greedy(model, tokenizer, held_out, correct, budget)
    train_rows = task_problems(spec.task, 2000, seed=spec.seed + 17)
    config = GRPOConfig(
        steps=spec.steps,
        prompts_per_step=8,
        group_size=8,
        max_new_tokens=budget,
        learning_rate=2e-4,
        estimator=estimator,
        estimator_params=dict(estimator_params),
        seed=spec.seed,
        loss_aggregation="token_mean",
    )
    trainer = GRPOTrainer(model, tokenizer, reward, train_rows, config, accuracy=correct)
    history = trainer.train()
    after = evaluate_greedy(model, tokenizer, held_out, correct, budget)
    return {
        "task": spec.task,
        "experiment": spec.experiment,
        "design": spec.design,
        "seed": spec.seed,
        "estimator": estimator,
        "reward": reward_design,
        "accuracy_before": before.accuracy,
        "accuracy_after": after.accuracy,
        "length_before": before.mean_length,
        "length_after": after.mean_length,
        "sampled_tokens": sum(r["sampled_tokens"] for r in history),
        "curve": _thin_curve(history),
        "seconds": time.monotonic() - start,
    }


def _thin_curve(history: list[dict[str, float]], every: int = 5) -> list[dict[str, float]]:
    """Every ``every``-th step (and the last), four decimals: keeps results.json small."""
    keys = ("step", "accuracy", "completion_length", "reward", "frac_reward_zero_std", "entropy")
    picked = history[every - 1 :: every] if len(history) >= every else history
    if history and picked[-1] is not history[-1]:
        picked.append(history[-1])
    return [{k: round(float(r[k]), 4) for k in keys} for r in picked]


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def _summaries(runs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    table: dict[str, dict[str, dict[str, float]]] = {}
    for run in runs:
        table.setdefault(run["experiment"], {}).setdefault(run["design"], {})
    for experiment, designs in table.items():
        for design in designs:
            mine = [r for r in runs if r["experiment"] == experiment and r["design"] == design]
            designs[design] = {
                "accuracy_before": _median([r["accuracy_before"] for r in mine]),
                "accuracy_after": _median([r["accuracy_after"] for r in mine]),
                "length_before": _median([r["length_before"] for r in mine]),
                "length_after": _median([r["length_after"] for r in mine]),
                "sampled_tokens": _median([r.get("sampled_tokens", math.nan) for r in mine]),
                "seeds": len(mine),
            }
    return table


def _targets(summary: dict[str, dict[str, dict[str, float]]]) -> dict[str, dict[str, Any]]:
    targets: dict[str, dict[str, Any]] = {}
    credit = summary.get("credit")
    if credit:
        improved = {d: s["accuracy_after"] > s["accuracy_before"] for d, s in credit.items()}
        targets["every estimator improves on the warm start"] = {
            "met": all(improved.values()),
            "detail": ", ".join(
                f"{d}: {s['accuracy_before']:.3f} -> {s['accuracy_after']:.3f}"
                for d, s in credit.items()
            ),
        }
        if "pppo" in credit and "grpo" in credit:
            pppo, grpo = credit["pppo"], credit["grpo"]
            targets["PPPO final accuracy >= GRPO's (paper: +9 points on Qwen3-4B)"] = {
                "met": pppo["accuracy_after"] >= grpo["accuracy_after"],
                "detail": f"{pppo['accuracy_after']:.3f} vs {grpo['accuracy_after']:.3f}, "
                f"sampling {pppo['sampled_tokens'] / grpo['sampled_tokens']:.1f}x GRPO's tokens",
            }
        if "tempo" in credit and "grpo" in credit:
            targets["TEMPO final accuracy >= GRPO's"] = {
                "met": credit["tempo"]["accuracy_after"] >= credit["grpo"]["accuracy_after"],
                "detail": f"{credit['tempo']['accuracy_after']:.3f} vs "
                f"{credit['grpo']['accuracy_after']:.3f}",
            }
    length = summary.get("length")
    if length and {"no_penalty", "naive_penalty", "grpo_lambda"} <= set(length):
        base, naive, gated = length["no_penalty"], length["naive_penalty"], length["grpo_lambda"]
        cut = 1 - gated["length_after"] / base["length_after"]
        gap = base["accuracy_after"] - gated["accuracy_after"]
        naive_gap = base["accuracy_after"] - naive["accuracy_after"]
        targets["GRPO-λ cuts length >= 30% within 2 points of no penalty"] = {
            "met": cut >= 0.30 and gap <= 0.02,
            "detail": f"length change {-cut:+.0%} vs no penalty "
            f"({gated['length_after']:.1f} vs {base['length_after']:.1f} tokens), accuracy "
            f"{gated['accuracy_after']:.3f} vs {base['accuracy_after']:.3f}",
        }
        targets["the naive penalty loses more accuracy than GRPO-λ"] = {
            "met": naive_gap > gap,
            "detail": f"naive {naive['accuracy_after']:.3f}, GRPO-λ {gated['accuracy_after']:.3f}",
        }
    if length and {"no_penalty", "hdpo"} <= set(length):
        base, hdpo = length["no_penalty"], length["hdpo"]
        cut = 1 - hdpo["length_after"] / base["length_after"]
        targets[
            "HDPO accuracy >= GRPO's without the efficiency channel (paper: up on every "
            "benchmark vs w_tool = 0)"
        ] = {
            "met": hdpo["accuracy_after"] >= base["accuracy_after"],
            "detail": f"{hdpo['accuracy_after']:.3f} vs {base['accuracy_after']:.3f}",
        }
        targets["HDPO is shorter than no penalty (paper: tool calls 98% -> 2%)"] = {
            "met": cut > 0.05,
            "detail": f"length change {-cut:+.0%} ({hdpo['length_after']:.2f} vs "
            f"{base['length_after']:.2f} tokens)",
        }
    return targets


def _plot(folder: RunFolder, runs: list[dict[str, Any]]) -> list[str]:
    plt = pyplot()
    if plt is None:
        return []
    names = []
    for experiment in dict.fromkeys(r["experiment"] for r in runs):
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
        for design in dict.fromkeys(r["design"] for r in runs if r["experiment"] == experiment):
            mine = [r for r in runs if r["experiment"] == experiment and r["design"] == design]
            for axis, key in zip(axes, ("accuracy", "completion_length"), strict=True):
                steps, series = median_curve(mine, "step", key)
                window = max(1, len(series) // 20)
                smooth = [
                    statistics.fmean(series[max(0, i - window + 1) : i + 1])
                    for i in range(len(series))
                ]
                axis.plot(steps, smooth, label=design)
        axes[0].set_title(f"{experiment}: training accuracy (median over seeds)")
        axes[1].set_title(f"{experiment}: completion length (tokens)")
        for axis in axes:
            axis.set_xlabel("step")
            axis.legend(fontsize=8)
        names.append(save_figure(plt, fig, folder, f"{experiment}.png"))
    return names


class GrpoLab(Suite):
    """The grpo-lab suite on the shared skeleton (see the module docs)."""

    name = "grpo-lab"
    description = __doc__
    quick_help = "one seed of credit, 200 steps"
    quick_sets = ("experiments", "seeds", "steps")
    options = ("seeds", "jobs", "rerender")

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--experiments", default="reward,credit,length")
        parser.add_argument("--steps", type=int, default=600)
        parser.add_argument(
            "--task",
            choices=sorted(TASK_SETTINGS),
            default="sums",
            help="sums (v1: 3-term sums, solved without steps) or carries (v2: 3-digit "
            "additions, where showing the column sums is what makes them solvable)",
        )
        parser.add_argument(
            "--model",
            default=None,
            help="a local Hugging Face causal LM folder to train instead of the tiny warm start",
        )

    def _settings(self, args: argparse.Namespace) -> tuple[list[str], int, int]:
        if args.quick:
            return ["credit"], 1, 200
        return [e.strip() for e in args.experiments.split(",")], args.seeds, args.steps

    def check(self, args: argparse.Namespace) -> str | None:
        unknown = set(self._settings(args)[0]) - set(DESIGNS)
        if unknown:
            return f"unknown experiments {sorted(unknown)}; choose from {sorted(DESIGNS)}"
        return None

    def command(self, args: argparse.Namespace) -> str:
        command = "rewardkit bench grpo-lab" + (
            " --quick" if args.quick else f" --jobs {args.jobs}"
        )
        if not args.quick and args.experiments != "reward,credit,length":
            command += f" --experiments {args.experiments}"
        return command + ("" if args.task == "sums" else f" --task {args.task}")

    def prepare(self, args: argparse.Namespace) -> None:
        load_policy(args.model, args.task)  # train and cache the warm start once, before the pool

    def plan(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> list[RunSpec]:
        if runs:
            return []
        experiments, seeds, steps = self._settings(args)
        return [
            RunSpec(e, d, s, steps, args.model, args.task)
            for e in experiments
            for d in DESIGNS[e]
            for s in range(seeds)
        ]

    def run_unit(self, unit: RunSpec) -> dict[str, Any]:
        return run_one(unit)

    def describe(self, run: dict[str, Any]) -> str:
        return (
            f"{run['experiment']}/{run['design']} seed {run['seed']}: accuracy "
            f"{run['accuracy_before']:.3f} -> {run['accuracy_after']:.3f}, length "
            f"{run['length_before']:.1f} -> {run['length_after']:.1f} ({run['seconds']:.0f}s)"
        )

    def record(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
        _, seeds, steps = self._settings(args)
        return {
            "steps": steps,
            "seeds": seeds,
            "task": args.task,
            "environment": environment(),
            "runs": runs,
        }

    def summarize(self, results: dict[str, Any]) -> dict[str, Any]:
        runs = sorted(results["runs"], key=lambda r: (r["experiment"], r["design"], r["seed"]))
        summary = _summaries(runs)
        return {"runs": runs, "summary": summary, "targets": _targets(summary)}

    def plot(self, folder: RunFolder, results: dict[str, Any]) -> list[str]:
        return _plot(folder, results["runs"])

    def report(self, results: dict[str, Any], plots: list[str]) -> str:
        return _report(results, plots)


def _design_rows(experiment: str, budget: int = MAX_NEW_TOKENS) -> list[list[str]]:
    rows = []
    for design, (reward, estimator, params) in DESIGNS[experiment].items():
        config = f"estimator={estimator!r}" + (f", estimator_params={params!r}" if params else "")
        spec = json.dumps(reward_specs(budget)[reward])
        rows.append([design, f"`{spec}`", f"`GRPOConfig({config})`"])
    return rows


def _report(results: dict[str, Any], plots: list[str]) -> str:
    steps, seeds = results["steps"], results["seeds"]
    task = results.get("task", "sums")
    budget = TASK_SETTINGS[task]["max_new_tokens"]
    described = {
        "sums": "3-term sums (task v1)",
        "carries": "3-digit additions with carries (task v2)",
        "chain_sum": "reasoning-gym's chain_sum (3 numbers of 1-2 digits, + and -)",
    }[task]
    lines = [
        "# grpo-lab",
        "",
        f"Regenerate: `{results['command']}`",
        "",
        f"Tiny char-level GPT-2 warm-started on {described}; {steps} GRPO steps of 8 prompts x "
        f"8 completions (max {budget} tokens) per run, {seeds} seed(s); greedy "
        "accuracy and length on 300 held-out problems, medians over seeds. Sampled tokens "
        "count the tokens of every completion the policy sampled in training, PPPO's "
        "continuations included (up to the length budget).",
        "",
    ]
    headers = ["design", "accuracy before", "accuracy after", "length before", "length after"]
    for experiment, designs in results["summary"].items():
        rows = [
            [
                d,
                f"{s['accuracy_before']:.3f}",
                f"{s['accuracy_after']:.3f}",
                f"{s['length_before']:.1f}",
                f"{s['length_after']:.1f}",
                f"{s.get('sampled_tokens', math.nan):,.0f}",
            ]
            for d, s in designs.items()
        ]
        lines += [f"## {experiment}", "", markdown_table([*headers, "sampled tokens"], rows), ""]
        if f"{experiment}.png" in plots:
            lines += [f"![{experiment}]({experiment}.png)", ""]
    lines += ["## Targets", ""]
    lines += [
        f"- {name}: {'met' if t['met'] else 'NOT MET'} ({t['detail']})"
        for name, t in results["targets"].items()
    ]
    lines += [
        "",
        "## Designs",
        "",
        "Each reward is a spec: `build_reward(spec, "
        "registry=rewardkit_bench.tasks.arithmetic.TERMS)` (the global terms plus the "
        "task's `arith_answer` and `arith_closeness`); the same keys "
        "work in a TOML or YAML file.",
        "",
    ]
    for experiment in results["summary"]:
        table = markdown_table(["design", "reward", "credit"], _design_rows(experiment, budget))
        lines += [f"### {experiment}", "", table, ""]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``rewardkit bench grpo-lab``: see the module docs."""
    return drive(GrpoLab(), argv)
