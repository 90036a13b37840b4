"""The ``rm-overoptimization`` suite: a learned reward hacked by best-of-n and by RL, measured.

Gold is the lab task's verifier (task v2, 3-digit additions with carries).
The proxies are reward models trained on preference pairs of the warm-started
tiny policy's own completions, labelled by the gold verifier (with a
label-noise knob), at two data sizes. Per seed (see :mod:`rewardkit_bench.rm_lab`):

1. the reward models: plain Bradley–Terry at both sizes, an ensemble on
   bootstrap samples of the larger set, and a generative yes-token model; held-out
   pair accuracy, training time per 1k pairs and scoring throughput;
2. best-of-n for n = 1…64: gold and proxy vs KL_bon = log n − (n−1)/n, with
   Gao et al.'s d(α − βd) fitted to the gold gain;
3. GRPO against each design (the plain RM, ensemble-min, mean − λ·std, PAR, a
   KL penalty, the generative RM, the small-data RM, and the gold itself as
   the reference), with gold, proxy and d = √KL(π‖π_init) measured on
   held-out prompts every few steps, d(α − β log d) fitted, and
   ``HackingMonitor``'s proxy/gold divergence replayed over the curve;
4. ``rewardkit audit probe`` with the master-key battery against each RM.

The report says which of Gao et al.'s, PAR's and the ensemble papers' claims
were reproduced. Run: ``rewardkit bench rm-overoptimization --jobs 2``
(``--quick``: one seed, smaller data, three designs, 60 steps).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from rewardkit.audit.overoptimization import fit_gao
from rewardkit_bench.rm_claims import analyse_run, judge, median
from rewardkit_bench.rm_lab import (
    DESIGNS,
    SELECTORS,
    LabSettings,
    ModelsUnit,
    PolicyUnit,
    quick_settings,
)
from rewardkit_bench.rm_lab_models import train_models
from rewardkit_bench.rm_lab_policy import train_policy
from rewardkit_bench.runner import (
    RunFolder,
    Suite,
    drive,
    environment,
    pyplot,
    save_figure,
)

__all__ = ["RmOveroptimization", "main"]

#: what each RL design optimizes, for the report
DESIGN_TEXT = {
    "gold": "the gold verifier itself (the reference: no proxy to hack)",
    "rm_small": "the plain RM trained on the small pair set",
    "rm": "the plain RM trained on the large pair set (the proxy)",
    "ensemble_min": "the minimum over the ensemble's members (each standardized on the "
    "initial policy's samples)",
    "ensemble_mean_std": "ensemble mean − λ·std (λ = 1, standardized members)",
    "rm_dr": "the plain RM, with Dr. GRPO's advantages (centred, not divided by the group's std)",
    "par": "PAR: σ(r − r_ref), r_ref the RM's score of an initial-policy completion",
    "par_dr": "PAR, with Dr. GRPO's advantages (so its bound is not undone by the std scaling)",
    "kl_penalty": "the plain RM with a per-token KL penalty to the initial policy",
    "generative": "the generative yes-token RM's P(yes)",
}


def _models_summary(models: list[dict[str, Any]]) -> dict[str, Any]:
    accuracy = {
        name: median([m["accuracy"][name] for m in models]) for name in models[0]["accuracy"]
    }
    bon: dict[str, Any] = {}
    for name in SELECTORS:
        curves = [m["best_of_n"][name] for m in models]
        first = curves[0]
        gold = [median([c["gold"][i] for c in curves]) for i in range(len(first["n"]))]
        proxy = [median([c["proxy"][i] for c in curves]) for i in range(len(first["n"]))]
        d = [k**0.5 for k in first["kl"]]
        bon[name] = {
            "n": first["n"], "d": d, "gold": gold, "proxy": proxy,
            "fit": fit_gao(d, [g - gold[0] for g in gold], "bon").to_dict(),
        }  # fmt: skip
    probes: dict[str, Any] = {}
    for name in dict.fromkeys(n for m in models for n in m["probes"]):
        mine = [m["probes"][name] for m in models if name in m["probes"]]
        probes[name] = {probe: median([p["fpr"][probe] for p in mine]) for probe in mine[0]["fpr"]}
    return {
        "accuracy": accuracy,
        "accuracy_rises_by_seed": [m["accuracy"]["rm"] > m["accuracy"]["rm_small"] for m in models],
        "pairs_train": median([m["pairs"]["train"] for m in models]),
        "sample_accuracy": median([m["sample_accuracy"] for m in models]),
        "training_seconds_per_1k_pairs": median(
            [m["training_seconds_per_1k_pairs"]["rm"] for m in models]
        ),
        "generative_training_seconds": median([m["generative_training_seconds"] for m in models]),
        "rm_completions_per_s": median([m["throughput"]["rm_completions_per_s"] for m in models]),
        "generative_completions_per_s": median(
            [m["throughput"]["generative_completions_per_s"] for m in models]
        ),
        "best_of_n": bon,
        "probes": probes,
        "probe_thresholds": {
            name: median([m["probes"][name]["threshold"] for m in models if name in m["probes"]])
            for name in probes
        },
    }


def _median_curve(runs: list[dict[str, Any]], key: str) -> list[float]:
    length = min(len(r["curve"]) for r in runs)
    return [median([r["curve"][i][key] for r in runs]) for i in range(length)]


def _policy_summary(runs: list[dict[str, Any]], eval_n: int, window: int) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for design in dict.fromkeys(r["design"] for r in runs):
        mine = [r for r in runs if r["design"] == design]
        seen = [analyse_run(r, eval_n, window) for r in mine]
        fits = [
            fit_gao(
                [p["d"] for p in r["curve"]],
                [p["gold"] - r["curve"][0]["gold"] for p in r["curve"]],
                "rl",
            ).to_dict()
            for r in mine
        ]
        table[design] = {
            "seeds": len(mine),
            **{key: median([a[key] for a in seen])
               for key in ("gold_start", "gold_peak", "gold_peak_step", "gold_final")},
            **{key: sum(a[key] for a in seen)
               for key in ("gained", "fell", "kept", "monitor_in_time", "false_alarms")},
            "fell_step": median([a["fell_step"] for a in seen]),
            "monitor_step": median([a["monitor_step"] for a in seen]),
            "monitor_fired": sum(a["monitor_step"] is not None for a in seen),
            "gao_by_seed": [
                a["gained"] and a["fell"] and a["proxy_rises_after_peak"] for a in seen
            ],
            "proxy_initial": median([r["proxy_initial"] for r in mine]),
            "proxy_final": median([r["proxy_final"] for r in mine]),
            "kl_final": median([r["kl_final"] for r in mine]),
            "fit": {
                key: median([f[key] for f in fits]) for key in ("alpha", "beta", "r2", "d_peak")
            },
            "steps": [p["step"] for p in mine[0]["curve"]],
            "gold_curve": _median_curve(mine, "gold"),
            "proxy_curve": _median_curve(mine, "proxy"),
            "d_curve": _median_curve(mine, "d"),
        }  # fmt: skip
    return table


def _monitor_windows(runs: list[dict[str, Any]], eval_n: int) -> dict[str, dict[str, int]]:
    """The monitor's record over every run at other window lengths (in evaluations)."""
    table = {}
    for window in (2, 3, 4, 6):
        seen = [analyse_run(r, eval_n, window) for r in runs]
        table[str(window)] = {
            "fell": sum(a["fell"] for a in seen),
            "in_time": sum(a["monitor_in_time"] for a in seen),
            "false_alarms": sum(a["false_alarms"] for a in seen),
        }
    return table


def _plot(folder: RunFolder, results: dict[str, Any]) -> list[str]:
    plt = pyplot()
    if plt is None:
        return []
    names = []
    bon = results["models"]["best_of_n"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for name, curve in bon.items():
        axes[0].plot(curve["d"], curve["gold"], marker="o", label=name)
        if name != "gold":
            axes[1].plot(curve["d"], curve["proxy"], marker="o", label=name)
    axes[0].set_title("best-of-n: gold (median over seeds)")
    axes[1].set_title("best-of-n: the selector's own score")
    for axis in axes:
        axis.set_xlabel("d = sqrt(KL_bon), n = 1 ... 64")
        axis.legend(fontsize=8)
    names.append(save_figure(plt, fig, folder, "best_of_n.png"))
    policy = results["policy"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    for design, entry in policy.items():
        axes[0].plot(entry["steps"], entry["gold_curve"], label=design)
        axes[1].plot(entry["steps"], entry["proxy_curve"], label=design)
        axes[2].plot(entry["d_curve"], entry["gold_curve"], marker=".", label=design)
    axes[0].set_title("RL: gold on held-out prompts")
    axes[1].set_title("RL: plain proxy RM on held-out prompts")
    axes[2].set_title("RL: gold vs d = sqrt(KL(pi || pi_init))")
    axes[0].set_xlabel("step")
    axes[1].set_xlabel("step")
    axes[2].set_xlabel("d")
    for axis in axes:
        axis.legend(fontsize=7)
    names.append(save_figure(plt, fig, folder, "rl.png"))
    return names


class RmOveroptimization(Suite):
    """The rm-overoptimization suite (see the module docs)."""

    name = "rm-overoptimization"
    description = __doc__
    quick_help = "one seed, smaller data, the plain RM, ensemble-min and PAR for 60 steps"
    quick_sets = ("seeds", "steps", "designs")
    options = ("seeds", "jobs", "rerender")

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        defaults = LabSettings()
        parser.add_argument("--steps", type=int, default=defaults.steps)
        parser.add_argument("--designs", default=",".join(DESIGNS))
        parser.add_argument(
            "--label-noise",
            type=float,
            default=defaults.label_noise,
            help="share of preference pairs with chosen and rejected swapped (0 to 0.5)",
        )

    def settings(self, args: argparse.Namespace) -> LabSettings:
        if args.quick:
            return replace(quick_settings(), label_noise=args.label_noise)
        designs = tuple(d.strip() for d in args.designs.split(",") if d.strip())
        return replace(
            LabSettings(), steps=args.steps, designs=designs, label_noise=args.label_noise
        )

    def seeds(self, args: argparse.Namespace) -> int:
        return 1 if args.quick else int(args.seeds)

    def check(self, args: argparse.Namespace) -> str | None:
        unknown = set(self.settings(args).designs) - set(DESIGNS)
        if unknown:
            return f"unknown designs {sorted(unknown)}; choose from {list(DESIGNS)}"
        if args.steps < 1:
            return "--steps must be positive"
        if not 0.0 <= args.label_noise <= 0.5:
            return "--label-noise must be in [0, 0.5]"
        return None

    def command(self, args: argparse.Namespace) -> str:
        command = "rewardkit bench rm-overoptimization"
        command += " --quick" if args.quick else f" --jobs {args.jobs}"
        if args.label_noise:
            command += f" --label-noise {args.label_noise:g}"
        return command

    def prepare(self, args: argparse.Namespace) -> None:
        from rewardkit_bench.grpo_lab import load_policy

        load_policy(None, self.settings(args).task)  # the cached warm start, before the pool

    def plan(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> list[Any]:
        settings, seeds = self.settings(args), self.seeds(args)
        if not runs:
            return [ModelsUnit(settings, seed) for seed in range(seeds)]
        if any(r["kind"] == "policy" for r in runs):
            return []
        return [PolicyUnit(settings, d, seed) for seed in range(seeds) for d in settings.designs]

    def run_unit(self, unit: Any) -> dict[str, Any]:
        return train_models(unit) if isinstance(unit, ModelsUnit) else train_policy(unit)

    def describe(self, run: dict[str, Any]) -> str:
        if run["kind"] == "models":
            accuracy = ", ".join(f"{k} {v:.3f}" for k, v in run["accuracy"].items())
            return f"models seed {run['seed']}: pair accuracy {accuracy} ({run['seconds']:.0f}s)"
        return (
            f"{run['design']} seed {run['seed']}: gold {run['gold_initial']:.3f} -> peak "
            f"{run['gold_peak']:.3f} -> {run['gold_final']:.3f}, proxy {run['proxy_initial']:.3f}"
            f" -> {run['proxy_final']:.3f}, KL {run['kl_final']:.2f} ({run['seconds']:.0f}s)"
        )

    def record(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
        from dataclasses import asdict

        return {
            "settings": asdict(self.settings(args)),
            "seeds": self.seeds(args),
            "environment": environment(),
            "runs": runs,
        }

    def summarize(self, results: dict[str, Any]) -> dict[str, Any]:
        models = [r for r in results["runs"] if r["kind"] == "models"]
        policy = sorted(
            (r for r in results["runs"] if r["kind"] == "policy"),
            key=lambda r: (DESIGNS.index(r["design"]), r["seed"]),
        )
        settings = results["settings"]
        eval_n = settings["eval_prompts"] * settings["eval_samples"]
        model_summary = _models_summary(models)
        policy_summary = _policy_summary(policy, eval_n, settings["monitor_window"])
        return {
            "models": model_summary,
            "policy": policy_summary,
            "monitor_windows": _monitor_windows(policy, eval_n),
            "claims": judge(model_summary, policy_summary, settings["bon_prompts"]),
        }

    def plot(self, folder: RunFolder, results: dict[str, Any]) -> list[str]:
        return _plot(folder, results)

    def report(self, results: dict[str, Any], plots: list[str]) -> str:
        from rewardkit_bench.rm_report import render

        return render(results, plots, DESIGN_TEXT)


def main(argv: Sequence[str] | None = None) -> int:
    """``rewardkit bench rm-overoptimization``: see the module docs."""
    return drive(RmOveroptimization(), argv)
