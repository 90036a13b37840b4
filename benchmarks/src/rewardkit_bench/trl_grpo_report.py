"""The report and figure of ``rewardkit bench trl-grpo``, built from its results.json alone."""

from __future__ import annotations

from typing import Any

from rewardkit_bench.reporting import claim_lines, markdown_table, pyplot, save_figure
from rewardkit_bench.runner import RunFolder

__all__ = ["plot", "render"]


def plot(folder: RunFolder, results: dict[str, Any]) -> list[str]:
    """Per reward set: the format and correctness means per step, median over seeds."""
    from rewardkit_bench.reporting import median_curve
    from rewardkit_bench.trl_grpo_run import PART_NAMES, SETS

    plt = pyplot()
    runs = results["runs"]
    if plt is None or not runs:
        return []
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for which in SETS:
        mine = [{"curve": r["log"]} for r in runs if r["set"] == which]
        if not mine:
            continue
        correct, form, _ = PART_NAMES[which]
        for axis, part in zip(axes, (form, correct), strict=True):
            steps, means = median_curve(mine, "step", f"rewards/{part}/mean")
            axis.plot(steps, means, label=f"{which} rewards ({part})")
    axes[0].set_title("format reward (median over seeds)")
    axes[1].set_title("correctness reward (median over seeds)")
    for axis in axes:
        axis.set_xlabel("GRPO step")
        axis.set_ylim(-0.02, 1.02)
        axis.legend(fontsize=8)
    return [save_figure(plt, fig, folder, "curves.png")]


def render(results: dict[str, Any], plots: list[str], target: float) -> str:
    """Markdown: the runs per reward set, the replay timing, the claims."""
    table = results["table"]
    runs = results["runs"]
    steps = runs[0]["steps"] if runs else 0
    lines = [
        "# trl-grpo: TRL's GRPOTrainer on SmolLM2-135M-Instruct (LoRA, CPU)",
        "",
        f"Command: `{results['command']}` ({results['seconds'] / 60:.1f} min). {steps} GRPO "
        "steps of 16 completions (4 prompts, 4 each) on reasoning-gym chain_sum, LoRA r 16 on "
        "every linear layer at 1e-3, 2 threads. Rewards weighted 1 (correct), 0.5 (format), "
        "0.1 (length). Medians over seeds.",
        "",
    ]
    rows = [
        [which, row["runs"], f"{row['format_first']:.2f}", f"{row['format_rise']:+.2f}",
         f"{row['correct_first']:.2f}", f"{row['correct_rise']:+.2f}",
         f"{row['live_reward_seconds'] * 1000:.1f}", f"{row['minutes']:.1f}"]
        for which, row in table.items()
    ]  # fmt: skip
    lines.append(markdown_table(
        ["reward set", "seeds", "format, step 1", "format rise", "correct, step 1",
         "correct rise", "reward ms/step (live)", "minutes"],
        rows,
    ))  # fmt: skip
    lines += [
        "",
        "Rise: mean of the last 5 steps minus step 1. Each set trains on its own rewards, so "
        "the correctness columns use different checkers (rewardkit's math verifier; TRL's "
        "`accuracy_reward`).",
        "",
    ]
    lines += [f"![curves]({name})" for name in plots] + ([""] if plots else [])
    replay = results["replay_seconds"]
    scored = results["correct_scored"]
    lines += [
        "## Reward time per step at equal work",
        "",
        "Both sets score every run's recorded completions, step by step, called as TRL calls "
        "them, three times each (median kept), in the same process.",
        "",
    ]
    lines.append(
        markdown_table(
            ["reward set", "ms per step (median over steps and runs)"],
            [[which, f"{seconds * 1000:.2f}"] for which, seconds in replay.items()],
        )
    )
    lines += [
        "",
        f"Ratio rewardkit / TRL: {results['replay_ratio']:.2f}. On the "
        f"{scored['completions']} replayed completions, {scored['both']} are scored correct "
        f"by both, {scored['only_rewardkit']} by rewardkit alone and {scored['only_trl']} by "
        "TRL's `accuracy_reward` alone (it extracts LaTeX only, with no plain-number "
        "fallback).",
        "",
        "## Claims",
        "",
    ]
    lines += claim_lines(_claims(results, target))
    return "\n".join(lines) + "\n"


def _claims(results: dict[str, Any], target: float) -> dict[str, dict[str, Any]]:
    claims = {}
    ours = results["table"].get("rewardkit")
    if ours:
        claims[f"the format reward rises by ≥ {target} within the run (issue #31)"] = {
            "met": ours["format_rise"] >= target,
            "detail": f"{ours['format_first']:.2f} → rise {ours['format_rise']:+.2f}, median "
            f"of {ours['runs']} seeds",
        }
    ratio = results.get("replay_ratio")
    if ratio is not None:
        claims["rewardkit's reward time per step ≤ TRL's own at equal work (issue #31)"] = {
            "met": ratio <= 1.0,
            "detail": f"{ratio:.2f}x TRL's time",
        }
    return claims
