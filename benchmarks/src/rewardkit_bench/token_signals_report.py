"""The token-signals report: medians over seeds, paper claims against what was measured."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from typing import Any

from rewardkit_bench.runner import RunFolder, markdown_table, median_curve, pyplot, save_figure

__all__ = ["plot", "render", "summarize"]

KS = ("1", "4", "16", "64")


def _median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def _design_summary(mine: list[dict[str, Any]]) -> dict[str, Any]:
    def m(pick: Callable[[dict[str, Any]], float]) -> float:
        return _median([pick(r) for r in mine])

    row: dict[str, Any] = {
        "accuracy": m(lambda r: r["after"]["accuracy"]),
        "length": m(lambda r: r["after"]["length"]),
        "distinct_ratio": m(lambda r: r["after"]["distinct_ratio"]),
        "answer_nll": m(lambda r: r["after"]["answer_nll"]),
        "final_entropy": m(lambda r: r["curve"][-1]["entropy"] if r["curve"] else float("nan")),
        "sampled_tokens": m(lambda r: r["sampled_tokens"]),
        "seeds": float(len(mine)),
        "accuracy_min": min(r["after"]["accuracy"] for r in mine),
        "accuracy_max": max(r["after"]["accuracy"] for r in mine),
    }
    chosen = [r.get("bstar_temperatures") for r in mine if r.get("bstar_temperatures")]
    if chosen:
        row["temperatures"] = chosen[0]
    for k in KS:
        row[f"pass@{k}"] = _median([r["after"]["pass_at_k"][k] for r in mine])
    return row


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    """Per task: the warm start, and each design's medians; then the claims."""
    runs = results["runs"]
    tasks: dict[str, Any] = {}
    for before in (r for r in runs if r["kind"] == "before"):
        entry = tasks.setdefault(before["task"], {"designs": {}})
        entry["before"] = {
            "accuracy": before["accuracy"], "length": before["length"],
            "distinct_ratio": before["distinct_ratio"], "answer_nll": before["answer_nll"],
            **{f"pass@{k}": before["pass_at_k"][k] for k in KS},
        }  # fmt: skip
    for task, entry in tasks.items():
        designs = sorted({r["design"] for r in runs if r["kind"] == "train" and r["task"] == task})
        for design in designs:
            mine = [r for r in runs if r.get("task") == task and r.get("design") == design]
            entry["designs"][design] = _design_summary(mine)
    real = next((r for r in runs if r["kind"] == "real"), None)
    return {"by_task": tasks, "real": real, "claims": _claims(tasks, real)}


def _within(value: float, reference: float, points: float = 0.02) -> bool:
    """``value`` at most ``points`` below ``reference`` (inclusive, to the reported digits)."""
    return round(value, 3) >= round(reference - points, 3)


def _claim(paper: str, measured: str, met: bool | None) -> dict[str, Any]:
    return {"paper": paper, "measured": measured, "met": met}


def _claims(tasks: dict[str, Any], real: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    claims: dict[str, dict[str, Any]] = {}
    for task, entry in tasks.items():
        d, before = entry["designs"], entry.get("before", {})
        base = d.get("binary")
        if base is None:
            continue

        def acc(name: str, d: dict[str, Any] = d) -> str:
            return f"{d[name]['accuracy']:.3f}"

        if "log_prob" in d:
            lp = d["log_prob"]
            claims[f"{task}: log-prob reward, no verifier: success"] = _claim(
                "log-prob of the reference matches or beats binary success",
                f"accuracy {acc('log_prob')} vs binary {acc('binary')} (within 2 points counts)",
                _within(lp["accuracy"], base["accuracy"]),
            )
            claims[f"{task}: log-prob reward, no verifier: perplexity"] = _claim(
                "much better perplexity than binary rewards",
                f"answer NLL {lp['answer_nll']:.3f} vs binary {base['answer_nll']:.3f} (warm "
                f"start {before.get('answer_nll', float('nan')):.3f})",
                lp["answer_nll"] < base["answer_nll"],
            )
        if "probability" in d:
            gain = d["probability"]["accuracy"] - before.get("accuracy", float("nan"))
            claims[f"{task}: probability reward (VeriFree), no verifier"] = _claim(
                "the probability variant flatlines without a verifier (in the non-verifiable "
                "setting)",
                f"accuracy {before.get('accuracy', float('nan')):.3f} -> {acc('probability')} "
                f"({gain:+.3f}); log-prob {acc('log_prob') if 'log_prob' in d else 'n/a'}",
                None,
            )
        if "binary_plus_log_prob" in d:
            claims[f"{task}: binary + 0.1 log-prob"] = _claim(
                "(with a verifier) log-prob rewards bring comparable or better success",
                f"accuracy {acc('binary_plus_log_prob')} vs binary {acc('binary')}",
                _within(d["binary_plus_log_prob"]["accuracy"], base["accuracy"]),
            )
        if "pear" in d:
            pear = d["pear"]
            lam = d.get("grpo_lambda")
            extra = (
                f"; GRPO-λ length {lam['length']:.1f}, accuracy {lam['accuracy']:.3f}"
                if lam
                else ""
            )
            claims[f"{task}: PEAR"] = _claim(
                "shorter responses at equal accuracy",
                f"length {pear['length']:.1f} vs binary {base['length']:.1f}, accuracy "
                f"{pear['accuracy']:.3f} vs {base['accuracy']:.3f}{extra}",
                pear["length"] < 0.95 * base["length"]
                and _within(pear["accuracy"], base["accuracy"]),
            )
        for name, paper in (
            ("ppl_weight", "perplexity weighting: targeted token credit beats uniform"),
            ("position_bonus", "positional bonus: targeted token credit beats uniform"),
            ("rank_shaped", "VERL rank shaping: up to +21.4 points (Gaokao 2024)"),
        ):
            if name in d:
                claims[f"{task}: {name}"] = _claim(
                    paper, f"accuracy {acc(name)} vs GRPO {acc('binary')}",
                    d[name]["accuracy"] > base["accuracy"],
                )  # fmt: skip
        for clipped in ("entropy_clip", "entropy_clip_mu1"):
            if clipped not in d:
                continue
            clip = d[clipped]
            claims[f"{task}: {clipped} (Clip_B)"] = _claim(
                "controlled entropy without collapse",
                f"final training entropy {clip['final_entropy']:.3f} vs GRPO "
                f"{base['final_entropy']:.3f}; accuracy {acc(clipped)} vs {acc('binary')}",
                clip["final_entropy"] > base["final_entropy"]
                and _within(clip["accuracy"], base["accuracy"]),
            )
        if "bstar" in d:
            runs_b = d["bstar"]
            claims[f"{task}: B-STaR controller in the loop"] = _claim(
                "balancing exploration and exploitation keeps self-improvement improving where "
                "the baseline plateaus",
                f"accuracy {acc('bstar')} vs GRPO at temperature 1 {acc('binary')}; distinct "
                f"answers {runs_b['distinct_ratio']:.3f} vs {base['distinct_ratio']:.3f}; "
                f"temperatures chosen (seed 0): {runs_b.get('temperatures', [])}",
                runs_b["accuracy"] > base["accuracy"],
            )
        if "negative_only" in d:
            neg = d["negative_only"]
            claims[f"{task}: negative-only updates"] = _claim(
                "learning from relative negative gradients keeps pass@k for large k",
                f"pass@64 {neg['pass@64']:.3f} vs GRPO {base['pass@64']:.3f} (warm start "
                f"{before.get('pass@64', float('nan')):.3f}); pass@1 {neg['pass@1']:.3f} vs "
                f"{base['pass@1']:.3f}",
                neg["pass@64"] >= base["pass@64"],
            )
    if real is not None:
        signals = real["signals"]
        flow = signals.get("flow deviation (RLFR), negated", {})
        claims["real model: RLFR flow reward"] = _claim(
            "flow rewards from latents shape process tokens that binary rewards overlook",
            f"held-out AUC of -deviation {flow.get('auc_pooled', float('nan')):.3f} "
            f"(within questions {flow.get('auc_within_question', float('nan')):.3f})",
            flow.get("auc_pooled", 0.0) > 0.5,
        )
        gain = signals.get("information gain (RLP)", {})
        claims["real model: RLP information gain"] = _claim(
            "+19 % on 8 benchmarks as a pretraining objective (not trained here)",
            f"AUC {gain.get('auc_pooled', float('nan')):.3f} against the labels",
            None,
        )
    return claims


def plot(folder: RunFolder, results: dict[str, Any]) -> list[str]:
    plt = pyplot()
    if plt is None or not results.get("by_task"):
        return []
    names = []
    for task in results["by_task"]:
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
        ks = [int(k) for k in ("1", "2", "4", "8", "16", "32", "64")]
        runs = [r for r in results["runs"] if r["kind"] == "train" and r["task"] == task]
        before = next(r for r in results["runs"] if r["kind"] == "before" and r["task"] == task)
        axes[0].plot(ks, [before["pass_at_k"][str(k)] for k in ks], "k--", label="warm start")
        for design in ("binary", "negative_only", "log_prob", "entropy_clip"):
            mine = [r for r in runs if r["design"] == design]
            if mine:
                axes[0].plot(ks, [_median([r["after"]["pass_at_k"][str(k)] for r in mine])
                                  for k in ks], label=design)  # fmt: skip
            if mine:
                steps, series = median_curve(mine, "step", "entropy")
                axes[1].plot(steps, series, label=design)
        axes[0].set_xscale("log", base=2)
        axes[0].set_title(f"{task}: pass@k after training (median)")
        axes[1].set_title(f"{task}: policy entropy in training")
        for axis in axes:
            axis.legend(fontsize=8)
        names.append(save_figure(plt, fig, folder, f"{task}.png"))
    return names


def _fmt(value: float) -> str:
    return f"{value:.3f}"


def render(results: dict[str, Any], plots: list[str]) -> str:
    lines = [
        "# token-signals", "", f"Regenerate: `{results['command']}`", "",
        f"Char-level lab: {results['steps']} GRPO steps of 8 prompts x 8 completions per run "
        f"(equal samples), {results['seeds']} seed(s), medians over seeds; greedy accuracy and "
        "length on 300 held-out problems; pass@k (unbiased, 64 samples at temperature 1) and "
        "the distinct-answer ratio on 100 of them; answer NLL = -log π(reference answer | "
        "prompt, reference column sums). Figures on this lab are on data we generated.", "",
    ]  # fmt: skip
    headers = ["design", "accuracy", "(seeds' range)", "length", *[f"pass@{k}" for k in KS],
               "distinct", "answer NLL", "final entropy"]  # fmt: skip
    for task, entry in results["by_task"].items():
        rows = []
        if "before" in entry:
            b = entry["before"]
            rows.append(["(warm start)", _fmt(b["accuracy"]), "", f"{b['length']:.1f}",
                         *[_fmt(b[f"pass@{k}"]) for k in KS], _fmt(b["distinct_ratio"]),
                         _fmt(b["answer_nll"]), ""])  # fmt: skip
        for design, s in entry["designs"].items():
            span = f"{s['accuracy_min']:.3f}-{s['accuracy_max']:.3f}"
            rows.append([design, _fmt(s["accuracy"]), span, f"{s['length']:.1f}",
                         *[_fmt(s[f"pass@{k}"]) for k in KS], _fmt(s["distinct_ratio"]),
                         _fmt(s["answer_nll"]), _fmt(s["final_entropy"])])  # fmt: skip
        lines += [f"## {task}", "", markdown_table(headers, rows), ""]
        if f"{task}.png" in plots:
            lines += [f"![{task}]({task}.png)", ""]
    real = results.get("real")
    if real:
        lines += [
            "## Real model: SmolLM2-135M-Instruct scoring its own answers", "",
            f"{real['rows']} labelled answers ({real['right']} right) to {real['questions']} "
            "reasoning-gym questions (`benchmarks/corpora/smollm2-arithmetic.jsonl`); the flow "
            f"was fitted on {real['flow_fit_completions']} right answers to the even-numbered "
            "questions and scored on the odd-numbered ones.", "",
        ]  # fmt: skip
        rows = [[name, _fmt(v["auc_pooled"]), _fmt(v["auc_within_question"]), str(v["rows"])]
                for name, v in real["signals"].items()]  # fmt: skip
        lines += [markdown_table(["signal", "AUC", "AUC within questions", "rows"], rows), ""]
    lines += ["## Paper claims / we measured", ""]
    for name, c in results["claims"].items():
        verdict = {True: "met", False: "NOT MET", None: "not tested as claimed"}[c["met"]]
        lines.append(f"- **{name}**: paper: {c['paper']}; measured: {c['measured']} ({verdict})")
    lines += ["", "## Settings", "", "```json",
              json.dumps({k: results[k] for k in ("steps", "seeds", "tasks", "questions")}),
              "```", ""]  # fmt: skip
    return "\n".join(lines)
