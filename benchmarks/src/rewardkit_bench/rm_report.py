"""The markdown report of the ``rm-overoptimization`` suite, built from its results.json alone."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rewardkit_bench.runner import claim_lines, markdown_table

__all__ = ["render"]


def _number(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def _step(value: Any) -> str:
    return (
        "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.0f}"
    )


def render(results: dict[str, Any], plots: list[str], designs: Mapping[str, str]) -> str:
    """The report: the reward models, best-of-n, RL against the proxy, the probes, the claims."""
    lines = [
        *_reward_models(results),
        *_best_of_n(results["settings"], results["models"], plots),
        *_reinforcement(results, plots, designs),
        *_probes(results["settings"], results["models"]),
        "## Claims",
        "",
        *claim_lines(results["claims"]),
    ]
    return "\n".join(lines) + "\n"


def _reward_models(results: dict[str, Any]) -> list[str]:
    settings, models = results["settings"], results["models"]
    seeds = results["seeds"]
    return [
        "# rm-overoptimization",
        "",
        f"Regenerate: `{results['command']}` ({results.get('seconds', math.nan) / 60:.1f} min "
        f"on {results['environment']['cpus']} CPUs)",
        "",
        f"Gold: the verifier of lab task v2 ({settings['task']}: 3-digit additions with carries). "
        f"The policy is the warm-started tiny GPT-2; its samples at temperature 1 are "
        f"{models['sample_accuracy']:.1%} correct. Preference pairs: every (correct, incorrect) "
        f"pair among {settings['samples_per_prompt']} samples of each of "
        f"{settings['pair_prompts']} prompts ({models['pairs_train']:.0f} pairs), label noise "
        f"{settings['label_noise']:g}. {seeds} seed(s); every figure is a median over seeds.",
        "",
        "## The reward models",
        "",
        f"Bradley–Terry RMs (TRL `RewardTrainer`, tiny GPT-2, {settings['rm_epochs']:g} epochs) "
        f"on the first {settings['small_pairs']} pairs (`rm_small`) and the first "
        f"{settings['large_pairs']} (`rm`); an ensemble of {settings['ensemble_size']} on "
        f"bootstrap samples of the large set; a generative yes-token RM on the large set "
        f"({settings['generative_epochs']} epoch(s)). Accuracy on held-out, noise-free pairs "
        f"from {settings['held_out_prompts']} other prompts:",
        "",
        markdown_table(
            ["reward", "held-out pair accuracy"],
            [[name, _number(value)] for name, value in models["accuracy"].items()],
        ),
        "",
        f"- Training: {models['training_seconds_per_1k_pairs']:.1f} s per 1k pairs "
        f"({settings['rm_epochs']:g} epochs, one CPU thread); the generative RM took "
        f"{models['generative_training_seconds']:.0f} s.",
        f"- Scoring, batched (64), one CPU thread: {models['rm_completions_per_s']:,.0f} "
        f"completions/s for the BT RM, {models['generative_completions_per_s']:,.0f}/s for "
        "the generative RM.",
        "",
    ]


def _best_of_n(settings: dict[str, Any], models: dict[str, Any], plots: list[str]) -> list[str]:
    lines = [
        "## Best-of-n",
        "",
        f"{settings['bon_samples']} samples of each of {settings['bon_prompts']} held-out "
        "prompts; the expected gold (and the selector's own score) of the best of n, averaged "
        "over all size-n subsets. d = √KL_bon, KL_bon = log n − (n−1)/n, which is an upper "
        "bound on the true KL when samples repeat (Beirami et al. 2024), as the tiny policy's "
        "often do: the best-of-n d axis is not the RL one. Fit: gold gain ≈ d(α − βd). The "
        "selector's own score can only rise with n, by construction.",
        "",
    ]
    bon = models["best_of_n"]
    ns = bon["gold"]["n"]
    rows = [
        [name, *(_number(g) for g in curve["gold"]), _number(curve["fit"]["alpha"]),
         _number(curve["fit"]["beta"]), _number(curve["fit"]["r2"], 2)]
        for name, curve in bon.items()
    ]  # fmt: skip
    lines += [
        markdown_table(["selector", *(f"gold n={n}" for n in ns), "α", "β", "R²"], rows),
        "",
        "The selector's own score of the chosen sample:",
        "",
        markdown_table(
            ["selector", *(f"n={n}" for n in ns)],
            [
                [name, *(_number(p) for p in c["proxy"])]
                for name, c in bon.items()
                if name != "gold"
            ],
        ),
        "",
    ]
    if "best_of_n.png" in plots:
        lines += ["![best-of-n](best_of_n.png)", ""]
    return lines


def _reinforcement(
    results: dict[str, Any], plots: list[str], designs: Mapping[str, str]
) -> list[str]:
    settings, policy = results["settings"], results["policy"]
    window = settings["monitor_window"]
    lines = [
        "## RL against the proxy, and mitigations at equal steps",
        "",
        f"GRPO, {settings['steps']} steps of 8 prompts × 8 completions, learning rate "
        f"{settings['learning_rate']:g}. Every {settings['eval_every']} steps: "
        f"{settings['eval_samples']} samples of each of {settings['eval_prompts']} held-out "
        "prompts, scored by the gold and by the plain proxy RM; d = √KL(π‖π_init), the KL "
        "estimated from the same samples (mean of log π − log π_init). Gold is judged on a "
        "centred 3-point moving average, and a change counts only beyond 2 binomial standard "
        "errors (`rewardkit_bench.rm_claims`): *gained* (peak above start), *fell* (below 90 % "
        "of the peak, and the final value significantly below it), *kept* (gained, and the "
        "final value within 10 % of the peak). The monitor is `HackingMonitor("
        f"[ProxyGoldDivergence('optimized', 'gold', window={window}, tolerance=se)])` replayed "
        "over the raw curve, the reward each design optimizes against the gold; an alert after "
        "the peak of a run that fell is a detection, any other alert a false alarm. "
        "Fit: gold gain ≈ d(α − β log d), per seed, medians.",
        "",
    ]
    header = [
        "design", "gold start", "gold peak (step)", "gold final", "gained / fell / kept",
        "proxy start → final", "KL final", "monitor: in time / fell (median step)",
        "false alarms", "α", "β", "R²",
    ]  # fmt: skip
    rows = []
    for design, entry in policy.items():
        rows.append([
            design, _number(entry["gold_start"]),
            f"{_number(entry['gold_peak'])} ({_step(entry['gold_peak_step'])})",
            _number(entry["gold_final"]),
            f"{entry['gained']} / {entry['fell']} / {entry['kept']} of {entry['seeds']}",
            f"{_number(entry['proxy_initial'])} → {_number(entry['proxy_final'])}",
            _number(entry["kl_final"], 2),
            f"{entry['monitor_in_time']} / {entry['fell']} ({_step(entry['monitor_step'])})",
            str(entry["false_alarms"]),
            _number(entry["fit"]["alpha"]), _number(entry["fit"]["beta"]),
            _number(entry["fit"]["r2"], 2),
        ])  # fmt: skip
    lines += [markdown_table(header, rows), ""]
    if "rl.png" in plots:
        lines += ["![RL](rl.png)", ""]
    windows = results.get("monitor_windows", {})
    if windows:
        lines += [
            "The monitor at other window lengths (evaluations; all runs):",
            "",
            markdown_table(
                ["window", "in time / fell", "false alarms"],
                [
                    [w, f"{v['in_time']} / {v['fell']}", v["false_alarms"]]
                    for w, v in windows.items()
                ],
            ),
            "",
        ]
    lines += ["Designs:", ""]
    lines += [f"- `{d}`: {designs[d]}" for d in policy]
    return lines


def _probes(settings: dict[str, Any], models: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## Probes",
        "",
        "`rewardkit audit probe` (the master-key battery and the exploit completions of "
        f"`rewardkit.audit.probe`) on {settings['probe_questions']} held-out problems. A probe "
        "fools a BT RM when it scores at least the median score the RM gives correct "
        "completions (its threshold below); it fools the generative RM when P(yes) ≥ 0.5. "
        "Characters outside the task's alphabet read as `<unk>`; completions longer than the "
        "RM's context are skipped, never scored.",
        "",
    ]
    probes = models["probes"]
    names = list(probes)
    probe_names = list(probes[names[0]]) if names else []
    lines += [
        markdown_table(
            ["probe", *(f"{n} (threshold {models['probe_thresholds'][n]:.2f})" for n in names)],
            [[p, *(f"{probes[n][p]:.0%}" for n in names)] for p in probe_names],
        ),
        "",
    ]
    return lines
