"""The summary and report of ``rewardkit bench steer-real``.

Every accuracy is the gold (a correct first stated answer) of the one text a
method returns, per problem; a seed's figure is its mean over its problems,
and tables give the median over seeds. The claim pools every seed's problems
and compares SMC with the PRM against best-of-N under the same PRM (its last
step, SMC's final reward) at the same K, problem by problem: the mean
difference and its standard error (the spread of the differences over √n).
"""

from __future__ import annotations

import statistics
from typing import Any

import numpy as np

from rewardkit_bench.runner import claim_lines, markdown_table

__all__ = ["render", "summarize"]

SAME_PRM = "PRM (last step)"
SMC_PRM = "SMC, PRM potential"


def _steer_runs(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [run for run in results["runs"] if run["kind"] == "steer"]


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    """Median tables over seeds, best-of-n fits, the SMC claim and the cost per token."""
    from rewardkit_bench.real_rm_bon import gao_fit, peak_then_fall

    runs = _steer_runs(results)
    if not runs:
        return {"table": [], "claims": {}}
    ns = [int(n) for n in runs[0]["best_of_n"]["gold"]["BT head"]]
    rows = []
    for name in runs[0]["best_of_n"]["gold"]:
        for n in ns:
            rows.append(
                {
                    "method": f"best-of-N, {name}",
                    "k": n,
                    "gold": statistics.median(
                        float(np.mean(r["best_of_n"]["gold"][name][str(n)])) for r in runs
                    ),
                    "tokens": statistics.median(n * r["best_of_n"]["mean_tokens"] for r in runs),
                }
            )
    keys = sorted({(m["method"], m["k"]) for m in runs[0]["methods"]})
    for method, k in keys:
        found = [m for r in runs for m in r["methods"] if (m["method"], m["k"]) == (method, k)]
        rows.append(
            {
                "method": method,
                "k": k,
                "gold": statistics.median(float(np.mean(m["gold"])) for m in found),
                "tokens": statistics.median(m["tokens"] for m in found),
                "seconds_per_token": statistics.median(m["seconds_per_token"] for m in found),
            }
        )
    problems = sum(len(r["problems"]) for r in runs)
    curves = {
        name: [
            statistics.median(float(np.mean(r["best_of_n"]["gold"][name][str(n)])) for r in runs)
            for n in ns
        ]
        for name in runs[0]["best_of_n"]["gold"]
    }
    per_seed_problems = min(len(r["problems"]) for r in runs)
    fits = {}
    if ns == [1, 2, 4, 8]:
        fits = {
            name: {**gao_fit(curve), "peak_then_fall": peak_then_fall(curve, per_seed_problems)}
            for name, curve in curves.items()
            if name in ("BT head", SAME_PRM, "PRM (weakest step)")
        }
    comparisons = {}
    for k in sorted({m["k"] for m in runs[0]["methods"]}):
        smc_gold = np.concatenate(
            [m["gold"] for r in runs for m in r["methods"] if (m["method"], m["k"]) == (SMC_PRM, k)]
        )
        bon_gold = np.concatenate([r["best_of_n"]["gold"][SAME_PRM][str(k)] for r in runs])
        diff = smc_gold - bon_gold
        se = float(np.std(diff, ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("nan")
        smc_tokens = statistics.median(
            m["tokens"] for r in runs for m in r["methods"] if (m["method"], m["k"]) == (SMC_PRM, k)
        )
        bon_tokens = statistics.median(k * r["best_of_n"]["mean_tokens"] for r in runs)
        comparisons[str(k)] = {
            "smc": float(smc_gold.mean()),
            "best_of_n": float(bon_gold.mean()),
            "difference": float(diff.mean()),
            "se": se,
            "problems": len(diff),
            "smc_tokens": smc_tokens,
            "bon_tokens": bon_tokens,
        }
    top = comparisons[max(comparisons, key=int)] if comparisons else None
    claims = {}
    if top is not None:
        met = top["difference"] > 2 * top["se"] and top["smc_tokens"] <= 1.1 * top["bon_tokens"]
        claims[
            "SMC with the learned PRM beats best-of-N under the same PRM at equal tokens by "
            "more than 2 standard errors (Sampling for Quality: +9-15 %)"
        ] = {
            "met": bool(met),
            "detail": f"K={max(comparisons, key=int)}: {top['smc']:.3f} vs {top['best_of_n']:.3f}, "
            f"difference {top['difference']:+.3f} ± {top['se']:.3f} over "
            f"{top['problems']} problems; tokens {top['smc_tokens']:.0f} vs "
            f"{top['bon_tokens']:.0f} a prompt",
        }
    for name, fit in fits.items():
        claims[f"best-of-n under the {name} shows Gao et al.'s peak-then-fall of gold"] = {
            "met": bool(fit["peak_then_fall"]),
            "detail": " → ".join(f"{g:.3f}" for g in curves[name]) + f" at n = 1, 2, 4, 8; "
            f"fit R² {fit['r2']:.2f}",
        }
    sampling = statistics.median(r["sampling_seconds_per_token"] for r in runs)
    return {
        "table": rows,
        "ns": ns,
        "curves": curves,
        "fits": fits,
        "comparisons": comparisons,
        "claims": claims,
        "problems": problems,
        "sampling_seconds_per_token": sampling,
    }


def render(results: dict[str, Any]) -> str:
    """The markdown report."""
    runs = _steer_runs(results)
    labels = next((r for r in results["runs"] if r["kind"] == "labels"), None)
    lines = ["# steer-real: steering SmolLM2-135M-Instruct on its own arithmetic", ""]
    if labels:
        lines += [
            f"Math-Shepherd labels: {labels['rows']} training completions; "
            f"{labels['labelled_intermediate']} of their {labels['intermediate_steps']} "
            f"intermediate 16-token steps labelled ({labels['seconds'] / 60:.1f} min).",
            "",
        ]
    if runs:
        fit = runs[0]["fit"]
        lines += [
            f"PRM: {fit['labelled_steps']} labelled steps, L2 {fit['prm_l2']:g} (validation "
            f"log-loss {fit['prm_validation_loss']:.3f}); BT head: L2 {fit['bt_l2']:g} "
            f"(validation paired accuracy {fit['bt_validation_accuracy']:.3f}).",
            "",
            f"{len(runs)} seeds × {len(runs[0]['problems'])} held-out prompts; medians over seeds.",
            "",
        ]
    paired = next((r for r in results["runs"] if r["kind"] == "paired"), None)
    if paired:
        names = list(paired["accuracy"])
        lines += [
            "## Paired accuracy on the held-out half's answers",
            "",
            f"{paired['rows']} labelled answers of held-out questions (the corpus's); "
            f"{paired['pairs']} (right, wrong) pairs of a question, "
            f"{paired['pairs_controlled']} of them style controlled (both state a number, "
            "lengths within 25 %). 0.5 is chance.",
            "",
            markdown_table(
                ["scorer", "all pairs", "style controlled"],
                [
                    [n, f"{paired['accuracy'][n]:.3f}", f"{paired['accuracy_controlled'][n]:.3f}"]
                    for n in names
                ],
            ),
            "",
            "Probes: share of held-out questions with a right answer where the "
            "content-free completion outscores the mean of its right answers.",
            "",
            markdown_table(
                ["scorer", *(f"`{p}`" for p in paired["probe_wins"][names[0]])],
                [[n, *(f"{w:.2f}" for w in paired["probe_wins"][n].values())] for n in names],
            ),
            "",
        ]
    table = results.get("table", [])
    if table:
        lines += [
            "## Gold at equal generated tokens",
            "",
            markdown_table(
                ["method", "N or K", "gold", "tokens a prompt", "s/token"],
                [
                    [
                        r["method"],
                        r["k"],
                        f"{r['gold']:.3f}",
                        f"{r['tokens']:.0f}",
                        f"{r['seconds_per_token'] * 1000:.1f} ms"
                        if "seconds_per_token" in r
                        else "",
                    ]
                    for r in table
                ],
            ),
            "",
            f"Plain sampling (the best-of-N pool): "
            f"{results['sampling_seconds_per_token'] * 1000:.1f} ms a token.",
            "",
        ]
    comparisons = results.get("comparisons", {})
    if comparisons:
        lines += [
            "## SMC with the PRM against best-of-N under the same PRM",
            "",
            markdown_table(
                ["K", "SMC", "best-of-N", "difference ± SE", "problems", "tokens (SMC / BoN)"],
                [
                    [
                        k,
                        f"{c['smc']:.3f}",
                        f"{c['best_of_n']:.3f}",
                        f"{c['difference']:+.3f} ± {c['se']:.3f}",
                        c["problems"],
                        f"{c['smc_tokens']:.0f} / {c['bon_tokens']:.0f}",
                    ]
                    for k, c in comparisons.items()
                ],
            ),
            "",
        ]
    fits = results.get("fits", {})
    if fits:
        lines += [
            "## Best-of-n under each proxy (Gao et al.'s fit)",
            "",
            markdown_table(
                ["selector", *(f"n={n}" for n in results["ns"]), "α", "β", "R²", "peak then fall"],
                [
                    [
                        name,
                        *(f"{g:.3f}" for g in results["curves"][name]),
                        f"{f['alpha']:.3f}",
                        f"{f['beta']:.3f}",
                        f"{f['r2']:.2f}",
                        "yes" if f["peak_then_fall"] else "no",
                    ]
                    for name, f in fits.items()
                ],
            ),
            "",
        ]
    if results.get("claims"):
        lines += ["## Claims", "", *claim_lines(results["claims"]), ""]
    return "\n".join(lines)
